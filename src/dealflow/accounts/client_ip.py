"""The client's IP address for sign-in lockouts (django-axes' AXES_CLIENT_IP_CALLABLE)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR; behind the documented load balancer (BEHIND_PROXY) the address it saw instead.

    The balancer appends the address it received the connection from to ``X-Forwarded-For``, so the
    right-most entry is the one to trust; entries to its left come from the client and may be forged.
    Without BEHIND_PROXY the header is ignored: anyone could send it.
    """
    if getattr(settings, "BEHIND_PROXY", False):
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR")
