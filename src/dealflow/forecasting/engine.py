"""Between the database and the maths: load the event log into arrays, build calendars, cache fits.

Reads happen in a handful of queries (stages, rates, deals, events); every number is then computed in
``calculations`` without the ORM. Money is converted to the base currency at today's rate per currency.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from django.db import connections, transaction
from django.db.models import BigIntegerField, Case, Func, IntegerField, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from dealflow.core import clock
from dealflow.core.periods import Period, period_containing
from dealflow.deals.models import Deal, DealEvent, DealStatus, EventKind, Stage, StageKind
from dealflow.deals.selectors import rate_table
from dealflow.forecasting import calculations as calc
from dealflow.forecasting.models import ForecastFit

HORIZONS = 4
FIT_VERSION = "4"  # 2: fine phases and the drift factor (2026-11-26); 3: bookings per owner; 4: stage_trend
STALE_FIT_DAYS = 2  # the page may use a fit this many days old while today's is computed
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
    rates = rate_table()
    factors: dict[str, float] = {rates.base: 1.0}
    for currency in rates.currencies():
        factors[currency] = float(rates.factor(currency, dt.date.max))
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


class EpochSeconds(Func):
    """Whole seconds since 1970 (UTC) of a datetime column, computed by the database (no per-row Python)."""

    output_field = BigIntegerField()

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.get_source_expressions()[0])
        # Django keeps UTC as 'YYYY-MM-DD HH:MM:SS[.ffffff]' text; cutting the fraction off truncates like
        # datetime.timestamp() does (strftime would round it to the millisecond). The format is a parameter:
        # a literal '%s' in the SQL would be taken for a placeholder.
        return f"CAST(strftime(%s, substr({sql}, 1, 19)) AS INTEGER)", ("%s", *params)

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="CAST(FLOOR(EXTRACT(EPOCH FROM %(expressions)s)) AS BIGINT)"
        )


class DateOrdinal(Func):
    """A date column as a proleptic Gregorian ordinal (``date.toordinal()``), computed by the database."""

    output_field = BigIntegerField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="CAST(julianday(%(expressions)s) - 1721424.5 AS INTEGER)"
        )

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="(%(expressions)s - DATE '0001-01-01' + 1)")


class ProbabilityBin(Func):
    """The calibration bin of a probability in 0..1: floor(p x 10), 1.0 falling into the last bin (9)."""

    output_field = IntegerField()

    def as_sqlite(self, compiler, connection, **extra_context):
        # CAST truncates, which is floor for p >= 0.
        return self.as_sql(compiler, connection, template="MIN(CAST(%(expressions)s * 10 AS INTEGER), 9)")

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="LEAST(CAST(FLOOR(%(expressions)s * 10) AS INTEGER), 9)"
        )


def _codes(field: str, values, default: int = -1) -> Case:
    """A text column as small integer codes (position in ``values``), so rows arrive as plain integers."""
    return Case(
        *[When(**{field: value}, then=Value(code)) for code, value in enumerate(values)],
        default=Value(default),
        output_field=IntegerField(),
    )


def raw_rows(queryset, chunk: int = 50_000):
    """The rows of a ``values_list`` as plain tuples, chunk by chunk, from its compiled SQL on a cursor.

    Django's per-row converters (int() on every expression column, text to datetime on SQLite) cost
    more than the database's own work at a million rows; the queries that use this select integers
    computed in SQL (EpochSeconds, DateOrdinal, codes) and plain text only.
    """
    sql, params = queryset.query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(chunk):
            yield batch


def _integer_rows(queryset, width: int) -> np.ndarray:
    """All rows of an all-integer ``values_list`` as one int64 array."""
    parts = [np.array(batch, dtype=np.int64) for batch in raw_rows(queryset)]
    return np.concatenate(parts) if parts else np.zeros((0, width), dtype=np.int64)


_KIND_ORDER = [kind.value for kind in EventKind]
_KIND_CODE = {kind: code for code, kind in enumerate(_KIND_ORDER)}
_STAGE_STATUS = np.full(len(_KIND_ORDER), -1, dtype=np.int64)  # per kind code: OPEN/WON/LOST or -1
for _kind, _status in _STAGE_KINDS.items():
    _STAGE_STATUS[_KIND_CODE[_kind]] = _status
_VALUE_KINDS = [
    EventKind.CLOSE_DATE_CHANGED,
    EventKind.OWNER_CHANGED,
    EventKind.CATEGORY_CHANGED,
    EventKind.PROBABILITY_CHANGED,
]


def history_load(*, deals_q=None) -> calc.History:
    """The event log (and the few current deal fields used as fallbacks) as arrays; 5 queries.

    Times, dates and codes are computed by the database, so the rows arrive as integers and become
    arrays without a Python loop per event (1.6 M events load in a few seconds).
    """
    factors = currency_factors()
    currencies = sorted(factors)
    currency_factor = np.array([factors[currency] for currency in currencies] + [1.0])  # -1: unknown
    deals = Deal.objects.all() if deals_q is None else Deal.objects.filter(deals_q)
    deal_rows = _integer_rows(
        deals.order_by("id").values_list(
            "id",
            EpochSeconds("created_at"),
            "owner_id",
            Coalesce(DateOrdinal("expected_close_on"), Value(calc.NO_DATE)),
            _codes("forecast_category_override", calc.CATEGORIES),
            Coalesce("probability_override", Value(-1)),
        ),
        6,
    )
    deal_ids = deal_rows[:, 0]
    events = DealEvent.objects.order_by("deal_id", "occurred_at", "id")
    if deals_q is not None:
        events = events.filter(deal__in=deals.values("id"))
    event_rows = _integer_rows(
        events.values_list(
            "deal_id",
            EpochSeconds("occurred_at"),
            _codes("kind", _KIND_ORDER),
            Coalesce("to_stage_id", Value(-1)),
            Coalesce("amount_minor", Value(0)),
            _codes("currency", currencies),
        ),
        6,
    )
    position = np.searchsorted(deal_ids, event_rows[:, 0])
    known = position < len(deal_ids)
    known[known] = deal_ids[position[known]] == event_rows[known, 0]
    event_rows, position = event_rows[known], position[known]
    moment, kind, to_stage = event_rows[:, 1], event_rows[:, 2], event_rows[:, 3]
    value = event_rows[:, 4].astype(np.float64) * currency_factor[event_rows[:, 5]]
    status = _STAGE_STATUS[np.maximum(kind, 0)]
    is_stage = (kind >= 0) & (status >= 0) & (to_stage >= 0)

    close, owner, category, probability = [], [], [], []
    rare = events.filter(kind__in=_VALUE_KINDS).values_list(
        "deal_id", EpochSeconds("occurred_at"), "kind", "from_value", "to_value"
    )
    deal_position = {deal_id: index for index, deal_id in enumerate(deal_ids.tolist())}
    for deal_id, when, event_kind, from_value, to_value in rare.iterator(chunk_size=20_000):
        index = deal_position.get(deal_id)
        if index is None:
            continue
        if event_kind == EventKind.CLOSE_DATE_CHANGED:
            close.append((index, when, _date_ordinal(from_value), _date_ordinal(to_value)))
        elif event_kind == EventKind.OWNER_CHANGED:
            owner.append((index, when, _owner_id(from_value), _owner_id(to_value)))
        elif event_kind == EventKind.CATEGORY_CHANGED:
            category.append(
                (index, when, CATEGORY_CODES.get(from_value, -1), CATEGORY_CODES.get(to_value, -1))
            )
        else:
            probability.append((index, when, _probability(from_value), _probability(to_value)))

    def columns(rows: list[tuple], width: int, dtype=np.int64) -> list[np.ndarray]:
        array = np.array(rows, dtype=np.float64).reshape(-1, width)
        return [array[:, column].astype(dtype) for column in range(width)]

    stage_ids, stage_probability, stage_category, stage_is_open, names = stages_arrays()
    c_deal, c_time, c_from, c_to = columns(close, 4)
    o_deal, o_time, o_from, o_to = columns(owner, 4)
    g_deal, g_time, g_from, g_to = columns(category, 4)
    p_array = np.array(probability, dtype=np.float64).reshape(-1, 4)
    probability_override = deal_rows[:, 5].astype(np.float64) / 100
    probability_override[deal_rows[:, 5] < 0] = np.nan
    return calc.History(
        deal_ids=deal_ids,
        deal_created=deal_rows[:, 1],
        deal_owner=deal_rows[:, 2],
        deal_close_on=deal_rows[:, 3],
        deal_category=deal_rows[:, 4],
        deal_probability=probability_override,
        stage_deal=position[is_stage],
        stage_time=moment[is_stage],
        stage_stage=to_stage[is_stage],
        stage_status=status[is_stage],
        stage_amount=value[is_stage],
        amount_deal=position,
        amount_time=moment,
        amount_value=value,
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
        probability_deal=p_array[:, 0].astype(np.int64),
        probability_time=p_array[:, 1].astype(np.int64),
        probability_from=p_array[:, 2],
        probability_to=p_array[:, 3],
        stage_ids=stage_ids,
        stage_probability=stage_probability,
        stage_category=stage_category,
        stage_is_open=stage_is_open,
        stage_names=names,
    )


def stage_positions(stage_ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The index into ``stage_ids`` of each stage id in ``values``."""
    order = np.argsort(stage_ids, kind="stable")
    found = np.searchsorted(stage_ids[order], values)
    return order[np.minimum(found, max(len(order) - 1, 0))].astype(np.int64)


