import datetime as dt

import pytest
import time_machine
from django.core import mail
from icalendar import Calendar

from dealflow.deals.services import activity_create, deal_move_to_stage, deal_update
from dealflow.deals.tests.factories import DealFactory, stage_named
from dealflow.notifications.calendar import calendar_feed_build
from dealflow.notifications.digests import digests_send_due
from dealflow.notifications.models import Channel, DigestSent, NotificationKind
from dealflow.notifications.services import (
    calendar_feed_authenticate,
    calendar_feed_create,
    calendar_feed_revoke,
    preference_set,
)

pytestmark = pytest.mark.django_db
# Monday 2 March 2026; Europe/Amsterdam is UTC+1 in March.
MONDAY_8 = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)


@pytest.fixture
def mailed(rep, rep2, manager):
    for user, address in (
        (rep, "rita@example.com"),
        (rep2, "ruud@example.com"),
        (manager, "mona@example.com"),
    ):
        user.email = address
        user.save()


def test_daily_digest_lists_my_day_once_per_day(mailed, rep, rep2, manager, settings):
    settings.TIME_ZONE = "Europe/Amsterdam"
    with time_machine.travel(MONDAY_8 - dt.timedelta(days=30), tick=False):
        stale = DealFactory(owner=rep, title="Old fleet")
        deal_move_to_stage(deal=stale, stage=stage_named("Negotiation"), by=rep)  # rots after 14 days
    with time_machine.travel(MONDAY_8 - dt.timedelta(hours=3), tick=False):
        deal = DealFactory(owner=rep, title="Desks")
        deal_update(deal=deal, by=manager, data={"expected_close_on": dt.date(2026, 3, 31)})
        activity_create(owner=rep, subject="Call Jan", due_at=MONDAY_8 + dt.timedelta(hours=2), deal=deal)
        activity_create(owner=rep, subject="Send quote", due_at=MONDAY_8 - dt.timedelta(days=1))
        activity_create(owner=rep, subject="Next week", due_at=MONDAY_8 + dt.timedelta(days=7))
    with time_machine.travel(MONDAY_8 - dt.timedelta(hours=2), tick=False):
        assert digests_send_due() == {"daily": 0, "weekly": 0}  # 07:00 local is the earliest
    with time_machine.travel(MONDAY_8, tick=False):
        assert digests_send_due()["daily"] == 1  # rep2 has nothing to report: no empty e-mail
        assert digests_send_due()["daily"] == 0
    message = mail.outbox[0]
    assert message.to == ["rita@example.com"]
    assert message.subject == "Dealflow: your day, 2026-03-02"
    assert "Due today:\n- 10:00 Call Jan (Desks)" in message.body
    assert "Overdue:\n- 2026-03-01 08:00 Send quote" in message.body
    assert "Rotting deals:\n- Old fleet (Negotiation)" in message.body
    assert "Changes to my deals:\n- Desks: Close date changed → 2026-03-31 (Mona Manager)" in message.body
    assert "Next week" not in message.body


def test_daily_digest_off_sends_nothing(mailed, rep):
    preference_set(user=rep, kind=NotificationKind.DIGEST_DAILY, channel=Channel.OFF)
    activity_create(owner=rep, subject="Call", due_at=MONDAY_8 - dt.timedelta(days=1))
    with time_machine.travel(MONDAY_8 + dt.timedelta(hours=2), tick=False):
        assert digests_send_due() == {"daily": 0, "weekly": 0}  # the manager's week was empty: no e-mail
    assert mail.outbox == []


