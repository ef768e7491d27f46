from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import DatabaseError, transaction
from django.http import Http404
from django.utils import timezone

from dealflow.core.errors import ApplicationError
from dealflow.deals import services as deal_services
from dealflow.deals.models import Activity, DealEvent, EventKind
from dealflow.deals.tests.factories import DealFactory, lost_reason, stage_named
from dealflow.reviews import selectors, services
from dealflow.reviews.models import (
    DecisionStatus,
    PipelineReview,
    ReviewDeal,
    ReviewDecision,
    ReviewSnapshot,
    ReviewStatus,
    ScopeKind,
)
from dealflow.reviews.tests.conftest import CREATED, NOW

pytestmark = pytest.mark.django_db


def rows_by_deal(review: PipelineReview) -> dict[int, ReviewDeal]:
    return {row.deal_id: row for row in ReviewDeal.objects.filter(review=review)}


# --------------------------------------------------------------------------------------------- start
def test_start_freezes_every_open_deal_of_the_team_hand_worked(team_deals, manager, team, frozen_now):
    lost = DealFactory(owner=team_deals.proposal.owner, amount=Decimal("700"))
    deal_services.deal_mark_lost(deal=lost, reason=lost_reason(), by=manager)
    review = services.review_start(by=manager, team=team, period="2026-11")

    assert (review.scope_kind, review.team, review.period_key) == (ScopeKind.TEAM, team, "2026-11")
    rows = rows_by_deal(review)
    assert set(rows) == {
        team_deals.proposal.pk,
        team_deals.closing.pk,
        team_deals.negotiation.pk,
        team_deals.undated.pk,
    }  # not the outsider's deal, not the lost one
    proposal = rows[team_deals.proposal.pk]
    assert (proposal.stage_name, proposal.amount_minor, proposal.p_win, proposal.p_period) == (
        "Proposal",
        100_000,
        0.45,
        0.45,
    )
    assert (proposal.expected_value_minor, proposal.expected_period_minor) == (45_000, 45_000)
    assert proposal.category == "best_case" and proposal.days_in_stage == 30.0
    closing = rows[team_deals.closing.pk]
    assert (closing.p_win, closing.p_period, closing.expected_period_minor) == (
        0.85,
        0.0,
        0,
    )  # dated December
    assert (closing.p_period_in, closing.p_period_out) == (0.85, 0.0)
    snapshot = review.snapshot
    # Expected from open deals in November: 1,000 x 45 % + 4,000 x 65 % = 3,050.00
    assert snapshot.expected_open_minor == 45_000 + 260_000
    assert snapshot.closed_minor == 0 and snapshot.level == "L0" and snapshot.horizon == 0
    assert abs(snapshot.mean_minor - 305_000) < 3 * 400_000 / 100  # within ~3 standard errors of 10,000 draws
    assert snapshot.p10_minor <= snapshot.p50_minor <= snapshot.p90_minor
    assert snapshot.waterfall is None  # the team's first review
    # Bottlenecks: the Dashboard's stage times for the team, frozen, with the deals the review finds stuck.
    stages = {row["stage"]: row for row in snapshot.bottlenecks}
    closing = stages["Closing"]
    assert (closing["source"], closing["entered"], closing["open_deals"], closing["open_value_minor"]) == (
        "metrics",
        1,
        1,
        200_000,
    )
    assert closing["stuck_deals"] == [team_deals.closing.pk]  # 30 days, past 2 x 10 rotting days
    assert "1 open deal is past the won-deal benchmark." in closing["reasons"]
    assert snapshot.thresholds[str(stage_named("Proposal").pk)] == {
        "stale_days": 21,
        "stale_source": "stage",
        "stuck_days": 42,
        "stuck_source": "stage",
    }


def test_start_refuses_periods_the_forecast_does_not_cover(team_deals, manager, team, frozen_now):
    with pytest.raises(ApplicationError, match="next three"):
        services.review_start(by=manager, team=team, period="2027-06")
    with pytest.raises(ApplicationError, match="month"):
        services.review_start(by=manager, team=team, period="2026")


