"""The sums the pipeline metrics start from, per period and group: from DealMonthlyTotals for whole months,
else from DealFact (both give the same numbers; a test checks), and lead counts from LeadMonthlyTotals for
whole months, else from Lead.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields
from typing import Any, cast

from django.db.models import Count, Q, Sum

from dealflow.core.periods import Period
from dealflow.deals.models import DealFact, DealMonthlyTotals, DealStatus, Lead, LeadMonthlyTotals
from dealflow.metrics.selectors.scope import MetricScope
from dealflow.metrics.selectors.sql import as_day, count_if, plain_rows

TREND_MONTHS = 24
# group name -> (DealFact / DealMonthlyTotals / Lead column, DealFact column of the lead)
GROUPS = {
    "owner": ("owner_id", "lead_owner_id"),
    "team": ("team_id", "lead_team_id"),
    "source": ("source_id", "lead_source_id"),
}


@dataclass
class Totals:
    """The additive numbers of one period (and group); every metric but the medians derives from them."""

    created: int = 0
    won: int = 0
    won_amount: int = 0  # base currency, minor units
    won_cycle_days: int = 0
    won_lead_cycle_days: int = 0
    won_from_lead: int = 0
    lost: int = 0
    lost_amount: int = 0
    lead_deals: int = 0  # leads created in the period that became a deal ...
    lead_won: int = 0  # ... and a won deal
    leads: int = 0  # leads created in the period
    open_at_end: int = 0  # deals open when the period ends

    def add(self, other: Totals) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    @property
    def net_opened(self) -> int:
        return self.created - self.won - self.lost


_MONTHLY_COLUMNS = {
    "created": "created",
    "won": "won",
    "won_amount": "won_amount_base_minor",
    "won_cycle_days": "won_cycle_days",
    "won_lead_cycle_days": "won_lead_cycle_days",
    "won_from_lead": "won_from_lead",
    "lost": "lost",
    "lost_amount": "lost_amount_base_minor",
    "lead_deals": "lead_deals",
    "lead_won": "lead_won",
}

# ------------------------------------------------------------------------------------------ reading


def _is_whole_months(period: Period) -> bool:
    return period.start.day == 1 and period.end.day == 1


def monthly(scope: MetricScope, *, group: str) -> dict[tuple[Any, ...], Totals]:
    """DealMonthlyTotals of every month up to the trend's end: {(group value, month): Totals} (cached)."""
    key = ("monthly", group)
    if key not in scope.cache:
        column = GROUPS[group][0]
        rows = (
            DealMonthlyTotals.objects.filter(scope.deal_q(), month__lt=scope.trend_until)
            .values(column, "month")
            .annotate(**{name: Sum(source) for name, source in _MONTHLY_COLUMNS.items()})
            .order_by()
        )
        scope.cache[key] = {
            (row[column], row["month"]): Totals(**{name: int(row[name] or 0) for name in _MONTHLY_COLUMNS})
            for row in rows
        }
    return cast("dict[tuple[Any, ...], Totals]", scope.cache[key])


def monthly_leads(scope: MetricScope) -> dict[tuple[Any, ...], int]:
    """Leads created per (source, month) over the trend window and the previous period (cached), from
    LeadMonthlyTotals: a few cells per owner and month instead of every lead."""
    key = ("monthly_leads",)
    if key not in scope.cache:
        start = min(scope.trend_months(TREND_MONTHS)[0], scope.previous.start.replace(day=1))
        rows = plain_rows(
            LeadMonthlyTotals.objects.filter(scope.lead_q(), month__gte=start, month__lt=scope.trend_until)
            .values("source_id", "month")
            .annotate(count=Sum("count"))
            .order_by()
        )
        scope.cache[key] = {
            (source_id, as_day(month)): int(count) for source_id, month, count in rows if count
        }
    return cast("dict[tuple[Any, ...], int]", scope.cache[key])


def _whole_month_totals(
    scope: MetricScope, periods: list[Period], group: str
) -> dict[tuple[Any, ...], Totals]:
    if group != "source":
        return _grouped_month_totals(scope, periods, group)
    result: dict[tuple[Any, ...], Totals] = defaultdict(Totals)
    for (value, month), totals in monthly(scope, group=group).items():
        for period in periods:
            if period.start <= month < period.end:
                result[(value, period.key)].add(totals)
            if month < period.end:
                result[(value, period.key)].open_at_end += totals.net_opened
    return result


