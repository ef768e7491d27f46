"""The funnel: leads of the period, then the deals created in it by the furthest stage they reached."""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from dealflow.core.errors import ApplicationError
from dealflow.core.periods import Period
from dealflow.deals.models import Deal, DealFact, DealStatus, ForecastCategory, Lead, Stage, StageKind
from dealflow.deals.services.derived_cells import COHORT
from dealflow.metrics import calculations as calc
from dealflow.metrics.selectors.groups import group_owner_q, group_rows, is_whole_months
from dealflow.metrics.selectors.scope import MetricScope
from dealflow.metrics.selectors.sql import plain_rows
from dealflow.metrics.selectors.totals import period_totals


@dataclass
class FunnelStep:
    key: str  # "leads", "converted", "stage", "won"
    label: str
    segment: str  # top, middle, bottom
    stage_id: int | None
    count: int
    amount: Decimal | None  # base currency; None for leads
    conversion: float | None  # share of this step that reached the next one
    conversion_low: float | None  # 95 % Wilson interval of that share
    conversion_high: float | None
    drop_off: int | None  # this step minus the next


@dataclass
class Funnel:
    period: str
    pipeline_id: int | None
    pipeline: str
    currency: str
    deals: int  # deals created in the period (the cohort)
    won: int
    lost: int
    still_open: int
    steps: list[FunnelStep]


@dataclass
class Reach:
    """How far one period's deals got: per active open stage, how many reached it (and their value)."""

    stages: list[Stage]
    reached: dict[int, int]
    amount: dict[int, int]  # base currency, minor units
    won: int
    won_amount: int
    lost: int
    deals: int
    amount_all: int


def _cohort_rows(scope: MetricScope) -> list[tuple[Any, ...]]:
    """Deals created in the period or the previous one, in the funnel's pipeline, counted per creation
    day, furthest stage, status and currency (cached). Grouping by day first follows the index order, so
    SQLite streams the groups instead of sorting the rows; Python adds the days up."""
    key = ("cohort",)
    owners = group_owner_q(scope)
    if key not in scope.cache and owners is not None and is_whole_months(scope.period, scope.previous):
        # Per creation month instead of day: DealGroupTotals (stage_reach compares whole months alike).
        scope.cache[key] = group_rows(
            scope,
            owners,
            COHORT,
            ("day", "stage_id", "label", "currency", "count", "amount_minor", "amount_base_minor"),
            start=min(scope.previous.start, scope.period.start),
            end=scope.period.end,
        )
    if key not in scope.cache:
        scope.cache[key] = plain_rows(
            DealFact.objects.filter(
                scope.deal_q(),
                pipeline_id=scope.pipeline_id,
                created_on__gte=min(scope.previous.start, scope.period.start),
                created_on__lt=scope.period.end,
            )
            .values("created_on", "furthest_stage_id", "status", "currency")
            .annotate(count=Count("*"), amount=Sum("amount_minor"), base=Sum("amount_base_minor"))
            .order_by()
        )
    return cast("list[tuple[Any, ...]]", scope.cache[key])


def stage_reach(scope: MetricScope, period: Period) -> Reach:
    """Deals created in ``period`` (this one or the previous) by the furthest stage each reached (cached).

    A deal reached a stage when its furthest stage lies at or beyond it (skipped stages count as passed);
    a won deal reached every stage. Open deals' amounts count at today's rate, closed ones at their close.
    """
    key = ("reach", period.key)
    if key in scope.cache:
        return cast(Reach, scope.cache[key])
    stages = scope.stages
    by_id = {stage.pk: stage for stage in stages}
    active = [stage for stage in stages if stage.kind == StageKind.OPEN and stage.is_active]
    rates = scope.rates
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0])
    start, end = period.start.isoformat(), period.end.isoformat()
    for created_on, furthest_stage_id, status, currency, count, amount, base in _cohort_rows(scope):
        if start <= str(created_on) < end:
            group = groups[(furthest_stage_id, status, currency)]
            group[0] += count
            group[1] += int(amount or 0)
            group[2] += int(base or 0)
    reach = Reach(
        stages=active,
        reached=defaultdict(int),
        amount=defaultdict(int),
        won=0,
        won_amount=0,
        lost=0,
        deals=0,
        amount_all=0,
    )
    first_order = active[0].order if active else 0
    for (furthest_id, status, currency), (count, amount, base) in groups.items():
        value = (
            (rates.to_base_minor_or_none(amount, currency, scope.today) or 0)
            if status == DealStatus.OPEN
            else base
        )
        reach.deals += count
        reach.amount_all += value
        furthest = by_id.get(furthest_id)
        if status == DealStatus.WON:
            furthest_order = None  # past every stage
            reach.won += count
            reach.won_amount += value
        else:
            reach.lost += count if status == DealStatus.LOST else 0
            furthest_order = furthest.order if furthest and furthest.kind == StageKind.OPEN else first_order
        for stage in active:
            if furthest_order is None or furthest_order >= stage.order:
                reach.reached[stage.pk] += count
                reach.amount[stage.pk] += value
    scope.cache[key] = reach
    return reach


