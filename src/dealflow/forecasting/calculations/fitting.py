"""Fitting the probability models (L1 learned rates, L2 by age, L3 within-period) and the run-rate."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dealflow.forecasting.calculations.history import (
    AGE_BUCKETS,
    COARSE_PHASES,
    DAY,
    DRIFT_DEFAULT,
    DRIFT_MIN_POINTS,
    L1_MIN_CLOSED,
    L2_MIN_CLOSED,
    L3_MIN_POINTS,
    L3_MIN_ROWS,
    OPEN,
    PHASES,
    PRIOR_STRENGTH,
    STAY_MIN_SPELLS,
    TRAILING_DAYS,
    WON,
    Calendar,
    History,
    States,
    _value_as_of,
    age_bucket,
    bookings_by_period,
    closed_as_of,
    coarse_phase,
    first_won_after,
    in_period_flags,
    owner_bookings_by_period,
    states_as_of,
)
from dealflow.forecasting.calculations.trends import new_deal_trend, season_run_rate, stage_trend


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
    # per horizon: [{"phase": p, "by_owner": {owner: amount}, "season": period of the year of the target}]
    new_points: list[list[dict]]
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
    # per stage: recent against long-run survival of the stage and the later ones (``stage_trend``)
    stage_trend: list[float] = field(default_factory=list)
    # the same for a deal not created yet: ``stage_trend`` of the stages new deals start in, weighted by
    # how many of the trailing window's deals started there (``new_deal_trend``; 1: no trend)
    new_deal_trend: float = 1.0
    # per horizon: the run-rate's factor per period of the year (``season_factors``; empty: none), and the
    # period of the year of the as-of time's period (what horizon 0 targets; -1 unknown)
    new_season: list[list[float]] = field(default_factory=list)
    season: int = -1

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
        history.owner_deal,
        history.owner_time,
        history.owner_from,
        history.owner_to,
        history.deal_owner,
        won_deal,
        won_time,
    )
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


def _shrink_within(wins: np.ndarray, count: np.ndarray, *, stage_mass: bool = True) -> np.ndarray:
    """Shrink cells [fine phase, stage, bucket, flag] -> the same cell of its quarter of the period, shrunk
    [quarter, stage, bucket, flag] -> (quarter, stage, flag) -> (quarter, stage) -> quarter.

    The fine phase matters because the chance of winning inside what is left of the period falls steeply
    as the period runs out: pooled by quarter, a forecast made early in a quarter under-forecast and one
    made late over-forecast (up to +-15 % of the total at 100,000 deals). With few deals the quarter's
    rate carries the cell.

    ``stage_mass``: then, per quarter of the period and stage, the cells are scaled so that over the
    training rows they add up to the wins that stage really had (``stage_mass_scale``). Shrinking towards
    parents pooled over all stages pulls a late stage's high rates down and an early stage's up; with few
    deals that cost the small team 1-4 % of this month's wins on its own training rows.
    """
    shrunk = beta_mean(wins, count, _within_prior(wins, count), PRIOR_STRENGTH)
    return np.minimum(shrunk * stage_mass_scale(wins, count, shrunk), 1.0) if stage_mass else shrunk


def stage_mass_scale(wins: np.ndarray, count: np.ndarray, shrunk: np.ndarray) -> np.ndarray:
    """Per cell [fine phase, stage, bucket, flag], the factor that makes the shrunk rates of its quarter of
    the period and stage add up, over the training rows, to that group's wins: sum W / sum N x p (1 where
    the group has no expected win)."""
    ratio = PHASES // COARSE_PHASES
    shape = (COARSE_PHASES, ratio, *wins.shape[1:])
    actual = wins.reshape(shape).sum(axis=(1, 3, 4))
    expected = (count * shrunk).reshape(shape).sum(axis=(1, 3, 4))
    scale = np.divide(actual, expected, out=np.ones_like(actual), where=expected > 0)
    return np.repeat(scale, ratio, axis=0)[:, :, None, None]


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


def fit(
    history: History,
    calendar: Calendar,
    panel: Panel | None,
    moment: int,
    *,
    horizons: int = 4,
    trend: bool = True,
    trend_new_deals: bool = True,
    seasonal: bool = True,
    stage_mass: bool = True,
) -> Fit:
    """Fit L1, L2 and L3 and the run-rate at ``moment`` from data known then (see module docstring).
    ``trend=False`` leaves out the recent-exit factor (``stage_trend``; the benchmark's "before"), and
    ``trend_new_deals=False`` only its part for deals not created yet (``new_deal_trend``);
    ``seasonal=False`` leaves out the run-rate's period-of-year factors (``season_factors``);
    ``stage_mass=False`` the L3 cells' rescaling per stage (``stage_mass_scale``)."""
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
                            "season": calendar.season_of(end_index - 1),
                        }
                    )
        if level == "L2" and l3_points >= L3_MIN_POINTS and count3[0].sum() >= L3_MIN_ROWS:
            level = "L3"
        shrunk = np.stack(
            [_shrink_within(wins3[h], count3[h], stage_mass=stage_mass) for h in range(horizons)]
        )
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
    trend_factors = stage_trend(history, moment) if trend else np.ones(stages)
    new_season = season_run_rate(history, calendar, moment, horizons) if seasonal else []
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
        stage_trend=trend_factors.tolist() if trend else [],
        new_deal_trend=new_deal_trend(history, moment, trend_factors) if trend and trend_new_deals else 1.0,
        new_season=new_season,
        season=calendar.season_of(current),
    )


def _p_win_for(level: str, configured, learned, aged, stage: np.ndarray, buckets: np.ndarray) -> np.ndarray:
    """The eventual win probability of rows at a level: configured (L0), learned (L1), by age (L2, L3)."""
    if level == "L0":
        return np.asarray(configured)[stage]
    if level == "L1":
        return np.asarray(learned)[stage]
    return np.asarray(aged)[stage, buckets]
