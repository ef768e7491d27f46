"""Honest forecasts from a backtest: bias correction, calibrated ranges and the choice of default method.

Pure maths on backtest rows, without the ORM (docs/forecasting.md, "Calibration", gives the formulas).

Every forecast is split into what is already known and what is not: F = C + U, with C the bookings
closed so far in the target period (0 for a later period) and U the method's forecast of the rest.
Each past forecast whose target period has ended gives a ratio e = (A - C) / U, what really came in
against what the method expected. From the ratios known at the time of a forecast (targets ended at or
before its as-of time: nothing later), per method, horizon and quarter of the period:

* bias correction: R = sum (A - C) / sum U over the last BIAS_POINTS past forecasts, moved towards 1 by
  one standard error of its per-period ratios (``_bias_ratio``); the corrected forecast is C + r U. Each
  horizon has its own history: next period's forecasts are corrected from next period's past errors.
* range: P10 = C + q10 U and P90 = C + q90 U, with q10, q90 the empirical 10th and 90th percentiles of
  the ratios (a split-conformal interval: if the next ratio is drawn like the past ones, it falls in
  between 80 % of the time). With fewer than MIN_POINTS ratios the range is "uncalibrated": C + r U
  times (1 -+ UNCALIBRATED_WIDTH), and never narrower than the method's own simulated range. Each end
  of a calibrated range then moves with its own record: its distance from the corrected forecast is
  stretched by 1 + ADAPT_RATE x sum over ended periods (share of their forecasts beyond that end -
  0.1) (``_adaptive_stretch``: adaptive conformal inference), never by less than ADAPT_FLOOR.
* blend: C + sum_m w_m r_m U_m, with weights w_m proportional to 1 / MSE_m of each method's corrected
  past forecasts (methods with an MSE within BLEND_KEEP of the best only); its range is calibrated from
  its own past ratios like any method.

``calibrate`` replays the backtest in time order so every row is corrected with what was known at its
as-of time; ``choose_default`` picks, per horizon, the method (baselines and the blend included) with
the lowest WAPE over the scored rows, and says by how much it beat or lost to the best baseline.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

MIN_POINTS = 12  # fewer past ratios of a method and horizon -> "uncalibrated" (wider range)
TRAILING_POINTS = 52  # the most recent past ratios used for the range (a year of weekly forecasts)
BIAS_POINTS = 26  # ... and for the bias (half a year: rates that drift are followed sooner)
BIAS_THRESHOLD = 1.0  # standard errors of the bias that are left uncorrected (noise, not bias)
LEVEL_PERIODS = 18  # later periods: the bias level from the last 18 ended target periods
LEVEL_DRIFTS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)  # drift variance / noise variance tried (lambda)
ADAPT_RATE = 0.4  # per past period outside (inside) a range's end, how far it moves (``_adaptive_stretch``)
ADAPT_FLOOR = 0.5  # ... but an end never comes closer to the forecast than half its conformal distance
UNCALIBRATED_WIDTH = 0.5  # +-50 % of the uncertain part when the range cannot be calibrated yet
LOW, HIGH = 0.1, 0.9
BLEND = "blend"
FIRST_BLEND = "dealflow"
BLEND_KEEP = 1.5  # methods whose past MSE is within 1.5x of the best one's take part in the blend
BASELINES = ("run_rate", "last_year", "configured")  # configured = the weighted pipeline
BIAS_TARGET = 0.05  # |bias| <= 5 %: the target, for the noise figures of ``score``


@dataclass(frozen=True)
class Correction:
    """What is applied to a method's uncertain part U: mean C + ratio U, range C + low U .. C + high U."""

    ratio: float
    low: float
    median: float
    high: float
    points: int
    calibrated: bool
    # share of the past ratios at 0 or below (nothing more came in): the chance that the range's
    # lower end is exactly what has closed so far (``score`` counts such an outcome by it)
    floor: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


UNCORRECTED = Correction(1.0, 1 - UNCALIBRATED_WIDTH, 1.0, 1 + UNCALIBRATED_WIDTH, 0, False)


