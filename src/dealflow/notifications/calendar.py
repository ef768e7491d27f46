"""The personal calendar feed (.ics): my open activities with a due time and my one-on-ones.

A feed URL is read by calendar servers (Outlook, Google) without a session, so it carries only what a calendar
entry needs: the subject, the deal's title and a link back. Activity notes and meeting notes stay in Dealflow.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from dealflow.accounts.models import User
from dealflow.core import clock
from dealflow.deals.models import Activity
from dealflow.people.models import OneOnOneMeeting

PRODUCT_ID = "-//Dealflow//My calendar//EN"
PAST_DAYS = 30
FUTURE_DAYS = 180
ACTIVITY_MINUTES = 30


def _site() -> str:
    return str(settings.DEALFLOW.get("SITE_URL", "http://localhost:8000")).rstrip("/")


def _domain() -> str:
    return _site().split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "dealflow.local"


def calendar_feed_build(*, user: User, now: dt.datetime | None = None) -> bytes:
    """The user's feed: activities due from 30 days ago to 180 days ahead, and one-on-ones in that window."""
    moment = now or clock.now()
    start, end = moment - dt.timedelta(days=PAST_DAYS), moment + dt.timedelta(days=FUTURE_DAYS)
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"Dealflow: {user.display_name}")
    activities = (
        Activity.objects.filter(owner=user, due_at__gte=start, due_at__lt=end)
        .select_related("deal")
        .order_by("due_at", "id")
    )
    meetings = (
        OneOnOneMeeting.objects.filter(scheduled_at__gte=start, scheduled_at__lt=end)
        .filter(Q(series__manager=user) | Q(series__rep=user))
        .select_related("series__manager", "series__rep")
        .order_by("scheduled_at", "id")
    )
    with translation.override(user.language or settings.LANGUAGE_CODE):
        for activity in activities:
            due_at = activity.due_at
            assert due_at is not None  # filtered on due_at above
            event = Event()
            event.add("uid", f"activity-{activity.pk}@{_domain()}")
            event.add("dtstamp", moment)
            event.add("dtstart", due_at.astimezone(dt.UTC))
            event.add("dtend", (due_at + dt.timedelta(minutes=ACTIVITY_MINUTES)).astimezone(dt.UTC))
            summary = f"{activity.get_kind_display()}: {activity.subject}"
            if activity.deal:
                summary += f" ({activity.deal.title})"
            event.add("summary", summary)
            if activity.deal_id:
                event.add("url", _site() + reverse("web:deal_detail", args=[activity.deal_id]))
            event.add("status", "CONFIRMED")
            if activity.done_at:
                event.add("description", _("Done"))
            calendar.add_component(event)
        for meeting in meetings:
            series = meeting.series
            other = series.rep if series.manager_id == user.pk else series.manager
            event = Event()
            event.add("uid", f"one-on-one-{meeting.pk}@{_domain()}")
            event.add("dtstamp", moment)
            event.add("dtstart", meeting.scheduled_at.astimezone(dt.UTC))
            event.add(
                "dtend",
                (meeting.scheduled_at + dt.timedelta(minutes=meeting.duration_minutes)).astimezone(dt.UTC),
            )
            event.add("summary", _("One-on-one with %(other)s") % {"other": other.display_name})
            event.add("url", _site() + reverse("web:people_meeting", args=[meeting.pk]))
            calendar.add_component(event)
    return calendar.to_ical()