def test_one_review_of_a_scope_at_a_time(team_deals, manager, team, rep, frozen_now):
    first = services.review_start(by=manager, team=team, period="2026-11")
    with pytest.raises(ApplicationError, match=f"Review {first.pk}"):
        services.review_start(by=manager, team=team, period="2026-12")
    rep_review = services.review_start(by=manager, rep=rep, period="2026-11")  # another scope is fine
    assert rep_review.scope_kind == ScopeKind.REP and rep_review.team == team
    assert set(rows_by_deal(rep_review)) == {team_deals.proposal.pk, team_deals.closing.pk}


def test_pipeline_review_of_a_manager_covers_their_team(
    team_deals, manager, pipeline, admin_user, frozen_now
):
    review = services.review_start(by=manager, pipeline=pipeline, period="2026-11")
    assert review.scope_kind == ScopeKind.PIPELINE and review.team.name == "Benelux"
    assert team_deals.outsider.pk not in rows_by_deal(review)
    everybody = services.review_start(by=admin_user, pipeline=pipeline, period="2026-11")
    assert everybody.team is None and team_deals.outsider.pk in rows_by_deal(everybody)
    assert everybody.snapshot.quota_minor is None


def test_only_managers_of_the_team_and_admins_start_reviews(
    team_deals, team, other_team, rep, rep2, manager, outsider, analyst, admin_user, frozen_now
):
    for user in (rep, outsider, analyst):
        with pytest.raises(Http404):
            services.review_start(by=user, team=team, period="2026-11")
    with pytest.raises(Http404):
        services.review_start(by=manager, team=other_team, period="2026-11")
    with pytest.raises(Http404):
        services.review_start(by=manager, rep=outsider, period="2026-11")
    assert services.review_start(by=admin_user, team=other_team, period="2026-11").team == other_team


# --------------------------------------------------------------------------------------- immutability
def test_the_frozen_snapshot_does_not_change_when_deals_move(team_deals, manager, team, frozen_now):
    review = services.review_start(by=manager, team=team, period="2026-11")
    before = {
        deal_id: (row.stage_name, row.amount_minor, row.expected_close_on, row.p_win, row.flags)
        for deal_id, row in rows_by_deal(review).items()
    }
    frozen_now.shift(dt.timedelta(days=2))
    deal_services.deal_move_to_stage(deal=team_deals.proposal, stage=stage_named("Closing"), by=manager)
    deal_services.deal_update(
        deal=team_deals.negotiation,
        by=manager,
        data={"amount": Decimal("9999"), "expected_close_on": "2027-01-10"},
    )
    deal_services.deal_mark_won(deal=team_deals.closing, by=manager)
    after = {
        deal_id: (row.stage_name, row.amount_minor, row.expected_close_on, row.p_win, row.flags)
        for deal_id, row in rows_by_deal(review).items()
    }
    assert after == before
    workspace = selectors.review_workspace_for_user(review_id=review.pk, user=manager)
    assert [item.row.deal_id for item in workspace.close_list] == [
        team_deals.negotiation.pk,
        team_deals.proposal.pk,
    ]


def test_snapshot_rows_refuse_changes_in_code_and_in_the_database(team_deals, manager, team, frozen_now):
    review = services.review_start(by=manager, team=team, period="2026-11")
    row = ReviewDeal.objects.filter(review=review).first()
    row.amount_minor = 1
    with pytest.raises(ApplicationError):
        row.save()
    with pytest.raises(ApplicationError):
        row.delete()
    for queryset in (ReviewDeal.objects.filter(pk=row.pk), ReviewSnapshot.objects.filter(review=review)):
        with pytest.raises(DatabaseError), transaction.atomic():
            queryset.update(created_at=NOW) if queryset.model is ReviewSnapshot else queryset.update(
                amount_minor=1
            )
        with pytest.raises(DatabaseError), transaction.atomic():
            queryset.delete()


