import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from dealflow.accounts.models import Role
from dealflow.accounts.tests.factories import MembershipFactory, UserFactory
from dealflow.automation.dispatch import dispatch_pass
from dealflow.automation.models import Action, RuleRun, RunStatus, Trigger
from dealflow.automation.services import rule_create, rule_dry_run_unsaved, rule_update
from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.deals.models import Activity, DealEvent, EventKind
from dealflow.deals.services import deal_mark_lost, deal_mark_won, deal_move_to_stage, deal_update
from dealflow.deals.tests.factories import DealFactory, LeadFactory, lead_source, lost_reason, stage_named
from dealflow.notifications.models import Notification, NotificationKind

pytestmark = pytest.mark.django_db
MONDAY = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _follow_up(by, **extra):
    data = {
        "name": "Follow up proposals",
        "trigger": Trigger.STAGE_ENTERED,
        "stage": stage_named("Proposal"),
        "action": Action.CREATE_ACTIVITY,
        "params": {"subject": "Chase the proposal", "kind": "call", "due_in_days": 3},
    }
    return rule_create(by=by, data={**data, **extra})


def test_a_rep_cannot_create_rules_a_manager_only_for_their_team(rep, manager, team, other_team, admin_user):
    with pytest.raises(PermissionDeniedError):
        _follow_up(rep)
    with pytest.raises(PermissionDeniedError):
        _follow_up(rep, team=team)
    with pytest.raises(PermissionDeniedError) as error:
        _follow_up(manager)  # company-wide: admins only
    assert error.value.field == "team"
    with pytest.raises(PermissionDeniedError):
        _follow_up(manager, team=other_team)
    assert _follow_up(manager, team=team).team == team
    assert _follow_up(admin_user).team is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": " "}, "name"),
        ({"trigger": "tuesday"}, "trigger"),
        ({"stage": None}, "stage"),
        ({"action": "dance"}, "action"),
        ({"params": {"subject": ""}}, "subject"),
        ({"params": {"subject": "x", "due_in_days": "soon"}}, "due_in_days"),
        ({"params": {"subject": "x", "colour": "red"}}, "colour"),
        ({"trigger": Trigger.ROTTING, "days": 0}, "days"),
        ({"trigger": Trigger.AMOUNT_ABOVE, "amount": "lots"}, "amount"),
        ({"trigger": Trigger.LEAD_SOURCE}, "source"),
        ({"action": Action.SET_FIELD, "params": {"field": "amount", "value": 1}}, "field"),
        ({"action": Action.SET_FIELD, "params": {"field": "probability_override", "value": 120}}, "value"),
        ({"action": Action.NOTIFY, "params": {"recipient": "owner"}}, "message"),
        ({"action": Action.WEBHOOK, "params": {"subscription_id": 999}}, "subscription_id"),
    ],
)
def test_invalid_rules_are_refused_naming_the_field(admin_user, changes, field):
    with pytest.raises(ApplicationError) as error:
        _follow_up(admin_user, **changes)
    assert error.value.field == field


def test_rule_creates_the_follow_up_once_as_the_rule(rep, admin_user):
    with time_machine.travel(MONDAY, tick=False):
        rule = _follow_up(admin_user)
        deal = DealFactory(owner=rep)
        deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep)
        first = dispatch_pass()
        again = dispatch_pass()
    assert (first.runs, again.runs) == (1, 0)
    activity = Activity.objects.get(deal=deal, origin=f"rule:{rule.pk}")
    assert (activity.subject, activity.kind, activity.owner) == ("Chase the proposal", "call", rep)
    assert activity.due_at == MONDAY + dt.timedelta(days=3)
    run = RuleRun.objects.get(rule=rule)
    assert (run.key, run.status, run.deal) == (
        f"event:{DealEvent.objects.filter(deal=deal).last().pk}",
        "done",
        deal,
    )
    assert run.detail.startswith("Created the activity “Chase the proposal” due 2026-03-05")


def test_a_rule_acts_only_on_what_happens_after_it_was_made(rep, admin_user):
    deal = DealFactory(owner=rep)
    deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep)
    _follow_up(admin_user)
    assert dispatch_pass().runs == 0


def test_team_rule_ignores_other_teams_deals(rep, outsider, manager, team):
    _follow_up(manager, team=team)
    mine, theirs = DealFactory(owner=rep), DealFactory(owner=outsider)
    for deal in (mine, theirs):
        deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=deal.owner)
    dispatch_pass()
    assert list(RuleRun.objects.values_list("deal_id", flat=True)) == [mine.pk]


