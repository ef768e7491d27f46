"""Accuracy of past snapshots against what closed: per period, per lead time, and the human call."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Sum

from dealflow.accounts.models import User
from dealflow.accounts.selectors import owner_visibility_q
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.core.periods import Period, parse_period
from dealflow.deals.models import Deal, DealMonthlyTotals, DealStatus
from dealflow.forecasting import calculations as calc
from dealflow.forecasting.models import ForecastSnapshot, ScopeKind
from dealflow.forecasting.selectors.forecast import _major
from dealflow.forecasting.selectors.scopes import Scope, period_kind_check, scope_resolve_for_user


# ------------------------------------------------------------------------------------------- accuracy
@dataclass
class AccuracyResult:
    period: str
    scope: str
    as_of: dt.datetime
    week: int
    method: str
    currency: str
    forecast: float
    p10: float
    p90: float
    actual: float
    accuracy: float | None
    covered: bool
    call_commit: float | None
    call_accuracy: float | None


def _scope_snapshots(scope: Scope):
    snapshots = ForecastSnapshot.objects.filter(scope_kind=scope.kind)
    if scope.kind == ScopeKind.TEAM and scope.team:
        return snapshots.filter(team=scope.team)
    if scope.kind == ScopeKind.REP and scope.user:
        return snapshots.filter(owner=scope.user)
    return snapshots


def _actual_minor(*, user: User, scope: Scope, period: Period) -> int:
    """What the visible deals of the scope won in the period (base currency, minor units). A period of whole
    months (every month and quarter key) is read from the monthly totals: the dashboard's accuracy tile
    summed a quarter of won deals in 77 ms on SQLite at 1M deals; another range sums the deals."""
    if period.start.day == 1 and period.end.day == 1:
        return _actuals_minor(user=user, scope=scope, periods=[period])[period.key]
    total = Deal.objects.filter(
        owner_visibility_q(user=user),
        scope.owner_q(),
        status=DealStatus.WON,
        closed_on__gte=period.start,
        closed_on__lt=period.end,
    ).aggregate(total=Sum("amount_base_minor"))["total"]
    return int(total or 0)


def _actuals_minor(*, user: User, scope: Scope, periods: list[Period]) -> dict[str, int]:
    """``_actual_minor`` of every period in one query, from the monthly won totals per owner that the
    deals app keeps in step with every win (``DealMonthlyTotals``, by the deal's current owner and the
    month of its close, as ``_actual_minor`` counts): the cost follows the months and owners, not the
    deals. Periods are whole months (a quarter is three)."""
    totals = {period.key: 0 for period in periods}
    if not periods:
        return totals
    by_month = (
        DealMonthlyTotals.objects.filter(
            owner_visibility_q(user=user),
            scope.owner_q(),
            month__gte=min(period.start for period in periods),
            month__lt=max(period.end for period in periods),
        )
        .values_list("month")
        .annotate(total=Sum("won_amount_base_minor"))
        .order_by()
    )
    for month, total in by_month:
        for period in periods:
            if period.start <= month < period.end:
                totals[period.key] += int(total or 0)
    return totals


def _accuracy_from(
    snapshot: ForecastSnapshot, actual_minor: int, scope: Scope, period: Period
) -> AccuracyResult:
    currency = snapshot.currency
    call = snapshot.call_commit_minor
    return AccuracyResult(
        period=period.key,
        scope=scope.key,
        as_of=snapshot.as_of,
        week=(snapshot.as_of_on - period.start).days // 7,
        method=snapshot.method,
        currency=currency,
        forecast=_major(snapshot.mean_minor, currency) or 0.0,
        p10=_major(snapshot.p10_minor, currency) or 0.0,
        p90=_major(snapshot.p90_minor, currency) or 0.0,
        actual=_major(actual_minor, currency) or 0.0,
        accuracy=calc.accuracy(actual_minor, snapshot.mean_minor),
        covered=snapshot.p10_minor <= actual_minor <= snapshot.p90_minor,
        call_commit=_major(call, currency),
        call_accuracy=calc.accuracy(actual_minor, call) if call is not None else None,
    )


def forecast_accuracy_for_period(
    *,
    user: User,
    period: str | Period,
    scope_kind: str | None = None,
    scope_id: int | None = None,
    week: int = 0,
) -> AccuracyResult | None:
    """The forecast frozen at the period's start (or ``week`` weeks in) against what closed; None if no snapshot.

    The snapshot used is the first taken in that week of the period; for week 0, one taken up to 7 days
    before the start counts too. Accuracy = 1 - |A - F| / A (None when nothing closed). The period must
    have ended.
    """
    period = parse_period(period) if isinstance(period, str) else period
    if period.end > clock.today():
        raise ApplicationError("The period has not ended yet; accuracy needs the actual.", field="period")
    scope = scope_resolve_for_user(user=user, kind=scope_kind, scope_id=scope_id)
    week_start = period.start + dt.timedelta(days=7 * week)
    window_start = week_start - dt.timedelta(days=7) if week == 0 else week_start
    candidates = _scope_snapshots(scope).filter(
        period_key=period.key, as_of_on__gte=window_start, as_of_on__lt=week_start + dt.timedelta(days=7)
    )
    snapshot = (
        candidates.filter(as_of_on__gte=week_start).order_by("as_of", "id").first()
        or candidates.order_by("-as_of", "-id").first()
    )
    if snapshot is None:
        return None
    return _accuracy_from(snapshot, _actual_minor(user=user, scope=scope, period=period), scope, period)


@dataclass
class AccuracyTable:
    rows: list[AccuracyResult]
    by_week: list[dict]


def forecast_accuracy_table_for_user(
    *,
    user: User,
    kind: str = "month",
    scope_kind: str | None = None,
    scope_id: int | None = None,
    periods: int = 12,
) -> AccuracyTable:
    """Every closed period with snapshots: model vs human call per lead time, with WAPE, bias and coverage."""
    period_kind_check(kind)
    scope = scope_resolve_for_user(user=user, kind=scope_kind, scope_id=scope_id)
    today = clock.today()
    keys = list(
        _scope_snapshots(scope)
        .filter(period_end__lte=today)
        .order_by("-period_start")
        .values_list("period_key", flat=True)
        .distinct()
    )
    period_list = [parse_period(key) for key in dict.fromkeys(keys)]
    period_list = [period for period in period_list if period.kind == kind][:periods]
    rows: list[AccuracyResult] = []
    actual_by_period = _actuals_minor(user=user, scope=scope, periods=period_list)
    by_period: dict[str, list[ForecastSnapshot]] = {period.key: [] for period in period_list}
    for snapshot in _scope_snapshots(scope).filter(period_key__in=list(by_period)).order_by("as_of", "id"):
        by_period[snapshot.period_key].append(snapshot)
    for period in period_list:
        actual = actual_by_period[period.key]
        seen_weeks = set()
        for snapshot in by_period[period.key]:
            week = (
                max(0, (snapshot.as_of_on - period.start).days // 7)
                if snapshot.as_of_on >= period.start - dt.timedelta(days=7)
                else None
            )
            if week is None or week in seen_weeks or snapshot.as_of_on >= period.end:
                continue
            seen_weeks.add(week)
            rows.append(_accuracy_from(snapshot, actual, scope, period))
    by_week = []
    for week in sorted({row.week for row in rows}):
        members = [row for row in rows if row.week == week]
        actuals = [row.actual for row in members]
        with_call = [row for row in members if row.call_commit is not None]
        by_week.append(
            {
                "week": week,
                "count": len(members),
                "accuracy": _mean([row.accuracy for row in members]),
                "wape": calc.wape(actuals, [row.forecast for row in members]),
                "bias": calc.bias(actuals, [row.forecast for row in members]),
                "coverage": calc.coverage(
                    actuals, [row.p10 for row in members], [row.p90 for row in members]
                ),
                "call_count": len(with_call),
                "call_accuracy": _mean([row.call_accuracy for row in with_call]),
                "call_wape": calc.wape(
                    [row.actual for row in with_call], [float(row.call_commit or 0) for row in with_call]
                )
                if with_call
                else None,
                "call_bias": calc.bias(
                    [row.actual for row in with_call], [float(row.call_commit or 0) for row in with_call]
                )
                if with_call
                else None,
            }
        )
    return AccuracyTable(rows=rows, by_week=by_week)


def _mean(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) / len(present) if present else None
