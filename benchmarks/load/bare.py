"""The baseline for the API benchmark: a bare Django view returning the same 20 deals as JSON, with no
authentication, permission filter or schema. Served only by the benchmark's own URLconf."""

from __future__ import annotations

from django.http import JsonResponse
from django.urls import include, path

from dealflow.deals.models import Deal


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


urlpatterns = [path("bench/bare-deals", bare_deals), path("", include("config.urls"))]