# ------------------------------------------------------------------------------------------- decisions
def test_decisions_become_deal_events_with_the_review_origin(team_deals, manager, rep, team, frozen_now):
    review = services.review_start(by=manager, team=team, period="2026-11")
    origin = f"review:{review.pk}"
    record = services.review_decision_record
    push = record(
        review=review,
        deal_id=team_deals.proposal.pk,
        kind="push_close_date",
        by=manager,
        params={"expected_close_on": "2026-12-15"},
        note="Budget moves to December",
        apply=True,
    )
    move = record(
        review=review,
        deal_id=team_deals.negotiation.pk,
        kind="move_stage",
        by=manager,
        params={"stage_id": stage_named("Closing").pk},
        note="Verbal yes",
        apply=True,
    )
    amount = record(
        review=review,
        deal_id=team_deals.closing.pk,
        kind="change_amount",
        by=manager,
        params={"amount": "1800"},
        apply=True,
    )
    category = record(
        review=review,
        deal_id=team_deals.closing.pk,
        kind="change_category",
        by=manager,
        params={"category": "commit"},
        apply=True,
    )
    probability = record(
        review=review,
        deal_id=team_deals.closing.pk,
        kind="change_probability",
        by=manager,
        params={"probability": 70},
        apply=True,
    )
    reassign = record(
        review=review,
        deal_id=team_deals.undated.pk,
        kind="reassign",
        by=manager,
        params={"owner_id": rep.pk},
        apply=True,
    )
    next_step = record(
        review=review,
        deal_id=team_deals.undated.pk,
        kind="add_next_step",
        by=manager,
        params={"next_step": "Call the CFO", "next_step_on": "2026-11-20"},
        apply=True,
    )
    lost = record(
        review=review,
        deal_id=team_deals.undated.pk,
        kind="mark_lost",
        by=manager,
        params={"reason_id": lost_reason("Timing").pk},
        note="No project this year",
        apply=True,
    )
    keep = record(review=review, deal_id=team_deals.proposal.pk, kind="keep", by=manager, note="On track")

    events = DealEvent.objects.filter(origin=origin).order_by("id")
    assert [(event.deal_id, event.kind) for event in events] == [
        (team_deals.proposal.pk, EventKind.CLOSE_DATE_CHANGED),
        (team_deals.negotiation.pk, EventKind.STAGE_CHANGED),
        (team_deals.closing.pk, EventKind.AMOUNT_CHANGED),
        (team_deals.closing.pk, EventKind.CATEGORY_CHANGED),
        (team_deals.closing.pk, EventKind.PROBABILITY_CHANGED),
        (team_deals.undated.pk, EventKind.OWNER_CHANGED),
        (team_deals.undated.pk, EventKind.LOST),
    ]
    assert all(event.actor == manager for event in events)
    assert events[0].to_value == "2026-12-15" and events[0].note == "Budget moves to December"
    for decision in (push, move, amount, category, probability, reassign, lost):
        assert decision.status == DecisionStatus.APPLIED and decision.applied_by == manager
        assert len(decision.event_ids) == 1
    assert push.event_ids == [events[0].pk]
    task = Activity.objects.get(pk=next_step.activity_id)
    assert (task.origin, task.subject, timezone.localdate(task.due_at)) == (
        origin,
        "Call the CFO",
        dt.date(2026, 11, 20),
    )
    assert next_step.event_ids == [] and next_step.status == DecisionStatus.APPLIED
    assert keep.status == DecisionStatus.APPLIED and keep.event_ids == []
    team_deals.closing.refresh_from_db()
    assert (team_deals.closing.amount_minor, team_deals.closing.forecast_category_override) == (
        180_000,
        "commit",
    )


def test_a_recorded_decision_waits_until_applied(team_deals, manager, team, frozen_now):
    review = services.review_start(by=manager, team=team, period="2026-11")
    decision = services.review_decision_record(
        review=review, deal_id=team_deals.proposal.pk, kind="push_close_date", by=manager, params={"days": 7}
    )
    assert decision.status == DecisionStatus.PENDING and decision.params["expected_close_on"] == "2026-12-05"
    assert not DealEvent.objects.filter(origin=review.origin).exists()
    services.review_decision_apply(decision=decision, by=manager)
    team_deals.proposal.refresh_from_db()
    assert team_deals.proposal.expected_close_on == dt.date(2026, 12, 5)
    with pytest.raises(ApplicationError, match="already"):
        services.review_decision_apply(decision=decision, by=manager)


def test_bad_decisions_name_the_field(team_deals, manager, team, frozen_now):
    review = services.review_start(by=manager, team=team, period="2026-11")
    cases = [
        ("push_close_date", {"expected_close_on": "soon"}, "expected_close_on"),
        ("move_stage", {"stage_id": stage_named("Won").pk}, "stage_id"),
        ("change_amount", {"amount": "-5"}, "amount"),
        ("change_category", {"category": "closed"}, "category"),
        ("mark_lost", {"reason_id": 99999}, "reason_id"),
        ("add_next_step", {"next_step": " "}, "next_step"),
        ("shout", {}, "kind"),
    ]
    for kind, params, field in cases:
        with pytest.raises(ApplicationError) as error:
            services.review_decision_record(
                review=review,
                deal_id=team_deals.proposal.pk,
                kind=kind,
                by=manager,
                params=params,
                apply=True,
            )
        assert error.value.field == field, kind
    with pytest.raises(Http404):
        services.review_decision_record(
            review=review, deal_id=team_deals.outsider.pk, kind="keep", by=manager
        )


