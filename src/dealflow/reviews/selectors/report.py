"""A finished review's report and the gated read of one decision."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Q
from django.http import Http404

from dealflow.accounts.models import User
from dealflow.core.periods import parse_period
from dealflow.deals.models import Activity, DealEvent
from dealflow.reviews.models import (
    DecisionKind,
    DecisionStatus,
    ReviewDecision,
)
from dealflow.reviews.selectors.access import review_get_for_user
from dealflow.reviews.selectors.workspace import Workspace, review_workspace_for_user


# ---------------------------------------------------------------------------------------------- report
@dataclass
class Adjustment:
    event: DealEvent
    decision: ReviewDecision | None


@dataclass
class Report:
    workspace: Workspace
    adjustments: list[Adjustment]
    activities: list[Activity]
    decisions_by_kind: dict[str, int]


def review_report_for_user(*, review_id: int, user: User) -> Report:
    """Everything the report lists: snapshot totals, waterfall, bottlenecks, every decision and every
    adjustment (the DealEvents and tasks with the review's origin, and the events decisions point at)
    with who made it."""
    workspace = review_workspace_for_user(review_id=review_id, user=user, show_all=True, with_rows=True)
    review = workspace.review
    decisions_by_event = {
        event_id: decision for decision in workspace.decisions for event_id in decision.event_ids
    }
    events = (
        DealEvent.objects.filter(Q(origin=review.origin) | Q(pk__in=list(decisions_by_event)))
        .select_related("actor", "deal", "from_stage", "to_stage")
        .order_by("occurred_at", "id")
    )
    counts: dict[str, int] = defaultdict(int)
    for decision in workspace.decisions:
        counts[decision.kind] += 1
    return Report(
        workspace=workspace,
        adjustments=[Adjustment(event, decisions_by_event.get(event.pk)) for event in events],
        activities=list(
            Activity.objects.filter(origin=review.origin).select_related("deal", "owner").order_by("id")
        ),
        decisions_by_kind={str(DecisionKind(kind).label): count for kind, count in counts.items()},
    )


def decision_status_label(status: str) -> str:
    return str(DecisionStatus(status).label)


def period_check(value: str) -> str:
    return parse_period(value).key


def decision_get_for_user(*, review_id: int, decision_id: int, user: User) -> ReviewDecision:
    """One decision of a review the user may open, or 404."""
    review = review_get_for_user(review_id=review_id, user=user)
    decision = ReviewDecision.objects.filter(review=review, pk=decision_id).select_related("review").first()
    if decision is None:
        raise Http404("No such decision.")
    return decision