def _grouped_month_totals(
    scope: MetricScope, periods: list[Period], group: str
) -> dict[tuple[Any, ...], Totals]:
    """The same numbers as ``_whole_month_totals`` summed per owner or team in the database: one row per
    group value instead of one per value and month (the monthly rows by source stay cached for the trends).
    Open deals at a period's end are every month's net openings before it."""
    column = GROUPS[group][0]
    sums: dict[str, Any] = {}
    for index, period in enumerate(periods):
        inside = Q(month__gte=period.start, month__lt=period.end)
        for name, source in _MONTHLY_COLUMNS.items():
            sums[f"{name}_{index}"] = Sum(source, filter=inside)
        before = Q(month__lt=period.end)
        for name in ("created", "won", "lost"):
            sums[f"open_{name}_{index}"] = Sum(name, filter=before)
    rows = (
        DealMonthlyTotals.objects.filter(scope.deal_q(), month__lt=max(period.end for period in periods))
        .values(column)
        .annotate(**sums)
        .order_by()
    )
    result: dict[tuple[Any, ...], Totals] = {}
    for row in rows:
        for index, period in enumerate(periods):
            totals = Totals(**{name: int(row[f"{name}_{index}"] or 0) for name in _MONTHLY_COLUMNS})
            totals.open_at_end = sum(
                sign * int(row[f"open_{name}_{index}"] or 0)
                for sign, name in ((1, "created"), (-1, "won"), (-1, "lost"))
            )
            result[(row[column], period.key)] = totals
    return result


def _fact_totals(scope: MetricScope, periods: list[Period], group: str) -> dict[tuple[Any, ...], Totals]:
    """The same numbers from DealFact, for periods that are not whole months."""
    result: dict[tuple[Any, ...], Totals] = defaultdict(Totals)
    deal_column, lead_column = GROUPS[group]
    won, lost = Q(status=DealStatus.WON), Q(status=DealStatus.LOST)
    for period in periods:
        closed = (
            DealFact.objects.filter(
                scope.deal_q(),
                closed_on__gte=period.start,
                closed_on__lt=period.end,
                status__in=[DealStatus.WON, DealStatus.LOST],
            )
            .values(deal_column)
            .annotate(
                won=count_if(won),
                won_amount=Sum("amount_base_minor", filter=won),
                won_cycle_days=Sum("cycle_days", filter=won),
                won_lead_cycle_days=Sum("lead_cycle_days", filter=won),
                won_from_lead=count_if(won & Q(lead_cycle_days__isnull=False)),
                lost=count_if(lost),
                lost_amount=Sum("amount_base_minor", filter=lost),
            )
            .order_by()
        )
        for row in closed:
            value = row.pop(deal_column) or 0
            result[(value, period.key)].add(
                Totals(**{name: int(amount or 0) for name, amount in row.items()})
            )
        from_leads = (
            DealFact.objects.filter(
                scope.lead_fact_q(), lead_created_on__gte=period.start, lead_created_on__lt=period.end
            )
            .values(lead_column)
            .annotate(lead_deals=Count("*"), lead_won=count_if(won))
            .order_by()
        )
        for row in from_leads:
            value = row.pop(lead_column) or 0
            result[(value, period.key)].add(Totals(**row))
        for row in (
            DealFact.objects.filter(scope.deal_q(), created_on__lt=period.end)
            .values(deal_column)
            .annotate(count=Count("*"))
            .order_by()
        ):
            result[(row[deal_column] or 0, period.key)].open_at_end += row["count"]
        for row in (
            DealFact.objects.filter(
                scope.deal_q(), closed_on__lt=period.end, status__in=[DealStatus.WON, DealStatus.LOST]
            )
            .values(deal_column)
            .annotate(count=Count("*"))
            .order_by()
        ):
            result[(row[deal_column] or 0, period.key)].open_at_end -= row["count"]
    return result


def _lead_counts(scope: MetricScope, periods: list[Period], group: str) -> dict[tuple[Any, ...], int]:
    """Leads created in each period: {(group value, period key): count}."""
    column = GROUPS[group][0]
    if all(_is_whole_months(period) for period in periods):
        result: dict[tuple[Any, ...], int] = defaultdict(int)
        if group == "source":
            cells = monthly_leads(scope)
        else:  # per owner or team: only the periods' months
            cells = {
                (value or 0, as_day(month)): int(count)
                for value, month, count in plain_rows(
                    LeadMonthlyTotals.objects.filter(
                        scope.lead_q(),
                        month__gte=min(period.start for period in periods),
                        month__lt=max(period.end for period in periods),
                    )
                    .values(column, "month")
                    .annotate(count=Sum("count"))
                    .order_by()
                )
            }
        for (value, month), count in cells.items():
            for period in periods:
                if period.start <= month < period.end:
                    result[(value, period.key)] += count
        return result
    start, end = min(period.start for period in periods), max(period.end for period in periods)
    counts = {
        f"period_{index}": count_if(Q(created_on__gte=period.start, created_on__lt=period.end))
        for index, period in enumerate(periods)
    }
    rows = (
        Lead.objects.filter(scope.lead_q(), created_on__gte=start, created_on__lt=end)
        .values(column)
        .annotate(**counts)
        .order_by()
    )
    return {
        (row[column] or 0, period.key): row[f"period_{index}"]
        for row in rows
        for index, period in enumerate(periods)
    }


def period_totals(scope: MetricScope, periods: list[Period], *, group: str) -> dict[tuple[Any, ...], Totals]:
    """Totals per (group value, period key), leads and open deals at the period's end included."""
    if all(_is_whole_months(period) for period in periods):
        result = _whole_month_totals(scope, periods, group)
    else:
        result = _fact_totals(scope, periods, group)
    for key, count in _lead_counts(scope, periods, group).items():
        result.setdefault(key, Totals()).leads += count
    return result
