"""The six pipeline metrics (forecast accuracy aside), their monthly trends and the owner/team breakdown.

Counts and sums come from DealMonthlyTotals when the period is whole months (month, quarter, year) and
from DealFact otherwise; both paths give the same numbers (a test checks). Medians come from DealFact,
lead counts from Lead. Forecast accuracy belongs to dealflow.forecasting: the web and API layers add it.
docs/metrics.md defines every number.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field, fields
from decimal import Decimal
from fractions import Fraction
from typing import Any, cast

from django.db.models import Count, Q, Sum

from dealflow.accounts.models import Team, User
from dealflow.core.errors import ApplicationError
from dealflow.core.money import minor_digits
from dealflow.core.periods import Period
from dealflow.deals.models import DealFact, DealMonthlyTotals, DealStatus, Lead, LeadSource
from dealflow.deals.selectors import base_currency
from dealflow.metrics import calculations as calc
from dealflow.metrics.selectors.scope import MetricScope
from dealflow.metrics.selectors.sql import as_day, count_if, medians, plain_rows

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

# ------------------------------------------------------------------------------------------ results


@dataclass
class SourceConversion:
    source: str
    name: str
    leads: int
    converted: int
    won: int
    rate: float | None
    any_deal_rate: float | None


@dataclass
class LeadConversion:
    leads: int
    converted: int  # became any deal
    won: int  # became a won deal
    rate: float | None  # won / leads
    any_deal_rate: float | None  # converted / leads
    by_source: list[SourceConversion] = field(default_factory=list)


@dataclass
class DealSize:
    count: int
    total: Decimal
    mean: Decimal | None
    median: Decimal | None


@dataclass
class CycleLength:
    count: int
    mean_days: Decimal | None
    median_days: Decimal | None
    from_lead_count: int
    from_lead_mean_days: Decimal | None
    from_lead_median_days: Decimal | None


@dataclass
class WinRate:
    won: int
    lost: int
    rate: float | None
    won_value: Decimal
    lost_value: Decimal
    value_rate: float | None


@dataclass
class Velocity:
    open_deals: int
    win_rate: float | None
    average_size: Decimal | None
    cycle_days: Decimal | None
    per_day: Decimal | None
    # Each factor's share of the change against the previous period, in money per day (LMDI).
    contributions: dict[str, Decimal] | None = None


@dataclass
class PeriodMetrics:
    period: str
    start: dt.date
    end: dt.date  # exclusive
    currency: str
    lead_conversion: LeadConversion
    deal_size: DealSize
    cycle: CycleLength
    win_rate: WinRate
    velocity: Velocity


@dataclass
class MetricSummary:
    current: PeriodMetrics
    previous: PeriodMetrics
    changes: dict[str, float | None]


@dataclass
class TrendPoint:
    month: str  # YYYY-MM
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


@dataclass
class BreakdownRow:
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


BREAKDOWN_ORDERINGS = [item.name for item in fields(BreakdownRow) if item.name != "key"]

# ------------------------------------------------------------------------------------------ reading


def _is_whole_months(period: Period) -> bool:
    return period.start.day == 1 and period.end.day == 1


def _monthly(scope: MetricScope, *, group: str) -> dict[tuple[Any, ...], Totals]:
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


def _monthly_leads(scope: MetricScope) -> dict[tuple[Any, ...], int]:
    """Leads created per (source, month) over the trend window and the previous period (cached)."""
    key = ("monthly_leads",)
    if key not in scope.cache:
        start = min(scope.trend_months(TREND_MONTHS)[0], scope.previous.start)
        # Per day and source, the order of the index: SQLite streams the groups instead of sorting.
        rows = plain_rows(
            Lead.objects.filter(scope.lead_q(), created_on__gte=start, created_on__lt=scope.trend_until)
            .values("created_on", "source_id")
            .annotate(count=Count("*"))
            .order_by()
        )
        counts: dict[tuple[Any, ...], int] = defaultdict(int)
        for created_on, source_id, count in rows:
            counts[(source_id, as_day(created_on).replace(day=1))] += count
        scope.cache[key] = dict(counts)
    return cast("dict[tuple[Any, ...], int]", scope.cache[key])


def _whole_month_totals(
    scope: MetricScope, periods: list[Period], group: str
) -> dict[tuple[Any, ...], Totals]:
    result: dict[tuple[Any, ...], Totals] = defaultdict(Totals)
    for (value, month), totals in _monthly(scope, group=group).items():
        for period in periods:
            if period.start <= month < period.end:
                result[(value, period.key)].add(totals)
            if month < period.end:
                result[(value, period.key)].open_at_end += totals.net_opened
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
    if group == "source" and all(_is_whole_months(period) for period in periods):
        result: dict[tuple[Any, ...], int] = defaultdict(int)
        for (value, month), count in _monthly_leads(scope).items():
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


# ------------------------------------------------------------------------------------------ metrics


def _money(minor: Fraction | int | None) -> Decimal | None:
    """Base-currency minor units to major units, rounded half-up to the minor unit."""
    if minor is None:
        return None
    digits = minor_digits(base_currency())
    return calc.as_decimal(Fraction(minor) / 10**digits, digits)


@dataclass
class Factors:
    """The four factors of pipeline velocity, exact."""

    open_deals: int
    win_rate: Fraction | None
    average_size: Fraction | None  # minor units
    cycle_days: Fraction | None

    @classmethod
    def of(cls, totals: Totals) -> Factors:
        return cls(
            open_deals=totals.open_at_end,
            win_rate=calc.ratio(totals.won, totals.won + totals.lost),
            average_size=calc.ratio(totals.won_amount, totals.won),
            cycle_days=calc.ratio(totals.won_cycle_days, totals.won),
        )

    @property
    def velocity(self) -> Fraction | None:
        return calc.velocity(
            open_deals=self.open_deals,
            win_rate=self.win_rate,
            average_size=self.average_size,
            cycle_days=self.cycle_days,
        )

    def for_decomposition(self) -> dict[str, Fraction | None]:
        return {
            "open_deals": Fraction(self.open_deals),
            "win_rate": self.win_rate,
            "average_size": self.average_size,
            "cycle_days": max(self.cycle_days, Fraction(1)) if self.cycle_days is not None else None,
        }


VELOCITY_EXPONENTS = {"open_deals": 1, "win_rate": 1, "average_size": 1, "cycle_days": -1}


def period_metrics(
    period: Period,
    totals: Totals,
    *,
    middle: dict[Any, Any] | None = None,
    by_source: list[Any] | None = None,
) -> PeriodMetrics:
    """The metrics of one period from its totals (and medians, when read)."""
    middle = middle or {}
    factors = Factors.of(totals)
    return PeriodMetrics(
        period=period.key,
        start=period.start,
        end=period.end,
        currency=base_currency(),
        lead_conversion=LeadConversion(
            leads=totals.leads,
            converted=totals.lead_deals,
            won=totals.lead_won,
            rate=calc.as_float(calc.ratio(totals.lead_won, totals.leads)),
            any_deal_rate=calc.as_float(calc.ratio(totals.lead_deals, totals.leads)),
            by_source=by_source or [],
        ),
        deal_size=DealSize(
            count=totals.won,
            total=_money(totals.won_amount) or Decimal(0),
            mean=_money(factors.average_size),
            median=_money(middle.get("amount")),
        ),
        cycle=CycleLength(
            count=totals.won,
            mean_days=calc.as_decimal(factors.cycle_days, 1),
            median_days=calc.as_decimal(middle.get("cycle"), 1),
            from_lead_count=totals.won_from_lead,
            from_lead_mean_days=calc.as_decimal(
                calc.ratio(totals.won_lead_cycle_days, totals.won_from_lead), 1
            ),
            from_lead_median_days=calc.as_decimal(middle.get("lead_cycle"), 1),
        ),
        win_rate=WinRate(
            won=totals.won,
            lost=totals.lost,
            rate=calc.as_float(factors.win_rate),
            won_value=_money(totals.won_amount) or Decimal(0),
            lost_value=_money(totals.lost_amount) or Decimal(0),
            value_rate=calc.as_float(calc.ratio(totals.won_amount, totals.won_amount + totals.lost_amount)),
        ),
        velocity=Velocity(
            open_deals=factors.open_deals,
            win_rate=calc.as_float(factors.win_rate),
            average_size=_money(factors.average_size),
            cycle_days=calc.as_decimal(factors.cycle_days, 1),
            per_day=_money(factors.velocity),
        ),
    )


def velocity_contributions(current: Totals, previous: Totals) -> dict[str, Decimal] | None:
    """How much each factor moved velocity against the previous period (money per day, LMDI)."""
    parts = calc.lmdi(
        Factors.of(current).for_decomposition(), Factors.of(previous).for_decomposition(), VELOCITY_EXPONENTS
    )
    if parts is None:
        return None
    return {name: _money(Fraction(value)) or Decimal(0) for name, value in parts.items()}


def _by_source(period: Period, totals: dict[tuple[Any, ...], Totals]) -> list[SourceConversion]:
    rows = []
    for source in LeadSource.objects.order_by("order", "name"):
        item = totals.get((source.pk, period.key))
        if item is None or not (item.leads or item.lead_deals):
            continue
        rows.append(
            SourceConversion(
                source=source.key,
                name=source.name,
                leads=item.leads,
                converted=item.lead_deals,
                won=item.lead_won,
                rate=calc.as_float(calc.ratio(item.lead_won, item.leads)),
                any_deal_rate=calc.as_float(calc.ratio(item.lead_deals, item.leads)),
            )
        )
    return rows


def metric_summary(*, scope: MetricScope) -> MetricSummary:
    """The metrics of the period and of the one before, with the changes the dashboard tiles show."""
    current, previous = scope.period, scope.previous
    by_source = period_totals(scope, [current, previous], group="source")
    now_totals, before_totals = Totals(), Totals()
    for (_source, key), totals in by_source.items():
        (now_totals if key == current.key else before_totals).add(totals)
    won = DealFact.objects.filter(
        scope.deal_q(), status=DealStatus.WON, closed_on__gte=current.start, closed_on__lt=current.end
    )
    # Won deals always carry an amount and a cycle (set when they close); the totals count them.
    middle = medians(
        {
            "amount": (won, "amount_base_minor", now_totals.won),
            "cycle": (won, "cycle_days", now_totals.won),
            "lead_cycle": (won, "lead_cycle_days", now_totals.won_from_lead),
        }
    )
    now = period_metrics(current, now_totals, middle=middle, by_source=_by_source(current, by_source))
    before = period_metrics(previous, before_totals)
    now.velocity.contributions = velocity_contributions(now_totals, before_totals)
    changes = {
        "lead_conversion": calc.change(now.lead_conversion.rate, before.lead_conversion.rate),
        "deal_size": calc.relative_change(now.deal_size.mean, before.deal_size.mean),
        "cycle_days": calc.change(now.cycle.mean_days, before.cycle.mean_days, 1),
        "win_rate": calc.change(now.win_rate.rate, before.win_rate.rate),
        "velocity": calc.relative_change(now.velocity.per_day, before.velocity.per_day),
    }
    return MetricSummary(current=now, previous=before, changes=changes)


def metric_trends(*, scope: MetricScope, months: int = TREND_MONTHS) -> list[TrendPoint]:
    """Each metric month by month for the ``months`` months that end with the period's last month."""
    if not 1 <= months <= TREND_MONTHS:
        raise ApplicationError(f"Trends cover 1 to {TREND_MONTHS} months.", field="months")
    window = scope.trend_months(months)
    per_month: dict[dt.date, Totals] = defaultdict(Totals)
    for (_source, month), totals in _monthly(scope, group="source").items():
        per_month[month].add(totals)
    for (_source, month), count in _monthly_leads(scope).items():
        per_month[month].leads += count
    opened = 0
    points = []
    for month in sorted(set(per_month) | set(window)):
        totals = per_month[month]
        opened += totals.net_opened
        if month not in window:
            continue
        totals.open_at_end = opened
        factors = Factors.of(totals)
        points.append(
            TrendPoint(
                month=f"{month:%Y-%m}",
                leads=totals.leads,
                lead_conversion=calc.as_float(calc.ratio(totals.lead_won, totals.leads)),
                won=totals.won,
                lost=totals.lost,
                deal_size=_money(factors.average_size),
                cycle_days=calc.as_decimal(factors.cycle_days, 1),
                win_rate=calc.as_float(factors.win_rate),
                win_rate_value=calc.as_float(
                    calc.ratio(totals.won_amount, totals.won_amount + totals.lost_amount)
                ),
                open_deals=opened,
                velocity=_money(factors.velocity),
            )
        )
    return points


