"""Small helpers shared by the deal, lead, activity and settings views."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from dealflow.accounts.models import User
from dealflow.core.errors import PermissionDeniedError


class AuthenticatedRequest(HttpRequest):
    """The request of a view behind ``login_required``: ``user`` is a signed-in User."""

    user: User


def attach_for_template(record: object, **values: Any) -> None:
    """Give a listed record display-only values its template reads (``deal.tag_names``): they are no
    model fields, so mypy cannot see them; this is the one place that sets them."""
    for name, value in values.items():
        setattr(record, name, value)


def permission_errors_as_403(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A PermissionDeniedError from a gate (read-only viewer, non-admin) answers 403."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except PermissionDeniedError as error:
            raise PermissionDenied(error.message) from error

    return wrapper


def is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def url_if_exists(name: str, *args: Any) -> str | None:
    """The URL of a route another module may or may not provide yet (export, one-on-one items)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The local page to return to (``next`` field or parameter), never another site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def redirect_next(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(safe_next(request, fallback))


def posted_version(request: HttpRequest) -> int | None:
    """The deal version the user's form was rendered with (optimistic concurrency), if it carries one."""
    try:
        return int(request.POST["version"])
    except (KeyError, TypeError, ValueError):
        return None
