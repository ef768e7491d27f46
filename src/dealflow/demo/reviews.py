"""Demo data for pipeline reviews: each team's last six weekly reviews, finished, with their decisions.

Each review is started with ``review_start(at=<that Monday, 09:00>)``, so its snapshot is rebuilt from the
event log as the team saw its pipeline that morning, with the forecast models fitted as of then. The
decisions are written as history, never applied to today's deals: for each deal on the agenda, what the
event log shows happened in the following week becomes the decision taken (a pushed close date, a stage
move, a loss), linked to those events; deals that did not move are kept, and deals without a next step
get one asked for, which stays open and carries over to the next week's review until the deal moves.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any, TextIO

from django.utils import timezone

from dealflow.accounts.models import Membership, Role
from dealflow.core import clock
from dealflow.deals.models import Deal, DealEvent, EventKind
from dealflow.forecasting import calculations as forecast_calc
from dealflow.forecasting import engine
from dealflow.forecasting.services import SnapshotContext
from dealflow.reviews import selectors, services
from dealflow.reviews.models import DecisionKind, DecisionStatus, PipelineReview, ReviewDecision

WEEKS = 6
AGENDA_PER_LIST = 3
DRAWS = 2000
KEEP_NOTES = [
    "On track; the buyer confirmed the timeline.",
    "Keep: signature planned for the end of the month.",
    "No change; waiting for the legal review.",
    "Champion is positive, budget approved.",
]
PUSH_NOTES = [
    "Budget sign-off slips; new date agreed with the buyer.",
    "Procurement needs two more weeks.",
    "Decision moved to the next board meeting.",
]
MOVE_NOTES = ["Proposal walked through with the decision maker.", "Verbal yes; contract out for signature."]
LOST_NOTES = ["Went with a competitor on price.", "Project cancelled after the reorganisation."]
NEXT_STEP_NOTES = ["Book a call with the economic buyer.", "Send the business case and agree a date."]


def _mondays(today: dt.date) -> list[dt.datetime]:
    last = today - dt.timedelta(days=today.weekday() or 7)  # the last Monday before today
    days = [last - dt.timedelta(weeks=week) for week in reversed(range(WEEKS))]
    return [timezone.make_aware(dt.datetime.combine(day, dt.time(9, 0))) for day in days]


def _decide(review: PipelineReview, manager_id: int, rng: random.Random, moment: dt.datetime) -> None:
    """Record what the team decided about the agenda, from what the log shows happened next."""
    rows = list(selectors.review_rows(review=review))
    close, rescue, _close_total, _rescue_total = selectors.agenda_lists(rows, limit=AGENDA_PER_LIST)
    by_deal = {row.deal_id: row for row in rows}
    carried = {decision.deal_id: decision for decision in ReviewDecision.objects.filter(review=review)}
    agenda = selectors.agenda_order(close, rescue, list(carried))
    week_later = moment + dt.timedelta(days=7)
    events: dict[int, list[DealEvent]] = {}
    for event in DealEvent.objects.filter(
        deal_id__in=agenda,
        occurred_at__gt=moment,
        occurred_at__lte=week_later,
        kind__in=[EventKind.CLOSE_DATE_CHANGED, EventKind.STAGE_CHANGED, EventKind.LOST, EventKind.WON],
    ).order_by("occurred_at", "id"):
        events.setdefault(event.deal_id, []).append(event)
    for index, deal_id in enumerate(agenda):
        decided_at = moment + dt.timedelta(minutes=4 * (index + 1))
        happened = events.get(deal_id, [])
        first = happened[0] if happened else None
        decision = carried.get(deal_id)
        if decision is not None:  # an open item from last week: done if the deal moved since
            if first is not None:
                _mark_applied(decision, first, manager_id)
            continue
        params: dict[str, Any] = {}
        kind, note = DecisionKind.KEEP, rng.choice(KEEP_NOTES)
        if first is not None and first.kind == EventKind.CLOSE_DATE_CHANGED:
            kind, params, note = (
                DecisionKind.PUSH_CLOSE_DATE,
                {"expected_close_on": first.to_value},
                rng.choice(PUSH_NOTES),
            )
        elif first is not None and first.kind == EventKind.STAGE_CHANGED:
            kind, params = DecisionKind.MOVE_STAGE, {"stage_id": first.to_stage_id, "stage": first.to_value}
            note = rng.choice(MOVE_NOTES)
        elif first is not None and first.kind == EventKind.LOST:
            kind, params, note = DecisionKind.MARK_LOST, {"reason": first.to_value}, rng.choice(LOST_NOTES)
        elif first is None and not by_deal[deal_id].has_next_step:
            kind, params = (
                DecisionKind.ADD_NEXT_STEP,
                {"next_step": rng.choice(NEXT_STEP_NOTES), "next_step_on": None},
            )
            note = ""
        decision = ReviewDecision.objects.create(
            review=review,
            deal_id=deal_id,
            kind=kind,
            params=params,
            note=note,
            decided_by_id=manager_id,
            created_at=decided_at,
        )
        if kind == DecisionKind.KEEP:
            decision.status = DecisionStatus.APPLIED
            decision.applied_by_id, decision.applied_at = manager_id, decided_at
            decision.save(update_fields=["status", "applied_by", "applied_at", "updated_at"])
        elif first is not None:
            _mark_applied(decision, first, manager_id)


def _mark_applied(decision: ReviewDecision, event: DealEvent, manager_id: int) -> None:
    decision.status = DecisionStatus.APPLIED
    decision.applied_by_id = event.actor_id or manager_id
    decision.applied_at = event.occurred_at
    decision.event_ids = [event.pk]
    decision.save(update_fields=["status", "applied_by", "applied_at", "event_ids", "updated_at"])


def seed(*, seed: int, today: dt.date, stdout: TextIO | None = None) -> None:
    """Six finished weekly reviews per team with a manager (idempotent per database)."""
    if not Deal.objects.exists() or PipelineReview.objects.exists():
        return
    rng = random.Random(seed * 11 + 9)
    managers = list(
        Membership.objects.filter(role=Role.MANAGER)
        .select_related("team", "user")
        .order_by("team__name", "id")
    )
    first_manager: dict[int, Membership] = {}
    for item in managers:
        first_manager.setdefault(item.team_id, item)
    managers = list(first_manager.values())
    if not managers:
        return
    context = SnapshotContext.load(kind="month")
    count = decisions = 0
    for moment in _mondays(min(today, clock.today())):
        fitted = forecast_calc.fit(
            context.history,
            context.calendar,
            context.panel,
            engine.moment_of(moment),
            horizons=engine.HORIZONS,
        )
        for membership in managers:
            period = f"{timezone.localdate(moment):%Y-%m}"
            review = services.review_start(
                by=membership.user,
                team=membership.team,
                period=period,
                at=moment,
                fit_result=fitted,
                draws=DRAWS,
            )
            _decide(review, membership.user_id, rng, moment)
            decisions += review.decisions.count()
            services.review_finish(
                review=review,
                by=membership.user,
                at=moment + dt.timedelta(minutes=50),
                summary=f"Weekly review of {membership.team.name}, {moment:%d %b}.",
            )
            count += 1
    if stdout is not None:
        stdout.write(f"Reviews: {count} past weekly reviews with {decisions} decisions.\n")
