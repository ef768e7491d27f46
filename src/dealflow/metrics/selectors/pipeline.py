"""The six pipeline metrics (forecast accuracy aside), their monthly trends and the owner/team breakdown.

Counts and sums come from DealMonthlyTotals when the period is whole months (month, quarter, year) and
from DealFact otherwise; both paths give the same numbers (a test checks). Medians come from DealFact,
lead counts from Lead. Forecast accuracy belongs to dealflow.forecasting: the web and API layers add it.
docs/metrics.md defines every number. The totals they start from are read in totals.py.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field, fields
from decimal import Decimal
from fractions import Fraction
from typing import Any

from dealflow.accounts.models import Team, User
from dealflow.core.errors import ApplicationError
from dealflow.core.money import minor_digits
from dealflow.core.periods import Period
from dealflow.deals.models import DealFact, DealStatus, LeadSource
from dealflow.deals.selectors import base_currency
from dealflow.metrics import calculations as calc
from dealflow.metrics.selectors.scope import MetricScope
from dealflow.metrics.selectors.sql import medians
from dealflow.metrics.selectors.totals import TREND_MONTHS, Totals, monthly, monthly_leads, period_totals

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
    for (_source, month), totals in monthly(scope, group="source").items():
        per_month[month].add(totals)
    for (_source, month), count in monthly_leads(scope).items():
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
