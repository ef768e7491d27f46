"""Metrics: the dashboard's numbers (/api/v1/metrics/...), identical to the web page and the CLI.

Every endpoint takes the same filters: period (2026-11, 2026-Q3, 2026 or 2026-01-01..2026-03-31; default
this quarter), pipeline, team, owner and source (a lead source key). Money is in the base currency, as a
decimal string. docs/metrics.md defines every number.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Query, Router, Schema

from dealflow.accounts.models import User
from dealflow.api.base import ApiRequest
from dealflow.core.errors import ApplicationError
from dealflow.forecasting.accuracy_tile import forecast_accuracy_tile_for_user
from dealflow.metrics import selectors
from dealflow.metrics.selectors import MetricFilters

router = Router(tags=["Metrics"])


class MetricQuery(Schema):
    period: str | None = None
    pipeline: int | None = None
    team: int | None = None
    owner: int | None = None
    source: str | None = None


def _filters(query: MetricQuery) -> MetricFilters:
    return MetricFilters.from_mapping(query.dict(exclude_none=True))


class SourceConversionOut(Schema):
    source: str
    name: str
    leads: int
    converted: int
    won: int
    rate: float | None
    any_deal_rate: float | None


class LeadConversionOut(Schema):
    leads: int
    converted: int
    won: int
    rate: float | None
    any_deal_rate: float | None
    by_source: list[SourceConversionOut]


class DealSizeOut(Schema):
    count: int
    total: Decimal
    mean: Decimal | None
    median: Decimal | None


class CycleOut(Schema):
    count: int
    mean_days: Decimal | None
    median_days: Decimal | None
    from_lead_count: int
    from_lead_mean_days: Decimal | None
    from_lead_median_days: Decimal | None


class WinRateOut(Schema):
    won: int
    lost: int
    rate: float | None
    won_value: Decimal
    lost_value: Decimal
    value_rate: float | None


class VelocityOut(Schema):
    open_deals: int
    win_rate: float | None
    average_size: Decimal | None
    cycle_days: Decimal | None
    per_day: Decimal | None
    contributions: dict[str, Decimal] | None


class PeriodMetricsOut(Schema):
    period: str
    start: dt.date
    end: dt.date
    currency: str
    lead_conversion: LeadConversionOut
    deal_size: DealSizeOut
    cycle: CycleOut
    win_rate: WinRateOut
    velocity: VelocityOut


class ForecastAccuracyOut(Schema):
    available: bool
    message: str
    period: str | None = None
    accuracy: float | None = None
    forecast: float | None = None
    actual: float | None = None
    as_of: dt.datetime | None = None


class SummaryOut(Schema):
    current: PeriodMetricsOut
    previous: PeriodMetricsOut
    changes: dict[str, float | None]
    forecast_accuracy: ForecastAccuracyOut


class TrendOut(Schema):
    month: str
    leads: int
    lead_conversion: float | None
    won: int
    lost: int
    deal_size: Decimal | None
    cycle_days: Decimal | None
    win_rate: float | None
    win_rate_value: float | None
    open_deals: int
    velocity: Decimal | None


class BreakdownOut(Schema):
    key: int | None
    label: str
    leads: int
    lead_conversion: float | None
    won: int
    lost: int
    win_rate: float | None
    win_rate_value: float | None
    won_value: Decimal
    deal_size: Decimal | None
    cycle_days: Decimal | None
    open_deals: int
    velocity: Decimal | None


class ProductFiguresOut(Schema):
    product_id: int
    code: str
    name: str
    won: int
    lost: int
    win_rate: float | None
    won_revenue: Decimal
    average_deal_size: Decimal | None
    cycle_days: Decimal | None
    currency: str  # the base currency
    basis: str  # what a recurring line counts: tcv (total contract value) or arr


class FunnelStepOut(Schema):
    key: str
    label: str
    segment: str
    stage_id: int | None
    count: int
    amount: Decimal | None
    conversion: float | None
    conversion_low: float | None
    conversion_high: float | None
    drop_off: int | None


class FunnelOut(Schema):
    period: str
    pipeline_id: int | None
    pipeline: str
    currency: str
    deals: int
    won: int
    lost: int
    still_open: int
    steps: list[FunnelStepOut]


class FunnelDealOut(Schema):
    id: int
    title: str
    owner: str
    stage: str
    status: str
    amount: Decimal
    currency: str

    @staticmethod
    def resolve_owner(deal: Any) -> str:
        return deal.owner.display_name

    @staticmethod
    def resolve_stage(deal: Any) -> str:
        return deal.stage.name

    @staticmethod
    def resolve_amount(deal: Any) -> Decimal:
        from dealflow.core.money import from_minor

        return from_minor(deal.amount_minor, deal.currency)


class FlagOut(Schema):
    kind: str
    message: str


class StageTimeOut(Schema):
    stage_id: int
    name: str
    is_active: bool
    entered: int
    finished: int
    still_open: int
    median_days: int | None
    p80_days: int | None
    previous_median_days: int | None
    previous_p80_days: int | None
    won_median_days: int | None
    won_p80_days: int | None
    conversion: float | None
    conversion_low: float | None
    conversion_high: float | None
    previous_conversion: float | None
    open_now: int
    open_value: Decimal
    arrivals_per_day: float | None
    implied_wait_days: float | None
    flags: list[FlagOut]


class FlowNodeOut(Schema):
    key: str
    label: str


class FlowLinkOut(Schema):
    source: int
    target: int
    count: int
    kind: str


class FlowOut(Schema):
    period: str
    nodes: list[FlowNodeOut]
    links: list[FlowLinkOut]


class AttentionDealOut(Schema):
    deal_id: int
    title: str
    owner: str
    stage: str
    amount: Decimal
    currency: str
    idle_days: int | None
    expected_close_on: dt.date | None
    close_date_pushes: int


class AttentionOut(Schema):
    stale: int
    stale_value: Decimal
    stale_by_stage: dict[int, int]
    stale_deals: list[AttentionDealOut]
    slipped: int
    slipped_value: Decimal
    overdue: int
    pushed: int
    slipped_deals: list[AttentionDealOut]


class DashboardOut(Schema):
    summary: SummaryOut
    trends: list[TrendOut]
    funnel: FunnelOut
    stages: list[StageTimeOut]
    flow: FlowOut
    attention: AttentionOut
    breakdown: list[BreakdownOut]
    breakdown_by: str
    breakdown_order: str


def _summary(user: User, filters: MetricFilters, summary: Any) -> dict[str, Any]:
    return {
        "current": summary.current,
        "previous": summary.previous,
        "changes": summary.changes,
        "forecast_accuracy": forecast_accuracy_tile_for_user(user=user, filters=filters),
    }


@router.get("/summary", response=SummaryOut)
def metric_summary(request: ApiRequest, query: Query[MetricQuery]):
    """The six metrics for the period and the previous one, with the change of each."""
    filters = _filters(query)
    return _summary(
        request.user, filters, selectors.metric_summary_for_user(user=request.user, filters=filters)
    )


@router.get("/trends", response=list[TrendOut])
def metric_trends(request: ApiRequest, query: Query[MetricQuery], months: int = 24):
    """Each metric month by month, ending with the period's last month (at most 24 months)."""
    return selectors.metric_trends_for_user(user=request.user, filters=_filters(query), months=months)