def test_set_field_and_assign_owner_write_events_as_done_by_the_rule(rep, rep2, manager, admin_user, team):
    won_rule = rule_create(
        by=admin_user,
        data={
            "name": "Big ones to the team",
            "trigger": Trigger.AMOUNT_ABOVE,
            "amount": "50000",
            "currency": "EUR",
            "action": Action.ASSIGN_OWNER,
            "params": {"team_id": team.pk},
        },
    )
    category_rule = rule_create(
        by=admin_user,
        data={
            "name": "Negotiation is commit",
            "trigger": Trigger.STAGE_ENTERED,
            "stage": stage_named("Negotiation"),
            "action": Action.SET_FIELD,
            "params": {"field": "forecast_category_override", "value": "commit"},
        },
    )
    small = DealFactory(owner=manager, amount=Decimal("49999.99"))
    big = DealFactory(owner=manager, amount=Decimal("50000.01"))
    bigger = DealFactory(owner=manager, amount=Decimal("10"))
    deal_update(deal=bigger, by=manager, data={"amount": Decimal("60000")})
    deal_update(deal=bigger, by=manager, data={"amount": Decimal("70000")})  # already above: no second turn
    deal_move_to_stage(deal=small, stage=stage_named("Negotiation"), by=manager)
    dispatch_pass()
    big.refresh_from_db()
    bigger.refresh_from_db()
    small.refresh_from_db()
    # Round robin over the team's reps by id: rep, then rep2.
    assert (big.owner, bigger.owner, small.owner) == (rep, rep2, manager)
    change = DealEvent.objects.get(deal=big, kind=EventKind.OWNER_CHANGED)
    assert (change.actor, change.origin, change.note) == (
        None,
        f"rule:{won_rule.pk}",
        "Rule: Big ones to the team",
    )
    assert small.forecast_category_override == "commit"
    event = DealEvent.objects.get(deal=small, kind=EventKind.CATEGORY_CHANGED)
    assert (event.actor, event.origin) == (None, f"rule:{category_rule.pk}")


def test_won_lost_and_notify_reach_who_may_see_the_deal(rep, manager, outsider, admin_user):
    rule_create(
        by=admin_user,
        data={
            "name": "Tell managers about losses",
            "trigger": Trigger.LOST,
            "action": Action.NOTIFY,
            "params": {"recipient": "team_managers", "message": "A deal was lost"},
        },
    )
    rule_create(
        by=admin_user,
        data={
            "name": "Tell outsider about wins",
            "trigger": Trigger.WON,
            "action": Action.NOTIFY,
            "params": {"recipient": "user", "user_id": outsider.pk, "message": "Won!"},
        },
    )
    lost = DealFactory(owner=rep, title="Chairs")
    deal_mark_lost(deal=lost, reason=lost_reason(), by=rep)
    deal_mark_won(deal=DealFactory(owner=rep, title="Tables"), by=rep)
    result = dispatch_pass()
    assert result.runs == 2
    notification = Notification.objects.get(kind=NotificationKind.RULE)
    assert (notification.user, notification.title) == (
        manager,
        "Tell managers about losses: A deal was lost (Chairs)",
    )
    # The outsider may not see rep's deals: the rule ran, nobody was told.
    assert RuleRun.objects.get(rule__name="Tell outsider about wins").detail == "Nobody to notify."


def test_lead_source_rule_assigns_leads_round_robin(rep, rep2, admin_user, team):
    rule_create(
        by=admin_user,
        data={
            "name": "Trade show leads",
            "trigger": Trigger.LEAD_SOURCE,
            "source": lead_source("trade_show"),
            "action": Action.ASSIGN_OWNER,
            "params": {"team_id": team.pk},
        },
    )
    admin_lead = [LeadFactory(owner=admin_user, source=lead_source("trade_show")) for _ in range(3)]
    web = LeadFactory(owner=admin_user, source=lead_source("website"))
    dispatch_pass()
    for lead in [*admin_lead, web]:
        lead.refresh_from_db()
    assert [lead.owner for lead in admin_lead] == [rep, rep2, rep]
    assert web.owner == admin_user


def test_rotting_rule_fires_once_per_stay(rep, admin_user):
    with time_machine.travel(MONDAY, tick=False):
        rule = rule_create(
            by=admin_user,
            data={
                "name": "Nudge after 10 days",
                "trigger": Trigger.ROTTING,
                "days": 10,
                "action": Action.CREATE_ACTIVITY,
                "params": {"subject": "Nudge"},
            },
        )
        deal = DealFactory(owner=rep)
    with time_machine.travel(MONDAY + dt.timedelta(days=9, hours=23), tick=False):
        assert dispatch_pass().runs == 0
    with time_machine.travel(MONDAY + dt.timedelta(days=10, hours=1), tick=False):
        assert dispatch_pass().runs == 1
        assert dispatch_pass().runs == 0
        deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep)
    with time_machine.travel(MONDAY + dt.timedelta(days=20, hours=2), tick=False):
        assert dispatch_pass().runs == 1  # a new stay, a new nudge
    assert RuleRun.objects.filter(rule=rule).count() == 2


