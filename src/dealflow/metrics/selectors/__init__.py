"""Reads of the pipeline metrics; each ``*_for_user`` counts only what the user may see.

Every selector takes a user and MetricFilters (period, pipeline, team, owner, lead source) and reads the
derived analytics tables (docs/decisions/0002-metrics-derived-tables.md). docs/metrics.md defines the
numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet

from dealflow.accounts.models import User
from dealflow.deals.models import Deal
from dealflow.metrics.selectors.accuracy import ForecastAccuracy, forecast_accuracy
from dealflow.metrics.selectors.attention import Attention, AttentionDeal, deal_attention
from dealflow.metrics.selectors.dashboard import Dashboard, dashboard
from dealflow.metrics.selectors.funnel import Funnel, FunnelStep, funnel, funnel_deals
from dealflow.metrics.selectors.pipeline import (
    BREAKDOWN_ORDERINGS,
    BreakdownRow,
    MetricSummary,
    PeriodMetrics,
    TrendPoint,
    metric_breakdown,
    metric_summary,
    metric_trends,
)
from dealflow.metrics.selectors.products import ProductRow, product_figures
from dealflow.metrics.selectors.scope import MetricFilters, MetricScope, metric_scope_for_user
from dealflow.metrics.selectors.stages import Flag, Flow, StageTime, stage_flow, stage_times
from dealflow.metrics.selectors.totals import TREND_MONTHS


def metric_summary_for_user(*, user: User, filters: MetricFilters) -> MetricSummary:
    """The six metrics (forecast accuracy aside) for the period and the previous one."""
    return metric_summary(scope=metric_scope_for_user(user=user, filters=filters))


def metric_trends_for_user(
    *, user: User, filters: MetricFilters, months: int = TREND_MONTHS
) -> list[TrendPoint]:
    """Each metric month by month, ending with the period's last month."""
    return metric_trends(scope=metric_scope_for_user(user=user, filters=filters), months=months)


def metric_breakdown_for_user(
    *, user: User, filters: MetricFilters, by: str = "owner", order: str = "-won_value"
) -> list[BreakdownRow]:
    """The period's metrics per owner or team, sorted by any column."""
    return metric_breakdown(scope=metric_scope_for_user(user=user, filters=filters), by=by, order=order)


def product_figures_for_user(*, user: User, filters: MetricFilters) -> list[ProductRow]:
    """Won revenue, win rate, average deal size and cycle length per product for the period."""
    from dealflow.deals.services.contents import deal_value_basis

    return product_figures(scope=metric_scope_for_user(user=user, filters=filters), basis=deal_value_basis())


def funnel_for_user(*, user: User, filters: MetricFilters) -> Funnel:
    """Leads, then the period's deals by the furthest stage they reached, then won."""
    return funnel(scope=metric_scope_for_user(user=user, filters=filters))


def funnel_deals_for_user(
    *, user: User, filters: MetricFilters, stage_id: int | None = None, won: bool = False
) -> QuerySet[Deal]:
    """The deals behind one funnel step."""
    return funnel_deals(scope=metric_scope_for_user(user=user, filters=filters), stage_id=stage_id, won=won)


def stage_times_for_user(*, user: User, filters: MetricFilters) -> list[StageTime]:
    """Time in stage, conversion, waiting work and bottleneck flags per stage."""
    return stage_times(scope=metric_scope_for_user(user=user, filters=filters))


def stage_flow_for_user(*, user: User, filters: MetricFilters) -> Flow:
    """Stage-to-stage movements in the period (the Sankey)."""
    return stage_flow(scope=metric_scope_for_user(user=user, filters=filters))


def deal_attention_for_user(*, user: User, filters: MetricFilters) -> Attention:
    """Stale and slipped open deals."""
    return deal_attention(scope=metric_scope_for_user(user=user, filters=filters))


def forecast_accuracy_for_user(
    *, user: User, filters: MetricFilters, lookup: Callable[..., Any] | None
) -> ForecastAccuracy:
    """The forecast accuracy tile; ``lookup`` is dealflow.forecasting's forecast_accuracy_for_period."""
    metric_scope_for_user(user=user, filters=filters)  # the same checks as every metric
    return forecast_accuracy(user=user, filters=filters, lookup=lookup)


def dashboard_for_user(
    *,
    user: User,
    filters: MetricFilters,
    by: str = "owner",
    order: str = "-won_value",
    with_attention: bool = True,
) -> Dashboard:
    """Everything the dashboard shows, with a fixed number of queries (the stale and slipped deals left out
    when ``with_attention`` is False: the page loads them separately)."""
    return dashboard(
        scope=metric_scope_for_user(user=user, filters=filters),
        by=by,
        order=order,
        with_attention=with_attention,
    )


__all__ = [
    "BREAKDOWN_ORDERINGS",
    "TREND_MONTHS",
    "Attention",
    "AttentionDeal",
    "BreakdownRow",
    "Dashboard",
    "Flag",
    "Flow",
    "ForecastAccuracy",
    "Funnel",
    "FunnelStep",
    "MetricFilters",
    "MetricScope",
    "MetricSummary",
    "PeriodMetrics",
    "ProductRow",
    "StageTime",
    "TrendPoint",
    "dashboard_for_user",
    "deal_attention_for_user",
    "forecast_accuracy_for_user",
    "funnel_deals_for_user",
    "funnel_for_user",
    "metric_breakdown_for_user",
    "metric_scope_for_user",
    "metric_summary_for_user",
    "metric_trends_for_user",
    "product_figures_for_user",
    "stage_flow_for_user",
    "stage_times_for_user",
]