def test_bulk_close_date_push_applies_to_each_deal(team_deals, manager, team, frozen_now):
    review = services.review_start(by=manager, team=team, period="2026-11")
    deals = [team_deals.proposal, team_deals.negotiation, team_deals.closing]
    decisions = services.review_decisions_bulk(
        review=review,
        deal_ids=[deal.pk for deal in deals],
        kind="push_close_date",
        by=manager,
        params={"days": 14},
        note="Quarter-end freeze",
    )
    assert [decision.status for decision in decisions] == [DecisionStatus.APPLIED] * 3
    for deal, old in zip(
        deals, [dt.date(2026, 11, 28), dt.date(2026, 11, 20), dt.date(2026, 12, 5)], strict=True
    ):
        deal.refresh_from_db()
        assert deal.expected_close_on == old + dt.timedelta(days=14)
        event = DealEvent.objects.get(deal=deal, origin=review.origin)
        assert event.kind == EventKind.CLOSE_DATE_CHANGED and event.note == "Quarter-end freeze"


def test_bulk_is_all_or_nothing(team_deals, manager, team, frozen_now):
    review = services.review_start(by=manager, team=team, period="2026-11")
    with pytest.raises(Http404), transaction.atomic():
        services.review_decisions_bulk(
            review=review, deal_ids=[team_deals.proposal.pk, team_deals.outsider.pk], kind="keep", by=manager
        )
    assert not ReviewDecision.objects.filter(review=review, kind="keep").exists()


# ------------------------------------------------------------------------------------ finish, carry over
def test_unresolved_items_carry_over_to_the_next_review(team_deals, manager, team, frozen_now):
    first = services.review_start(by=manager, team=team, period="2026-11")
    todo = services.review_decision_record(
        review=first,
        deal_id=team_deals.proposal.pk,
        kind="add_next_step",
        by=manager,
        params={"next_step": "Get the signed NDA"},
        note="Rita to chase",
    )
    gone = services.review_decision_record(
        review=first,
        deal_id=team_deals.closing.pk,
        kind="change_amount",
        by=manager,
        params={"amount": "2500"},
    )
    done = services.review_decision_record(
        review=first, deal_id=team_deals.negotiation.pk, kind="keep", by=manager
    )
    services.review_finish(review=first, by=manager, summary="Two follow-ups.")
    first.refresh_from_db()
    assert (
        first.status == ReviewStatus.FINISHED
        and first.finished_by == manager
        and first.summary == "Two follow-ups."
    )
    todo.refresh_from_db()
    gone.refresh_from_db()
    done.refresh_from_db()
    assert (todo.status, gone.status, done.status) == (
        DecisionStatus.CARRIED_OVER,
        DecisionStatus.CARRIED_OVER,
        DecisionStatus.APPLIED,
    )
    frozen_now.shift(dt.timedelta(days=7))
    deal_services.deal_mark_won(deal=team_deals.closing, by=manager)  # its item has nothing left to decide
    second = services.review_start(by=manager, team=team, period="2026-11")
    carried = list(ReviewDecision.objects.filter(review=second))
    assert len(carried) == 1
    item = carried[0]
    assert (item.deal_id, item.kind, item.status, item.carried_from) == (
        team_deals.proposal.pk,
        "add_next_step",
        DecisionStatus.PENDING,
        todo,
    )
    assert item.note == "Rita to chase" and second.previous == first
    workspace = selectors.review_workspace_for_user(review_id=second.pk, user=manager)
    assert workspace.agenda_ids[0] == team_deals.proposal.pk  # carried items come first on the agenda
    services.review_decision_apply(decision=item, by=manager)
    assert Activity.objects.filter(origin=second.origin, subject="Get the signed NDA").exists()
    with pytest.raises(ApplicationError):
        services.review_finish(review=first, by=manager)