def test_loop_guard_stops_a_chain_of_rules(rep, rep2, admin_user, team, other_team):
    # Two rules that hand a deal back and forth on every owner change would never stop by themselves.
    other_rep = UserFactory(username="dach_rep")
    MembershipFactory(user=other_rep, team=other_team, role=Role.REP)
    from dealflow.automation.models import Rule

    rules = []
    for target in (team, other_team):
        rule = rule_create(
            by=admin_user,
            data={
                "name": f"To {target.name}",
                "trigger": Trigger.AMOUNT_ABOVE,
                "amount": "100",
                "currency": "EUR",
                "action": Action.ASSIGN_OWNER,
                "params": {"team_id": target.pk},
            },
        )
        rules.append(rule)
    # No action changes an amount, so the chain is simulated: amount changes whose origin names a rule, as
    # an action would write them (the depth comes from the origin of the event).
    deal = DealFactory(owner=rep, amount=Decimal("500"))
    dispatch_pass()
    for depth in range(1, 6):
        origin_rule = rules[depth % 2]
        deal.refresh_from_db()
        deal_update(deal=deal, by=None, data={"amount": Decimal("1")}, origin=f"rule:{origin_rule.pk}")
        deal_update(deal=deal, by=None, data={"amount": Decimal("600")}, origin=f"rule:{origin_rule.pk}")
        dispatch_pass()
    statuses = list(RuleRun.objects.order_by("id").values_list("rule_id", "depth", "status"))
    first, second = rules[0].pk, rules[1].pk
    done, skipped = RunStatus.DONE, RunStatus.SKIPPED_LOOP
    # Both fire on the person's change (depth 0). Then each change made "by" one rule triggers only the
    # other (never itself), one link deeper each time, until the chain passes MAX_CHAIN_DEPTH (3).
    assert statuses == [
        (first, 0, done),
        (second, 0, done),
        (first, 1, done),
        (second, 2, done),
        (first, 3, done),
        (second, 4, skipped),
        (first, 5, skipped),
    ]
    assert Rule.objects.count() == 2


def test_dry_run_counts_the_last_90_days_on_visible_deals(rep, outsider, manager, admin_user, team):
    proposal = stage_named("Proposal")
    with time_machine.travel(MONDAY - dt.timedelta(days=120), tick=False):
        old = DealFactory(owner=rep, title="Too old")
        deal_move_to_stage(deal=old, stage=proposal, by=rep)
    with time_machine.travel(MONDAY - dt.timedelta(days=30), tick=False):
        first = DealFactory(owner=rep, title="First")
        deal_move_to_stage(deal=first, stage=proposal, by=rep)
        deal_move_to_stage(deal=first, stage=stage_named("Needs analysis"), by=rep)
    with time_machine.travel(MONDAY - dt.timedelta(days=10), tick=False):
        deal_move_to_stage(deal=first, stage=proposal, by=rep)  # enters Proposal a second time
        theirs = DealFactory(owner=outsider, title="Theirs")
        deal_move_to_stage(deal=theirs, stage=proposal, by=outsider)
    data = {
        "name": "Follow up",
        "trigger": Trigger.STAGE_ENTERED,
        "stage": proposal,
        "action": Action.CREATE_ACTIVITY,
        "params": {"subject": "Chase"},
    }
    with time_machine.travel(MONDAY, tick=False):
        company = rule_dry_run_unsaved(by=admin_user, data=data)
        team_only = rule_dry_run_unsaved(by=manager, data={**data, "team": team})
    assert (company.count, company.records) == (3, 2)  # First twice, Theirs once; Too old is outside 90 days
    assert sorted(hit.title for hit in company.hits) == ["First", "First", "Theirs"]
    assert (team_only.count, team_only.records) == (2, 1)
    from dealflow.automation.models import Rule

    assert Rule.objects.count() == 0  # a dry run saves nothing


