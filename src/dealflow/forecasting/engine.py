"""Between the database and the maths: load the event log into arrays, build calendars, cache fits.

Reads happen in a handful of queries (stages, rates, deals, events); every number is then computed in
``calculations`` without the ORM. Money is converted to the base currency at today's rate per currency.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
from django.db import transaction
from django.utils import timezone

from dealflow.core import clock
from dealflow.core.money import minor_digits
from dealflow.core.periods import Period, period_containing
from dealflow.deals.models import Deal, DealEvent, EventKind, ExchangeRate, Stage, StageKind
from dealflow.deals.selectors import base_currency
from dealflow.forecasting import calculations as calc
from dealflow.forecasting.models import ForecastFit

HORIZONS = 4
FIT_VERSION = "1"
_STAGE_KINDS: dict[str, int] = {
    EventKind.CREATED: calc.OPEN,
    EventKind.STAGE_CHANGED: calc.OPEN,
    EventKind.REOPENED: calc.OPEN,
    EventKind.WON: calc.WON,
    EventKind.LOST: calc.LOST,
}
CATEGORY_CODES = {name: code for code, name in enumerate(calc.CATEGORIES)}


def moment_of(value: dt.datetime) -> int:
    return int(value.timestamp())


def midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def currency_factors() -> dict[str, float]:
    """Base-currency minor units per minor unit of each currency, at the latest known rate."""
    base = base_currency()
    factors: dict[str, float] = {base: 1.0}
    for currency, rate in ExchangeRate.objects.order_by("currency", "valid_from").values_list(
        "currency", "rate"
    ):
        scale = Decimal(10) ** (minor_digits(base) - minor_digits(currency))
        factors[currency] = float(rate * scale)
    return factors


def _date_ordinal(text: str) -> int:
    try:
        return dt.date.fromisoformat(text[:10]).toordinal() if text else calc.NO_DATE
    except ValueError:
        return calc.NO_DATE


def _owner_id(text: str) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return -1


def _probability(text: str) -> float:
    try:
        return int(text) / 100 if text != "" else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def stages_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    rows = list(
        Stage.objects.order_by("pipeline_id", "order", "id").values_list(
            "id", "probability", "forecast_category", "kind", "name"
        )
    )
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    probability = np.array([row[1] / 100 for row in rows], dtype=np.float64)
    category = np.array([CATEGORY_CODES.get(row[2], -1) for row in rows], dtype=np.int64)
    is_open = np.array([row[3] == StageKind.OPEN for row in rows], dtype=bool)
    return ids, probability, category, is_open, [row[4] for row in rows]


def history_load(*, deals_q=None) -> calc.History:
    """The event log (and the few current deal fields used as fallbacks) as arrays; 4 queries."""
    factors = currency_factors()
    deals = Deal.objects.all() if deals_q is None else Deal.objects.filter(deals_q)
    deal_rows = list(
        deals.order_by("id").values_list(
            "id",
            "created_at",
            "owner_id",
            "expected_close_on",
            "forecast_category_override",
            "probability_override",
        )
    )
    deal_ids = np.array([row[0] for row in deal_rows], dtype=np.int64)
    position = {deal_id: index for index, deal_id in enumerate(deal_ids.tolist())}
    events = DealEvent.objects.order_by("deal_id", "occurred_at", "id")
    if deals_q is not None:
        events = events.filter(deal__in=deals.values("id"))
    stage, amount, close, owner, category, probability = [], [], [], [], [], []
    for (
        deal_id,
        kind,
        occurred_at,
        to_stage,
        amount_minor,
        currency,
        from_value,
        to_value,
    ) in events.values_list(
        "deal_id", "kind", "occurred_at", "to_stage_id", "amount_minor", "currency", "from_value", "to_value"
    ).iterator(chunk_size=20_000):
        index = position.get(deal_id)
        if index is None:
            continue
        moment = int(occurred_at.timestamp())
        value = float(amount_minor or 0) * factors.get(currency or "", 1.0)
        amount.append((index, moment, value))
        if kind in _STAGE_KINDS and to_stage is not None:
            stage.append((index, moment, to_stage, _STAGE_KINDS[kind], value))
        elif kind == EventKind.CLOSE_DATE_CHANGED:
            close.append((index, moment, _date_ordinal(from_value), _date_ordinal(to_value)))
        elif kind == EventKind.OWNER_CHANGED:
            owner.append((index, moment, _owner_id(from_value), _owner_id(to_value)))
        elif kind == EventKind.CATEGORY_CHANGED:
            category.append(
                (index, moment, CATEGORY_CODES.get(from_value, -1), CATEGORY_CODES.get(to_value, -1))
            )
        elif kind == EventKind.PROBABILITY_CHANGED:
            probability.append((index, moment, _probability(from_value), _probability(to_value)))

    def columns(rows: list[tuple], width: int, dtype=np.int64) -> list[np.ndarray]:
        array = np.array(rows, dtype=np.float64).reshape(-1, width)
        return [array[:, column].astype(dtype) for column in range(width)]

    stage_ids, stage_probability, stage_category, stage_is_open, names = stages_arrays()
    s_deal, s_time, s_stage, s_status = columns([row[:4] for row in stage], 4)
    a_deal, a_time = columns([row[:2] for row in amount], 2)
    c_deal, c_time, c_from, c_to = columns(close, 4)
    o_deal, o_time, o_from, o_to = columns(owner, 4)
    g_deal, g_time, g_from, g_to = columns(category, 4)
    p_deal, p_time = columns([row[:2] for row in probability], 2)
    return calc.History(
        deal_ids=deal_ids,
        deal_created=np.array([int(row[1].timestamp()) for row in deal_rows], dtype=np.int64),
        deal_owner=np.array([row[2] for row in deal_rows], dtype=np.int64),
        deal_close_on=np.array(
            [row[3].toordinal() if row[3] else calc.NO_DATE for row in deal_rows], dtype=np.int64
        ),
        deal_category=np.array([CATEGORY_CODES.get(row[4], -1) for row in deal_rows], dtype=np.int64),
        deal_probability=np.array(
            [row[5] / 100 if row[5] is not None else np.nan for row in deal_rows], dtype=np.float64
        ),
        stage_deal=s_deal,
        stage_time=s_time,
        stage_stage=s_stage,
        stage_status=s_status,
        stage_amount=np.array([row[4] for row in stage], dtype=np.float64),
        amount_deal=a_deal,
        amount_time=a_time,
        amount_value=np.array([row[2] for row in amount], dtype=np.float64),
        close_deal=c_deal,
        close_time=c_time,
        close_from=c_from,
        close_to=c_to,
        owner_deal=o_deal,
        owner_time=o_time,
        owner_from=o_from,
        owner_to=o_to,
        category_deal=g_deal,
        category_time=g_time,
        category_from=g_from,
        category_to=g_to,
        probability_deal=p_deal,
        probability_time=p_time,
        probability_from=np.array([row[2] for row in probability], dtype=np.float64),
        probability_to=np.array([row[3] for row in probability], dtype=np.float64),
        stage_ids=stage_ids,
        stage_probability=stage_probability,
        stage_category=stage_category,
        stage_is_open=stage_is_open,
        stage_names=names,
    )


def calendar_build(*, kind: str, first: dt.date, last: dt.date) -> calc.Calendar:
    """Consecutive periods of ``kind`` (month or quarter; fiscal year start from settings) covering the dates."""
    period = period_containing(first, kind=kind)
    keys, starts = [], []
    while period.start <= last:
        keys.append(period.key)
        starts.append(period.start)
        period = period.next()
    starts.append(period.start)
    return calc.Calendar(
        keys=keys,
        start_times=np.array([moment_of(midnight(day)) for day in starts], dtype=np.int64),
        start_ordinals=np.array([day.toordinal() for day in starts], dtype=np.int64),
        periods_per_year=12 if kind == "month" else 4,
    )


def calendar_for_history(history: calc.History, *, kind: str, until: dt.date) -> calc.Calendar:
    first = (
        dt.datetime.fromtimestamp(int(history.deal_created.min()), tz=dt.UTC).date()
        if len(history.deal_created)
        else until
    )
    first = min(first, until) - dt.timedelta(days=400)
    return calendar_build(kind=kind, first=first, last=until + dt.timedelta(days=800))


WEEK_ANCHOR = dt.date(2024, 1, 1)  # a Monday: weekly as-of points fall on Monday midnight


def panel_build(history: calc.History, calendar: calc.Calendar, *, until: int) -> calc.Panel:
    first = int(history.deal_created.min()) if len(history.deal_created) else until
    points = calc.weekly_points(first, until, anchor=moment_of(midnight(WEEK_ANCHOR)))
    return calc.build_panel(history, calendar, points, horizons=HORIZONS)


def fit_compute(*, kind: str, at: dt.datetime) -> calc.Fit:
    """Load the history and fit every model as of ``at`` (no caching)."""
    history = history_load()
    calendar = calendar_for_history(history, kind=kind, until=timezone.localdate(at))
    moment = moment_of(at)
    panel = panel_build(history, calendar, until=moment)
    return calc.fit(history, calendar, panel, moment, horizons=HORIZONS)


def fit_for_today(*, kind: str) -> calc.Fit:
    """The fit as of today's midnight, computed once a day and kept in ForecastFit (the page stays fast)."""
    today = clock.today()
    key = f"{FIT_VERSION}:{kind}"
    stored = ForecastFit.objects.filter(as_of_on=today, data_key=key).values_list("params", flat=True).first()
    if stored is not None:
        return fit_from_json(stored)
    result = fit_compute(kind=kind, at=midnight(today))
    with transaction.atomic():
        ForecastFit.objects.filter(as_of_on__lt=today - dt.timedelta(days=7)).delete()
        ForecastFit.objects.create(
            as_of_on=today, data_key=key, params=_json_safe(result.as_dict()), created_at=clock.now()
        )
    return result


def fit_refresh(*, kind: str) -> calc.Fit:
    """Recompute today's fit (after an import, or from the weekly job)."""
    ForecastFit.objects.filter(as_of_on=clock.today(), data_key=f"{FIT_VERSION}:{kind}").delete()
    return fit_for_today(kind=kind)


def _json_safe(value):
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


def fit_from_json(data: dict) -> calc.Fit:
    data = dict(data)
    data["last_year"] = [float("nan") if value is None else value for value in data["last_year"]]
    return calc.Fit.from_dict(data)


def periods_ahead(*, kind: str, day: dt.date, count: int = HORIZONS) -> list[Period]:
    period = period_containing(day, kind=kind)
    result = [period]
    while len(result) < count:
        result.append(result[-1].next())
    return result
