"""The answer to a locked-out sign-in: 429 with Retry-After, in the user's language."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.utils.translation import gettext as _


def lockout_response(request, credentials=None, *args, **kwargs) -> HttpResponse:
    seconds = int(float(settings.AXES_COOLOFF_TIME) * 3600)
    minutes = max(1, seconds // 60)
    message = _("Too many failed sign-in attempts. Try again in %(minutes)d minutes.") % {"minutes": minutes}
    response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(seconds)
    return response