def test_dry_run_for_rotting_and_lead_sources(rep, admin_user):
    with time_machine.travel(MONDAY - dt.timedelta(days=40), tick=False):
        stays = DealFactory(owner=rep, title="Sat 40 days")
    with time_machine.travel(MONDAY - dt.timedelta(days=20), tick=False):
        moved = DealFactory(owner=rep, title="Moved after 5")
    with time_machine.travel(MONDAY - dt.timedelta(days=15), tick=False):
        deal_move_to_stage(deal=moved, stage=stage_named("Proposal"), by=rep)
        LeadFactory(owner=rep, source=lead_source("referral"), title="Referral")
        LeadFactory(owner=rep, source=lead_source("website"), title="Web")
    with time_machine.travel(MONDAY, tick=False):
        rotting = rule_dry_run_unsaved(
            by=admin_user,
            data={
                "name": "x",
                "trigger": Trigger.ROTTING,
                "days": 10,
                "action": Action.CREATE_ACTIVITY,
                "params": {"subject": "x"},
            },
        )
        referrals = rule_dry_run_unsaved(
            by=admin_user,
            data={
                "name": "x",
                "trigger": Trigger.LEAD_SOURCE,
                "source": lead_source("referral"),
                "action": Action.CREATE_ACTIVITY,
                "params": {"subject": "x"},
            },
        )
    # Sat 40 days reached 10 days 30 days ago; Moved after 5 left Qualification after 5 days (no), then sat
    # 15 days in Proposal (yes, 5 days ago).
    assert sorted(hit.title for hit in rotting.hits) == ["Moved after 5", "Sat 40 days"]
    assert [hit.title for hit in referrals.hits] == ["Referral"]
    assert stays


def test_a_failing_action_is_logged_and_does_not_stop_the_others(rep, admin_user, team):
    rule = _follow_up(admin_user)
    later = _follow_up(admin_user, name="Second")
    rule_update(
        rule=rule, by=admin_user, data={"action": Action.ASSIGN_OWNER, "params": {"team_id": team.pk}}
    )
    from dealflow.accounts.models import Membership

    Membership.objects.filter(team=team, role=Role.REP).delete()  # nobody left to take a turn
    deal = DealFactory(owner=rep)
    deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep)
    result = dispatch_pass()
    assert (result.runs, result.failed) == (2, 1)
    assert RuleRun.objects.get(rule=rule).detail == "The team has no active reps to take turns."
    assert RuleRun.objects.get(rule=later).status == RunStatus.DONE


def test_a_rules_follow_up_is_the_row_activity_create_writes(rep, admin_user):
    """The dispatch writes a batch's follow-ups in one statement; each row, and its search entry, is what
    activity_create writes for the same activity."""
    from dealflow.deals.services import activity_create
    from dealflow.search.models import SearchEntry

    with time_machine.travel(MONDAY, tick=False):
        rule = _follow_up(admin_user)
        deal = DealFactory(owner=rep, title="Fleet renewal")
        deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep)
        dispatch_pass()
        by_service = activity_create(
            owner=rep,
            subject="Chase the proposal",
            kind="call",
            deal=deal,
            due_at=MONDAY + dt.timedelta(days=3),
            origin=f"rule:{rule.pk}",
        )
    by_rule = Activity.objects.exclude(pk=by_service.pk).get(deal=deal)
    skip = {"id", "updated_at"}
    fields = [field.attname for field in Activity._meta.concrete_fields if field.attname not in skip]
    assert [getattr(by_rule, name) for name in fields] == [getattr(by_service, name) for name in fields]
    entries = {
        entry.object_id: (entry.owner_id, entry.title, entry.subtitle, entry.text)
        for entry in SearchEntry.objects.filter(kind="activity")
    }
    assert (
        entries[by_rule.pk]
        == entries[by_service.pk]
        == (rep.pk, "Chase the proposal", "Fleet renewal", entries[by_service.pk][3])
    )