@dataclass(frozen=True)
class Settings:
    """How past errors become a correction (docs/forecasting.md, "Calibration").

    ``this_period_ranks`` / ``later_ranks``: where P10 and P90 sit among the n sorted past ratios of this
    period's / later periods' forecasts: "conformal", the whole ranks floor(0.1 (n + 1)) and
    ceil(0.9 (n + 1)), which hold at least 80 % (84.6 % with 12 ratios); "interpolated", the fractional
    ranks 0.1 (n + 1) and 0.9 (n + 1), interpolated between neighbours, which hold about 80 % (since
    2026-12-06 evening for later periods). ``later_bias``: the bias of later periods from a "level" that
    follows a drift (``_bias_level``) or from the "window" of this period's rule (before).
    ``blend_bias``: the blend corrected from its own past errors like any method (before: never).
    ``later_ranges``: later periods' ranges also hold the past ratios re-centred on today's correction
    and widen when the level drifts ("drift", since 2026-12-06 night) or not ("ratios").
    ``later_scale``: the level followed on the log scale of the monthly ratios whenever every month in
    its window brought something ("log", since 2026-12-07), or on the ratios themselves ("ratio").
    ``adaptive_ranges``: each end of every calibrated range stretched or narrowed by how often past
    ranges missed on that side (``_adaptive_stretch``, since 2026-12-07 midday), or not.
    ``adaptive_floor``: the least that stretch may be (since 2026-12-07 afternoon ADAPT_FLOOR = 0.5; 0
    before: after a long run of months inside it, an end could close onto the forecast itself)."""

    this_period_ranks: str = "conformal"
    later_ranks: str = "interpolated"
    later_bias: str = "level"
    blend_bias: bool = True
    later_ranges: str = "drift"
    later_scale: str = "log"
    adaptive_ranges: bool = True
    adaptive_floor: float = ADAPT_FLOOR


CURRENT = Settings()
UNFLOORED = Settings(adaptive_floor=0.0)  # until 2026-12-07 afternoon
LOG_LEVEL = Settings(adaptive_ranges=False)  # until 2026-12-07 midday (branch helper-forecast)
RATIO_LEVEL = Settings(later_scale="ratio", adaptive_ranges=False)  # until 2026-12-07 (branch fcst18e)
PREVIOUS = Settings(  # until 2026-12-06 night (branch fcst18d)
    later_ranges="ratios", later_scale="ratio", adaptive_ranges=False
)
BEFORE = Settings(  # until 2026-12-06 evening
    later_ranks="conformal",
    later_bias="window",
    blend_bias=False,
    later_ranges="ratios",
    later_scale="ratio",
    adaptive_ranges=False,
)


def correction_from(
    past: list[tuple[float, ...]],
    bias_past: list[tuple[float, ...]] | None = None,
    *,
    horizon: int = 0,
    blend: bool = False,
    settings: Settings = CURRENT,
) -> Correction:
    """The correction from past (target end, U, A - C[, r]), oldest first; rows with U <= 0 carry no
    ratio; r, when given, is the ratio that corrected that forecast (later periods' ranges use it).

    The range uses the n ratios of ``past`` (``Settings``: ranks per horizon); the bias ratio comes from ``bias_past``
    (default ``past``): for this period (``horizon`` 0) the last BIAS_POINTS of them, see
    ``_bias_ratio``; for later periods ``_bias_level`` over the last LEVEL_PERIODS periods.
    ``blend``: the blend's correction: from the window at every horizon (its members' corrections follow
    a drift already; a level on top of theirs doubled it), ratio 1 without ``Settings.blend_bias``.
    """
    recent = [item for item in past if item[1] > 0][-TRAILING_POINTS:]
    points = len(recent)
    if points == 0:
        return UNCORRECTED
    bias_items = recent if bias_past is None else bias_past
    if blend:
        ratio = _bias(bias_items, 0, settings) if settings.blend_bias else 1.0
    else:
        ratio = _bias(bias_items, horizon, settings)
    if points < MIN_POINTS:
        return Correction(
            ratio, ratio * (1 - UNCALIBRATED_WIDTH), ratio, ratio * (1 + UNCALIBRATED_WIDTH), points, False
        )
    uncertain = np.array([item[1] for item in recent], dtype=float)
    came_in = np.array([item[2] for item in recent], dtype=float)
    ratios = np.sort(came_in / uncertain)
    interpolated = (settings.later_ranks if horizon > 0 else settings.this_period_ranks) == "interpolated"
    low, high = _range_of(ratios, interpolated)
    if horizon > 0 and settings.later_ranges == "drift":
        low, high = _drift_range(recent, bias_items, ratio, (low, high), horizon, interpolated)
    if settings.adaptive_ranges:
        stretch_low, stretch_high = (
            max(value, settings.adaptive_floor) for value in _adaptive_stretch(bias_items)
        )
        low = max(ratio - stretch_low * max(ratio - low, 0.0), 0.0)
        high = ratio + stretch_high * max(high - ratio, 0.0)
    floor = float(np.mean(ratios <= 0))
    return Correction(ratio, min(low, ratio), float(np.median(ratios)), max(high, ratio), points, True, floor)


