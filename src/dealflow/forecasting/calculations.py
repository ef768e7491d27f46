"""Forecast maths on numpy arrays, without the ORM (docs/forecasting.md explains every formula).

The pipeline's history arrives as arrays built from the DealEvent log (``History``). Everything a
forecast made at time ``t`` uses is computed from events with ``occurred_at <= t`` only:

* ``states_as_of``: the open deals at ``t`` with stage, age in stage, amount, close date, owner, category.
* ``fit``: the probability models, each falling back to the one before when history is thin:
  L0 configured stage probability; L1 learned reached-stage win rate with a Beta prior;
  L2 win rate by age in stage (buckets, shrunk to the stage rate); L3 conversion *within a period*
  learned from weekly as-of states (stage x age bucket x close-date-in-period flag, per horizon and
  phase of the period, shrunk cell -> (stage, flag) -> stage -> all); plus a run-rate for bookings
  from deals not yet created.
* ``simulate``: a seeded, vectorised Monte Carlo of revenue per owner, period and draw.
* accuracy, WAPE, bias, coverage and calibration (Brier, skill, ECE).
"""

from __future__ import annotations

import itertools
import math
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
        history.close_deal, history.close_time, history.close_from, history.close_to,
        history.deal_close_on, deals, moments,
    )  # fmt: skip
    owner = _value_as_of(
        history.owner_deal, history.owner_time, history.owner_from, history.owner_to,
        history.deal_owner, deals, moments,
    )  # fmt: skip
    category = _value_as_of(
        history.category_deal, history.category_time, history.category_from, history.category_to,
        history.deal_category, deals, moments,
    )  # fmt: skip
    category = np.where(category < 0, history.stage_category[stage], category)
    probability = _value_as_of(
        history.probability_deal, history.probability_time, history.probability_from,
        history.probability_to, history.deal_probability, deals, moments,
    )  # fmt: skip
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


# ------------------------------------------------------------------------------------------- fitting
def beta_mean(wins: np.ndarray, count: np.ndarray, prior: np.ndarray, strength: float) -> np.ndarray:
    """Posterior mean of a Beta prior of strength ``strength`` centred on ``prior``: (W + n0 p0) / (N + n0)."""
    return (wins + strength * prior) / (count + strength)


@dataclass
class Fit:
    """Fitted parameters at one as-of time (JSON-serialisable through ``as_dict``)."""

    as_of: int
    level: str  # highest level available: L0..L3
    closed_count: int
    stage_ids: list[int]
    configured: list[float]
    stage_wins: list[int]
    stage_count: list[int]
    learned: list[float]  # L1 per stage
    aged: list[list[float]]  # L2 [stage][bucket]
    aged_count: list[list[int]]
    within: list | None  # L3 [horizon][phase][stage][bucket][flag]
    within_count: list | None
    l3_points: int
    new_points: list[list[dict]]  # per horizon: [{"phase": p, "by_owner": {owner: amount}}]
    bookings: list[float]  # won per completed period before as_of, oldest first (run-rate)
    last_year: list[float]  # per horizon: bookings of the same period a year earlier, nan unknown
    drift: list[list[float]]  # [horizon][coarse phase]: relative SD of the per-draw drift factor
    drift_points: list[list[int]]  # past weekly points it was measured on (0: DRIFT_DEFAULT)
    # per owner (id as text): bookings of the same completed periods as ``bookings`` (run-rate baselines)
    owner_bookings: dict[str, list[float]] = field(default_factory=dict)
    # per stage, from won deals: mean days from entering the stage to the win (timing of undated deals),
    # and the P90 of their stays in it (0: too few spells) beyond which a deal's probability decays
    stage_close_days: list[float] = field(default_factory=list)
    stage_stay_days: list[float] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict) -> Fit:
        return cls(**data)


def _stage_fit(history: History, moment: int) -> tuple:
    """L1 and L2 counts from deals closed in the trailing window at ``moment``."""
    stages = len(history.stage_ids)
    wins = np.zeros(stages)
    count = np.zeros(stages)
    aged_wins = np.zeros((stages, len(AGE_BUCKETS)))
    aged_count = np.zeros((stages, len(AGE_BUCKETS)))
    close_days = np.zeros(stages)
    stay_days = np.zeros(stages)
    deals, close_time, is_won = closed_as_of(history, moment)
    recent = close_time > moment - TRAILING_DAYS * DAY
    deals, is_won, close_time = deals[recent], is_won[recent], close_time[recent]
    if len(deals) == 0:
        return 0, wins, count, aged_wins, aged_count, close_days, stay_days
    won_by_deal = np.zeros(len(history.deal_ids), dtype=bool)
    won_by_deal[deals] = is_won
    selected = np.zeros(len(history.deal_ids), dtype=bool)
    selected[deals] = True
    rows = np.nonzero(selected[history.stage_deal] & (history.stage_time <= moment))[0]
    row_deal = history.stage_deal[rows]
    row_stage = history.stage_event_index()[rows]
    row_open = history.stage_status[rows] == OPEN
    # A spell runs from a stage event to the deal's next stage event.
    next_time = np.r_[history.stage_time[rows][1:], 0]
    same_deal_next = np.r_[row_deal[1:] == row_deal[:-1], False]
    spell = row_open & same_deal_next
    # L1: each (deal, stage) reached counts once.
    reached = np.zeros(len(history.deal_ids) * stages, dtype=bool)  # a marker array: no sort needed
    reached[row_deal[row_open] * stages + row_stage[row_open]] = True
    pairs = np.flatnonzero(reached)
    pair_deal, pair_stage = pairs // stages, pairs % stages
    count += np.bincount(pair_stage, minlength=stages)
    wins += np.bincount(pair_stage, weights=won_by_deal[pair_deal].astype(float), minlength=stages)
    # L2: a spell that lasted d days was in its stage at every age below d.
    duration = (next_time[spell] - history.stage_time[rows][spell]) / DAY
    spell_stage = row_stage[spell]
    spell_won = won_by_deal[row_deal[spell]].astype(float)
    for bucket, lower in enumerate(AGE_BUCKETS):
        reached = duration >= lower
        aged_count[:, bucket] += np.bincount(spell_stage[reached], minlength=stages)
        aged_wins[:, bucket] += np.bincount(
            spell_stage[reached], weights=spell_won[reached], minlength=stages
        )
    # Timing (deals without a close date) and usual stay (ageing): from won deals only.
    closed_at = np.zeros(len(history.deal_ids))
    closed_at[deals] = close_time
    entered = row_open & won_by_deal[row_deal]
    to_close = (closed_at[row_deal[entered]] - history.stage_time[rows][entered]) / DAY
    entries = np.bincount(row_stage[entered], minlength=stages)
    close_days = np.divide(
        np.bincount(row_stage[entered], weights=to_close, minlength=stages),
        entries,
        out=np.zeros(stages),
        where=entries > 0,
    )
    won_spells = spell_won > 0
    for stage in range(stages):
        stays = duration[won_spells & (spell_stage == stage)]
        if len(stays) >= STAY_MIN_SPELLS:
            stay_days[stage] = float(np.quantile(stays, 0.9))
    return len(deals), wins, count, aged_wins, aged_count, close_days, stay_days