def metric_breakdown(
    *, scope: MetricScope, by: str = "owner", order: str = "-won_value"
) -> list[BreakdownRow]:
    """The metrics of the period per owner or per team, sorted by any column (``-`` for descending)."""
    if by not in ("owner", "team"):
        raise ApplicationError("Break down by owner or team.", field="by")
    name = order.lstrip("-")
    if name not in BREAKDOWN_ORDERINGS:
        raise ApplicationError(f"Cannot sort by {order!r}.", field="order")
    period = scope.period
    totals = period_totals(scope, [period], group=by)
    keys = sorted({value for value, key in totals if key == period.key})
    if by == "owner":
        labels = {user.pk: user.display_name for user in User.objects.filter(pk__in=keys)}
    else:
        labels = {team.pk: team.name for team in Team.objects.filter(pk__in=keys)}
    rows = []
    for value in keys:
        item = totals[(value, period.key)]
        if not (item.leads or item.won or item.lost or item.open_at_end or item.lead_deals):
            continue
        factors = Factors.of(item)
        rows.append(
            BreakdownRow(
                key=value or None,
                label=labels.get(value, "—" if not value else f"#{value}"),
                leads=item.leads,
                lead_conversion=calc.as_float(calc.ratio(item.lead_won, item.leads)),
                won=item.won,
                lost=item.lost,
                win_rate=calc.as_float(factors.win_rate),
                win_rate_value=calc.as_float(calc.ratio(item.won_amount, item.won_amount + item.lost_amount)),
                won_value=_money(item.won_amount) or Decimal(0),
                deal_size=_money(factors.average_size),
                cycle_days=calc.as_decimal(factors.cycle_days, 1),
                open_deals=item.open_at_end,
                velocity=_money(factors.velocity),
            )
        )
    descending = order.startswith("-")
    present = [row for row in rows if getattr(row, name) is not None]
    missing = [row for row in rows if getattr(row, name) is None]  # "—" sorts last either way
    present.sort(key=lambda row: (getattr(row, name), row.label), reverse=descending)
    return present + sorted(missing, key=lambda row: row.label)