def _range_of(ratios: np.ndarray, interpolated: bool) -> tuple[float, float]:
    """P10 and P90 among sorted ratios: at the exact ranks 0.1 (n + 1) and 0.9 (n + 1) (``interpolated``)
    or at the whole ranks floor(0.1 (n + 1)) and ceil(0.9 (n + 1))."""
    points = len(ratios)
    if interpolated:
        return _at_rank(ratios, LOW * (points + 1)), _at_rank(ratios, HIGH * (points + 1))
    return (
        float(ratios[max(math.floor(LOW * (points + 1)) - 1, 0)]),
        float(ratios[min(math.ceil(HIGH * (points + 1)) - 1, points - 1)]),
    )


def _drift_range(
    recent: list[tuple[float, ...]],
    bias_items: list[tuple[float, ...]],
    ratio: float,
    plain: tuple[float, float],
    horizon: int,
    interpolated: bool,
) -> tuple[float, float]:
    """Later periods' range when the level may have moved (docs/forecasting.md, "Ranges while rates
    drift"): the wider of the range of the past ratios and of the same ratios re-centred on today's
    correction (each e_i times ratio / r_i, with r_i the correction forecast i had), then its distances
    from ``ratio`` stretched by ``_level_spread`` (1 unless a drift is likelier than a scatter)."""
    low, high = plain
    if all(len(item) > 3 and item[3] > 0 for item in recent):
        moved = np.sort([ratio * (item[2] / item[1]) / item[3] for item in recent])
        moved_low, moved_high = _range_of(moved, interpolated)
        low, high = min(low, moved_low), max(high, moved_high)
    known = [item for item in bias_items if item[1] > 0]
    stretch = _level_spread(*_per_period(known)[-LEVEL_PERIODS:].T, lead=horizon + 1)
    if stretch > 1:
        low = ratio - stretch * max(ratio - low, 0.0)
        high = ratio + stretch * max(high - ratio, 0.0)
    return max(low, 0.0), high


def _adaptive_stretch(items: list[tuple[float, ...]]) -> tuple[float, float]:
    """How far to stretch each end of a range from that end's own record: adaptive conformal inference
    (Gibbs and Candes, 2021; as quantile tracking, Angelopoulos, Candes and Tibshirani, 2023) on the
    distance from the corrected forecast to each end. ``items``: past forecasts (end, U, A - C, r, low,
    high, floor) with the ends and the floor their own range was given, as ratios of U (NaN when it
    was uncalibrated: those do not count). Per ended target period, m_low = the share of its forecasts
    whose ratio fell below their low end, m_high above their high end; each end's distance is
    multiplied by max(0, 1 + ADAPT_RATE x sum over periods (m - 0.1)): a period wholly outside adds
    0.36 to it, one wholly inside takes 0.04 off, so an end settles where 1 period in 10 falls beyond
    it. Per period, not per forecast, because a period's forecasts share its one outcome (4-5 weekly
    forecasts of a month, 13 of a quarter). "Nothing more came in" on a low end at "nothing more",
    predicted with chance ``floor`` > 0.1, counts as 0.1 / floor of a miss below (the part of that
    outcome's chance below the 10th percentile, as in ``inside_share``). (1, 1) without such forecasts."""
    issued = [item for item in items if len(item) > 6 and item[1] > 0 and not math.isnan(item[4])]
    if not issued:
        return 1.0, 1.0
    ends, uncertain, came_in, _, lows, highs, floors = np.array([item[:7] for item in issued], dtype=float).T
    ratios = came_in / uncertain
    tolerance = 1e-9
    below = (ratios < lows - tolerance).astype(float)
    above = (ratios > highs + tolerance).astype(float)
    at_floor = (np.abs(ratios) <= tolerance) & (np.abs(lows) <= tolerance) & (floors > LOW)
    below[at_floor] = LOW / floors[at_floor]
    _, period, forecasts = np.unique(ends, return_inverse=True, return_counts=True)
    share_below = np.bincount(period, weights=below) / forecasts
    share_above = np.bincount(period, weights=above) / forecasts
    return (
        max(1 + ADAPT_RATE * float((share_below - LOW).sum()), 0.0),
        max(1 + ADAPT_RATE * float((share_above - (1 - HIGH)).sum()), 0.0),
    )


