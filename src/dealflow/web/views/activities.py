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
from dealflow.core.errors import ApplicationError
from dealflow.deals.models import Activity, DealStatus
from dealflow.deals.selectors import (
    activity_get_for_user,
    activity_list_for_user,
    deal_list_for_user,
    user_check_can_write,
)
from dealflow.deals.services import activity_complete, activity_create
from dealflow.web.forms.contacts import ActivityQuickForm
from dealflow.web.forms.deals import ACTIVITY_KIND_CHOICES
from dealflow.web.views.workspace import (
    AuthenticatedRequest,
    is_htmx,
    permission_errors_as_403,
    redirect_next,
    url_if_exists,
)

UPCOMING_LIMIT = 200
OPEN_LIMIT = 1000
QUICK_DEALS = 200  # the user's open deals offered in the quick form, by title


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
        "quick_form": _quick_form(request),
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


def _quick_form(request: AuthenticatedRequest, data: Any = None) -> ActivityQuickForm:
    deals = deal_list_for_user(user=request.user).filter(owner=request.user, status=DealStatus.OPEN)
    first = list(deals.order_by("title", "id").values_list("pk", flat=True)[:QUICK_DEALS])
    deals = (
        deals.select_related(None).filter(pk__in=first).order_by("title", "id")
    )  # a form field cannot use a slice
    return ActivityQuickForm(data, deals=deals, kinds=ACTIVITY_KIND_CHOICES)


@login_required
@require_POST
@permission_errors_as_403
def activity_quick_create(request: AuthenticatedRequest) -> HttpResponse:
    """Plan or log an activity from My activities (about one of the user's open deals, or none)."""
    user_check_can_write(user=request.user)
    form = _quick_form(request, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            activity_create(
                owner=request.user,
                by=request.user,
                deal=data["deal"],
                person=data["deal"].person if data["deal"] else None,
                kind=data["kind"],
                subject=data["subject"],
                notes=data["notes"],
                due_at=data["due_at"],
                origin="web",
            )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Activity added."))
    else:
        for errors in form.errors.values():
            messages.error(request, " ".join(str(error) for error in errors))
    return redirect_next(request, reverse("web:my_activities"))
