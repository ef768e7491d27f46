"""A review's workspace: its frozen rows, the two agenda lists in order, totals per stage, data quality."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Min, Q, QuerySet, Sum

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
AGENDA_PAGE = 50  # "every deal on the lists" a page at a time: one page of both lists stays under 200 KB
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
    open_deals: int = 0
    first_deal_id: int | None = None  # the first in deal order: "walk every deal" starts there
    titles: dict[int, str] = field(default_factory=dict)  # of the deals the page names (lists, decisions)
    page: int | None = None  # which AGENDA_PAGE of both lists is shown; None: the top AGENDA_SIZE
    list_offset: int = 0  # the rank before the first row shown (both lists)

    @property
    def has_next_page(self) -> bool:
        shown = self.list_offset + max(len(self.close_list), len(self.rescue_list))
        return shown < max(self.close_total, self.rescue_total)

    @property
    def page_count(self) -> int:
        return max(1, -(-max(self.close_total, self.rescue_total) // AGENDA_PAGE))


def _in_period_q(review: PipelineReview) -> Q:
    """Open deals dated inside the review's period."""
    return Q(expected_close_on__gte=review.period_start, expected_close_on__lt=review.period_end)


def owner_names(owner_ids: set[int]) -> dict[int, str]:
    return {user.pk: user.display_name for user in User.objects.filter(pk__in=owner_ids)}


def review_rows(*, review: PipelineReview) -> QuerySet[ReviewDeal]:
    """The frozen rows of a review in deal order (the order its simulation used); slice it for a page."""
    return ReviewDeal.objects.filter(review=review).order_by("deal_id")


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


def close_candidates(review: PipelineReview) -> QuerySet[ReviewDeal]:
    """``calc.rank_close_this_period`` in the database: dated value in the period, in CLOSE_ORDER."""
    return ReviewDeal.objects.filter(review=review, expected_period_minor__gt=0).order_by(*calc.CLOSE_ORDER)


def rescue_candidates(review: PipelineReview) -> QuerySet[ReviewDeal]:
    """``calc.rank_rescue`` in the database: flagged deals in RESCUE_ORDER."""
    return ReviewDeal.objects.filter(review=review).exclude(flags=[]).order_by(*calc.RESCUE_ORDER)


def _stage_totals(review: PipelineReview) -> tuple[list[StageTotal], int | None]:
    """Per stage: deals, amount, expected value and the amount dated in the period; in stage order (ties:
    the stage whose first deal comes first, as a pass over the rows in deal order would meet them). And
    the review's first deal in deal order."""
    groups = (
        ReviewDeal.objects.filter(review=review)
        .values("stage_id")
        .annotate(
            name=Min("stage_name"),
            order=Min("stage_order"),
            first=Min("deal_id"),
            count=Count("*"),
            amount=Sum("amount_minor"),
            expected=Sum("expected_value_minor"),
            in_period=Sum("amount_minor", filter=_in_period_q(review), default=0),
        )
        .order_by()
    )
    ordered = sorted(groups, key=lambda group: (group["order"], group["first"]))
    first = min((group["first"] for group in ordered), default=None)
    return [
        StageTotal(
            group["name"],
            group["order"],
            group["count"],
            group["amount"],
            group["expected"],
            group["in_period"],
        )
        for group in ordered
    ], first


def _category_totals(review: PipelineReview) -> list[dict[str, Any]]:
    """Deals dated in the period per forecast category (CATEGORY_ORDER first, every one listed)."""
    categories: dict[str, dict[str, Any]] = {
        code: {"category": code, "count": 0, "amount_minor": 0, "expected_minor": 0}
        for code in CATEGORY_ORDER
    }
    groups = (
        ReviewDeal.objects.filter(_in_period_q(review), review=review)
        .values("category")
        .annotate(
            first=Min("deal_id"),
            count=Count("*"),
            amount=Sum("amount_minor"),
            expected=Sum("expected_period_minor"),
        )
        .order_by()
    )
    for group in sorted(groups, key=lambda group: group["first"]):
        category = categories.setdefault(
            group["category"],
            {"category": group["category"], "count": 0, "amount_minor": 0, "expected_minor": 0},
        )
        category["count"] += group["count"]
        category["amount_minor"] += group["amount"]
        category["expected_minor"] += group["expected"]
    labels = dict(ForecastCategory.choices)
    return [{**values, "label": str(labels.get(code, code))} for code, values in categories.items()]