def _at_rank(ordered: np.ndarray, rank: float) -> float:
    """The value at a fractional 1-based rank of sorted values, interpolated between its neighbours and
    clamped to the smallest and largest: rank 1.3 of 0.5, 0.6, ... is 0.5 + 0.3 x 0.1 = 0.53."""
    position = min(max(rank, 1.0), float(len(ordered))) - 1
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return float(ordered[below] + (position - below) * (ordered[above] - ordered[below]))


def _bias(items: list[tuple[float, ...]], horizon: int, settings: Settings) -> float:
    known = [item for item in items if item[1] > 0]
    if horizon > 0 and settings.later_bias == "level":
        return _bias_level(*_per_period(known)[-LEVEL_PERIODS:].T, scale=settings.later_scale)
    known = known[-BIAS_POINTS:]
    return _bias_ratio(
        np.array([item[0] for item in known]),
        np.array([item[1] for item in known], dtype=float),
        np.array([item[2] for item in known], dtype=float),
    )


def _per_period(items: list[tuple[float, ...]]) -> np.ndarray:
    """[period, 2]: per target period (oldest first) the sums of U and of A - C of its forecasts."""
    sums: dict[float, list[float]] = {}
    for end, uncertain, came_in, *_ in items:
        pair = sums.setdefault(end, [0.0, 0.0])
        pair[0] += uncertain
        pair[1] += came_in
    return np.array([sums[end] for end in sorted(sums)], dtype=float).reshape(-1, 2)


def _bias_ratio(ends: np.ndarray, uncertain: np.ndarray, came_in: np.ndarray) -> float:
    """sum (A - C) / sum U, moved towards 1 by one standard error (soft threshold): per target period
    the ratio of its sums, SE = their SD / sqrt(periods); r = 1 + sign(R - 1) max(0, |R - 1| - SE)."""
    periods = np.unique(ends)
    if len(periods) < 2:
        return 1.0
    deviation = float(came_in.sum()) / float(uncertain.sum()) - 1
    per_period = np.array([came_in[ends == end].sum() / uncertain[ends == end].sum() for end in periods])
    error = float(per_period.std(ddof=1)) / math.sqrt(len(periods))
    return 1 + math.copysign(max(0.0, abs(deviation) - BIAS_THRESHOLD * error), deviation)


def _bias_level(
    uncertain: np.ndarray, came_in: np.ndarray, *, threshold: bool = True, scale: str = "log"
) -> float:
    """The bias ratio of later periods: a local level (Kalman filter) over the per-period ratios
    y_p = (sum A - C) / (sum U), oldest first. The true ratio b wanders from period to period
    (b_p = b_(p-1) + drift, variance lambda s^2) and each period shows it with noise (y_p = b_p + noise,
    variance s^2); it starts at b = 1 ("no bias") with the weight of one period (variance s^2). Each
    period moves the level by the gain k = P / (P + 1) towards y_p (P the level's variance in units of
    s^2; after the step P = P (1 - k) + lambda). lambda is the value of LEVEL_DRIFTS under which the
    periods seen were likeliest: 0 when the ratios only scatter (the level is then the mean of the periods
    and one extra period at 1), large when they wander (the level follows the recent ones). As in this
    period's rule, what lies within one standard error of 1 is noise: the level's standard error is
    sqrt(P s^2), with s^2 estimated from the innovations, and r = 1 + sign(L - 1) max(0, |L - 1| - SE)
    (``threshold``; without it the level chased noise on steady histories, docs/forecasting.md).

    ``scale="log"`` (since 2026-12-07): when every period brought something (y_p > 0), the same filter
    runs on log y_p from log 1 = 0, and r = exp(sign(L) max(0, |L| - SE)): a ratio is a factor, so a
    month at half the forecast and one at twice it weigh alike, and a slide 1, 0.5, 0.25 is even steps
    (on the ratios themselves a month at 0.3 moves the level less than one at 1.7). With a period at 0
    (nothing came in: a small team's) there is no log and the ratios are used (``scale="ratio"``)."""
    ratios = came_in / uncertain
    if len(ratios) < 2:
        return 1.0
    logged = scale == "log" and bool(np.all(ratios > 0))
    values, start = (np.log(ratios), 0.0) if logged else (ratios, 1.0)
    best: tuple[float, float, float] | None = None
    for drift in LEVEL_DRIFTS:
        level, variance, log_total, scaled = _level_path(values, drift, start=start)
        noise = scaled / len(values)
        likelihood = -0.5 * (len(values) * math.log(max(noise, 1e-12)) + log_total)
        if best is None or likelihood > best[0] + 1e-9:
            best = (likelihood, level, math.sqrt(variance * noise))
    assert best is not None
    _, level, error = best
    if threshold:
        level = start + math.copysign(max(0.0, abs(level - start) - BIAS_THRESHOLD * error), level - start)
    return math.exp(level) if logged else max(level, 0.0)