def _segment(stage: Stage, index: int) -> str:
    if index == 0:
        return "top"
    if stage.forecast_category in (ForecastCategory.BEST_CASE, ForecastCategory.COMMIT):
        return "bottom"
    return "middle"


def _conversion(step: FunnelStep, following: int) -> None:
    step.conversion = calc.as_float(calc.ratio(following, step.count))
    interval = calc.wilson_interval(following, step.count)
    step.conversion_low, step.conversion_high = interval if interval else (None, None)
    step.drop_off = step.count - following


def funnel(*, scope: MetricScope) -> Funnel:
    """Top (leads), middle and bottom of the funnel for the period, with stage-to-stage conversion."""
    period = scope.period
    rates = scope.rates
    reach = stage_reach(scope, period)
    if is_whole_months(period):
        # The monthly cells the summary and the trends read too (cached per request): leads from
        # LeadMonthlyTotals, deals from the period's leads from DealMonthlyTotals.
        totals = period_totals(scope, [period], group="source").values()
        leads = sum(item.leads for item in totals)
        converted = sum(item.lead_deals for item in totals)
    else:
        leads = Lead.objects.filter(
            scope.lead_q(), created_on__gte=period.start, created_on__lt=period.end
        ).count()
        converted = DealFact.objects.filter(
            scope.lead_fact_q(), lead_created_on__gte=period.start, lead_created_on__lt=period.end
        ).count()
    lead_step = FunnelStep("leads", _("Leads"), "top", None, leads, None, None, None, None, None)
    converted_step = FunnelStep(
        "converted", _("Converted to a deal"), "top", None, converted, None, None, None, None, None
    )
    _conversion(lead_step, converted)
    steps = [lead_step, converted_step]
    stage_steps = [
        FunnelStep(
            "stage",
            stage.name,
            _segment(stage, index),
            stage.pk,
            reach.reached.get(stage.pk, 0),
            rates.money(reach.amount.get(stage.pk, 0)),
            None,
            None,
            None,
            None,
        )
        for index, stage in enumerate(reach.stages)
    ]
    won_step = FunnelStep(
        "won", _("Won"), "bottom", None, reach.won, rates.money(reach.won_amount), None, None, None, None
    )
    chain = [*stage_steps, won_step]
    for step, following in itertools.pairwise(chain):
        _conversion(step, following.count)
    steps.extend(chain)
    return Funnel(
        period=period.key,
        pipeline_id=scope.pipeline_id,
        pipeline=scope.pipeline.name if scope.pipeline else "",
        currency=rates.base,
        deals=reach.deals,
        won=reach.won,
        lost=reach.lost,
        still_open=reach.deals - reach.won - reach.lost,
        steps=steps,
    )


def funnel_deals(*, scope: MetricScope, stage_id: int | None = None, won: bool = False) -> QuerySet[Deal]:
    """The deals behind a funnel step: the period's deals that reached ``stage_id`` (or were won)."""
    facts = DealFact.objects.filter(
        scope.deal_q(),
        pipeline_id=scope.pipeline_id,
        created_on__gte=scope.period.start,
        created_on__lt=scope.period.end,
    )
    if won:
        facts = facts.filter(status=DealStatus.WON)
    elif stage_id is not None:
        stage = next((item for item in scope.stages if item.pk == stage_id), None)
        if stage is None or stage.kind != StageKind.OPEN:
            raise ApplicationError("Pick an open stage of the funnel's pipeline.", field="stage")
        reached = Q(status=DealStatus.WON) | Q(
            furthest_stage__kind=StageKind.OPEN, furthest_stage__order__gte=stage.order
        )
        first = next(item for item in scope.stages if item.kind == StageKind.OPEN and item.is_active)
        if stage.pk == first.pk:  # a deal that never entered an open stage started in the first one
            reached |= ~Q(furthest_stage__kind=StageKind.OPEN)
        facts = facts.filter(reached)
    return (
        Deal.objects.filter(pk__in=facts.values("deal_id"))
        .select_related("owner", "stage", "organization")
        .order_by("-amount_minor", "-id")
    )