OPEN_DEAL_COLUMNS = ("id", "owner", "stage", "entered", "amount", "currency", "close", "category", "probability",
                     "title", "owner_name")  # fmt: skip


def open_deals_load(
    *, deals_q, now: int, stage_ids: np.ndarray, stage_category: np.ndarray, factors: dict[str, float]
) -> tuple[list[tuple], calc.States]:
    """The open deals matching ``deals_q`` (ordered by owner, id) as rows (OPEN_DEAL_COLUMNS) and States."""
    currencies = sorted(factors)
    currency_factor = np.array([factors[currency] for currency in currencies] + [1.0])
    rows = [
        row
        for batch in raw_rows(
            Deal.objects.filter(deals_q, status=DealStatus.OPEN)
            .order_by("owner_id", "id")
            .values_list(
                "id",
                "owner_id",
                "stage_id",
                EpochSeconds("stage_entered_at"),
                Coalesce("amount_minor", Value(0)),
                _codes("currency", currencies),
                Coalesce(DateOrdinal("expected_close_on"), Value(calc.NO_DATE)),
                _codes("forecast_category_override", calc.CATEGORIES),
                Coalesce("probability_override", Value(-1)),
                "title",
                "owner__username",
            )
        )
        for row in batch
    ]
    numbers = np.array([row[:9] for row in rows], dtype=np.int64).reshape(-1, 9)
    count = len(rows)
    stage = stage_positions(stage_ids, numbers[:, 2])
    probability = numbers[:, 8].astype(np.float64) / 100
    probability[numbers[:, 8] < 0] = np.nan
    states = calc.States(
        point=np.zeros(count, dtype=np.int64),
        time=np.full(count, now, dtype=np.int64),
        deal=np.arange(count, dtype=np.int64),
        stage=stage,
        age_days=(now - numbers[:, 3]) / calc.DAY,
        amount=numbers[:, 4].astype(np.float64) * currency_factor[numbers[:, 5]],
        close_on=numbers[:, 6],
        owner=numbers[:, 1],
        category=np.where(numbers[:, 7] >= 0, numbers[:, 7], stage_category[stage]),
        probability_override=probability,
    )
    return rows, states


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