def _level_spread(uncertain: np.ndarray, came_in: np.ndarray, *, lead: int) -> float:
    """How much wider the next ratio's spread is, ``lead`` periods after the last period seen, under the
    drift the periods make likeliest (``_bias_level``'s filter) than under none: sqrt((P + lead lambda
    + 1) s^2 / ((P0 + 1) s0^2)), with P, s^2 the level's variance and the noise under that drift and P0,
    s0^2 under lambda = 0; 1 when no drift is likelier than a scatter."""
    ratios = came_in / uncertain
    if len(ratios) < 2:
        return 1.0
    best: tuple[float, float] | None = None
    steady = 0.0
    for drift in LEVEL_DRIFTS:
        _level, variance, log_total, scaled = _level_path(ratios, drift)
        noise = scaled / len(ratios)
        likelihood = -0.5 * (len(ratios) * math.log(max(noise, 1e-12)) + log_total)
        predicted = noise * (variance + lead * drift + 1)
        if drift == 0:
            steady = predicted
        if best is None or likelihood > best[0] + 1e-9:
            best = (likelihood, predicted)
    assert best is not None
    return math.sqrt(best[1] / steady) if steady > 0 and best[1] > steady else 1.0


def _level_path(ratios: np.ndarray, drift: float, *, start: float = 1.0) -> tuple[float, float, float, float]:
    """Kalman filter of the local level from b = ``start`` (1: no bias; 0 for log ratios), variance 1
    (units of the noise variance): the final level and its variance (before the next period's drift),
    the sum of log (P + 1) and the sum of innovation^2 / (P + 1) (the likelihood's parts, with the noise
    variance estimated as their mean)."""
    level, variance, filtered, log_total, scaled = start, 1.0, 1.0, 0.0, 0.0
    for value in ratios.tolist():
        total = variance + 1.0
        innovation = value - level
        log_total += math.log(total)
        scaled += innovation * innovation / total
        gain = variance / total
        level += gain * innovation
        filtered = variance * (1 - gain)
        variance = filtered + drift
    return level, filtered, log_total, scaled


@dataclass(frozen=True)
class Row:
    """One backtest forecast, as ``calibrate`` needs it (``calculations.BacktestRow`` has these fields)."""

    as_of: int
    horizon: int
    phase: int  # quarter of its own period the as-of time falls in (0..3)
    target_end: int  # the actual is known from this instant on
    method: str
    closed: float
    forecast: float
    p10: float | None
    p90: float | None
    actual: float
    week: int = 0  # whole weeks from the start of the target period (the lead time)


@dataclass(frozen=True)
class Calibrated:
    row: Row
    forecast: float
    p10: float
    p90: float
    calibrated: bool
    scored: bool  # False for warm-up rows (they only feed the calibration)
    floor: float = 0.0  # the correction's ``floor``: predicted chance that nothing more comes in


def _select(
    history: list[tuple[float, ...]],
    moment: int,
    phase: int,
    *,
    horizon: int = 0,
    blend: bool = False,
    settings: Settings = CURRENT,
) -> Correction:
    """The correction from past (target end, phase, U, A - C) known at ``moment``: the range from those of
    the same quarter of the period when there are MIN_POINTS of them (ratios spread more late in a
    period, when little is left open), else from all; the bias from all (the most recent ones)."""
    known = [(item[0], *item[2:]) for item in history if item[0] <= moment and item[2] > 0]
    same = [
        (item[0], *item[2:]) for item in history if item[0] <= moment and item[2] > 0 and item[1] == phase
    ]
    return correction_from(
        same if len(same) >= MIN_POINTS else known,
        known,
        horizon=horizon,
        blend=blend,
        settings=settings,
    )


