import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from dealflow.accounts.models import Role
from dealflow.accounts.tests.factories import MembershipFactory
from dealflow.deals.services import activity_complete, activity_create, deal_move_to_stage, deal_update
from dealflow.deals.tests.factories import DealFactory, LeadFactory, stage_named
from dealflow.notifications.models import Notification, NotificationKind
from dealflow.notifications.watch import watch_pass

pytestmark = pytest.mark.django_db
MONDAY = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _kinds(user):
    return sorted(Notification.objects.filter(user=user).values_list("kind", flat=True))


def test_a_deal_handed_over_notifies_its_new_owner_not_the_one_who_did_it(rep, rep2, manager):
    watch_pass()
    deal = DealFactory(owner=rep)
    deal_update(deal=deal, by=manager, data={"owner": rep2})
    deal_update(deal=deal, by=rep2, data={"owner": rep2, "title": "Same owner"})
    watch_pass()
    watch_pass()  # again: nothing new
    assert _kinds(rep) == []  # created it for themselves
    assert _kinds(rep2) == [NotificationKind.DEAL_ASSIGNED]
    assert Notification.objects.get(user=rep2).url == f"/deals/{deal.pk}/"


def test_imports_notify_nobody(rep, manager):
    watch_pass()
    DealFactory(owner=rep, by=manager, origin="import")
    watch_pass()
    assert _kinds(rep) == []


def test_mention_reaches_who_may_see_the_deal_only(rep, rep2, manager, outsider):
    watch_pass()
    deal = DealFactory(owner=rep, title="Fleet renewal")
    activity_create(
        owner=rep,
        kind="note",
        subject="Pricing",
        deal=deal,
        notes="@manager can you approve 10%? cc @outsider @rep",
    )
    watch_pass()
    assert _kinds(manager) == [NotificationKind.MENTION]
    notification = Notification.objects.get(user=manager)
    assert notification.title == "Rita Rep mentioned you on “Fleet renewal”"
    assert (
        notification.body == "@manager can you approve 10%? cc @outsider @rep"
    )  # a note is text, not a template
    assert _kinds(outsider) == []  # another team's rep may not see the deal: no title leaks
    assert _kinds(rep) == []  # the author


def test_new_lead_notifies_its_owner(rep):
    watch_pass()
    LeadFactory(owner=rep, title="Inbound: 40 desks")
    LeadFactory(owner=rep, title="Imported", external_source="pipedrive", external_id="7")
    watch_pass()
    assert list(Notification.objects.filter(user=rep).values_list("kind", "title")) == [
        (NotificationKind.LEAD_ASSIGNED, "A new lead is yours: “Inbound: 40 desks” (Website inquiry)")
    ]


def test_activity_due_soon_then_overdue_each_once_and_not_when_done(rep):
    with time_machine.travel(MONDAY, tick=False):
        soon = activity_create(owner=rep, subject="Demo", due_at=MONDAY + dt.timedelta(minutes=30))
        done = activity_create(owner=rep, subject="Done already", due_at=MONDAY - dt.timedelta(hours=1))
        activity_complete(activity=done, by=rep)
        watch_pass()
        watch_pass()
    assert _kinds(rep) == [NotificationKind.ACTIVITY_DUE]
    with time_machine.travel(MONDAY + dt.timedelta(hours=1), tick=False):
        watch_pass()
    assert _kinds(rep) == [NotificationKind.ACTIVITY_DUE, NotificationKind.ACTIVITY_OVERDUE]
    overdue = Notification.objects.get(user=rep, kind=NotificationKind.ACTIVITY_OVERDUE)
    local = timezone.localtime(soon.due_at)
    assert overdue.title == f"Overdue since {local:%Y-%m-%d %H:%M}: Demo"


def test_rotting_notifies_when_a_deal_passes_its_stage_days(rep):
    proposal = stage_named("Proposal")  # rots after 21 days
    with time_machine.travel(MONDAY, tick=False):
        deal = DealFactory(owner=rep)
        deal_move_to_stage(deal=deal, stage=proposal, by=rep)
    with time_machine.travel(MONDAY + dt.timedelta(days=21, hours=23), tick=False):
        watch_pass()
    assert _kinds(rep) == []  # 21 whole days: not yet more than 21
    with time_machine.travel(MONDAY + dt.timedelta(days=22, hours=1), tick=False):
        watch_pass()
        watch_pass()
    assert _kinds(rep) == [NotificationKind.DEAL_ROTTING]
    assert (
        Notification.objects.get(user=rep).title
        == f"“{deal.title}” has sat in Proposal for more than 21 days"
    )


def test_one_on_one_tomorrow_reaches_both(rep, manager):
    from dealflow.people.models import OneOnOneMeeting, OneOnOneSeries

    series = OneOnOneSeries.objects.create(manager=manager, rep=rep, first_meeting_at=MONDAY)
    OneOnOneMeeting.objects.create(series=series, scheduled_at=MONDAY + dt.timedelta(days=1, hours=1))
    OneOnOneMeeting.objects.create(series=series, scheduled_at=MONDAY + dt.timedelta(days=3))
    with time_machine.travel(MONDAY, tick=False):
        watch_pass()
    assert _kinds(rep) == [NotificationKind.ONE_ON_ONE_TOMORROW]
    assert _kinds(manager) == [NotificationKind.ONE_ON_ONE_TOMORROW]
    assert Notification.objects.get(user=rep).title.startswith("One-on-one with Mona Manager tomorrow at ")