@dataclass
class Panel:
    """Weekly as-of states over the whole history, with outcomes, computed once per history."""

    times: np.ndarray
    states: States
    won_at: np.ndarray  # per state row: first win after the as-of time (int64 max if none)
    period: np.ndarray  # per state row: index of the period containing its as-of time
    phase: np.ndarray  # per point
    new_wins: list  # per point: list over horizons of {owner: amount} for deals created after the point


def weekly_points(first: int, last: int, *, anchor: int) -> np.ndarray:
    """Every 7 days from the first anchor-aligned time >= first up to last (inclusive)."""
    week = 7 * DAY
    start = anchor + math.ceil((first - anchor) / week) * week
    if start > last:
        return np.zeros(0, dtype=np.int64)
    return np.arange(start, last + 1, week, dtype=np.int64)


def build_panel(history: History, calendar: Calendar, times: np.ndarray, *, horizons: int) -> Panel:
    """Open deals at each weekly time, with their first win after it and the bookings from newer deals."""
    states = states_as_of(history, times)
    won_at = first_won_after(history, states.deal, states.time)
    period = calendar.index_of(states.time)
    phase = np.array([calendar.phase_of(int(moment)) for moment in times], dtype=np.int64)
    # Bookings from deals created after each point and won inside its target periods.
    won = history.stage_status == WON
    won_deal, won_time = history.stage_deal[won], history.stage_time[won]
    first_win = np.unique(won_deal, return_index=True)  # a deal's first win counts
    won_deal, won_time = first_win[0], won_time[first_win[1]]
    won_amount = history.stage_amount[won][first_win[1]]
    won_created = history.deal_created[won_deal]
    won_owner = _value_as_of(
        history.owner_deal, history.owner_time, history.owner_from, history.owner_to,
        history.deal_owner, won_deal, won_time,
    )  # fmt: skip
    won_period = calendar.index_of(won_time)
    new_wins = []
    for moment in times:
        base = int(calendar.index_of(int(moment)))
        per_horizon = []
        for horizon in range(horizons):
            mask = (won_period == base + horizon) & (won_created > moment)
            totals: dict[int, float] = {}
            for owner, amount in zip(won_owner[mask].tolist(), won_amount[mask].tolist(), strict=True):
                totals[owner] = totals.get(owner, 0.0) + amount
            per_horizon.append(totals)
        new_wins.append(per_horizon)
    return Panel(times=times, states=states, won_at=won_at, period=period, phase=phase, new_wins=new_wins)


