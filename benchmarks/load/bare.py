"""Baselines for the API benchmark, served only by the benchmark's own URLconf.

- ``bare-deals``: a bare Django view returning the same 20 deals as JSON, with no authentication,
  permission filter or schema.
- ``plain-authenticated-deals``: what the deal-list API must do at the least, in a plain Django view with
  no django-ninja: the bearer token, the user's roles (visibility), the page with its total, the names of
  what the deals refer to, the same serializer. The floor of any authenticated, permission-filtered list.
"""

from __future__ import annotations

from django.http import Http404, JsonResponse
from django.urls import include, path

from dealflow.accounts.services import token_authenticate
from dealflow.api.base import paginate, rendered
from dealflow.api.deals import deal_row_out
from dealflow.deals.models import Deal
from dealflow.deals.selectors import DEAL_ROW_FIELDS, deal_list_for_user, deal_related_for_rows


def bare_deals(request):
    rows = list(
        Deal.objects.order_by("-created_at", "-id").values(
            "id",
            "title",
            "status",
            "amount_minor",
            "currency",
            "expected_close_on",
            "stage_id",
            "owner_id",
            "version",
        )[:20]
    )
    return JsonResponse({"items": rows}, json_dumps_params={"default": str})


def plain_authenticated_deals(request):
    token = token_authenticate(secret=request.headers.get("Authorization", "").removeprefix("Bearer "))
    if token is None:
        raise Http404
    rows = deal_list_for_user(user=token.user).select_related(None).values(*DEAL_ROW_FIELDS)
    page = paginate(rows, limit=20, offset=0)
    related = deal_related_for_rows(rows=page["items"])
    page["items"] = [deal_row_out(row, related) for row in page["items"]]
    return rendered(request, page)


urlpatterns = [
    path("bench/bare-deals", bare_deals),
    path("bench/plain-authenticated-deals", plain_authenticated_deals),
    path("", include("config.urls")),
]
