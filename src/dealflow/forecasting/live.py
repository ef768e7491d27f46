"""Today's forecast by any method, corrected and ranged like the backtest says (no ORM).

The page, the API, the CLI and the snapshots all call ``components`` once (every method's forecast of
what is still open, per leaf = owner) and ``figures`` per scope and period, so a number means the same
everywhere. docs/forecasting.md ("Calibration") gives the formulas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from dealflow.forecasting import calculations as calc
from dealflow.forecasting import calibration as cal

METHODS = ("dealflow", "learned", "configured", "run_rate", "last_year", "blend")


@dataclass
class Components:
    """Per leaf and horizon, each method's forecast of the uncertain part U (minor units)."""

    prediction: calc.Prediction  # Dealflow's per-deal probabilities (explanations, snapshots)
    revenue: np.ndarray  # Dealflow's simulated draws [leaf, horizon, draw]
    uncertain: dict[str, np.ndarray]  # method -> [leaf, horizon]
    phase: int  # quarter of the current period (0..3)


def components(
    fit_result: calc.Fit,
    states: calc.States,
    calendar: calc.Calendar,
    moment: int,
    *,
    leaf: np.ndarray,
    leaf_owner_ids: list[int],
    horizons: int,
    draws: int,
    seed: int,
) -> Components:
    """Dealflow's simulation plus sum p A (learned, configured) and the run-rates per owner."""
    leaves = len(leaf_owner_ids)
    prediction, revenue = calc.forecast_draws(
        fit_result,
        states,
        calendar,
        moment,
        method="dealflow",
        horizons=horizons,
        leaf=leaf,
        leaf_owners=[np.array([owner], dtype=np.int64) for owner in leaf_owner_ids],
        draws=draws,
        seed=seed,
    )
    uncertain: dict[str, np.ndarray] = {"dealflow": revenue.mean(axis=2)}
    for method in ("learned", "configured"):
        other = calc.predict(fit_result, states, calendar, moment, method=method, horizons=horizons)
        per_leaf = np.zeros((leaves, horizons))
        for horizon in range(horizons):
            per_leaf[:, horizon] = np.bincount(
                leaf, weights=states.amount * other.p_period[:, horizon], minlength=leaves
            )[:leaves]
        uncertain[method] = per_leaf
    fraction = [calendar.remaining_fraction(moment)] + [1.0] * (horizons - 1)
    run_rate = np.zeros((leaves, horizons))
    last_year = np.zeros((leaves, horizons))
    per_year = calendar.periods_per_year
    for index, owner in enumerate(leaf_owner_ids):
        booked = fit_result.owner_bookings.get(str(owner), [])
        recent = booked[-calc.RUN_RATE_PERIODS :]
        rate = float(np.mean(recent)) if recent else 0.0
        for horizon in range(horizons):
            run_rate[index, horizon] = rate * fraction[horizon]
            year_index = len(booked) - per_year + horizon
            value = booked[year_index] if 0 <= year_index < len(booked) else rate
            last_year[index, horizon] = value * fraction[horizon]
    uncertain["run_rate"], uncertain["last_year"] = run_rate, last_year
    return Components(prediction, revenue, uncertain, int(calc.coarse_phase(calendar.phase_of(moment))))


@dataclass
class Figures:
    method: str
    mean: float
    p10: float
    p50: float
    p90: float
    p_quota: float | None
    standard_error: float
    calibrated: bool


def _entry(calibration: dict | None, horizon: int, method: str, phase: int) -> dict | None:
    if not calibration:
        return None
    corrections = calibration.get("corrections", {})
    keys = sorted(corrections, key=int)
    if not keys:
        return None
    key = str(horizon) if str(horizon) in corrections else keys[-1]  # later periods: the last horizon
    per_phase = corrections[key].get(method)
    return per_phase[phase] if per_phase else None


def _blend_weights(calibration: dict | None, horizon: int) -> dict[str, float]:
    weights = (calibration or {}).get("blend_weights", {})
    keys = sorted(weights, key=int)
    if not keys:
        return {"dealflow": 1.0}
    return weights[str(horizon) if str(horizon) in weights else keys[-1]]


def figures(
    parts: Components,
    *,
    leaves: list[int],
    horizon: int,
    closed: float,
    quota: float | None,
    method: str,
    calibration: dict | None,
    company: bool,
) -> Figures:
    """Mean, P10, P50, P90 and P(quota) of a scope (a set of leaves) under ``method``.

    Uncertain part U: the method's own (the blend: sum w_m r_m U_m). Mean C + r U, range C + q10 U ..
    C + q90 U from the stored correction. Uncalibrated (no backtest, or too few past errors): r = 1 and
    a range of +-50 % of U, never narrower than Dealflow's simulated range. Below the company the range
    is never narrower than the simulated one either: the backtest's ratios are the company's, and a
    team's or a rep's total spreads more.
    """
    draws = parts.revenue[leaves, horizon, :].sum(axis=0) if leaves else np.zeros(parts.revenue.shape[2])
    simulated = calc.summarise(draws, closed=closed, quota=quota)
    if method == cal.BLEND:
        weights = _blend_weights(calibration, horizon)
        uncertain = 0.0
        for part, weight in weights.items():
            entry = _entry(calibration, horizon, part, parts.phase)
            ratio = entry["ratio"] if entry else 1.0
            uncertain += weight * ratio * float(parts.uncertain[part][leaves, horizon].sum())
    else:
        uncertain = float(parts.uncertain[method][leaves, horizon].sum())
    entry = _entry(calibration, horizon, method, parts.phase)
    calibrated = bool(entry and entry["calibrated"])
    correction = entry or cal.UNCORRECTED.as_dict()
    mean, p10, p50, p90 = cal.apply_correction(closed, uncertain, correction)
    if not calibrated or not company:
        ratio = correction["ratio"]
        p10 = min(p10, closed + ratio * (simulated.p10 - closed))
        p90 = max(p90, closed + ratio * (simulated.p90 - closed))
    if calibrated:
        p_quota = cal.probability_at_least(quota, mean, p10, p90) if quota is not None else None
    else:
        p_quota = simulated.p_quota
    scale = mean / simulated.mean if simulated.mean > 0 else 1.0
    return Figures(
        method=method,
        mean=mean,
        p10=p10,
        p50=min(max(p50, p10), p90),
        p90=p90,
        p_quota=p_quota,
        standard_error=simulated.standard_error * (scale if math.isfinite(scale) else 1.0),
        calibrated=calibrated,
    )


def choice_methods(result: dict[str, Any] | None) -> tuple[str, str]:
    """The default method for this period and for later periods from a backtest result."""
    if not result or not result.get("scored"):
        return "dealflow", "dealflow"
    by_horizon = result.get("by_horizon", {})
    first = by_horizon.get("0", {}).get("default") or result.get("default_method") or "dealflow"
    later = by_horizon.get("1", {}).get("default") or first
    return first, later