def _shrink_within(wins: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Shrink cells [fine phase, stage, bucket, flag] -> the same cell of its quarter of the period, shrunk
    [quarter, stage, bucket, flag] -> (quarter, stage, flag) -> (quarter, stage) -> quarter.

    The fine phase matters because the chance of winning inside what is left of the period falls steeply
    as the period runs out: pooled by quarter, a forecast made early in a quarter under-forecast and one
    made late over-forecast (up to +-15 % of the total at 100,000 deals). With few deals the quarter's
    rate carries the cell.
    """
    return beta_mean(wins, count, _within_prior(wins, count), PRIOR_STRENGTH)


def _within_prior(wins: np.ndarray, count: np.ndarray) -> np.ndarray:
    """What each fine cell is shrunk to: its quarter's cell, itself shrunk as ``_shrink_within`` says."""
    m = PRIOR_STRENGTH
    ratio = PHASES // COARSE_PHASES
    coarse_wins = wins.reshape(COARSE_PHASES, ratio, *wins.shape[1:]).sum(axis=1)
    coarse_count = count.reshape(COARSE_PHASES, ratio, *count.shape[1:]).sum(axis=1)
    top_wins, top_count = coarse_wins.sum(axis=(1, 2, 3)), coarse_count.sum(axis=(1, 2, 3))
    top = np.divide(top_wins, top_count, out=np.zeros_like(top_wins), where=top_count > 0)
    stage = beta_mean(coarse_wins.sum(axis=(2, 3)), coarse_count.sum(axis=(2, 3)), top[:, None], m)
    flag = beta_mean(coarse_wins.sum(axis=2), coarse_count.sum(axis=2), stage[:, :, None], m)
    coarse = beta_mean(coarse_wins, coarse_count, flag[:, :, None, :], m)
    return np.repeat(coarse, ratio, axis=0)


def drift_from_residuals(expected: np.ndarray, realized: np.ndarray, variance: np.ndarray) -> float:
    """Relative SD of a shared drift factor F (mean 1) from past forecasts: sqrt(max(0, S) / sum E^2),
    S = sum ((R - E)^2 - V).

    Per past weekly point, E is the expected revenue from its open deals, R what they really brought in
    the target period and V = sum p (1 - p) A^2 the spread of independent deal outcomes. With a factor F
    of variance s^2 on the rates, Var(R - E) = V + s^2 E^2, so the excess of the squared errors over what
    independent draws explain estimates s^2 (method of moments, weighted by E^2).
    """
    expected, realized = np.asarray(expected, dtype=float), np.asarray(realized, dtype=float)
    scale = float((expected**2).sum())
    if scale <= 0:
        return 0.0
    excess = float(((realized - expected) ** 2 - np.asarray(variance, dtype=float)).sum())
    return math.sqrt(max(0.0, excess) / scale)


def drift_factors(drift: np.ndarray, draws: int, seed: int) -> np.ndarray:
    """Per horizon and draw, a lognormal factor with mean 1 and relative SD ``drift[h]``: [H, draws].

    One standard normal z per draw, shared by every deal, owner and horizon (a draw where rates run
    high runs high everywhere, so roll-ups stay sums); F = exp(s z - s^2 / 2) with s^2 = ln(1 + drift^2),
    divided by its mean over the draws so that it leaves the simulated mean exactly as it was. Its own
    generator (seed, 1): adding a deal changes no factor.
    """
    drift = np.asarray(drift, dtype=float)
    z = np.random.default_rng([seed, 1]).standard_normal(draws)
    sigma = np.sqrt(np.log1p(drift**2))[:, None]
    factor = np.exp(sigma * z[None, :] - sigma**2 / 2)
    return factor / factor.mean(axis=1, keepdims=True)


def fit(history: History, calendar: Calendar, panel: Panel | None, moment: int, *, horizons: int = 4) -> Fit:
    """Fit L1, L2 and L3 and the run-rate at ``moment`` from data known then (see module docstring)."""
    stages = len(history.stage_ids)
    closed, wins, count, aged_wins, aged_count, close_days, stay_days = _stage_fit(history, moment)
    configured = history.stage_probability.astype(float)
    learned = beta_mean(wins, count, configured, PRIOR_STRENGTH)
    aged = beta_mean(aged_wins, aged_count, learned[:, None], PRIOR_STRENGTH)
    level = "L0" if closed < L1_MIN_CLOSED else ("L1" if closed < L2_MIN_CLOSED else "L2")

    within = within_count = None
    l3_points = 0
    new_points: list[list[dict]] = [[] for _ in range(horizons)]
    drift = [[DRIFT_DEFAULT] * COARSE_PHASES for _ in range(horizons)]
    drift_points = [[0] * COARSE_PHASES for _ in range(horizons)]
    if panel is not None and len(panel.times):
        training = []
        in_window = (panel.times <= moment) & (panel.times > moment - TRAILING_DAYS * DAY)
        point_period = calendar.index_of(panel.times)
        wins3 = np.zeros((horizons, PHASES, stages, len(AGE_BUCKETS), 2))
        count3 = np.zeros_like(wins3)
        states = panel.states
        row_ok = in_window[states.point]
        buckets = age_bucket(states.age_days)
        for horizon in range(horizons):
            target = panel.period + horizon
            ended = calendar.start_times[np.minimum(target + 1, len(calendar.start_times) - 1)] <= moment
            ended &= target + 1 < len(calendar.start_times)
            rows = np.nonzero(row_ok & ended)[0]
            if horizon == 0:
                l3_points = int(np.count_nonzero(np.bincount(states.point[rows], minlength=1)))
            flags = in_period_flags(states.close_on[rows], calendar, target[rows], horizon).astype(np.int64)
            label = (panel.won_at[rows] >= calendar.start_times[target[rows]]) & (
                panel.won_at[rows] < calendar.start_times[target[rows] + 1]
            )
            cell = np.ravel_multi_index(
                (panel.phase[states.point[rows]], states.stage[rows], buckets[rows], flags),
                (PHASES, stages, len(AGE_BUCKETS), 2),
            )
            size = PHASES * stages * len(AGE_BUCKETS) * 2
            count3[horizon] = np.bincount(cell, minlength=size).reshape(count3[horizon].shape)
            wins3[horizon] = np.bincount(cell, weights=label.astype(float), minlength=size).reshape(
                wins3[horizon].shape
            )
            training.append((rows, flags, cell, label))
            for point in np.nonzero(in_window)[0]:
                end_index = point_period[point] + horizon + 1
                if end_index < len(calendar.start_times) and calendar.start_times[end_index] <= moment:
                    new_points[horizon].append(
                        {
                            "phase": int(panel.phase[point]),
                            "by_owner": {str(k): v for k, v in panel.new_wins[point][horizon].items()},
                        }
                    )
        if level == "L2" and l3_points >= L3_MIN_POINTS and count3[0].sum() >= L3_MIN_ROWS:
            level = "L3"
        shrunk = np.stack([_shrink_within(wins3[h], count3[h]) for h in range(horizons)])
        within = shrunk.tolist()
        within_count = count3.astype(int).tolist()
        for horizon, (rows, flags, cell, label) in enumerate(training):
            if len(rows) == 0:
                continue  # no past week with a finished outcome yet: the default stays
            p_win = _p_win_for(level, configured, learned, aged, states.stage[rows], buckets[rows])
            if level == "L3":
                # Each past week is scored with cells that leave out its own target period's rows
                # (leave-one-period-out), so the errors are those of a forecast that had not seen it.
                cells = wins3[horizon].size
                group = panel.period[rows] - panel.period[rows].min()
                key = group * cells + cell
                own_count = np.bincount(key)[key]
                own_wins = np.bincount(key, weights=label.astype(float))[key]
                prior = _within_prior(wins3[horizon], count3[horizon]).ravel()[cell]
                p_rows = beta_mean(
                    wins3[horizon].ravel()[cell] - own_wins,
                    count3[horizon].ravel()[cell] - own_count,
                    prior,
                    PRIOR_STRENGTH,
                )
                p_rows = np.minimum(p_rows, p_win)
            else:
                p_rows = p_win * flags
            override = states.probability_override[rows]
            overridden = ~np.isnan(override)
            base = p_win[overridden]
            p_rows[overridden] *= np.divide(
                override[overridden], base, out=np.ones_like(base), where=base > 0
            )
            p_rows = np.clip(p_rows, 0, 1)
            amount = states.amount[rows]
            row_point = states.point[rows]
            size = len(panel.times)
            expected = np.bincount(row_point, weights=p_rows * amount, minlength=size)
            realized = np.bincount(row_point, weights=label * amount, minlength=size)
            variance = np.bincount(row_point, weights=p_rows * (1 - p_rows) * amount**2, minlength=size)
            scored = np.bincount(row_point, minlength=size) > 0
            quarter = coarse_phase(panel.phase)
            for phase in range(COARSE_PHASES):
                chosen = scored & (quarter == phase)
                if int(chosen.sum()) < DRIFT_MIN_POINTS:
                    chosen = scored  # pool the quarters
                if int(chosen.sum()) >= DRIFT_MIN_POINTS:
                    drift[horizon][phase] = drift_from_residuals(
                        expected[chosen], realized[chosen], variance[chosen]
                    )
                    drift_points[horizon][phase] = int(chosen.sum())

    # Bookings of completed periods before the as-of time (run-rate and same period last year).
    current = int(calendar.index_of(moment))
    booked = bookings_by_period(history, calendar, as_of=moment)
    bookings = [
        float(booked[index]) for index in range(max(0, current - 2 * calendar.periods_per_year), current)
    ]
    last_year = []
    for horizon in range(horizons):
        index = current + horizon - calendar.periods_per_year
        known = index >= 0 and calendar.start_times[index + 1] <= moment
        last_year.append(float(booked[index]) if known else float("nan"))
    owner_booked = owner_bookings_by_period(
        history, calendar, as_of=moment, first=max(0, current - 2 * calendar.periods_per_year), last=current
    )
    return Fit(
        as_of=int(moment),
        level=level,
        closed_count=int(closed),
        stage_ids=[int(value) for value in history.stage_ids],
        configured=configured.tolist(),
        stage_wins=wins.astype(int).tolist(),
        stage_count=count.astype(int).tolist(),
        learned=learned.tolist(),
        aged=aged.tolist(),
        aged_count=aged_count.astype(int).tolist(),
        within=within,
        within_count=within_count,
        l3_points=int(l3_points),
        new_points=new_points,
        bookings=bookings,
        last_year=last_year,
        drift=drift,
        drift_points=drift_points,
        owner_bookings=owner_booked,
        stage_close_days=close_days.tolist(),
        stage_stay_days=stay_days.tolist(),
    )


def _p_win_for(level: str, configured, learned, aged, stage: np.ndarray, buckets: np.ndarray) -> np.ndarray:
    """The eventual win probability of rows at a level: configured (L0), learned (L1), by age (L2, L3)."""
    if level == "L0":
        return np.asarray(configured)[stage]
    if level == "L1":
        return np.asarray(learned)[stage]
    return np.asarray(aged)[stage, buckets]


# ---------------------------------------------------------------------------------------- prediction
@dataclass
class Prediction:
    """Per open deal: eventual win probability and win probability inside each period."""

    method: str
    level: str
    p_win: np.ndarray
    p_period: np.ndarray  # [deal, horizon]
    source: list[str]  # configured / learned / overridden
    new_mean: float = 0.0


def method_level(fit_result: Fit, method: str) -> str:
    if method == "configured":
        return "L0"
    if method == "learned":
        return min(fit_result.level, "L2")
    return fit_result.level


def predict(
    fit_result: Fit, states: States, calendar: Calendar, moment: int, *, method: str, horizons: int = 4
) -> Prediction:
    """Probabilities for the open deals at ``moment`` under a method (configured, learned, dealflow)."""
    level = method_level(fit_result, method)
    buckets = age_bucket(states.age_days)
    p_win = _p_win_for(
        level, fit_result.configured, fit_result.learned, fit_result.aged, states.stage, buckets
    )
    current = int(calendar.index_of(moment))
    targets = np.full(len(states), current, dtype=np.int64)
    flags = np.stack(
        [in_period_flags(states.close_on, calendar, targets + h, h) for h in range(horizons)], axis=1
    )
    if level == "L3" and fit_result.within is not None:
        phase = calendar.phase_of(moment)
        within = np.asarray(fit_result.within)
        p_period = np.stack(
            [within[h, phase, states.stage, buckets, flags[:, h].astype(np.int64)] for h in range(horizons)],
            axis=1,
        )
        p_period = np.minimum(p_period, p_win[:, None])  # never more likely this period than at all
    else:
        if level in ("L1", "L2"):
            p_win = (
                p_win * ageing_factor(states.age_days, np.asarray(fit_result.stage_stay_days)[states.stage])
                if fit_result.stage_stay_days
                else p_win
            )
        p_period = p_win[:, None] * flags
        if level in ("L1", "L2") and fit_result.stage_close_days:
            undated = np.nonzero(states.close_on == NO_DATE)[0]
            mean_days = np.asarray(fit_result.stage_close_days)[states.stage[undated]]
            p_period[undated] = p_win[undated, None] * closing_shares(mean_days, calendar, moment, horizons)
    overridden = ~np.isnan(states.probability_override)
    if overridden.any():
        override = states.probability_override[overridden]
        scale = np.divide(
            override, p_win[overridden], out=np.ones_like(override), where=p_win[overridden] > 0
        )
        p_period[overridden] = p_period[overridden] * scale[:, None]
        p_win = p_win.copy()
        p_win[overridden] = override
    total = p_period.sum(axis=1)
    too_much = total > 1
    p_period[too_much] /= total[too_much, None]
    source_name = "configured" if level == "L0" else "learned"
    source = ["overridden" if flag else source_name for flag in overridden.tolist()]
    return Prediction(method=method, level=level, p_win=p_win, p_period=p_period, source=source)


def ageing_factor(age_days: np.ndarray, stay_days: np.ndarray) -> np.ndarray:
    """1 up to twice the stage's usual stay (P90 of won deals' stays), then halved for every further
    usual stay: 0.5 ** ((age - 2 P90) / P90). A stage with too few won spells to know (P90 = 0): 1."""
    stay = np.asarray(stay_days, dtype=float)
    over = np.divide(
        np.asarray(age_days, dtype=float) - 2 * stay, stay, out=np.zeros(len(stay)), where=stay > 0
    )
    return np.power(0.5, np.maximum(over, 0.0))


def closing_shares(mean_days: np.ndarray, calendar: Calendar, moment: int, horizons: int) -> np.ndarray:
    """Per deal without a close date: the share of its eventual win falling in each period, [deal, horizon].

    Time to close from now is taken as exponential with the stage's mean days from entry to win (T), so
    the share of period h = exp(-(start_h - now) / T) - exp(-(end_h - now) / T), start_0 = now. A stage
    without won deals to learn from (T = 0) closes nothing in these periods.
    """
    current = int(calendar.index_of(moment))
    result = np.zeros((len(mean_days), horizons))
    known = np.asarray(mean_days, dtype=float) > 0
    scale = np.where(known, np.asarray(mean_days, dtype=float), 1.0) * DAY
    for horizon in range(horizons):
        start = moment if horizon == 0 else int(calendar.start_times[current + horizon])
        end = int(calendar.start_times[current + horizon + 1])
        result[:, horizon] = np.exp(-(start - moment) / scale) - np.exp(-(end - moment) / scale)
    result[~known] = 0.0
    return result


def new_bookings_samples(
    fit_result: Fit, owners: np.ndarray, phase: int, horizons: int, remaining: float
) -> list[np.ndarray]:
    """Per horizon: a (samples x owners) matrix of past bookings from deals created after the as-of time.

    Samples come from past weeks in the same quarter of their period when there are enough of them; with
    fewer than RUN_RATE_MIN_POINTS no run-rate is added (zero matrix).
    """
    result = []
    for horizon in range(horizons):
        points = fit_result.new_points[horizon] if horizon < len(fit_result.new_points) else []
        quarter = coarse_phase(phase)
        same_phase = [point for point in points if coarse_phase(point["phase"]) == quarter]
        chosen = same_phase if len(same_phase) >= RUN_RATE_MIN_POINTS else points
        if len(chosen) < RUN_RATE_MIN_POINTS:
            result.append(np.zeros((1, len(owners))))
            continue
        matrix = np.array(
            [[point["by_owner"].get(str(int(owner)), 0.0) for owner in owners] for point in chosen]
        )
        result.append(matrix)
    return result


# -------------------------------------------------------------------------------------- Monte Carlo
def simulate(
    *,
    amounts: np.ndarray,
    p_period: np.ndarray,
    leaf: np.ndarray,
    leaves: int,
    draws: int,
    seed: int,
    new_samples: list[np.ndarray] | None = None,
    drift: np.ndarray | None = None,
    chunk: int = 64,
) -> np.ndarray:
    """Revenue from open deals (plus new bookings) per leaf, horizon and draw: array [leaves, H, draws].

    With ``drift`` (a relative SD per horizon), each draw's revenue from open deals is multiplied by one
    factor of mean 1 shared by all deals and leaves (``drift_factors``): win rates that run high or low
    together in a given week, which independent deal draws cannot show.

    Each deal draws one outcome per draw: won in horizon h (probability p_period[:, h]) or not won in
    the horizons at all. One uniform number u per (deal, draw), compared with the deal's cumulative
    probabilities, decides it: won in h when c[h-1] <= u < c[h]. Uniforms are 16-bit integers (the
    probabilities are rounded to 1/65536, a bias below 0.00002 per deal), taken four at a time from the
    generator's raw 64-bit output, because generating and comparing them is several times faster than
    float64. Deals are processed by leaf (owner) in chunks of ``chunk`` rows, small enough for the
    chunk's uniforms, masks and products to stay in the CPU cache; a chunk's revenue per draw is a
    multiply-and-sum over its rows in float32 (plain numpy, no BLAS: OpenBLAS threads made the same
    product 4-20x slower on a busy 2-core machine, see docs/benchmarks.md).

    A row's random numbers depend only on its position among the rows with a chance of winning, in
    leaf order, so changing one deal's probability leaves every other deal's draws as they were.
    """
    horizons = p_period.shape[1] if p_period.ndim == 2 else 0
    result = np.zeros((leaves, horizons, draws))
    rng = np.random.default_rng(seed)
    if len(amounts) and horizons:
        order = np.argsort(leaf, kind="stable")
        cumulative = np.cumsum(np.clip(p_period[order], 0, 1), axis=1)
        thresholds = np.minimum(np.round(cumulative * 65536), 65536).astype(np.uint32)
        active = thresholds[:, -1] > 0  # a deal with no chance in any horizon draws nothing
        order, thresholds = order[active], thresholds[active]
        amounts32 = np.asarray(amounts, dtype=np.float64)[order].astype(np.float32)[:, None]
        # Compare uint16 with uint16; a threshold of 65536 (a certain win) becomes 65535 plus a fix-up.
        thresholds16 = np.minimum(thresholds, 65535).astype(np.uint16)
        certain = thresholds == 65536
        sorted_leaf = leaf[order]
        boundaries = np.r_[0, np.nonzero(np.diff(sorted_leaf))[0] + 1, len(order)]
        mask = np.empty((chunk, draws), dtype=bool)
        product = np.empty((chunk, draws), dtype=np.float32)
        revenue = np.empty(draws, dtype=np.float32)
        previous = np.empty(draws, dtype=np.float32)
        for first, last in itertools.pairwise(boundaries.tolist()):
            if first == last:
                continue  # no deal with a chance left (boundaries [0, 0]): nothing to draw
            target = result[sorted_leaf[first]]
            for start in range(first, last, chunk):
                stop = min(start + chunk, last)
                rows = stop - start
                words = -(-rows * draws // 4)
                uniform = rng.bit_generator.random_raw(words).view(np.uint16)[: rows * draws]
                uniform = uniform.reshape(rows, draws)
                previous.fill(0)
                for horizon in range(horizons):
                    np.less(uniform, thresholds16[start:stop, horizon : horizon + 1], out=mask[:rows])
                    fix = np.nonzero(certain[start:stop, horizon])[0]
                    if len(fix):
                        mask[fix] = True
                    np.multiply(mask[:rows], amounts32[start:stop], out=product[:rows])
                    np.sum(product[:rows], axis=0, out=revenue)
                    target[horizon] += revenue
                    target[horizon] -= previous
                    previous, revenue = revenue, previous
    if drift is not None and horizons and np.any(np.asarray(drift)[:horizons] > 0):
        result *= drift_factors(np.asarray(drift)[:horizons], draws, seed)[None, :, :]
    if new_samples is not None:
        for horizon, matrix in enumerate(new_samples[:horizons]):
            if not matrix.any():
                continue
            pick = rng.integers(0, matrix.shape[0], size=draws)
            result[:, horizon, :] += matrix[pick].T
    return result


@dataclass
class Summary:
    mean: float
    p10: float
    p50: float
    p90: float
    p_quota: float | None
    standard_error: float


def summarise(revenue: np.ndarray, *, closed: float = 0.0, quota: float | None = None) -> Summary:
    """Mean, P10, P50, P90 and P(revenue >= quota) of draws (closed-to-date added to every draw)."""
    total = revenue + closed
    p10, p50, p90 = np.quantile(total, [0.1, 0.5, 0.9])
    p_quota = float(np.mean(total >= quota)) if quota is not None else None
    return Summary(
        mean=float(total.mean()),
        p10=float(p10),
        p50=float(p50),
        p90=float(p90),
        p_quota=p_quota,
        standard_error=float(total.std(ddof=1) / math.sqrt(len(total))) if len(total) > 1 else 0.0,
    )


def expected_and_variance(amounts: np.ndarray, probabilities: np.ndarray) -> tuple[float, float]:
    """The normal approximation: mean = sum p A, variance = sum p (1 - p) A^2."""
    return float((probabilities * amounts).sum()), float(
        (probabilities * (1 - probabilities) * amounts**2).sum()
    )


def simulate_plain_python(
    amounts: list[float], p_period: list[list[float]], draws: int, seed: int
) -> list[list[float]]:
    """The same Monte Carlo as ``simulate`` for one leaf, as plain Python loops (the benchmark baseline)."""
    import random

    generator = random.Random(seed)
    horizons = len(p_period[0]) if p_period else 0
    result = [[0.0] * draws for _ in range(horizons)]
    for draw in range(draws):
        for amount, probabilities in zip(amounts, p_period, strict=True):
            u = generator.random()
            cumulative = 0.0
            for horizon in range(horizons):
                cumulative += probabilities[horizon]
                if u < cumulative:
                    result[horizon][draw] += amount
                    break
    return result


# ------------------------------------------------------------------------------------------ accuracy
def accuracy(actual: float, forecast: float) -> float | None:
    """1 - |A - F| / A; undefined (None) when nothing closed."""
    if actual <= 0:
        return None
    return 1 - abs(actual - forecast) / actual


def wape(actuals: list[float], forecasts: list[float]) -> float | None:
    """Weighted absolute percentage error: sum |A - F| / sum A."""
    total = sum(actuals)
    if total <= 0:
        return None
    return sum(abs(a - f) for a, f in zip(actuals, forecasts, strict=True)) / total


def bias(actuals: list[float], forecasts: list[float]) -> float | None:
    """sum (F - A) / sum A: positive means over-forecast."""
    total = sum(actuals)
    if total <= 0:
        return None
    return sum(f - a for a, f in zip(actuals, forecasts, strict=True)) / total


def coverage(actuals: list[float], lows: list[float], highs: list[float]) -> float | None:
    """Share of actuals inside [P10, P90]."""
    if not actuals:
        return None
    inside = sum(1 for a, low, high in zip(actuals, lows, highs, strict=True) if low <= a <= high)
    return inside / len(actuals)


@dataclass
class Calibration:
    count: int
    predicted: float
    observed: float
    brier: float
    base_rate_brier: float
    skill: float | None
    ece: float
    reliability: list[dict]


def calibration(
    predicted: np.ndarray, outcome: np.ndarray, *, bins: int = 10, base_rate: float | None = None
) -> Calibration:
    """Brier score, skill against predicting the base rate, reliability table and expected calibration error."""
    predicted = np.asarray(predicted, dtype=float)
    outcome = np.asarray(outcome, dtype=float)
    count = len(predicted)
    if count == 0:
        return Calibration(0, 0.0, 0.0, 0.0, 0.0, None, 0.0, [])
    rate = float(outcome.mean()) if base_rate is None else base_rate
    brier = float(np.mean((predicted - outcome) ** 2))
    reference = float(np.mean((rate - outcome) ** 2))
    skill = 1 - brier / reference if reference > 0 else None
    index = np.minimum((predicted * bins).astype(int), bins - 1)
    reliability, ece = [], 0.0
    for bin_index in range(bins):
        mask = index == bin_index
        if not mask.any():
            continue
        mean_predicted, mean_observed = float(predicted[mask].mean()), float(outcome[mask].mean())
        ece += mask.sum() / count * abs(mean_predicted - mean_observed)
        reliability.append(
            {
                "low": bin_index / bins,
                "high": (bin_index + 1) / bins,
                "count": int(mask.sum()),
                "predicted": mean_predicted,
                "observed": mean_observed,
            }
        )
    return Calibration(
        count=count,
        predicted=float(predicted.mean()),
        observed=float(outcome.mean()),
        brier=brier,
        base_rate_brier=reference,
        skill=skill,
        ece=float(ece),
        reliability=reliability,
    )


def calibration_from_groups(
    probability_bin: np.ndarray,
    outcome: np.ndarray,
    count: np.ndarray,
    sum_p: np.ndarray,
    sum_p2: np.ndarray,
    *,
    bins: int = 10,
    base_rate: float | None = None,
) -> Calibration:
    """``calibration`` from rows already grouped by (probability bin, outcome), as SQL returns them.

    Each group holds ``count`` rows with outcome 0 or 1, the sum of their probabilities and of their
    squares; with y in {0, 1}, sum (p - y)^2 = sum p^2 - 2 y sum p + y n, so every figure is exact.
    """
    probability_bin = np.asarray(probability_bin, dtype=np.int64)
    outcome, count = np.asarray(outcome, dtype=float), np.asarray(count, dtype=float)
    sum_p, sum_p2 = np.asarray(sum_p, dtype=float), np.asarray(sum_p2, dtype=float)
    total = int(count.sum())
    if total == 0:
        return Calibration(0, 0.0, 0.0, 0.0, 0.0, None, 0.0, [])
    observed = float((count * outcome).sum() / total)
    rate = observed if base_rate is None else base_rate
    brier = float((sum_p2 - 2 * outcome * sum_p + outcome * count).sum() / total)
    reference = float((count * (rate - outcome) ** 2).sum() / total)
    reliability, ece = [], 0.0
    for bin_index in range(bins):
        mask = np.minimum(probability_bin, bins - 1) == bin_index
        members = count[mask].sum()
        if not members:
            continue
        mean_predicted = float(sum_p[mask].sum() / members)
        mean_observed = float((count[mask] * outcome[mask]).sum() / members)
        ece += members / total * abs(mean_predicted - mean_observed)
        reliability.append(
            {
                "low": bin_index / bins,
                "high": (bin_index + 1) / bins,
                "count": int(members),
                "predicted": mean_predicted,
                "observed": mean_observed,
            }
        )
    return Calibration(
        count=total,
        predicted=float(sum_p.sum() / total),
        observed=observed,
        brier=brier,
        base_rate_brier=reference,
        skill=1 - brier / reference if reference > 0 else None,
        ece=float(ece),
        reliability=reliability,
    )


# ---------------------------------------------------------------------------------------- backtest
MODEL_METHODS = ("dealflow", "learned", "configured")
BASELINE_METHODS = ("run_rate", "last_year")
RUN_RATE_PERIODS = 6


def forecast_draws(
    fit_result: Fit,
    states: States,
    calendar: Calendar,
    moment: int,
    *,
    method: str,
    horizons: int,
    leaf: np.ndarray,
    leaf_owners: list[np.ndarray],
    draws: int,
    seed: int,
) -> tuple[Prediction, np.ndarray]:
    """Per-deal probabilities and revenue draws [leaf, horizon, draw] from open deals and new bookings.

    ``leaf`` maps each state row to a leaf (usually its owner); ``leaf_owners[i]`` lists the owner ids
    whose past new-deal bookings feed leaf i's run-rate (only the "dealflow" method adds a run-rate).
    """
    prediction = predict(fit_result, states, calendar, moment, method=method, horizons=horizons)
    new_samples = drift = None
    if method == "dealflow":
        quarter = coarse_phase(calendar.phase_of(moment))
        last = len(fit_result.drift) - 1
        drift = np.array([fit_result.drift[min(horizon, last)][quarter] for horizon in range(horizons)])
        all_owners = np.unique(np.concatenate(leaf_owners)) if leaf_owners else np.zeros(0, dtype=np.int64)
        per_owner = new_bookings_samples(
            fit_result, all_owners, calendar.phase_of(moment), horizons, calendar.remaining_fraction(moment)
        )
        position = {int(owner): index for index, owner in enumerate(all_owners)}
        new_samples = []
        for matrix in per_owner:
            columns = [
                matrix[:, [position[int(owner)] for owner in owners]].sum(axis=1)
                if len(owners)
                else np.zeros(matrix.shape[0])
                for owners in leaf_owners
            ]
            new_samples.append(np.stack(columns, axis=1) if columns else np.zeros((matrix.shape[0], 0)))
        prediction.new_mean = float(sum(matrix.mean(axis=0).sum() for matrix in new_samples))
    revenue = simulate(
        amounts=states.amount,
        p_period=prediction.p_period,
        leaf=leaf,
        leaves=len(leaf_owners),
        draws=draws,
        seed=seed,
        new_samples=new_samples,
        drift=drift,
    )
    return prediction, revenue


@dataclass
class BacktestRow:
    as_of: int
    horizon: int
    week: int  # whole weeks from the start of the target period (negative: before it starts)
    period: str
    method: str
    forecast: float
    p10: float | None
    p90: float | None
    actual: float
    closed: float = 0.0  # bookings closed in the target period by the as-of time (part of forecast)
    target_end: int = 0  # end of the target period: its actual is known from then on
    phase: int = 0  # quarter (0..3) of its own period the as-of time falls in


def backtest(
    history: History,
    calendar: Calendar,
    panel: Panel,
    *,
    points: list[int],
    now: int,
    horizons: int = 2,
    draws: int = 2000,
    seed: int = 0,
    progress=None,
) -> list[BacktestRow]:
    """Forecast each target period from each weekly as-of point with every method, fitted on older data only.

    Only targets that have ended by ``now`` are scored. ``progress(done, total)`` is called after each point.
    """
    rows: list[BacktestRow] = []
    booked_final = bookings_by_period(history, calendar, as_of=now)
    for done, point in enumerate(points, start=1):
        moment = int(panel.times[point])
        current = int(calendar.index_of(moment))
        fit_result = fit(history, calendar, panel, moment, horizons=horizons)
        states = panel.states.subset(panel.states.point == point)
        owners = np.unique(states.owner)
        all_owners = np.unique(
            np.r_[
                owners,
                np.array([int(o) for p in fit_result.new_points[0] for o in p["by_owner"]], dtype=np.int64),
            ]
        )
        closed = bookings_between(history, int(calendar.start_times[current]), moment + 1)
        remaining = calendar.remaining_fraction(moment)
        recent = fit_result.bookings[-RUN_RATE_PERIODS:]
        run_rate = float(np.mean(recent)) if recent else 0.0
        forecasts: dict[str, list[tuple[float, float | None, float | None]]] = {}
        _, revenue = forecast_draws(
            fit_result,
            states,
            calendar,
            moment,
            method="dealflow",
            horizons=horizons,
            leaf=np.zeros(len(states), dtype=np.int64),
            leaf_owners=[all_owners],
            draws=draws,
            seed=seed + point,
        )
        forecasts["dealflow"] = []
        for horizon in range(horizons):
            summary = summarise(revenue[0, horizon], closed=closed if horizon == 0 else 0.0)
            forecasts["dealflow"].append((summary.mean, summary.p10, summary.p90))
        for method in ("learned", "configured"):
            # Comparisons without a simulation: their mean is sum p A; their range comes from calibration.
            prediction = predict(fit_result, states, calendar, moment, method=method, horizons=horizons)
            expected = (states.amount[:, None] * prediction.p_period).sum(axis=0)
            forecasts[method] = [
                ((closed if horizon == 0 else 0.0) + float(expected[horizon]), None, None)
                for horizon in range(horizons)
            ]
        fraction = [remaining] + [1.0] * (horizons - 1)
        base = [closed] + [0.0] * (horizons - 1)
        forecasts["run_rate"] = [(base[h] + run_rate * fraction[h], None, None) for h in range(horizons)]
        forecasts["last_year"] = [
            (
                base[h]
                + (fit_result.last_year[h] if not math.isnan(fit_result.last_year[h]) else run_rate)
                * fraction[h],
                None,
                None,
            )
            for h in range(horizons)
        ]
        for horizon in range(horizons):
            target = current + horizon
            if target + 1 >= len(calendar.start_times) or calendar.start_times[target + 1] > now:
                continue
            week = int((moment - calendar.start_times[target]) // (7 * DAY))
            for method, values in forecasts.items():
                mean, low, high = values[horizon]
                rows.append(
                    BacktestRow(
                        moment,
                        horizon,
                        week,
                        calendar.keys[target],
                        method,
                        mean,
                        low,
                        high,
                        float(booked_final[target]),
                        closed=closed if horizon == 0 else 0.0,
                        target_end=int(calendar.start_times[target + 1]),
                        phase=int(coarse_phase(calendar.phase_of(moment))),
                    )
                )
        if progress is not None:
            progress(done, len(points))
    return rows


def backtest_table(
    rows: list[BacktestRow], *, scored_from: int | None = None, now: int | None = None
) -> dict:
    """Accuracy, WAPE, bias and P10-P90 coverage per method and lead time after calibration, the default
    method per horizon, and the corrections the page applies from ``now`` on (``calibration``).

    Every forecast is bias-corrected and given a range from the errors of forecasts whose targets had
    ended by its as-of time (``calibration.calibrate``); rows before ``scored_from`` only feed that.
    The default is the method with the lowest WAPE, baselines (run-rate, same period last year,
    weighted pipeline) and the skill-weighted blend included; ``raw`` keeps the uncorrected scores.
    """
    from dealflow.forecasting import calibration

    plain = [_calibration_row(row) for row in rows]
    items = calibration.calibrate(plain, scored_from=scored_from)
    groups: dict[tuple, list] = {}
    for item in items:
        row = item.row
        week = row.week
        lead = f"week {week}" if row.horizon == 0 else "next period"
        groups.setdefault((row.method, row.horizon, lead, week if row.horizon == 0 else 99), []).append(item)
    table = []
    for (method, horizon, lead, order), members in sorted(
        groups.items(), key=lambda item: (item[0][1], item[0][3], item[0][0])
    ):
        if not any(item.scored for item in members):
            continue
        table.append(
            calibration.score(members) | {"method": method, "horizon": horizon, "lead": lead, "order": order}
        )
    choice = calibration.choose_default(items)
    this_period = choice.get("0", {"scores": {}, "default": None, "best_baseline": None, "margin": None})
    overall = {
        method: value | {"method": method}
        for method, value in this_period["scores"].items()
        if value["count"]
    }
    scored_rows = [row for row in rows if scored_from is None or row.as_of >= scored_from]
    raw = {}
    for method in {row.method for row in scored_rows}:
        members = [row for row in scored_rows if row.method == method and row.horizon == 0]
        if members:
            raw[method] = _score(method, members)
    default = this_period["default"]
    last_known = max((row.target_end for row in rows), default=0)
    return {
        "rows": table,
        "overall": overall,
        "raw": raw,
        "default_method": default or "dealflow",
        "scored": default is not None,
        "best_baseline": this_period["best_baseline"],
        "margin": this_period["margin"],
        "beats_baselines": None
        if this_period["margin"] is None
        else this_period["margin"] > 0 or default in calibration.BASELINES,
        "by_horizon": {
            horizon: {key: value for key, value in entry.items() if key != "scores"}
            | {"scores": {method: score for method, score in entry["scores"].items() if score["count"]}}
            for horizon, entry in choice.items()
        },
        "calibration": calibration.current_corrections(plain, now=now if now is not None else last_known),
    }


def _calibration_row(row: BacktestRow):
    from dealflow.forecasting.calibration import Row

    return Row(
        as_of=row.as_of,
        horizon=row.horizon,
        phase=row.phase,
        target_end=row.target_end,
        method=row.method,
        closed=row.closed,
        forecast=row.forecast,
        p10=row.p10,
        p90=row.p90,
        actual=row.actual,
        week=row.week,
    )


def _score(method: str, members: list[BacktestRow]) -> dict:
    actuals = [row.actual for row in members]
    forecasts = [row.forecast for row in members]
    accuracies = [
        value for value in (accuracy(row.actual, row.forecast) for row in members) if value is not None
    ]
    with_range = [row for row in members if row.p10 is not None and row.p90 is not None]
    return {
        "method": method,
        "count": len(members),
        "accuracy": float(np.mean(accuracies)) if accuracies else None,
        "wape": wape(actuals, forecasts),
        "bias": bias(actuals, forecasts),
        "coverage": coverage(
            [row.actual for row in with_range],
            [float(row.p10) for row in with_range],  # type: ignore[arg-type]
            [float(row.p90) for row in with_range],  # type: ignore[arg-type]
        )
        if with_range
        else None,
    }


def bookings_by_owner(history: History, start: int, end: int) -> dict[int, float]:
    """Win events in [start, end) summed by the deal's owner at the time of the win."""
    won = (history.stage_status == WON) & (history.stage_time >= start) & (history.stage_time < end)
    deals, times, amounts = history.stage_deal[won], history.stage_time[won], history.stage_amount[won]
    owners = _value_as_of(
        history.owner_deal, history.owner_time, history.owner_from, history.owner_to,
        history.deal_owner, deals, times,
    )  # fmt: skip
    totals: dict[int, float] = {}
    for owner, amount in zip(owners.tolist(), amounts.tolist(), strict=True):
        totals[int(owner)] = totals.get(int(owner), 0.0) + amount
    return totals