def fit_for_today(*, kind: str, allow_stale: bool = False) -> calc.Fit:
    """The fit as of today's midnight, computed once a day and kept in ForecastFit (the page stays fast).

    With ``allow_stale`` (the page), the newest fit of the last STALE_FIT_DAYS days answers when today's
    is missing, so no request waits for a refit (seconds at a few hundred thousand deals); the hourly
    ``fit_warm`` job computes today's. Without it (snapshots, reviews) today's fit is computed if missing.
    """
    today = clock.today()
    key = f"{FIT_VERSION}:{kind}"
    fits = ForecastFit.objects.filter(data_key=key, as_of_on__lte=today)
    if allow_stale:
        fits = fits.filter(as_of_on__gte=today - dt.timedelta(days=STALE_FIT_DAYS))
    else:
        fits = fits.filter(as_of_on=today)
    stored = fits.order_by("-as_of_on", "-id").values_list("params", flat=True).first()
    if stored is not None:
        return fit_from_json(stored)
    result = fit_compute(kind=kind, at=midnight(today))
    with transaction.atomic():
        ForecastFit.objects.filter(as_of_on__lt=today - dt.timedelta(days=7)).delete()
        ForecastFit.objects.create(
            as_of_on=today, data_key=key, params=_json_safe(result.as_dict()), created_at=clock.now()
        )
    return result


def daily_result_get(*, key: str) -> dict | None:
    """A result computed earlier today and kept under ``key`` (see ``daily_result_put``), or None."""
    return (
        ForecastFit.objects.filter(as_of_on=clock.today(), data_key=key[:80])
        .order_by("-id")
        .values_list("params", flat=True)
        .first()
    )


def daily_result_put(*, key: str, value: dict) -> dict:
    """Keep a result for the rest of today (the table also holds the day's fits; a week is kept)."""
    value = _json_safe(value)
    ForecastFit.objects.create(
        as_of_on=clock.today(), data_key=key[:80], params=value, created_at=clock.now()
    )
    return value


def fit_is_current(*, kind: str) -> bool:
    """Whether today's fit of ``kind`` is stored."""
    return ForecastFit.objects.filter(as_of_on=clock.today(), data_key=f"{FIT_VERSION}:{kind}").exists()


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