def _quality(review: PipelineReview, as_of_on) -> list[calc.RepQuality]:
    """``calc.data_quality`` counted by the database: per rep, open deals without an amount (<= 0), a close
    date or a next step, or dated before the snapshot, and those with none of these (a test holds the two
    equal)."""
    no_amount = Q(amount_minor__lte=0)
    no_date = Q(expected_close_on__isnull=True)
    past = Q(expected_close_on__lt=as_of_on)
    no_step = Q(has_next_step=False)
    groups = (
        ReviewDeal.objects.filter(review=review)
        .values("owner_id")
        .annotate(
            open_deals=Count("*"),
            missing_amount=Count("id", filter=no_amount),
            missing_close_date=Count("id", filter=no_date),
            missing_next_step=Count("id", filter=no_step),
            past_close_date=Count("id", filter=past),
            clean_deals=Count("id", filter=~no_amount & ~no_date & ~past & ~no_step),
        )
        .order_by()
    )
    qualities = [
        calc.RepQuality(
            group["owner_id"],
            group["open_deals"],
            group["missing_amount"],
            group["missing_close_date"],
            group["missing_next_step"],
            group["past_close_date"],
            group["clean_deals"],
        )
        for group in groups
    ]
    return sorted(qualities, key=lambda quality: (-(quality.open_deals - quality.clean), quality.owner_id))


def review_titles(*, review: PipelineReview, deal_ids) -> dict[int, str]:
    """The frozen titles of some of a review's deals."""
    return dict(
        ReviewDeal.objects.filter(review=review, deal_id__in=set(deal_ids)).values_list("deal_id", "title")
    )


def review_workspace_for_user(
    *, review_id: int, user: User, show_all: bool = False, page: int | None = None
) -> Workspace:
    """The review page and the report: gather (totals, range, waterfall), bottlenecks, the agenda, data
    quality, decisions. The two ranked lists hold their top AGENDA_SIZE; ``page`` (from 1) shows that page
    of AGENDA_PAGE rows of each instead, ``show_all`` every row (the API's ``all``).

    Totals, data quality and the two ranked lists are counted and cut by the database, so the page costs
    the same at 100 or 100,000 deals in scope (no frozen row is loaded but the lists' and the titles the
    page names). Queries: review with snapshot, totals per stage and per category, quality, the two lists
    and their lengths, owners, titles, decisions.
    """
    review = review_get_for_user(review_id=review_id, user=user)
    snapshot = review.snapshot
    decisions = review_decisions(review=review)
    by_deal: dict[int, list[ReviewDecision]] = defaultdict(list)
    for decision in decisions:
        by_deal[decision.deal_id].append(decision)
    close_query, rescue_query = close_candidates(review), rescue_candidates(review)
    offset, limit = 0, None if show_all else AGENDA_SIZE
    if page is not None and not show_all:
        offset, limit = (page - 1) * AGENDA_PAGE, AGENDA_PAGE
    close = list(close_query if limit is None else close_query[offset : offset + limit])
    rescue = list(rescue_query if limit is None else rescue_query[offset : offset + limit])

    def total(rows: list[ReviewDeal], query: Any) -> int:
        return offset + len(rows) if limit is None or 0 < len(rows) < limit else query.count()

    close_total, rescue_total = total(close, close_query), total(rescue, rescue_query)
    stages, first_deal_id = _stage_totals(review)
    quality = _quality(review, snapshot.as_of_on)
    owners = owner_names({item.owner_id for item in quality})
    carried = [decision for decision in decisions if decision.carried_from_id is not None]
    stuck = [deal_id for row in snapshot.bottlenecks for deal_id in row.get("stuck_deals", [])]
    titles = review_titles(review=review, deal_ids=[*by_deal, *stuck])

    def agenda_row(row: ReviewDeal) -> AgendaRow:
        items = by_deal.get(row.deal_id, [])
        return AgendaRow(
            row=row,
            owner=owners.get(row.owner_id, str(row.owner_id)),
            reasons=[calc.flag_text(flag) for flag in row.flags],
            decision=items[-1] if items else None,
            decisions=len(items),
        )

    for row in (*close, *rescue):
        titles[row.deal_id] = row.title
    open_deals = sum(stage.count for stage in stages)
    return Workspace(
        review=review,
        snapshot=snapshot,
        label=review_label(review),
        stages=stages,
        categories=_category_totals(review),
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
        flagged=rescue_total,
        decided=len(by_deal),
        owners=owners,
        open_deals=open_deals,
        first_deal_id=first_deal_id,
        titles=titles,
        page=page if limit == AGENDA_PAGE else None,
        list_offset=offset,
    )
