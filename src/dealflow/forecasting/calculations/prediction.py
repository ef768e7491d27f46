"""Per-deal probabilities under a method: eventual win and win inside each period."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dealflow.forecasting.calculations.fitting import Fit, _p_win_for
from dealflow.forecasting.calculations.history import (
    DAY,
    NO_DATE,
    RUN_RATE_MIN_POINTS,
    Calendar,
    States,
    age_bucket,
    coarse_phase,
    in_period_flags,
)


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
    if method == "dealflow" and fit_result.stage_trend:
        # Rates that drift: scale by how the stage and the later ones convert lately (``stage_trend``).
        trend = np.asarray(fit_result.stage_trend)[states.stage]
        p_win = np.minimum(p_win * trend, 1.0)
        p_period = np.minimum(p_period * trend[:, None], p_win[:, None])
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
    fewer than RUN_RATE_MIN_POINTS no run-rate is added (zero matrix). They are scaled by the fit's
    ``new_deal_trend``: deals not created yet go through every stage, so the recent trend applies to them.
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
        result.append(matrix * fit_result.new_deal_trend if fit_result.new_deal_trend != 1.0 else matrix)
    return result
