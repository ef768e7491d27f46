"""The pipeline's history as arrays, periods, and the open deals as of any time (no look-ahead)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

DAY = 86_400
AGE_BUCKETS = (0, 7, 14, 30, 60)  # lower bounds in days: 0-7, 7-14, 14-30, 30-60, 60+
AGE_LABELS = ("0-7", "7-14", "14-30", "30-60", "60+")
PRIOR_STRENGTH = 10.0  # n0 of the Beta prior (L1) and the shrinkage pseudo-count (L2, L3)
TRAILING_DAYS = 730  # learn from the trailing 24 months
L1_MIN_CLOSED = 50  # fewer closed deals in the window -> L0 (configured)
L2_MIN_CLOSED = 200  # fewer -> L1 (no ageing)
L3_MIN_POINTS = 13  # fewer weekly as-of points with a finished outcome window -> no L3
L3_MIN_ROWS = 500  # fewer (deal, week) training rows -> no L3
RUN_RATE_MIN_POINTS = 4
STAY_MIN_SPELLS = 10  # fewer won spells in a stage -> its usual stay is unknown (no ageing decay)
PHASES = 16  # sixteenths of the period elapsed at the time of the forecast (L3 cells, see _shrink_within)
COARSE_PHASES = 4  # quarters: what a fine phase is shrunk to, and how run-rate and drift are grouped
DRIFT_DEFAULT = 0.15  # relative SD of the drift factor when history is too thin to measure it
DRIFT_MIN_POINTS = 8  # fewer past weekly points with a finished outcome -> pool phases, then the default
NO_DATE = -1  # a missing close date (dates are proleptic ordinals, always > 0)

# Event stream codes.
OPEN, WON, LOST = 0, 1, 2
CATEGORIES = ("pipeline", "best_case", "commit", "omitted")


# ----------------------------------------------------------------------------------------- data
@dataclass
class History:
    """The pipeline's history as arrays (deal columns are indexed 0..D-1; streams are sorted by deal, time).

    Times are epoch seconds, dates proleptic ordinals, amounts base-currency minor units.
    Each "from/to" stream answers "value at t": the ``to`` of the last change at or before ``t``, else
    the ``from`` of the first change (the value the deal was created with), else the deal's current value.
    """

    deal_ids: np.ndarray
    deal_created: np.ndarray
    deal_owner: np.ndarray  # current owner (fallback when no owner change was ever recorded)
    deal_close_on: np.ndarray  # current expected close ordinal or NO_DATE
    deal_category: np.ndarray  # current category override code, -1 for none
    deal_probability: np.ndarray  # current probability override 0..1, nan for none
    stage_deal: np.ndarray  # created / stage changed / won / lost / reopened
    stage_time: np.ndarray
    stage_stage: np.ndarray  # stage id after the event
    stage_status: np.ndarray  # OPEN / WON / LOST after the event
    stage_amount: np.ndarray  # the deal's amount after the event
    amount_deal: np.ndarray  # every event carries the amount after it
    amount_time: np.ndarray
    amount_value: np.ndarray
    close_deal: np.ndarray
    close_time: np.ndarray
    close_from: np.ndarray
    close_to: np.ndarray
    owner_deal: np.ndarray
    owner_time: np.ndarray
    owner_from: np.ndarray
    owner_to: np.ndarray
    category_deal: np.ndarray
    category_time: np.ndarray
    category_from: np.ndarray
    category_to: np.ndarray
    probability_deal: np.ndarray
    probability_time: np.ndarray
    probability_from: np.ndarray
    probability_to: np.ndarray
    stage_ids: np.ndarray  # all stages, open ones first in pipeline order
    stage_probability: np.ndarray  # configured, 0..1
    stage_category: np.ndarray  # default category code (-1 closed)
    stage_is_open: np.ndarray
    stage_names: list[str] = field(default_factory=list)
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def stage_index(self) -> dict[int, int]:
        if "stage_index" not in self._cache:
            self._cache["stage_index"] = {int(stage): index for index, stage in enumerate(self.stage_ids)}
        return self._cache["stage_index"]

    def stage_event_index(self) -> np.ndarray:
        """Per stage event, the index of its stage into ``stage_ids`` (computed once, vectorised)."""
        if "stage_event_index" not in self._cache:
            order = np.argsort(self.stage_ids, kind="stable")
            position = np.searchsorted(self.stage_ids[order], self.stage_stage)
            self._cache["stage_event_index"] = order[np.minimum(position, len(order) - 1)].astype(np.int64)
        return self._cache["stage_event_index"]

    def last_close_time(self) -> np.ndarray:
        """Per deal, the time of its last won/lost event if its final state is closed, else +inf."""
        if "last_close" not in self._cache:
            result = np.full(len(self.deal_ids), np.iinfo(np.int64).max, dtype=np.int64)
            if len(self.stage_deal):
                last = np.r_[np.nonzero(np.diff(self.stage_deal))[0], len(self.stage_deal) - 1]
                closed = self.stage_status[last] != OPEN
                result[self.stage_deal[last[closed]]] = self.stage_time[last[closed]]
            self._cache["last_close"] = result
        return self._cache["last_close"]


@dataclass
class Calendar:
    """Consecutive periods: ``starts[i]``..``starts[i+1]`` as instants and as date ordinals."""

    keys: list[str]
    start_times: np.ndarray  # len P+1 (the last is the end of the last period)
    start_ordinals: np.ndarray  # len P+1
    periods_per_year: int  # 12 for months, 4 for quarters

    def index_of(self, moment: int | np.ndarray) -> Any:
        return np.searchsorted(self.start_times, moment, side="right") - 1

    def phase_of(self, moment: int) -> int:
        """The fine phase (0..PHASES-1): how much of its period had elapsed at ``moment``."""
        index = int(self.index_of(moment))
        start, end = self.start_times[index], self.start_times[index + 1]
        return min(PHASES - 1, int(PHASES * (moment - start) / (end - start)))

    def remaining_fraction(self, moment: int) -> float:
        index = int(self.index_of(moment))
        start, end = self.start_times[index], self.start_times[index + 1]
        return float(max(0.0, min(1.0, (end - moment) / (end - start))))


def coarse_phase(phase: int | np.ndarray) -> Any:
    """The quarter of the period (0..COARSE_PHASES-1) a fine phase falls in."""
    return phase // (PHASES // COARSE_PHASES)


_SPAN = np.int64(1 << 34)  # seconds per deal slot in a combined (deal, time) sort key


def _key(deals: np.ndarray, times: np.ndarray) -> np.ndarray:
    return deals.astype(np.int64) * _SPAN + (times.astype(np.int64) + (1 << 33))


def _last_at_or_before(stream_deal, stream_time, deals, times) -> tuple[np.ndarray, np.ndarray]:
    """Index of each deal's last stream row with time <= t, and whether there is one."""
    if len(stream_deal) == 0:
        return np.zeros(len(deals), dtype=np.int64), np.zeros(len(deals), dtype=bool)
    index = np.searchsorted(_key(stream_deal, stream_time), _key(deals, times), side="right") - 1
    safe = np.maximum(index, 0)
    return safe, (index >= 0) & (stream_deal[safe] == deals)


