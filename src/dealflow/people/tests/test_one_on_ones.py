"""One-on-ones: set-up rules, agenda carry-over, action items, access, and the .ics files."""

import datetime as dt

import pytest
from django.http import Http404
from django.utils import timezone
from icalendar import Calendar

from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.people import selectors, services
from dealflow.people.calendar import meeting_ics, series_ics
from dealflow.people.models import AgendaItem, OneOnOneMeeting
from dealflow.people.tests.factories import OneOnOneSeriesFactory

MONDAY_TEN = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def series(today, manager, rep):
    return OneOnOneSeriesFactory(manager=manager, rep=rep, first_meeting_at=MONDAY_TEN)


@pytest.fixture
def meeting(series):
    return series.meetings.get()


def test_series_starts_with_its_first_meeting(series):
    assert (series.duration_minutes, series.cadence) == (60, "weekly")
    first = series.meetings.get()
    assert (first.scheduled_at, first.duration_minutes) == (MONDAY_TEN, 60)


def test_only_a_manager_of_the_reps_team_plans_a_series(today, manager, rep, rep2, outsider, admin_user):
    with pytest.raises(ApplicationError, match="not in a team"):
        OneOnOneSeriesFactory(manager=manager, rep=outsider)
    with pytest.raises(ApplicationError, match="not in a team"):
        OneOnOneSeriesFactory(manager=rep, rep=rep2)  # a rep manages nobody
    with pytest.raises(PermissionDeniedError):
        OneOnOneSeriesFactory(manager=manager, rep=rep, by=rep2)
    OneOnOneSeriesFactory(manager=manager, rep=rep, by=admin_user)
    with pytest.raises(ApplicationError, match="already have"):
        OneOnOneSeriesFactory(manager=manager, rep=rep)
    with pytest.raises(ApplicationError, match="weekly or every other week"):
        OneOnOneSeriesFactory(manager=manager, rep=rep2, cadence="daily")


def test_unchecked_agenda_items_carry_over_to_the_next_meeting(series, meeting, manager, rep):
    done = services.agenda_item_add(meeting=meeting, text="Q2 targets", by=manager)
    services.agenda_item_add(meeting=meeting, text="Training budget", by=rep)
    services.agenda_item_add(meeting=meeting, text="Holiday plans", by=rep)
    services.agenda_item_set_done(item=done, is_done=True, by=rep)

    second = services.meeting_complete(meeting=meeting, by=manager)
    assert second.scheduled_at == MONDAY_TEN + dt.timedelta(days=7)
    carried = list(second.agenda.order_by("id"))
    assert [(item.text, item.added_by, item.is_done) for item in carried] == [
        ("Training budget", rep, False),
        ("Holiday plans", rep, False),
    ]
    assert all(item.carried_from.meeting_id == meeting.pk for item in carried)
    # The first meeting keeps the agenda it had.
    assert meeting.agenda.count() == 3

    services.agenda_item_set_done(item=carried[0], is_done=True, by=manager)
    services.agenda_item_add(meeting=second, text="Pipeline review", by=manager)
    third = services.meeting_complete(meeting=second, by=rep)
    assert [item.text for item in third.agenda.order_by("id")] == ["Holiday plans", "Pipeline review"]
    assert third.agenda.get(text="Holiday plans").carried_from == carried[1]


def test_carry_over_into_an_existing_next_meeting_does_not_duplicate(series, meeting, manager):
    services.agenda_item_add(meeting=meeting, text="Open point", by=manager)
    later = OneOnOneMeeting.objects.create(series=series, scheduled_at=MONDAY_TEN + dt.timedelta(days=7))
    assert services.meeting_complete(meeting=meeting, by=manager) == later
    assert list(later.agenda.values_list("text", flat=True)) == ["Open point"]
    assert AgendaItem.objects.filter(text="Open point").count() == 2


def test_biweekly_series_plans_two_weeks_ahead(today, manager, rep):
    series = OneOnOneSeriesFactory(manager=manager, rep=rep, cadence="biweekly", first_meeting_at=MONDAY_TEN)
    following = services.meeting_complete(meeting=series.meetings.get(), by=rep)
    assert following.scheduled_at == MONDAY_TEN + dt.timedelta(days=14)


