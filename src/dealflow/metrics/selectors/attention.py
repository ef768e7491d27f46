"""Deals that need attention now: stale (idle past their stage's rotting threshold) and slipped."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils import timezone

from dealflow.core import clock
from dealflow.core.money import from_minor
from dealflow.deals.models import Deal, DealFact, DealStatus, Stage, StageKind
from dealflow.metrics.calculations import quiet_days, stale_threshold
from dealflow.metrics.selectors.scope import MetricScope
from dealflow.metrics.selectors.sql import count_if

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


def _stale_q(scope: MetricScope, now: dt.datetime) -> Q:
    """calculations.stale_days as a filter: quiet since before the stage's threshold."""
    stages = Stage.objects.filter(kind=StageKind.OPEN)
    if scope.filters.pipeline_id:
        stages = stages.filter(pipeline_id=scope.filters.pipeline_id)
    condition = Q(pk__in=[])
    for stage_id, rotting_days in stages.values_list("id", "rotting_days"):
        threshold = stale_threshold(now=now, rotting_days=rotting_days)
        if threshold is None:
            continue
        condition |= Q(stage_id=stage_id) & (
            Q(last_activity_at__lt=threshold)
            | Q(last_activity_at__isnull=True, stage_entered_at__lt=threshold)
        )
    return condition


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def deal_attention(*, scope: MetricScope) -> Attention:
    """Stale and slipped open deals: counts, values and the largest few of each."""
    now = clock.now()
    rates = scope.rates
    stale = Deal.objects.filter(scope.deal_q(), _stale_q(scope, now), status=DealStatus.OPEN)
    stale_count, stale_value = 0, 0
    by_stage: dict[int, int] = {}
    for row in (
        stale.values("stage_id", "currency").annotate(count=Count("*"), amount=Sum("amount_minor")).order_by()
    ):
        stale_count += row["count"]
        stale_value += rates.to_base_minor_or_none(int(row["amount"] or 0), row["currency"], scope.today) or 0
        by_stage[row["stage_id"]] = by_stage.get(row["stage_id"], 0) + row["count"]
    stale_deals = [
        AttentionDeal.of(
            deal,
            idle_days=quiet_days(
                now=now, last_activity_at=deal.last_activity_at, stage_entered_at=deal.stage_entered_at
            ),
        )
        for deal in stale.select_related("owner", "stage").order_by("last_activity_at", "id")[:LISTED]
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
