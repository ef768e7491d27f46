"""Everything the dashboard shows for one period, read with a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass

from dealflow.metrics.selectors.attention import Attention, deal_attention
from dealflow.metrics.selectors.funnel import Funnel, funnel
from dealflow.metrics.selectors.pipeline import (
    BreakdownRow,
    MetricSummary,
    TrendPoint,
    metric_breakdown,
    metric_summary,
    metric_trends,
)
from dealflow.metrics.selectors.scope import MetricScope
from dealflow.metrics.selectors.stages import Flow, StageTime, stage_flow, stage_times


@dataclass
class Dashboard:
    summary: MetricSummary
    trends: list[TrendPoint]
    funnel: Funnel
    stages: list[StageTime]
    flow: Flow
    attention: Attention | None  # None when the caller loads it on its own (the page, after the numbers)
    breakdown: list[BreakdownRow]
    breakdown_by: str
    breakdown_order: str


def dashboard(
    *, scope: MetricScope, by: str = "owner", order: str = "-won_value", with_attention: bool = True
) -> Dashboard:
    """The six metrics with trends, funnel, time in stage, bottlenecks, flow, attention (unless
    ``with_attention`` is False) and the breakdown."""
    return Dashboard(
        summary=metric_summary(scope=scope),
        trends=metric_trends(scope=scope),
        funnel=funnel(scope=scope),
        stages=stage_times(scope=scope),
        flow=stage_flow(scope=scope),
        attention=deal_attention(scope=scope) if with_attention else None,
        breakdown=metric_breakdown(scope=scope, by=by, order=order),
        breakdown_by=by,
        breakdown_order=order,
    )
