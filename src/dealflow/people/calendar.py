"""iCalendar (.ics) files for one-on-ones: one meeting, or a series as a recurring event.

The event carries the time, the two people and a link; never the agenda or notes, because calendar
entries are copied to places (shared calendars, phones, assistants) that the one-on-one page is not.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, vCalAddress, vText

from dealflow.core import clock
from dealflow.people.models import OneOnOneMeeting, OneOnOneSeries

PRODUCT_ID = "-//Dealflow//One-on-ones//EN"


def _domain() -> str:
    url = str(settings.DEALFLOW.get("SITE_URL", "http://localhost:8000"))
    return url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "dealflow.local"


def _address(user, *, role: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{user.email or user.username + '@' + _domain()}")
    address.params["cn"] = vText(user.display_name)
    address.params["role"] = vText(role)
    return address


def _calendar() -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    return calendar


def _event(*, series: OneOnOneSeries, uid: str, starts_at: dt.datetime, minutes: int, link: str) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", clock.now())
    event.add("dtstart", starts_at.astimezone(dt.UTC))
    event.add("dtend", (starts_at + dt.timedelta(minutes=minutes)).astimezone(dt.UTC))
    with translation.override(series.manager.language or "en"):
        event.add(
            "summary",
            _("One-on-one: %(manager)s and %(rep)s")
            % {"manager": series.manager.display_name, "rep": series.rep.display_name},
        )
        event.add("description", _("Agenda, notes and action items: %(link)s") % {"link": link})
    event.add("url", link)
    event.add("organizer", _address(series.manager, role="CHAIR"))
    event.add("attendee", _address(series.rep, role="REQ-PARTICIPANT"))
    return event


def _site() -> str:
    return str(settings.DEALFLOW.get("SITE_URL", "http://localhost:8000")).rstrip("/")


def meeting_ics(*, meeting: OneOnOneMeeting) -> bytes:
    """One meeting as a calendar file."""
    calendar = _calendar()
    calendar.add_component(
        _event(
            series=meeting.series,
            uid=f"one-on-one-meeting-{meeting.pk}@{_domain()}",
            starts_at=meeting.scheduled_at,
            minutes=meeting.duration_minutes,
            link=_site() + reverse("web:people_meeting", args=[meeting.pk]),
        )
    )
    return calendar.to_ical()


def series_ics(*, series: OneOnOneSeries, starts_at: dt.datetime) -> bytes:
    """A series as one recurring event from ``starts_at`` (weekly, or every other week)."""
    calendar = _calendar()
    event = _event(
        series=series,
        uid=f"one-on-one-series-{series.pk}@{_domain()}",
        starts_at=starts_at,
        minutes=series.duration_minutes,
        link=_site() + reverse("web:people_series", args=[series.pk]),
    )
    event.add("rrule", {"freq": "weekly", "interval": series.interval_days // 7})
    calendar.add_component(event)
    return calendar.to_ical()