@router.get("/breakdown", response=list[BreakdownOut])
def metric_breakdown(
    request: ApiRequest, query: Query[MetricQuery], by: str = "owner", order: str = "-won_value"
):
    """The period's metrics per owner or team (`by`), sorted by any column (`order=-win_rate`)."""
    return selectors.metric_breakdown_for_user(user=request.user, filters=_filters(query), by=by, order=order)


@router.get("/products", response=list[ProductFiguresOut])
def metric_products(request: ApiRequest, query: Query[MetricQuery]):
    """Won revenue, win rate, average deal size and cycle length per product, for the deals closed in the
    period that hold it (docs/metrics.md, "By product"); `basis` says what recurring lines count."""
    return selectors.product_figures_for_user(user=request.user, filters=_filters(query))


@router.get("/funnel", response=FunnelOut)
def metric_funnel(request: ApiRequest, query: Query[MetricQuery]):
    """Leads, then the period's deals by the furthest stage they reached, then won."""
    return selectors.funnel_for_user(user=request.user, filters=_filters(query))


@router.get("/funnel/deals", response=list[FunnelDealOut])
def metric_funnel_deals(
    request, query: Query[MetricQuery], stage: int | None = None, won: bool = False, limit: int = 100
):
    """The deals behind a funnel step: those of the period that reached `stage` (or, with won=true, won)."""
    if not 1 <= limit <= 500:
        raise ApplicationError("limit must be between 1 and 500.", field="limit")
    deals = selectors.funnel_deals_for_user(
        user=request.user, filters=_filters(query), stage_id=stage, won=won
    )
    return list(deals[:limit])


@router.get("/stages", response=list[StageTimeOut])
def metric_stages(request: ApiRequest, query: Query[MetricQuery]):
    """Time in stage (median, P80; open stays censored), conversion, waiting work and bottleneck flags."""
    return selectors.stage_times_for_user(user=request.user, filters=_filters(query))


@router.get("/flow", response=FlowOut)
def metric_flow(request: ApiRequest, query: Query[MetricQuery]):
    """Stage-to-stage movements in the period, including backward moves, won and lost (a Sankey)."""
    return selectors.stage_flow_for_user(user=request.user, filters=_filters(query))


@router.get("/attention", response=AttentionOut)
def metric_attention(request: ApiRequest, query: Query[MetricQuery]):
    """Stale open deals (idle past their stage's rotting days) and slipped ones (close date passed or pushed)."""
    return selectors.deal_attention_for_user(user=request.user, filters=_filters(query))


@router.get("/dashboard", response=DashboardOut)
def metric_dashboard(
    request: ApiRequest, query: Query[MetricQuery], by: str = "owner", order: str = "-won_value"
):
    """Everything the dashboard page shows, in one answer."""
    filters = _filters(query)
    board = selectors.dashboard_for_user(user=request.user, filters=filters, by=by, order=order)
    return {**board.__dict__, "summary": _summary(request.user, filters, board.summary)}
