"""A file as a download: the one response the pages and the API give for a document (PDF, export)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag


def file_response(
    request: HttpRequest, content: bytes, *, content_type: str, filename: str, etag: str | None = None
) -> HttpResponseBase:
    """``content`` as an attachment named ``filename``; with ``etag`` (a fingerprint of the content) a client
    that sends it back in If-None-Match gets 304 Not Modified and no body."""
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    if etag is None:
        return response
    response["ETag"] = quote_etag(etag)
    response["Cache-Control"] = (
        "private, no-cache"  # a browser may keep it, and asks each time whether it changed
    )
    return get_conditional_response(request, etag=response["ETag"], response=response) or response