# ------------------------------------------------------------------------------------------- waterfall
def test_waterfall_between_two_reviews_hand_worked(team_deals, manager, rep, team, frozen_now):
    first = services.review_start(by=manager, team=team, period="2026-11")
    services.review_finish(review=first, by=manager)
    frozen_now.shift(dt.timedelta(days=7))
    # Negotiation (4,000, 20 Nov) is won; Proposal (1,000, 28 Nov) is pushed into December;
    # Closing (2,000, 5 Dec) is pulled into November at 2,400; a new deal (300, 30 Nov) appears.
    deal_services.deal_mark_won(deal=team_deals.negotiation, by=manager)
    deal_services.deal_update(deal=team_deals.proposal, by=manager, data={"expected_close_on": "2026-12-02"})
    deal_services.deal_update(
        deal=team_deals.closing,
        by=manager,
        data={"expected_close_on": "2026-11-27", "amount": Decimal("2400")},
    )
    new = DealFactory(
        owner=rep, amount=Decimal("300"), expected_close_on=dt.date(2026, 11, 30), title="New deal"
    )
    second = services.review_start(by=manager, team=team, period="2026-11")
    waterfall = second.snapshot.waterfall
    assert waterfall["totals"] == {
        "start": 500_000,  # Proposal 1,000 + Negotiation 4,000
        "new": 30_000,
        "pulled_in": 200_000,  # Closing at its amount then
        "pushed_out": 100_000,
        "increased": 40_000,  # Closing 2,000 -> 2,400
        "decreased": 0,
        "won": 400_000,
        "lost": 0,
        "end": 270_000,  # Closing 2,400 + new 300
    }
    assert waterfall["since"] == first.pk
    assert [item["deal_id"] for item in waterfall["items"]["new"]] == [new.pk]
    totals = waterfall["totals"]
    assert (
        totals["start"]
        + totals["new"]
        + totals["pulled_in"]
        - totals["pushed_out"]
        + totals["increased"]
        - totals["decreased"]
        - totals["won"]
        - totals["lost"]
    ) == totals["end"]
    assert second.snapshot.closed_minor == 400_000  # won this month, to date


# ----------------------------------------------------------------------------------- flags end to end
def test_flags_fire_at_their_thresholds_through_the_snapshot(rep, manager, team):
    created = dt.datetime(2026, 10, 1, 8, 0, tzinfo=dt.UTC)
    with time_machine.travel(created, tick=False):
        deal = DealFactory(
            owner=rep,
            amount=Decimal("1000"),
            stage=stage_named("Proposal"),
            expected_close_on=dt.date(2026, 10, 20),
        )
    with time_machine.travel(created + dt.timedelta(days=2), tick=False):
        deal_services.deal_update(deal=deal, by=rep, data={"expected_close_on": "2026-10-25"})
    # No activity since 3 Oct 08:00 (the stage move); Proposal's rotting threshold is 21 days.
    with time_machine.travel(created + dt.timedelta(days=3), tick=False):
        deal_services.deal_move_to_stage(deal=deal, stage=stage_named("Negotiation"), by=rep)
    with time_machine.travel(created + dt.timedelta(days=4), tick=False):
        deal_services.deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep)
        deal_services.deal_update(deal=deal, by=rep, data={"amount": Decimal("800")})

    def flags_on(moment: dt.datetime) -> dict[str, dict]:
        with time_machine.travel(moment, tick=False):
            review = services.review_start(by=manager, rep=rep, period=f"{moment:%Y-%m}")
            row = ReviewDeal.objects.get(review=review, deal=deal)
            services.review_finish(review=review, by=manager)
        return {flag["code"]: flag for flag in row.flags}

    quiet_start = created + dt.timedelta(days=4)
    day_before = flags_on(quiet_start + dt.timedelta(days=20, hours=23))
    assert "stale" not in day_before
    assert set(day_before) == {"regressed", "shrinking", "overdue", "no_next_step"}
    assert day_before["regressed"]["from_stage"] == "Negotiation"
    assert day_before["overdue"]["days"] == 1  # 25 Oct passed on the 26th
    on_the_day = flags_on(quiet_start + dt.timedelta(days=21))
    assert on_the_day["stale"] == {"code": "stale", "days": 21, "threshold": 21, "source": "stage"}
    with time_machine.travel(quiet_start + dt.timedelta(days=21, hours=1), tick=False):
        deal_services.deal_update(deal=deal, by=rep, data={"expected_close_on": "2026-10-29"})
        deal_services.deal_update(deal=deal, by=rep, data={"next_step": "Send the contract"})
    pushed = flags_on(quiet_start + dt.timedelta(days=21, hours=2))
    assert pushed["slipped"]["pushes"] == 2 and "no_next_step" not in pushed
    # Stuck falls back to twice the stage's rotting days (42 for Proposal) without won deals to learn from.
    stuck = flags_on(quiet_start + dt.timedelta(days=42))
    assert stuck["stuck"]["days"] == 42 and stuck["stuck"]["threshold"] == 42
    assert "stuck" not in flags_on(quiet_start + dt.timedelta(days=41, hours=23))