def calibrate(
    rows: list[Row], *, scored_from: int | None = None, settings: Settings = CURRENT
) -> list[Calibrated]:
    """Every row corrected and ranged from the rows whose targets had ended by its as-of time, plus one
    ``blend`` row per (as-of time, horizon). Rows before ``scored_from`` are warm-up (not scored)."""
    result: list[Calibrated] = []
    by_key: dict[tuple[int, int], dict[str, Row]] = {}
    for row in rows:
        by_key.setdefault((row.horizon, row.as_of), {})[row.method] = row
    # (target end, phase, U, A - C, the ratio that corrected it) per horizon and method
    history: dict[tuple[int, str], list[tuple[float, ...]]] = {}
    errors: dict[tuple[int, str], list[tuple[int, float]]] = {}  # (target_end, squared error)
    for horizon, moment in sorted(by_key, key=lambda key: (key[1], key[0])):
        members = by_key[(horizon, moment)]
        scored = scored_from is None or moment >= scored_from
        corrected: dict[str, float] = {}
        applied: dict[str, float] = {}
        issued: dict[str, tuple[float, float, float]] = {}
        any_row = next(iter(members.values()))
        for method, row in members.items():
            uncertain = row.forecast - row.closed
            correction = _select(
                history.get((horizon, method), []), moment, row.phase, horizon=horizon, settings=settings
            )
            corrected[method] = correction.ratio * uncertain
            applied[method] = correction.ratio
            issued[method] = _issued(correction)
            result.append(_ranged(row, uncertain, correction, scored))
        weights = _blend_weights(errors, horizon, moment, list(members))
        blend_uncertain = sum(weights[method] * corrected[method] for method in weights)
        blend = replace(any_row, method=BLEND, forecast=any_row.closed + blend_uncertain, p10=None, p90=None)
        correction = _select(
            history.get((horizon, BLEND), []),
            moment,
            blend.phase,
            horizon=horizon,
            blend=True,
            settings=settings,
        )
        result.append(_ranged(blend, blend_uncertain, correction, scored))
        applied[BLEND] = correction.ratio
        issued[BLEND] = _issued(correction)
        for method, row in [*members.items(), (BLEND, blend)]:
            history.setdefault((horizon, method), []).append(
                (
                    row.target_end,
                    row.phase,
                    row.forecast - row.closed,
                    row.actual - row.closed,
                    applied[method],
                    *issued[method],
                )
            )
        for method, value in corrected.items():
            error = (members[method].actual - members[method].closed - value) ** 2
            errors.setdefault((horizon, method), []).append((any_row.target_end, error))
    return result


def _issued(correction: Correction) -> tuple[float, float, float]:
    """The range's ends as ratios of U, when calibrated (what later forecasts' ``_adaptive_stretch`` checks)."""
    if not correction.calibrated:
        return math.nan, math.nan, 0.0
    return correction.low, correction.high, correction.floor


def _ranged(row: Row, uncertain: float, correction: Correction, scored: bool) -> Calibrated:
    mean = row.closed + correction.ratio * uncertain
    if uncertain <= 0:
        return Calibrated(row, row.closed, row.closed, row.closed, correction.calibrated, scored, 1.0)
    low, high = row.closed + correction.low * uncertain, row.closed + correction.high * uncertain
    if not correction.calibrated and row.p10 is not None and row.p90 is not None:
        low, high = min(low, row.p10), max(high, row.p90)  # uncalibrated: never narrower than simulated
    return Calibrated(row, mean, low, high, correction.calibrated, scored, correction.floor)


def inside_share(item: Calibrated) -> float:
    """How much of the P10-P90 band an actual counts for: 1 strictly inside, 0 outside, and for an actual
    of exactly what had closed (nothing more came in) on a lower end at that value, the part of that
    outcome's predicted chance f (``floor``) that lies between the 10th and 90th percentiles:
    (min(f, 0.9) - 0.1) / f.

    A small team often ends a month with nothing more closed: if that happens 4 times in 10, the 10th
    percentile *is* "nothing more", no range can leave out the bottom 10 % alone, and counting every such
    month as inside would report 90 % or more for a range that is right. This is the randomised PIT of
    discrete forecasts (Czado, Gneiting and Held, 2009), in expectation."""
    actual, low, high = item.row.actual, item.p10, item.p90
    tolerance = 1e-9 * max(1.0, abs(actual))
    if actual < low - tolerance or actual > high + tolerance:
        return 0.0
    at_floor = abs(actual - item.row.closed) <= tolerance and abs(low - item.row.closed) <= tolerance
    if not at_floor or item.floor <= LOW:
        return 1.0
    return (min(item.floor, HIGH) - LOW) / item.floor