def _first_after(stream_deal, stream_time, deals, times) -> tuple[np.ndarray, np.ndarray]:
    """Index of each deal's first stream row with time > t, and whether there is one."""
    if len(stream_deal) == 0:
        return np.zeros(len(deals), dtype=np.int64), np.zeros(len(deals), dtype=bool)
    index = np.searchsorted(_key(stream_deal, stream_time), _key(deals, times), side="right")
    safe = np.minimum(index, len(stream_deal) - 1)
    return safe, (index < len(stream_deal)) & (stream_deal[safe] == deals)


def _value_as_of(stream_deal, stream_time, stream_from, stream_to, current, deals, times) -> np.ndarray:
    previous, has_previous = _last_at_or_before(stream_deal, stream_time, deals, times)
    result = current[deals].copy()
    if len(stream_deal):
        first = np.searchsorted(stream_deal, deals, side="left")
        safe_first = np.minimum(first, len(stream_deal) - 1)
        has_any = (first < len(stream_deal)) & (stream_deal[safe_first] == deals)
        result = np.where(has_any, stream_from[safe_first], result)
        result = np.where(has_previous, stream_to[previous], result)
    return result


@dataclass
class States:
    """Open deals at one or more as-of times (one row per deal and time)."""

    point: np.ndarray  # index of the as-of time
    time: np.ndarray  # the as-of time
    deal: np.ndarray  # deal index into History
    stage: np.ndarray  # stage index into History.stage_ids
    age_days: np.ndarray
    amount: np.ndarray
    close_on: np.ndarray
    owner: np.ndarray
    category: np.ndarray  # code into CATEGORIES
    probability_override: np.ndarray  # 0..1 or nan

    def __len__(self) -> int:
        return len(self.deal)

    def subset(self, mask: np.ndarray) -> States:
        return States(**{name: getattr(self, name)[mask] for name in self.__dataclass_fields__})


