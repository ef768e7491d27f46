from django.utils import translation


class UserLanguageMiddleware:
    """Activate the signed-in user's chosen language (falls back to the request's Accept-Language)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            language = getattr(user, "language", None)
        if not language:
            language = translation.get_language_from_request(request)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response


class ApplicationErrorMiddleware:
    """A page's refused input answers a styled 400 page naming the parameter, never a 500.

    Views that can show the error beside the form catch ApplicationError themselves; anything they let
    through (a malformed query parameter read by ``dealflow.core.parameters``, a rule a service enforces)
    arrives here. The API has its own handlers (api/urls.py) and never lets one through.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.core.exceptions import PermissionDenied
        from django.db import DataError
        from django.shortcuts import render
        from django.utils.translation import gettext as _

        from dealflow.core.errors import ApplicationError, PermissionDeniedError

        if isinstance(exception, PermissionDeniedError):
            raise PermissionDenied(exception.message) from exception
        if isinstance(exception, ApplicationError):
            message, field, status = exception.message, exception.field, exception.status_code
        elif isinstance(exception, OverflowError | DataError):
            # The database refused a value (a number past 64 bits, a malformed string): as the API does.
            message, field, status = _("A value is out of range or malformed."), None, 400
        else:
            return None
        context = {"message": message, "field": field, "back_url": _url_without(request, field)}
        return render(request, "400.html", context, status=status)


def _url_without(request, field: str | None) -> str:
    """The same page without the parameter at fault (or without any parameter)."""
    query = request.GET.copy()
    if field and field in query:
        del query[field]
    else:
        query = query.__class__("")
    return request.path + ("?" + query.urlencode() if query else "")
