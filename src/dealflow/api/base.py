"""What every router shares: authentication (session or bearer token), errors as JSON, pagination."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db.models import BigIntegerField
from django.db.models.expressions import RawSQL
from django.http import HttpRequest, HttpResponse
from ninja import Schema
from ninja.renderers import JSONRenderer
from ninja.security import APIKeyCookie, HttpBearer
from ninja.throttling import BaseThrottle

from dealflow.accounts.models import ApiToken, TokenScope, User
from dealflow.accounts.ratelimit import rate_limit_hit_batched
from dealflow.accounts.services import token_authenticate
from dealflow.core.errors import PermissionDeniedError

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class ApiRequest(HttpRequest):
    """The request an endpoint receives after authentication: ``user`` is a signed-in User and, for a
    bearer token, ``api_token`` is the token. Annotate ``request: ApiRequest`` instead of ignoring types."""

    user: User  # HttpRequest.user may be anonymous; here it never is
    api_token: ApiToken


class BearerTokenAuth(HttpBearer):
    """`Authorization: Bearer dfl_...`; a read-scoped token may only read."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        api_token = token_authenticate(secret=token)
        if api_token is None:
            return None
        if api_token.scope == TokenScope.READ and request.method not in SAFE_METHODS:
            raise PermissionDeniedError("This token may only read; create a write token to change data.")
        request.user = api_token.user
        cast(ApiRequest, request).api_token = api_token
        return api_token.user


class SessionAuth(APIKeyCookie):
    """The browser's session; CSRF is checked for unsafe methods."""

    param_name = "sessionid"

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None


AUTH = [BearerTokenAuth(), SessionAuth()]


class DatabaseRateThrottle(BaseThrottle):
    """Per token (or per signed-in user, or per IP) requests per minute, shared across app servers.

    Answers 429 with Retry-After (django-ninja adds the header from ``wait()``).
    """

    def __init__(self) -> None:
        self._retry_after: float | None = None

    def allow_request(self, request: HttpRequest) -> bool:
        limit = int(str(settings.DEALFLOW["API_RATE_LIMIT_PER_MINUTE"]))
        if limit <= 0:
            return True
        api_token = getattr(request, "api_token", None)
        user = getattr(request, "user", None)
        if api_token is not None:
            key = f"api:token:{api_token.pk}"
        elif user is not None and user.is_authenticated:
            key = f"api:user:{user.pk}"
        else:
            key = f"api:ip:{self.get_ident(request)}"
        result = rate_limit_hit_batched(key=key, limit=limit)
        self._retry_after = None if result.allowed else result.retry_after
        return result.allowed

    def wait(self) -> float | None:
        return self._retry_after


THROTTLES: list[BaseThrottle] = [DatabaseRateThrottle()]


class ErrorOut(Schema):
    detail: str
    field: str | None = None


class Page(Schema):
    """Pagination parameters every list takes."""

    limit: int = 50
    offset: int = 0


MAX_PAGE = 500
MAX_OFFSET = 2**62  # LIMIT and OFFSET are 64-bit in SQL; a larger one overflows the driver


def paginate(queryset, *, limit: int, offset: int, rows=None) -> dict[str, Any]:
    """Slice a queryset and count it: {"count", "count_is_capped", "limit", "offset", "items"}.

    One round trip: the page carries the total as an uncorrelated scalar subquery (computed once); only a
    page past the end needs a separate count. The count stops at ``COUNT_CAP`` + 1 rows (core/pagination.py):
    counting every one of 3 million activities took longer than reading the page. ``rows(offset, limit)``,
    when given (``accounts.selectors.owner_rows``), reads the page in place of slicing the queryset, which is
    then only counted.
    """
    from dealflow.core.errors import ApplicationError
    from dealflow.core.pagination import COUNT_CAP, count_capped

    if limit < 1 or limit > MAX_PAGE:
        raise ApplicationError(f"limit must be between 1 and {MAX_PAGE}.", field="limit")
    if offset < 0:
        raise ApplicationError("offset cannot be negative.", field="offset")
    if offset > MAX_OFFSET:
        raise ApplicationError(f"offset must be at most {MAX_OFFSET}.", field="offset")
    try:
        capped_sql, capped_params = queryset.order_by().values("pk")[: COUNT_CAP + 1].query.sql_with_params()
    except EmptyResultSet:  # a filter that can match nothing (pk__in=[]): no query at all
        return {"count": 0, "count_is_capped": False, "limit": limit, "offset": offset, "items": []}
    total = RawSQL(  # noqa: S611 (SQL Django compiled from the queryset; values stay parameters)
        f"SELECT COUNT(*) FROM ({capped_sql}) capped",  # noqa: S608 (SQL Django compiled; values are params)
        capped_params,
        output_field=BigIntegerField(),
    )
    if rows is not None:
        items, count = rows(offset, limit), count_capped(queryset, cap=COUNT_CAP)
    elif items := list(queryset.annotate(_page_total=total)[offset : offset + limit]):
        first = items[0]
        count = first["_page_total"] if isinstance(first, dict) else first._page_total
        for item in items:
            if isinstance(item, dict):
                del item["_page_total"]
    else:
        count = count_capped(queryset, cap=COUNT_CAP)
    return {
        "count": min(count, COUNT_CAP),
        "count_is_capped": count > COUNT_CAP,
        "limit": limit,
        "offset": offset,
        "items": items,
    }


_RENDERER = JSONRenderer()  # the API's renderer (NinjaAPI's default)


def rendered(request: HttpRequest, data: Any, *, status: int = 200) -> HttpResponse:
    """JSON the API renders, for a hot endpoint that has already shaped its data as its response schema.

    django-ninja passes an HttpResponse through as is; such an endpoint's output is tested against its schema.
    """
    return HttpResponse(
        _RENDERER.render(request, data, response_status=status),
        status=status,
        content_type=f"{_RENDERER.media_type}; charset={_RENDERER.charset}",
    )
