"""A finished review's report, every frozen row ranked for its CSV, and the gated read of one decision."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import BigIntegerField, Case, F, Q, Value, When, Window
from django.db.models.functions import RowNumber
from django.http import Http404

from dealflow.accounts.models import User
from dealflow.core.periods import parse_period
from dealflow.deals.models import Activity, DealEvent
from dealflow.reviews import calculations as calc
from dealflow.reviews.models import (
    DecisionKind,
    DecisionStatus,
    PipelineReview,
    ReviewDeal,
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
class RankedRow:
    """A frozen row with its places in the two ranked lists (None: not in that list)."""

    row: ReviewDeal
    close_rank: int | None
    rescue_rank: int | None


@dataclass
class Report:
    workspace: Workspace
    adjustments: list[Adjustment]
    activities: list[Activity]
    decisions_by_kind: dict[str, int]
    rows: Iterator[RankedRow]  # every frozen row, read from the database only when iterated (the CSV)


CSV_CHUNK = 2000  # rows per round trip when the CSV streams every frozen row


def review_report_for_user(*, review_id: int, user: User) -> Report:
    """Everything the report lists: snapshot totals, waterfall, bottlenecks, the top of the two ranked lists
    with their lengths, every decision and every adjustment (the DealEvents and tasks with the review's
    origin, and the events decisions point at) with who made it; and, lazily, every frozen row for the CSV.

    Like the review page it costs the same at 100 or 100,000 deals in scope (issue #19: it loaded every
    frozen row twice over, 4 s at 1M deals): only ``rows``, when iterated, reads every row, in chunks.
    """
    workspace = review_workspace_for_user(review_id=review_id, user=user)
    review = workspace.review
    decisions_by_event = {
        event_id: decision for decision in workspace.decisions for event_id in decision.event_ids
    }
    # Only a decision's apply writes with the review's origin, on the decision's deal: looking the events and
    # tasks up by those deals uses their deal indexes (origin has none; a scan of 5M events at 1M deals).
    decided = sorted({decision.deal_id for decision in workspace.decisions})
    events = (
        DealEvent.objects.filter(
            Q(deal_id__in=decided, origin=review.origin) | Q(pk__in=sorted(decisions_by_event))
        )
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
            Activity.objects.filter(deal_id__in=decided, origin=review.origin)
            .select_related("deal", "owner")
            .order_by("id")
        ),
        decisions_by_kind={str(DecisionKind(kind).label): count for kind, count in counts.items()},
        rows=review_rows_ranked(review=review),
    )


def _ordering(order: tuple[str, ...], *, where: Q | None = None) -> list:
    """``calc.CLOSE_ORDER`` / ``RESCUE_ORDER`` as ORDER BY terms; with ``where``, rows outside it tie on them."""
    terms = []
    for name in order:
        field = F(name.lstrip("-"))
        value = (
            field
            if where is None
            else Case(When(where, then=field), default=Value(0), output_field=BigIntegerField())
        )
        terms.append(value.desc() if name.startswith("-") else value.asc())
    return terms


def review_rows_ranked(*, review: PipelineReview) -> Iterator[RankedRow]:
    """Every frozen row, "close this period" first in its rank order, then the others by deal; each with its
    ranks in both lists (``calc.rank_close_this_period`` and ``calc.rank_rescue`` over every row: a test
    holds them equal). Read in chunks of ``CSV_CHUNK`` rows, so memory stays flat at any review size."""
    in_close = Q(expected_period_minor__gt=0)
    flagged = ~Q(flags=[])
    rows = (
        ReviewDeal.objects.filter(review=review)
        .annotate(
            rescue_number=Window(
                RowNumber(),
                partition_by=[Case(When(flagged, then=Value(True)), default=Value(False))],
                order_by=_ordering(calc.RESCUE_ORDER),
            ),
        )
        .order_by(
            Case(When(in_close, then=Value(0)), default=Value(1)),
            *_ordering(calc.CLOSE_ORDER, where=in_close),
            "deal_id",
        )
    )
    close_rank = 0
    for row in rows.iterator(chunk_size=CSV_CHUNK):
        in_list = row.expected_period_minor > 0
        close_rank += in_list
        yield RankedRow(row, close_rank if in_list else None, row.rescue_number if row.flags else None)


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