def _blend_weights(errors: dict, horizon: int, moment: int, methods: list[str]) -> dict[str, float]:
    """Inverse-MSE weights of the methods' corrected past forecasts known at ``moment``; equal without history."""
    mse = {}
    for method in methods:
        known = [
            error for end, error in errors.get((horizon, method), [])[-TRAILING_POINTS:] if end <= moment
        ]
        if known:
            mse[method] = float(np.mean(known))
    if len(mse) < len(methods) or not mse:
        # Nothing to weigh yet: Dealflow's method alone (an equal share for a method that has not been
        # scored yet could be a weighted pipeline many times too high).
        return (
            {FIRST_BLEND: 1.0} if FIRST_BLEND in methods else {method: 1 / len(methods) for method in methods}
        )
    best = min(mse.values())
    kept = {method: value for method, value in mse.items() if value <= BLEND_KEEP * best}
    if best <= 0:
        kept = {method: 1.0 for method, value in mse.items() if value <= 0}
        return {method: 1 / len(kept) for method in kept}
    inverse = {method: 1 / value for method, value in kept.items()}
    total = sum(inverse.values())
    return {method: value / total for method, value in inverse.items()}


def current_corrections(rows: list[Row], *, now: int, settings: Settings = CURRENT) -> dict[str, Any]:
    """What the page applies today: per horizon, method and quarter of the period, the correction from
    every row whose target had ended by ``now``; and the blend's weights. JSON-ready."""
    calibrated = calibrate(rows, settings=settings)
    blend_rows = [item.row for item in calibrated if item.row.method == BLEND]
    all_rows = [*rows, *blend_rows]
    result: dict[str, Any] = {"corrections": {}, "blend_weights": {}}
    errors: dict[tuple[int, str], list[tuple[int, float]]] = {}
    for item in calibrated:
        if item.row.method == BLEND:
            continue
        row = item.row
        error = (row.actual - item.forecast) ** 2
        errors.setdefault((row.horizon, row.method), []).append((row.target_end, error))
    for horizon in sorted({row.horizon for row in rows}):
        methods = sorted({row.method for row in all_rows if row.horizon == horizon})
        per_method: dict[str, list[dict]] = {}
        for method in methods:
            history = [
                _history_item(item)
                for item in sorted(calibrated, key=lambda item: item.row.as_of)
                if item.row.horizon == horizon and item.row.method == method
            ]
            per_method[method] = [
                _select(
                    history,
                    now,
                    phase,
                    horizon=horizon,
                    blend=method == BLEND,
                    settings=settings,
                ).as_dict()
                for phase in range(4)
            ]
        result["corrections"][str(horizon)] = per_method
        base = [method for method in methods if method != BLEND]
        result["blend_weights"][str(horizon)] = _blend_weights(errors, horizon, now, base)
    return result


def _history_item(item: Calibrated) -> tuple[float, ...]:
    """(target end, phase, U, A - C, the ratio that corrected it) of a calibrated forecast."""
    row = item.row
    uncertain = row.forecast - row.closed
    applied = (item.forecast - row.closed) / uncertain if uncertain > 0 else 1.0
    if item.calibrated and uncertain > 0:
        issued = ((item.p10 - row.closed) / uncertain, (item.p90 - row.closed) / uncertain, item.floor)
    else:
        issued = (math.nan, math.nan, 0.0)
    return (row.target_end, row.phase, uncertain, row.actual - row.closed, applied, *issued)


def apply_correction(
    closed: float, uncertain: float, correction: dict | Correction
) -> tuple[float, float, float, float]:
    """Mean, P10, P50, P90 of a live forecast C + U under a stored correction."""
    data = correction.as_dict() if isinstance(correction, Correction) else correction
    if uncertain <= 0:
        return closed, closed, closed, closed
    return (
        closed + data["ratio"] * uncertain,
        closed + data["low"] * uncertain,
        closed + data["median"] * uncertain,
        closed + data["high"] * uncertain,
    )


def probability_at_least(target: float, mean: float, p10: float, p90: float) -> float:
    """P(revenue >= target) under a normal with this mean and the spread of the P10-P90 range."""
    spread = (p90 - p10) / (2 * 1.2815515655446004)
    if spread <= 0:
        return 1.0 if mean >= target else 0.0
    return 0.5 * math.erfc((target - mean) / (spread * math.sqrt(2)))


