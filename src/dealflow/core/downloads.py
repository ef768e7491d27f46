"""A file as a download: the one response the pages and the API give for a kept document (a statement PDF)."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag


@dataclass(frozen=True)
class Download:
    """A file to hand out: its bytes, the name it is saved under, its type, and a fingerprint of the bytes
    (the ETag) when one is known."""

    content: bytes
    filename: str
    content_type: str
    etag: str | None = None


def file_response(request: HttpRequest, download: Download) -> HttpResponseBase:
    """The file as an attachment; with an ETag, a client that sends it back in If-None-Match gets 304 Not
    Modified and no body."""
    response = HttpResponse(download.content, content_type=download.content_type)
    response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    if download.etag is None:
        return response
    response["ETag"] = quote_etag(download.etag)
    response["Cache-Control"] = (
        "private, no-cache"  # a browser may keep it, and asks each time whether it changed
    )
    return get_conditional_response(request, etag=response["ETag"], response=response) or response