def test_a_planned_activity_is_a_next_step(team_deals, manager, rep, team, frozen_now):
    deal_services.activity_create(
        owner=rep, subject="Demo", deal=team_deals.proposal, due_at=NOW + dt.timedelta(days=3)
    )
    review = services.review_start(by=manager, team=team, period="2026-11")
    rows = rows_by_deal(review)
    assert rows[team_deals.proposal.pk].has_next_step
    assert "no_next_step" not in rows[team_deals.proposal.pk].flag_codes
    assert "no_next_step" in rows[team_deals.closing.pk].flag_codes


def test_a_backdated_review_sees_the_deals_as_they_were(team_deals, manager, team, frozen_now):
    deal_services.deal_update(deal=team_deals.proposal, by=manager, data={"amount": Decimal("1500")})
    deal_services.deal_move_to_stage(deal=team_deals.negotiation, stage=stage_named("Closing"), by=manager)
    review = services.review_start(
        by=manager, team=team, period="2026-11", at=CREATED + dt.timedelta(days=10)
    )
    rows = rows_by_deal(review)
    assert rows[team_deals.proposal.pk].amount_minor == 100_000
    assert rows[team_deals.negotiation.pk].stage_name == "Negotiation"
    assert rows[team_deals.negotiation.pk].days_in_stage == 10.0


# ---------------------------------------------------------------------------------------------- series
def test_a_weekly_series_starts_the_next_review_a_week_later(team_deals, manager, team, frozen_now):
    first = services.review_start(by=manager, team=team, period="2026-11", recurring=True)
    assert first.series is not None
    frozen_now.shift(dt.timedelta(days=8))
    assert services.reviews_start_due() == []  # the last one is still in progress
    services.review_finish(review=first, by=manager)
    started = services.reviews_start_due()
    assert len(started) == 1 and started[0].series == first.series and started[0].previous == first
    assert services.reviews_start_due() == []
    services.review_finish(review=started[0], by=manager)
    frozen_now.shift(dt.timedelta(days=3))
    assert services.reviews_start_due() == []  # not a week yet
    services.review_series_stop(series=first.series, by=manager)
    frozen_now.shift(dt.timedelta(days=7))
    assert services.reviews_start_due() == []


def test_the_weekly_job_is_registered_and_runs(team_deals, manager, team, frozen_now):
    from django.utils.module_loading import import_string

    from dealflow.core.schedule import PERIODIC_JOBS

    job = PERIODIC_JOBS["reviews.start_due"]
    assert job.task_path == "dealflow.reviews.tasks.reviews_start_due" and job.every == dt.timedelta(hours=1)
    first = services.review_start(by=manager, team=team, period="2026-11", recurring=True)
    services.review_finish(review=first, by=manager)
    frozen_now.shift(dt.timedelta(days=7))
    assert import_string(job.task_path).call() == 1
    assert PipelineReview.objects.filter(series=first.series).count() == 2


def test_a_deal_closed_since_the_review_began_is_not_adjusted(team_deals, manager, team, frozen_now):
    review = services.review_start(by=manager, team=team, period="2026-11")
    deal_services.deal_mark_won(deal=team_deals.proposal, by=manager)
    with pytest.raises(ApplicationError, match="won since the review began"):
        services.review_decision_record(
            review=review,
            deal_id=team_deals.proposal.pk,
            kind="push_close_date",
            by=manager,
            params={"days": 7},
            apply=True,
        )
    kept = services.review_decision_record(
        review=review, deal_id=team_deals.proposal.pk, kind="keep", by=manager
    )
    assert kept.status == DecisionStatus.APPLIED
