"""Deals that need attention now: stale (idle past their stage's rotting threshold) and slipped."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, Sum
from django.db.models.expressions import RawSQL
from django.utils import timezone

from dealflow.core import clock
from dealflow.core.money import from_minor
from dealflow.deals.models import Deal, DealFact, DealStatus, Stage, StageKind
from dealflow.metrics.calculations import quiet_days, stale_threshold
from dealflow.metrics.selectors.scope import MetricScope
from dealflow.metrics.selectors.sql import count_if, union_all, union_all_rows

LISTED = 10


@dataclass
class AttentionDeal:
    deal_id: int
    title: str
    owner: str
    stage: str
    amount: Decimal
    currency: str
    idle_days: int | None = None
    expected_close_on: dt.date | None = None
    close_date_pushes: int = 0

    @classmethod
    def of(cls, deal: Deal, **extra: Any) -> AttentionDeal:
        """A listed deal (its owner and stage loaded) with what its list adds."""
        return cls(
            deal_id=deal.pk,
            title=deal.title,
            owner=deal.owner.display_name,
            stage=deal.stage.name,
            amount=from_minor(deal.amount_minor, deal.currency),
            currency=deal.currency,
            **extra,
        )


@dataclass
class Attention:
    stale: int
    stale_value: Decimal  # base currency at today's rate
    stale_by_stage: dict[int, int]
    stale_deals: list[AttentionDeal]
    slipped: int  # open deals whose expected close date passed or was pushed later in the period
    slipped_value: Decimal
    overdue: int  # ... of which the close date passed
    pushed: int  # ... of which the close date was pushed later in the period
    slipped_deals: list[AttentionDeal] = field(default_factory=list)


def _stale_parts(scope: MetricScope, now: dt.datetime) -> list[Q]:
    """calculations.stale_threshold as filters, one per stage and quiet-since column: quiet since before the
    stage's threshold. Each is one range of the deal_stale_by_stage index (status, stage, last activity,
    stage entered), so each part is read from the index alone; a single OR of them makes PostgreSQL
    combine bitmaps and visit a heap page per stale deal (7,000 of them at 1M deals)."""
    stages = Stage.objects.filter(kind=StageKind.OPEN)
    if scope.filters.pipeline_id:
        stages = stages.filter(pipeline_id=scope.filters.pipeline_id)
    parts = []
    for stage_id, rotting_days in stages.values_list("id", "rotting_days"):
        threshold = stale_threshold(now=now, rotting_days=rotting_days)
        if threshold is None:
            continue
        parts.append(Q(stage_id=stage_id, last_activity_at__lt=threshold))
        parts.append(Q(stage_id=stage_id, last_activity_at__isnull=True, stage_entered_at__lt=threshold))
    return parts


def _stale_listed(scope: MetricScope, parts: list[Q]) -> list[Deal]:
    """The LISTED stale deals quiet the longest, by last activity (deals without one after those with one,
    on both engines), then id: the first LISTED of each part, read from the index, then the winners with
    their owner and stage, in one statement."""
    if not parts:
        return []
    base = Deal.objects.filter(scope.deal_q(), status=DealStatus.OPEN)
    sql, params = union_all(
        [base.filter(part).order_by("last_activity_at", "id").values_list("id")[:LISTED] for part in parts]
    )
    return list(
        Deal.objects.filter(pk__in=RawSQL(sql, params))  # noqa: S611 - compiled by the ORM
        .select_related("owner", "stage")
        .order_by(F("last_activity_at").asc(nulls_last=True), "id")[:LISTED]
    )


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def deal_attention(*, scope: MetricScope) -> Attention:
    """Stale and slipped open deals: counts, values and the largest few of each."""
    now = clock.now()
    rates = scope.rates
    parts = _stale_parts(scope, now)
    stale_count, stale_value = 0, 0
    by_stage: dict[int, int] = {}
    counted = union_all_rows(
        [
            Deal.objects.filter(scope.deal_q(), part, status=DealStatus.OPEN)
            .values("stage_id", "currency")
            .annotate(count=Count("*"), amount=Sum("amount_minor"))
            .order_by()
            .values_list("stage_id", "currency", "count", "amount")
            for part in parts
        ]
    )
    for stage_id, currency, count, amount in counted:
        stale_count += count
        stale_value += rates.to_base_minor_or_none(int(amount or 0), currency, scope.today) or 0
        by_stage[stage_id] = by_stage.get(stage_id, 0) + count
    stale_deals = [
        AttentionDeal.of(
            deal,
            idle_days=quiet_days(
                now=now, last_activity_at=deal.last_activity_at, stage_entered_at=deal.stage_entered_at
            ),
        )
        for deal in _stale_listed(scope, parts)
    ]
    period = scope.period
    overdue = Q(expected_close_on__lt=scope.today)
    pushed = Q(
        last_pushed_at__gte=_local_midnight(period.start), last_pushed_at__lt=_local_midnight(period.end)
    )
    slipped = DealFact.objects.filter(scope.deal_q(), overdue | pushed, status=DealStatus.OPEN)
    slipped_count = slipped_value = overdue_count = pushed_count = 0
    for totals in (
        slipped.values("currency")
        .annotate(
            count=Count("*"),
            overdue=count_if(overdue),
            pushed=count_if(pushed),
            amount=Sum("amount_minor"),
        )
        .order_by()
    ):
        slipped_count += totals["count"]
        overdue_count += totals["overdue"] or 0
        pushed_count += totals["pushed"] or 0
        slipped_value += (
            rates.to_base_minor_or_none(int(totals["amount"] or 0), totals["currency"], scope.today) or 0
        )
    largest = list(
        slipped.order_by("-amount_minor", "-deal_id").values_list("deal_id", "close_date_pushes")[:LISTED]
    )
    pushes = dict(largest)
    deals = (
        Deal.objects.filter(pk__in=pushes).select_related("owner", "stage").order_by("-amount_minor", "-id")
    )
    slipped_deals = [
        AttentionDeal.of(
            deal, expected_close_on=deal.expected_close_on, close_date_pushes=pushes.get(deal.pk, 0)
        )
        for deal in deals
    ]
    return Attention(
        stale=stale_count,
        stale_value=rates.money(stale_value) or Decimal(0),
        stale_by_stage=by_stage,
        stale_deals=stale_deals,
        slipped=slipped_count,
        slipped_value=rates.money(slipped_value) or Decimal(0),
        overdue=overdue_count,
        pushed=pushed_count,
        slipped_deals=slipped_deals,
    )
