"""Refuse a request body larger than the import limit before reading it (the biggest upload is an import).

Django would otherwise receive the whole body (CSRF checks read the form) before the view could refuse the
file; a 2 GB upload then fills the disk and holds a worker. The Content-Length header says the size first.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from dealflow.importers.services import import_max_bytes

SLACK = 1024 * 1024  # the multipart envelope and the form's other fields around the file


class UploadLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = import_max_bytes()
        if length > limit + SLACK:
            message = _(
                "The file is larger than %(limit)s MB; split it or import it with the dealflow import command."
            ) % {"limit": limit // (1024 * 1024)}
            if request.path.startswith("/api/"):
                response: HttpResponse = JsonResponse({"detail": message, "field": "file"}, status=413)
            else:
                response = HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
            response["Connection"] = "close"  # the rest of the body is never read
            return response
        return self.get_response(request)