def test_a_meeting_is_held_once_and_only_by_its_participants(meeting, manager, rep2, admin_user):
    with pytest.raises(PermissionDeniedError):
        services.meeting_complete(meeting=meeting, by=admin_user)
    with pytest.raises(PermissionDeniedError):
        services.agenda_item_add(meeting=meeting, text="Sneaky", by=rep2)
    services.meeting_complete(meeting=meeting, by=manager)
    meeting.refresh_from_db()
    with pytest.raises(ApplicationError, match="already"):
        services.meeting_complete(meeting=meeting, by=manager)


def test_action_items_belong_to_a_participant_and_show_until_done(meeting, manager, rep, rep2):
    with pytest.raises(ApplicationError, match="one of the two"):
        services.action_item_add(meeting=meeting, text="Call", owner=rep2, by=manager)
    later = services.action_item_add(
        meeting=meeting, text="Send deck", owner=rep, due_on=dt.date(2026, 3, 20), by=manager
    )
    sooner = services.action_item_add(
        meeting=meeting, text="Book course", owner=rep, due_on=dt.date(2026, 3, 5), by=rep
    )
    undated = services.action_item_add(meeting=meeting, text="Think about growth", owner=rep, by=rep)
    services.action_item_add(meeting=meeting, text="Approve budget", owner=manager, by=manager)
    assert list(selectors.action_item_list_open_for_user(user=rep)) == [sooner, later, undated]
    services.action_item_set_done(item=sooner, is_done=True, by=rep)
    assert list(selectors.action_item_list_open_for_user(user=rep)) == [later, undated]
    assert [item.text for item in selectors.action_item_list_open_for_user(user=manager)] == [
        "Approve budget"
    ]


def test_series_and_meetings_are_for_participants_and_admins(
    series, meeting, manager, rep, rep2, outsider, admin_user
):
    for user in (manager, rep, admin_user):
        assert selectors.one_on_one_series_get_for_user(series_id=series.pk, user=user) == series
        assert selectors.meeting_get_for_user(meeting_id=meeting.pk, user=user) == meeting
    for user in (rep2, outsider):
        with pytest.raises(Http404):
            selectors.one_on_one_series_get_for_user(series_id=series.pk, user=user)
        with pytest.raises(Http404):
            selectors.meeting_get_for_user(meeting_id=meeting.pk, user=user)
    assert list(selectors.one_on_one_series_list_for_user(user=rep2)) == []


def test_meeting_ics_parses(meeting, manager, rep):
    calendar = Calendar.from_ical(meeting_ics(meeting=meeting))
    (event,) = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == MONDAY_TEN
    assert event.decoded("dtend") - event.decoded("dtstart") == dt.timedelta(minutes=60)
    assert str(event["uid"]) == f"one-on-one-meeting-{meeting.pk}@localhost"
    assert "Mona Manager" in str(event["summary"]) and "Rita Rep" in str(event["summary"])
    assert str(event["organizer"]) == "mailto:manager@example.com"
    assert str(event["attendee"]) == "mailto:rep@example.com"
    assert f"/people/meetings/{meeting.pk}/" in str(event["description"])


def test_series_ics_is_a_recurring_event(today, manager, rep):
    series = OneOnOneSeriesFactory(
        manager=manager, rep=rep, cadence="biweekly", duration_minutes=45, first_meeting_at=MONDAY_TEN
    )
    calendar = Calendar.from_ical(series_ics(series=series, starts_at=MONDAY_TEN))
    (event,) = calendar.walk("VEVENT")
    assert event["rrule"]["FREQ"] == ["WEEKLY"] and event["rrule"]["INTERVAL"] == [2]
    assert event.decoded("dtend") - event.decoded("dtstart") == dt.timedelta(minutes=45)
    assert timezone.is_aware(event.decoded("dtstart"))


def test_ics_never_carries_agenda_or_notes(meeting, manager, rep):
    services.agenda_item_add(meeting=meeting, text="Salary talk", by=rep)
    services.meeting_shared_notes_set(meeting=meeting, text="Shared secret", by=manager)
    services.private_note_set(meeting=meeting, text="Private worry", by=manager)
    body = meeting_ics(meeting=meeting).decode()
    assert "Salary" not in body and "secret" not in body and "worry" not in body