def states_as_of(history: History, times: list[int] | np.ndarray) -> States:
    """The open deals at each time, from events at or before that time only (no look-ahead)."""
    times = np.asarray(times, dtype=np.int64)
    last_close = history.last_close_time()
    point_parts, deal_parts = [], []
    for point, moment in enumerate(times):
        alive = np.nonzero((history.deal_created <= moment) & (last_close > moment))[0]
        point_parts.append(np.full(len(alive), point, dtype=np.int64))
        deal_parts.append(alive)
    points = np.concatenate(point_parts) if point_parts else np.zeros(0, dtype=np.int64)
    deals = np.concatenate(deal_parts) if deal_parts else np.zeros(0, dtype=np.int64)
    moments = times[points] if len(points) else np.zeros(0, dtype=np.int64)
    index, found = _last_at_or_before(history.stage_deal, history.stage_time, deals, moments)
    is_open = found & (history.stage_status[index] == OPEN) if len(deals) else found
    points, deals, moments, index = points[is_open], deals[is_open], moments[is_open], index[is_open]
    stage = history.stage_event_index()[index]
    amount_index, _ = _last_at_or_before(history.amount_deal, history.amount_time, deals, moments)
    amount = history.amount_value[amount_index] if len(history.amount_value) else np.zeros(len(deals))
    close_on = _value_as_of(
        history.close_deal,
        history.close_time,
        history.close_from,
        history.close_to,
        history.deal_close_on,
        deals,
        moments,
    )
    owner = _value_as_of(
        history.owner_deal,
        history.owner_time,
        history.owner_from,
        history.owner_to,
        history.deal_owner,
        deals,
        moments,
    )
    category = _value_as_of(
        history.category_deal,
        history.category_time,
        history.category_from,
        history.category_to,
        history.deal_category,
        deals,
        moments,
    )
    category = np.where(category < 0, history.stage_category[stage], category)
    probability = _value_as_of(
        history.probability_deal,
        history.probability_time,
        history.probability_from,
        history.probability_to,
        history.deal_probability,
        deals,
        moments,
    )
    return States(
        point=points,
        time=moments,
        deal=deals,
        stage=stage,
        age_days=(moments - history.stage_time[index]) / DAY,
        amount=amount.astype(np.float64),
        close_on=close_on.astype(np.int64),
        owner=owner.astype(np.int64),
        category=category.astype(np.int64),
        probability_override=probability.astype(np.float64),
    )


def age_bucket(age_days: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.asarray(AGE_BUCKETS[1:]), age_days, side="right")


def first_won_after(history: History, deals: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Per (deal, t): the time of the deal's first win after t, or +inf (int64 max)."""
    won = history.stage_status == WON
    index, found = _first_after(history.stage_deal[won], history.stage_time[won], deals, times)
    result = np.full(len(deals), np.iinfo(np.int64).max, dtype=np.int64)
    if found.any():
        result[found] = history.stage_time[won][index[found]]
    return result


def in_period_flags(close_on: np.ndarray, calendar: Calendar, target: np.ndarray, horizon: int) -> np.ndarray:
    """Close date inside the target period (for the current period, an overdue date counts as inside)."""
    end = calendar.start_ordinals[target + 1]
    valid = close_on != NO_DATE
    if horizon == 0:
        return valid & (close_on < end)
    return valid & (close_on >= calendar.start_ordinals[target]) & (close_on < end)


# -------------------------------------------------------------------------------------- closed deals
def closed_as_of(history: History, moment: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deals closed at ``moment``: (deal index, close time, is won), from events at or before it."""
    deals = np.nonzero(history.deal_created <= moment)[0]
    index, found = _last_at_or_before(
        history.stage_deal, history.stage_time, deals, np.full(len(deals), moment, dtype=np.int64)
    )
    closed = found & (history.stage_status[index] != OPEN)
    return deals[closed], history.stage_time[index[closed]], history.stage_status[index[closed]] == WON


def bookings_between(history: History, start: int, end: int) -> float:
    """Bookings: the amounts of win events with start <= time < end (a deal won twice counts twice)."""
    won = history.stage_status == WON
    times = history.stage_time[won]
    return float(history.stage_amount[won][(times >= start) & (times < end)].sum())


def owner_bookings_by_period(
    history: History, calendar: Calendar, *, as_of: int, first: int, last: int
) -> dict[str, list[float]]:
    """Per owner at the time of the win (id as text): bookings of periods first..last-1, from win events
    at or before ``as_of``."""
    won = (history.stage_status == WON) & (history.stage_time <= as_of)
    times = history.stage_time[won]
    index = calendar.index_of(times)
    keep = (index >= first) & (index < last)
    deals, times, amounts, index = (
        history.stage_deal[won][keep],
        times[keep],
        history.stage_amount[won][keep],
        index[keep],
    )
    owners = _value_as_of(
        history.owner_deal,
        history.owner_time,
        history.owner_from,
        history.owner_to,
        history.deal_owner,
        deals,
        times,
    )
    size = max(0, last - first)
    return {
        str(int(owner)): np.bincount(
            index[owners == owner] - first, weights=amounts[owners == owner], minlength=size
        )
        .astype(float)
        .tolist()
        for owner in np.unique(owners)
    }


def bookings_by_period(history: History, calendar: Calendar, *, as_of: int) -> np.ndarray:
    """Bookings per calendar period from win events at or before ``as_of``."""
    won = (history.stage_status == WON) & (history.stage_time <= as_of)
    index = calendar.index_of(history.stage_time[won])
    valid = (index >= 0) & (index < len(calendar.keys))
    return np.bincount(index[valid], weights=history.stage_amount[won][valid], minlength=len(calendar.keys))
