"""My activities: overdue, today and upcoming, each marked done in place."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from dealflow.core import clock
from dealflow.deals.models import Activity
from dealflow.deals.selectors import activity_get_for_user, activity_list_for_user
from dealflow.deals.services import activity_complete
from dealflow.web.views.workspace import (
    AuthenticatedRequest,
    is_htmx,
    permission_errors_as_403,
    redirect_next,
    url_if_exists,
)

UPCOMING_LIMIT = 200
OPEN_LIMIT = 1000


def _buckets(activities: list[Activity], *, now: dt.datetime) -> dict[str, list[Activity]]:
    """Split open activities by due time in the user's time zone: before today, today, later or undated."""
    start_of_today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    start_of_tomorrow = start_of_today + dt.timedelta(days=1)
    buckets: dict[str, list[Activity]] = {"overdue": [], "today": [], "upcoming": []}
    for activity in activities:
        if activity.due_at is None or activity.due_at >= start_of_tomorrow:
            buckets["upcoming"].append(activity)
        elif activity.due_at < start_of_today:
            buckets["overdue"].append(activity)
        else:
            buckets["today"].append(activity)
    return buckets


@login_required
@require_GET
def my_activities(request: AuthenticatedRequest) -> HttpResponse:
    """The signed-in user's open activities."""
    now = clock.now()
    activities = list(
        activity_list_for_user(user=request.user, mine=True, open_only=True).order_by(
            F("due_at").asc(nulls_last=True), "id"
        )[:OPEN_LIMIT]
    )
    buckets = _buckets(activities, now=now)
    sections: list[dict[str, Any]] = [
        {"key": "overdue", "title": _("Overdue"), "items": buckets["overdue"]},
        {"key": "today", "title": _("Today"), "items": buckets["today"]},
        {"key": "upcoming", "title": _("Upcoming"), "items": buckets["upcoming"][:UPCOMING_LIMIT]},
    ]
    context = {
        "sections": sections,
        "action_items_url": url_if_exists("web:people_action_items"),
        "total": len(activities),
        "now": now,
    }
    return render(request, "web/activities/mine.html", context)


@login_required
@require_POST
@permission_errors_as_403
def activity_done(request: AuthenticatedRequest, activity_id: int) -> HttpResponse:
    """Mark an activity done; HTMX gets the row back in its done state."""
    activity = activity_get_for_user(activity_id=activity_id, user=request.user, for_write=True)
    activity = activity_complete(activity=activity, by=request.user)
    if is_htmx(request):
        context = {
            "activity": activity,
            "now": clock.now(),
            "show_deal": request.POST.get("show_deal") == "1",
        }
        return render(request, "web/activities/_row.html", context)
    messages.success(request, _("Marked done: %(subject)s") % {"subject": activity.subject})
    return redirect_next(request, reverse("web:my_activities"))
