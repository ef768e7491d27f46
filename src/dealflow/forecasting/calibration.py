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
  times (1 -+ UNCALIBRATED_WIDTH), and never narrower than the method's own simulated range.
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
UNCALIBRATED_WIDTH = 0.5  # +-50 % of the uncertain part when the range cannot be calibrated yet
LOW, HIGH = 0.1, 0.9
BLEND = "blend"
FIRST_BLEND = "dealflow"
BLEND_KEEP = 1.5  # methods whose past MSE is within 1.5x of the best one's take part in the blend
BASELINES = ("run_rate", "last_year", "configured")  # configured = the weighted pipeline


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


def correction_from(
    past: list[tuple[int, float, float]], bias_past: list[tuple[int, float, float]] | None = None
) -> Correction:
    """The correction from past (target end, U, A - C), oldest first; rows with U <= 0 carry no ratio.

    The range uses conformal ranks of the n ratios of ``past``: the floor(0.1 (n + 1))-th smallest and
    the ceil(0.9 (n + 1))-th. The bias ratio comes from the last BIAS_POINTS of ``bias_past`` (default
    ``past``), see ``_bias_ratio``.
    """
    recent = [item for item in past if item[1] > 0][-TRAILING_POINTS:]
    points = len(recent)
    if points == 0:
        return UNCORRECTED
    uncertain = np.array([item[1] for item in recent], dtype=float)
    came_in = np.array([item[2] for item in recent], dtype=float)
    bias_items = [item for item in (recent if bias_past is None else bias_past) if item[1] > 0][-BIAS_POINTS:]
    ratio = _bias_ratio(
        np.array([item[0] for item in bias_items]),
        np.array([item[1] for item in bias_items], dtype=float),
        np.array([item[2] for item in bias_items], dtype=float),
    )
    if points < MIN_POINTS:
        return Correction(
            ratio, ratio * (1 - UNCALIBRATED_WIDTH), ratio, ratio * (1 + UNCALIBRATED_WIDTH), points, False
        )
    ratios = np.sort(came_in / uncertain)
    low = float(ratios[max(math.floor(LOW * (points + 1)) - 1, 0)])
    high = float(ratios[min(math.ceil(HIGH * (points + 1)) - 1, points - 1)])
    floor = float(np.mean(ratios <= 0))
    return Correction(ratio, min(low, ratio), float(np.median(ratios)), max(high, ratio), points, True, floor)


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


def _select(history: list[tuple[int, int, float, float]], moment: int, phase: int) -> Correction:
    """The correction from past (target end, phase, U, A - C) known at ``moment``: the range from those of
    the same quarter of the period when there are MIN_POINTS of them (ratios spread more late in a
    period, when little is left open), else from all; the bias from all (the most recent ones)."""
    known = [(item[0], item[2], item[3]) for item in history if item[0] <= moment and item[2] > 0]
    same = [
        (item[0], item[2], item[3])
        for item in history
        if item[0] <= moment and item[2] > 0 and item[1] == phase
    ]
    return correction_from(same if len(same) >= MIN_POINTS else known, known)


def calibrate(rows: list[Row], *, scored_from: int | None = None) -> list[Calibrated]:
    """Every row corrected and ranged from the rows whose targets had ended by its as-of time, plus one
    ``blend`` row per (as-of time, horizon). Rows before ``scored_from`` are warm-up (not scored)."""
    result: list[Calibrated] = []
    by_key: dict[tuple[int, int], dict[str, Row]] = {}
    for row in rows:
        by_key.setdefault((row.horizon, row.as_of), {})[row.method] = row
    history: dict[tuple[int, str], list[tuple[int, int, float, float]]] = {}
    errors: dict[tuple[int, str], list[tuple[int, float]]] = {}  # (target_end, squared error)
    for horizon, moment in sorted(by_key, key=lambda key: (key[1], key[0])):
        members = by_key[(horizon, moment)]
        scored = scored_from is None or moment >= scored_from
        corrected: dict[str, float] = {}
        any_row = next(iter(members.values()))
        for method, row in members.items():
            uncertain = row.forecast - row.closed
            correction = _select(history.get((horizon, method), []), moment, row.phase)
            corrected[method] = correction.ratio * uncertain
            result.append(_ranged(row, uncertain, correction, scored))
        weights = _blend_weights(errors, horizon, moment, list(members))
        blend_uncertain = sum(weights[method] * corrected[method] for method in weights)
        blend = replace(any_row, method=BLEND, forecast=any_row.closed + blend_uncertain, p10=None, p90=None)
        correction = replace(_select(history.get((horizon, BLEND), []), moment, blend.phase), ratio=1.0)
        result.append(_ranged(blend, blend_uncertain, correction, scored))
        for method, row in [*members.items(), (BLEND, blend)]:
            history.setdefault((horizon, method), []).append(
                (row.target_end, row.phase, row.forecast - row.closed, row.actual - row.closed)
            )
        for method, value in corrected.items():
            error = (members[method].actual - members[method].closed - value) ** 2
            errors.setdefault((horizon, method), []).append((any_row.target_end, error))
    return result


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


def current_corrections(rows: list[Row], *, now: int) -> dict[str, Any]:
    """What the page applies today: per horizon, method and quarter of the period, the correction from
    every row whose target had ended by ``now``; and the blend's weights. JSON-ready."""
    calibrated = calibrate(rows)
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
                (row.target_end, row.phase, row.forecast - row.closed, row.actual - row.closed)
                for row in sorted(all_rows, key=lambda row: row.as_of)
                if row.horizon == horizon and row.method == method
            ]
            per_method[method] = [
                (
                    replace(_select(history, now, phase), ratio=1.0)
                    if method == BLEND
                    else _select(history, now, phase)
                ).as_dict()
                for phase in range(4)
            ]
        result["corrections"][str(horizon)] = per_method
        base = [method for method in methods if method != BLEND]
        result["blend_weights"][str(horizon)] = _blend_weights(errors, horizon, now, base)
    return result


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
    }


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