def test_weekly_digest_for_managers_counts_the_week(mailed, rep, manager, settings):
    settings.TIME_ZONE = "Europe/Amsterdam"
    negotiation = stage_named("Negotiation")  # 14 rotting days
    with time_machine.travel(MONDAY_8 - dt.timedelta(days=40), tick=False):
        stuck_before = DealFactory(owner=rep, title="Stuck long")
        deal_move_to_stage(deal=stuck_before, stage=negotiation, by=rep)
    with time_machine.travel(MONDAY_8 - dt.timedelta(days=18), tick=False):
        newly_stuck = DealFactory(owner=rep, title="Newly stuck")
        deal_move_to_stage(deal=newly_stuck, stage=negotiation, by=rep)
        slipping = DealFactory(owner=rep, title="Slipping", expected_close_on=dt.date(2026, 3, 10))
    with time_machine.travel(MONDAY_8 - dt.timedelta(days=2), tick=False):
        from dealflow.deals.services import deal_mark_won

        deal_mark_won(deal=DealFactory(owner=rep, amount="1500.00", title="Won one"), by=rep)
        deal_update(deal=slipping, by=rep, data={"expected_close_on": dt.date(2026, 4, 15)})
    with time_machine.travel(MONDAY_8, tick=False):
        sent = digests_send_due()
    assert sent["weekly"] == 1
    weekly = next(message for message in mail.outbox if message.to == ["mona@example.com"])
    assert weekly.subject == "Dealflow: your teams' week 2026-W10"
    assert "Pipeline changes since last week: 1 new, 1 won, 0 lost, 0 stage moves." in weekly.body
    assert "Won: 1500.00 EUR" in weekly.body
    assert "- Slipping: 2026-03-10 → 2026-04-15" in weekly.body
    # A week ago only "Stuck long" sat past 14 days in Negotiation; now "Newly stuck" does too.
    assert "- Negotiation: 2 deals past their rotting days (a week ago: 1)" in weekly.body
    assert DigestSent.objects.filter(user=manager, period_key="2026-W10").count() == 1


def test_digest_in_dutch_for_a_dutch_user(mailed, rep):
    rep.language = "nl"
    rep.save()
    activity_create(owner=rep, subject="Bel Jan", due_at=MONDAY_8 - dt.timedelta(days=1))
    with time_machine.travel(MONDAY_8 + dt.timedelta(hours=2), tick=False):
        digests_send_due()
    assert mail.outbox[0].subject == "Dealflow: jouw dag, 2026-03-02"
    assert "Te laat:\n- 2026-03-01 08:00 Bel Jan" in mail.outbox[0].body


def test_calendar_feed_secret_is_hashed_revocable_and_parses(rep, manager):
    from dealflow.notifications.models import CalendarFeed
    from dealflow.people.models import OneOnOneMeeting, OneOnOneSeries

    feed, secret = calendar_feed_create(user=rep)
    assert secret.startswith("cal_") and secret not in feed.token_hash
    assert CalendarFeed.objects.filter(token_hash__contains=secret[4:]).count() == 0
    assert calendar_feed_authenticate(secret=secret) == rep
    with time_machine.travel(MONDAY_8, tick=False):
        deal = DealFactory(owner=rep, title="Desks")
        activity_create(
            owner=rep, subject="Demo", kind="meeting", deal=deal, due_at=MONDAY_8 + dt.timedelta(days=1)
        )
        activity_create(owner=manager, subject="Not mine", due_at=MONDAY_8 + dt.timedelta(days=1))
        series = OneOnOneSeries.objects.create(manager=manager, rep=rep, first_meeting_at=MONDAY_8)
        OneOnOneMeeting.objects.create(
            series=series, scheduled_at=MONDAY_8 + dt.timedelta(days=2), duration_minutes=45
        )
        calendar = Calendar.from_ical(calendar_feed_build(user=rep))
    events = sorted(calendar.walk("VEVENT"), key=lambda event: event.decoded("dtstart"))
    assert [str(event["summary"]) for event in events] == [
        "Meeting: Demo (Desks)",
        "One-on-one with Mona Manager",
    ]
    assert events[1].decoded("dtend") - events[1].decoded("dtstart") == dt.timedelta(minutes=45)
    _, newer = calendar_feed_create(user=rep)
    assert calendar_feed_authenticate(secret=secret) is None  # replaced
    assert calendar_feed_revoke(user=rep) == 1
    assert calendar_feed_authenticate(secret=newer) is None