def test_a_pass_reads_and_writes_per_batch_not_per_event(rep, admin_user):
    """Follow-ups, notifications, runs and webhook deliveries of many events cost the queries of a few."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dealflow.automation.services import subscription_create

    _follow_up(admin_user)
    rule_create(
        by=admin_user,
        data={
            "name": "Tell the owner",
            "trigger": Trigger.STAGE_ENTERED,
            "stage": stage_named("Proposal"),
            "action": Action.NOTIFY,
            "params": {"recipient": "owner", "message": "In proposal"},
        },
    )
    subscription_create(
        by=admin_user, name="Hook", url="https://example.com/hook", event_types=["deal.moved"]
    )
    counts = []
    for how_many in (2, 12):
        deals = [DealFactory(owner=rep) for _ in range(how_many)]
        dispatch_pass()  # their creation
        for deal in deals:
            deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep)
        with CaptureQueriesContext(connection) as queries:
            result = dispatch_pass()
        assert (result.events, result.runs, result.deliveries) == (how_many, 2 * how_many, how_many)
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert Notification.objects.filter(user=rep, kind=NotificationKind.RULE).count() == 14


def test_a_deal_in_the_trash_triggers_no_rule_and_no_webhook(rep, admin_user):
    from dealflow.automation.models import WebhookDelivery
    from dealflow.automation.services import subscription_create
    from dealflow.deals.services.trash import deal_delete

    _follow_up(admin_user)
    subscription_create(
        by=admin_user, name="Hook", url="https://example.com/hook", event_types=["deal.moved"]
    )
    kept, deleted = DealFactory(owner=rep), DealFactory(owner=rep)
    for deal in (kept, deleted):
        deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep)
    deal_delete(deal=deleted, by=rep)
    result = dispatch_pass()
    assert (result.runs, result.deliveries) == (1, 1)
    assert list(RuleRun.objects.values_list("deal_id", flat=True)) == [kept.pk]
    assert list(WebhookDelivery.objects.values_list("deal_id", flat=True)) == [kept.pk]
    assert not Activity.all_objects.filter(deal=deleted, origin__startswith="rule:").exists()


def _commit_in_negotiation(admin_user):
    return rule_create(
        by=admin_user,
        data={
            "name": "Negotiation is commit",
            "trigger": Trigger.STAGE_ENTERED,
            "stage": stage_named("Negotiation"),
            "action": Action.SET_FIELD,
            "params": {"field": "forecast_category_override", "value": "commit"},
        },
    )


def test_set_field_rules_write_per_batch_not_per_deal(rep, admin_user):
    """The deals a batch's rules change are written together (deals.services.bulk_update)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _commit_in_negotiation(admin_user)
    counts = []
    for how_many in (2, 12):
        deals = [DealFactory(owner=rep) for _ in range(how_many)]
        dispatch_pass()  # their creation
        for deal in deals:
            deal_move_to_stage(deal=deal, stage=stage_named("Negotiation"), by=rep)
        with CaptureQueriesContext(connection) as queries:
            result = dispatch_pass()
        assert (result.events, result.runs) == (how_many, how_many)
        counts.append(len(queries))
        versions = {deal.pk: deal.version + 1 for deal in deals}
        for deal in deals:
            deal.refresh_from_db()
            assert (deal.forecast_category_override, deal.version) == ("commit", versions[deal.pk])
    assert counts[0] == counts[1]
    # the second round's 12 events of the rule are read on the next pass (the first round's 2 were read by
    # the second round's first pass) and fire no rule
    assert (dispatch_pass().events, RuleRun.objects.count()) == (12, 14)


def test_a_batch_whose_deal_changed_meanwhile_is_done_again(rep, admin_user, monkeypatch):
    """Someone saves a deal between the batch's read and its write: the batch is rolled back and done again
    from the fresh row, keeping both changes and running the rule once."""
    from django.db.models import F

    from dealflow.deals.models import Deal
    from dealflow.deals.services.bulk_update import DealUpdateBatch

    rule = _commit_in_negotiation(admin_user)
    deal = DealFactory(owner=rep)
    dispatch_pass()
    deal_move_to_stage(deal=deal, stage=stage_named("Negotiation"), by=rep)
    # Someone saves the deal; the batch's first read of it is made to predate that save (one connection in a
    # test: a real concurrent save cannot land inside the batch's transaction).
    Deal.objects.filter(pk=deal.pk).update(next_step="Mine", version=F("version") + 1)
    add, write = DealUpdateBatch.add, DealUpdateBatch.write
    writes = []

    def add_read_before_the_save(self, *, deal, **kwargs):
        if len(writes) < 2:  # the first two attempts read the deal before the save; the last one locks it
            deal.version -= 1
            deal.next_step = ""
        return add(self, deal=deal, **kwargs)

    def write_counted(self):
        writes.append(len(self))
        return write(self)

    monkeypatch.setattr(DealUpdateBatch, "add", add_read_before_the_save)
    monkeypatch.setattr(DealUpdateBatch, "write", write_counted)
    result = dispatch_pass()
    assert [size for size in writes if size] == [1, 1, 1]  # refused twice, then done with the deals locked
    assert (result.events, result.runs, result.failed) == (1, 1, 0)
    deal.refresh_from_db()
    assert (deal.next_step, deal.forecast_category_override) == ("Mine", "commit")
    assert deal.version == 4  # created 1, moved 2, someone 3, the rule 4
    assert RuleRun.objects.filter(rule=rule).count() == 1
    assert DealEvent.objects.filter(deal=deal, kind=EventKind.CATEGORY_CHANGED).count() == 1
