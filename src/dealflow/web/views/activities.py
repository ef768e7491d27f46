"""My activities: overdue, today and upcoming, each marked done in place."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, F, Q
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.core.parameters import choice_parameter, integer_parameter
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

SECTION_PAGE = (
    25  # rows of a section per page; "Load more" fetches the next ones (issue #19: 3 x 50 rows were 201 KB)
)
SECTIONS = ("overdue", "today", "upcoming")
QUICK_DEALS = 200  # the user's open deals offered in the quick form, by title


def _day_bounds(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The start of today and of tomorrow in the user's time zone."""
    start_of_today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return start_of_today, start_of_today + dt.timedelta(days=1)


def _section_filters(now: dt.datetime) -> dict[str, Q]:
    """Open activities by due time in the user's time zone: before today, today, later or undated."""
    start_of_today, start_of_tomorrow = _day_bounds(now)
    return {
        "overdue": Q(due_at__lt=start_of_today),
        "today": Q(due_at__gte=start_of_today, due_at__lt=start_of_tomorrow),
        "upcoming": Q(due_at__isnull=True) | Q(due_at__gte=start_of_tomorrow),
    }


def _section_page(
    request: AuthenticatedRequest, key: str, *, now: dt.datetime, offset: int
) -> list[Activity]:
    mine = activity_list_for_user(user=request.user, mine=True, open_only=True)
    return list(
        mine.filter(_section_filters(now)[key]).order_by(F("due_at").asc(nulls_last=True), "id")[
            offset : offset + SECTION_PAGE
        ]
    )


def _more_url(key: str, offset: int, count: int) -> str | None:
    if offset + SECTION_PAGE >= count:
        return None
    return reverse("web:my_activities") + "?" + urlencode({"section": key, "offset": offset + SECTION_PAGE})


@login_required
@require_GET
def my_activities(request: AuthenticatedRequest) -> HttpResponse:
    """The signed-in user's open activities, by section, a page of each at a time with the full counts.

    ``?section=KEY&offset=N`` answers the next rows of one section (the "Load more" button): over HTMX the
    rows alone, otherwise the page with that section starting there.
    """
    now = clock.now()
    filters = _section_filters(now)
    mine = activity_list_for_user(user=request.user, mine=True, open_only=True)
    counts = mine.aggregate(**{key: Count("pk", filter=condition) for key, condition in filters.items()})
    section = choice_parameter(request.GET, "section", SECTIONS)
    offset = (integer_parameter(request.GET, "offset", minimum=0) or 0) if section else 0
    if section is not None and is_htmx(request):
        context: dict[str, Any] = {
            "items": _section_page(request, section, now=now, offset=offset),
            "more_url": _more_url(section, offset, counts[section]),
            "now": now,
        }
        return render(request, "web/activities/_section_rows.html", context)
    titles = {"overdue": _("Overdue"), "today": _("Today"), "upcoming": _("Upcoming")}
    sections: list[dict[str, Any]] = [
        {
            "key": key,
            "title": titles[key],
            # Without HTMX, "Load more" reloads the page with that section's next rows.
            "items": _section_page(request, key, now=now, offset=offset if key == section else 0),
            "count": counts[key],
            "more_url": _more_url(key, offset if key == section else 0, counts[key]),
        }
        for key in SECTIONS
    ]
    context = {
        "quick_form": _quick_form(request),
        "sections": sections,
        "action_items_url": url_if_exists("web:people_action_items"),
        "total": sum(counts.values()),
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
