"""A review's workspace: its frozen rows, the two agenda lists in order, totals per stage, data quality."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from dealflow.accounts.models import User
from dealflow.deals.models import ForecastCategory
from dealflow.reviews import calculations as calc
from dealflow.reviews.models import (
    PipelineReview,
    ReviewDeal,
    ReviewDecision,
    ReviewSnapshot,
)
from dealflow.reviews.selectors.access import review_get_for_user, review_label

AGENDA_SIZE = 20
CATEGORY_ORDER = (
    ForecastCategory.COMMIT,
    ForecastCategory.BEST_CASE,
    ForecastCategory.PIPELINE,
    ForecastCategory.OMITTED,
)


# ------------------------------------------------------------------------------------------ workspace
@dataclass
class AgendaRow:
    row: ReviewDeal
    owner: str
    reasons: list[str]
    decision: ReviewDecision | None
    decisions: int


@dataclass
class StageTotal:
    stage: str
    order: int
    count: int
    amount_minor: int
    expected_minor: int
    in_period_minor: int


@dataclass
class QualityView:
    owner: str
    quality: calc.RepQuality


@dataclass
class Workspace:
    review: PipelineReview
    snapshot: ReviewSnapshot
    label: str
    rows: list[ReviewDeal]
    stages: list[StageTotal]
    categories: list[dict[str, Any]]
    close_list: list[AgendaRow]
    rescue_list: list[AgendaRow]
    close_total: int
    rescue_total: int
    agenda_ids: list[int]
    quality: list[QualityView]
    decisions: list[ReviewDecision]
    carried: list[ReviewDecision]
    waterfall: dict[str, Any] | None
    bottlenecks: list[dict[str, Any]]
    flagged: int
    decided: int
    owners: dict[int, str] = field(default_factory=dict)


def _in_period(row: ReviewDeal, review: PipelineReview) -> bool:
    return (
        row.expected_close_on is not None and review.period_start <= row.expected_close_on < review.period_end
    )


def owner_names(owner_ids: set[int]) -> dict[int, str]:
    return {user.pk: user.display_name for user in User.objects.filter(pk__in=owner_ids)}


def review_rows(*, review: PipelineReview) -> list[ReviewDeal]:
    """The frozen rows of a review in deal order (the order its simulation used)."""
    return list(ReviewDeal.objects.filter(review=review).order_by("deal_id"))


def review_decisions(*, review: PipelineReview) -> list[ReviewDecision]:
    return list(
        ReviewDecision.objects.filter(review=review)
        .select_related("decided_by", "applied_by", "carried_from__review")
        .order_by("created_at", "id")
    )


def agenda_lists(
    rows: list[ReviewDeal], *, limit: int | None = AGENDA_SIZE
) -> tuple[list[ReviewDeal], list[ReviewDeal], int, int]:
    """The two ranked lists (calculations.rank_*), cut to ``limit``, with their full lengths."""
    close = calc.rank_close_this_period(rows)
    rescue = calc.rank_rescue(rows)
    if limit is None:
        return close, rescue, len(close), len(rescue)
    return close[:limit], rescue[:limit], len(close), len(rescue)


def agenda_order(close: list[ReviewDeal], rescue: list[ReviewDeal], carried_ids: list[int]) -> list[int]:
    """The deals a review walks through: carried items first, then "close this period", then "rescue"."""
    order: list[int] = []
    for deal_id in [*carried_ids, *(row.deal_id for row in close), *(row.deal_id for row in rescue)]:
        if deal_id not in order:
            order.append(deal_id)
    return order


def review_workspace_for_user(*, review_id: int, user: User, show_all: bool = False) -> Workspace:
    """The review page: gather (totals, range, waterfall), bottlenecks, the agenda, data quality, decisions.

    Queries: review with snapshot, rows, owners, decisions, stage order; the same for any number of deals.
    """
    review = review_get_for_user(review_id=review_id, user=user)
    snapshot = review.snapshot
    rows = review_rows(review=review)
    decisions = review_decisions(review=review)
    owners = owner_names({row.owner_id for row in rows})
    by_deal: dict[int, list[ReviewDecision]] = defaultdict(list)
    for decision in decisions:
        by_deal[decision.deal_id].append(decision)

    def agenda_row(row: ReviewDeal) -> AgendaRow:
        items = by_deal.get(row.deal_id, [])
        return AgendaRow(
            row=row,
            owner=owners.get(row.owner_id, str(row.owner_id)),
            reasons=[calc.flag_text(flag) for flag in row.flags],
            decision=items[-1] if items else None,
            decisions=len(items),
        )

    close, rescue, close_total, rescue_total = agenda_lists(rows, limit=None if show_all else AGENDA_SIZE)
    carried = [decision for decision in decisions if decision.carried_from_id is not None]
    stages: dict[int, StageTotal] = {}
    categories: dict[str, dict[str, Any]] = {
        code: {"category": code, "count": 0, "amount_minor": 0, "expected_minor": 0}
        for code in CATEGORY_ORDER
    }
    for row in rows:
        total = stages.setdefault(row.stage_id, StageTotal(row.stage_name, row.stage_order, 0, 0, 0, 0))
        total.count += 1
        total.amount_minor += row.amount_minor
        total.expected_minor += row.expected_value_minor
        if _in_period(row, review):
            total.in_period_minor += row.amount_minor
            category = categories.setdefault(
                row.category, {"category": row.category, "count": 0, "amount_minor": 0, "expected_minor": 0}
            )
            category["count"] += 1
            category["amount_minor"] += row.amount_minor
            category["expected_minor"] += row.expected_period_minor
    labels = dict(ForecastCategory.choices)
    category_list = [{**values, "label": str(labels.get(code, code))} for code, values in categories.items()]
    quality = calc.data_quality(
        (
            calc.QualityRow(row.owner_id, row.amount_minor, row.expected_close_on, row.has_next_step)
            for row in rows
        ),
        as_of_on=snapshot.as_of_on,
    )
    return Workspace(
        review=review,
        snapshot=snapshot,
        label=review_label(review),
        rows=rows,
        stages=sorted(stages.values(), key=lambda total: total.order),
        categories=category_list,
        close_list=[agenda_row(row) for row in close],
        rescue_list=[agenda_row(row) for row in rescue],
        close_total=close_total,
        rescue_total=rescue_total,
        agenda_ids=agenda_order(close, rescue, [decision.deal_id for decision in carried]),
        quality=[QualityView(owners.get(item.owner_id, str(item.owner_id)), item) for item in quality],
        decisions=decisions,
        carried=carried,
        waterfall=snapshot.waterfall,
        bottlenecks=snapshot.bottlenecks,
        flagged=sum(1 for row in rows if row.flags),
        decided=len(by_deal),
        owners=owners,
    )