def test_open_survey_notifies_who_has_not_answered(rep, rep2, manager, team):
    from dealflow.people.models import Survey, SurveyInvitation, SurveyRun

    survey = Survey.objects.create(title="Pulse", starts_on=MONDAY.date(), created_by=manager)
    survey.teams.set([team])
    run = SurveyRun.objects.create(
        survey=survey, opens_on=MONDAY.date(), closes_on=MONDAY.date() + dt.timedelta(days=4)
    )
    SurveyInvitation.objects.create(run=run, user=rep, team=team)
    SurveyInvitation.objects.create(run=run, user=rep2, team=team, is_answered=True)
    with time_machine.travel(MONDAY, tick=False):
        watch_pass()
    assert _kinds(rep) == [NotificationKind.SURVEY_OPEN]
    assert Notification.objects.get(user=rep).title == "The survey “Pulse” is open for you until 2026-03-06"
    assert _kinds(rep2) == []


def test_forecast_call_due_in_the_last_days_of_the_month_for_reps_without_a_call(rep, rep2, team):
    DealFactory(owner=rep)
    DealFactory(owner=rep2)
    from dealflow.forecasting.models import CallKind, ForecastCall

    ForecastCall.objects.create(
        period_key="2026-03",
        period_start=dt.date(2026, 3, 1),
        period_end=dt.date(2026, 4, 1),
        kind=CallKind.REP,
        user=rep2,
        commit_minor=0,
        best_case_minor=0,
        currency="EUR",
    )
    with time_machine.travel(dt.datetime(2026, 3, 20, 9, 0, tzinfo=dt.UTC), tick=False):
        watch_pass()
    assert _kinds(rep) == []  # eleven days before the end: not yet
    with time_machine.travel(dt.datetime(2026, 3, 27, 9, 0, tzinfo=dt.UTC), tick=False):
        watch_pass()
    assert _kinds(rep) == [NotificationKind.FORECAST_CALL_DUE]
    assert Notification.objects.get(user=rep).title == "Your forecast call for 2026-03 is due by 2026-03-31"
    assert _kinds(rep2) == []


def test_review_started_notifies_the_teams_managers(rep, manager, admin_user, team):
    from dealflow.reviews.models import PipelineReview

    MembershipFactory(user=admin_user, team=team, role=Role.ADMIN)
    watch_pass()
    review = PipelineReview.objects.create(
        team=team,
        period_start=dt.date(2026, 3, 2),
        period_end=dt.date(2026, 3, 9),
        started_by=admin_user,
    )
    watch_pass()
    assert _kinds(manager) == [NotificationKind.REVIEW_SCHEDULED]
    assert _kinds(admin_user) == []  # started it
    assert Notification.objects.get(user=manager).url == f"/reviews/{review.pk}/"


def test_a_lead_handed_over_notifies_its_new_owner_by_their_choice_not_who_took_it(rep, rep2, manager):
    from django.core import mail

    from dealflow.deals.services import lead_update
    from dealflow.notifications.services import preference_set

    lead = LeadFactory(owner=rep, title="Inbound: 40 desks")
    taken = LeadFactory(owner=rep, title="Walk-in")
    watch_pass()  # the new leads: rep hears of them
    lead_update(lead=lead, data={"owner": rep2}, by=manager)
    lead_update(lead=lead, data={"title": "Inbound: 40 desks, Q3"}, by=rep2)  # no hand-over
    lead_update(lead=taken, data={"owner": manager}, by=manager)  # took it themselves: nobody is told
    watch_pass()
    watch_pass()  # again: nothing new
    assert list(Notification.objects.filter(user=rep2).values_list("kind", "title", "url")) == [
        (
            NotificationKind.LEAD_ASSIGNED,
            "Mona Manager handed the lead “Inbound: 40 desks, Q3” to you",
            "/leads/",
        )
    ]
    assert _kinds(manager) == []
    # Handed back by a rule (no actor), to someone who chose e-mail only for this kind, in Dutch.
    preference_set(user=rep, kind=NotificationKind.LEAD_ASSIGNED, channel="email")
    rep.language, rep.email = "nl", "rep@example.com"
    rep.save()
    lead_update(lead=lead, data={"owner": rep}, by=None)
    watch_pass()
    handed_back = Notification.objects.get(user=rep, key__startswith="lead_handover:")
    assert (handed_back.is_shown, handed_back.title) == (
        False,
        "Dealflow heeft de lead “Inbound: 40 desks, Q3” aan jou overgedragen",
    )
    assert [message.subject for message in mail.outbox] == [handed_back.title]


def test_a_lead_in_the_trash_notifies_nobody_of_its_hand_over(rep, rep2, manager):
    from dealflow.deals.services import lead_update
    from dealflow.deals.services.trash import lead_delete

    lead = LeadFactory(owner=rep, title="Gone soon")
    watch_pass()
    lead_update(lead=lead, data={"owner": rep2}, by=manager)
    lead_delete(lead=lead, by=manager)
    watch_pass()
    assert _kinds(rep2) == []