# ------------------------------------------------------------------------------------------- scoring
def score(items: list[Calibrated]) -> dict[str, Any]:
    """WAPE, bias, accuracy and measured P10-P90 coverage of scored rows (coverage: calibrated rows only)."""
    scored = [item for item in items if item.scored]
    actual = np.array([item.row.actual for item in scored], dtype=float)
    forecast = np.array([item.forecast for item in scored], dtype=float)
    total = float(actual.sum())
    ranged = [item for item in scored if item.calibrated]
    inside = [inside_share(item) for item in ranged]
    accuracies = [
        1 - abs(a - f) / a for a, f in zip(actual.tolist(), forecast.tolist(), strict=True) if a > 0
    ]
    return {
        "count": len(scored),
        "wape": float(np.abs(actual - forecast).sum() / total) if total > 0 else None,
        "bias": float((forecast - actual).sum() / total) if total > 0 else None,
        "accuracy": float(np.mean(accuracies)) if accuracies else None,
        "coverage": float(np.mean(inside)) if inside else None,
        # every actual on or inside an end counted as inside (what was reported until 2026-12-06)
        "coverage_plain": float(np.mean([item.p10 <= item.row.actual <= item.p90 for item in ranged]))
        if ranged
        else None,
        "calibrated": len(ranged),
        "actual_total": total,  # the WAPE's and the bias's denominator: pools scores of several histories
        **_noise(scored, total),
    }


def _noise(scored: list[Calibrated], total: float) -> dict[str, Any]:
    """How much of the bias and the coverage chance alone explains. The weekly forecasts of one target
    period share its one actual, so the outcomes are the periods: ``periods`` of them; the bias's standard
    error SE = SD over periods of sum (F - A) x sqrt(periods) / sum A (``bias_se``), and the chance that a
    forecast with no bias and this spread lands within +-5 % (``bias_chance``, normal); the chance that a
    range that holds exactly 80 % lands in 70-90 % over that many periods (``coverage_chance``, binomial;
    a period counts inside when its forecasts were)."""
    errors: dict[int, float] = {}
    for item in scored:
        errors[item.row.target_end] = errors.get(item.row.target_end, 0.0) + item.forecast - item.row.actual
    periods = len(errors)
    if periods < 2 or total <= 0:
        return {"periods": periods, "bias_se": None, "bias_chance": None, "coverage_chance": None}
    bias_se = float(np.std(list(errors.values()), ddof=1)) * math.sqrt(periods) / total
    chance = math.erf(BIAS_TARGET / bias_se / math.sqrt(2)) if bias_se > 0 else 1.0
    return {
        "periods": periods,
        "bias_se": bias_se,
        "bias_chance": chance,
        "coverage_chance": band_chance(periods),
    }


def band_chance(periods: int, *, share: float = HIGH - LOW, band: tuple[float, float] = (0.7, 0.9)) -> float:
    """P(the share of ``periods`` outcomes inside a range that holds ``share`` lies within ``band``):
    binomial. 11 periods: 8 or 9 inside (72.7 %, 81.8 %), 0.221 + 0.295 = 0.516."""
    return float(
        sum(
            math.comb(periods, inside) * share**inside * (1 - share) ** (periods - inside)
            for inside in range(periods + 1)
            if band[0] - 1e-9 <= inside / periods <= band[1] + 1e-9
        )
    )


def choose_default(items: list[Calibrated]) -> dict[str, Any]:
    """Per horizon: scores of every method (baselines and blend included), the one with the lowest WAPE,
    the best baseline and the margin (baseline WAPE - default WAPE, in points of WAPE; > 0 means it beat it)."""
    result: dict[str, Any] = {}
    for horizon in sorted({item.row.horizon for item in items}):
        methods = sorted({item.row.method for item in items if item.row.horizon == horizon})
        scores = {
            method: score(
                [item for item in items if item.row.horizon == horizon and item.row.method == method]
            )
            for method in methods
        }
        rated = {method: value for method, value in scores.items() if value["wape"] is not None}
        if not rated:
            result[str(horizon)] = {"scores": scores, "default": None, "best_baseline": None, "margin": None}
            continue
        default = min(rated, key=lambda method: (rated[method]["wape"], method == BLEND, method))
        baselines = [method for method in BASELINES if method in rated]
        best_baseline = min(baselines, key=lambda method: rated[method]["wape"]) if baselines else None
        margin = rated[best_baseline]["wape"] - rated[default]["wape"] if best_baseline else None
        result[str(horizon)] = {
            "scores": scores,
            "default": default,
            "best_baseline": best_baseline,
            "margin": margin,
        }
    return result
