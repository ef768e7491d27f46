"""The backtest: weekly as-of forecasts by every method, calibrated and scored."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dealflow.forecasting.calculations.fitting import Fit, Panel, fit
from dealflow.forecasting.calculations.history import (
    DAY,
    WON,
    Calendar,
    History,
    States,
    _value_as_of,
    bookings_between,
    bookings_by_period,
    coarse_phase,
)
from dealflow.forecasting.calculations.prediction import Prediction, new_bookings_samples, predict
from dealflow.forecasting.calculations.scoring import accuracy, bias, coverage, wape
from dealflow.forecasting.calculations.simulation import simulate, summarise

if TYPE_CHECKING:
    from dealflow.forecasting.calibration import Settings

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
            fit_result,
            all_owners,
            calendar.phase_of(moment),
            horizons,
            calendar.remaining_fraction(moment),
            season=calendar.season_of(int(calendar.index_of(moment))),
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
    trend: bool = True,
    trend_new_deals: bool = True,
    seasonal: bool = True,
    stage_mass: bool = True,
) -> list[BacktestRow]:
    """Forecast each target period from each weekly as-of point with every method, fitted on older data only.

    Only targets that have ended by ``now`` are scored. ``progress(done, total)`` is called after each point.
    """
    rows: list[BacktestRow] = []
    booked_final = bookings_by_period(history, calendar, as_of=now)
    for done, point in enumerate(points, start=1):
        moment = int(panel.times[point])
        current = int(calendar.index_of(moment))
        fit_result = fit(
            history,
            calendar,
            panel,
            moment,
            horizons=horizons,
            trend=trend,
            trend_new_deals=trend_new_deals,
            seasonal=seasonal,
            stage_mass=stage_mass,
        )
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
    rows: list[BacktestRow],
    *,
    scored_from: int | None = None,
    now: int | None = None,
    settings: Settings | None = None,
) -> dict:
    """Accuracy, WAPE, bias and P10-P90 coverage per method and lead time after calibration, the default
    method per horizon, and the corrections the page applies from ``now`` on (``calibration``).

    Every forecast is bias-corrected and given a range from the errors of forecasts whose targets had
    ended by its as-of time (``calibration.calibrate``); rows before ``scored_from`` only feed that.
    The default is the method with the lowest WAPE, baselines (run-rate, same period last year,
    weighted pipeline) and the skill-weighted blend included; ``raw`` keeps the uncorrected scores.
    """
    from dealflow.forecasting import calibration

    settings = settings or calibration.CURRENT
    plain = [_calibration_row(row) for row in rows]
    items = calibration.calibrate(plain, scored_from=scored_from, settings=settings)
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
        "calibration": calibration.current_corrections(
            plain, now=now if now is not None else last_known, settings=settings
        ),
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
    with_range = [
        (row.actual, row.p10, row.p90) for row in members if row.p10 is not None and row.p90 is not None
    ]
    return {
        "method": method,
        "count": len(members),
        "accuracy": float(np.mean(accuracies)) if accuracies else None,
        "wape": wape(actuals, forecasts),
        "bias": bias(actuals, forecasts),
        "coverage": coverage(
            [actual for actual, _low, _high in with_range],
            [float(low) for _actual, low, _high in with_range],
            [float(high) for _actual, _low, high in with_range],
        )
        if with_range
        else None,
    }


def bookings_by_owner(history: History, start: int, end: int) -> dict[int, float]:
    """Win events in [start, end) summed by the deal's owner at the time of the win."""
    won = (history.stage_status == WON) & (history.stage_time >= start) & (history.stage_time < end)
    deals, times, amounts = history.stage_deal[won], history.stage_time[won], history.stage_amount[won]
    owners = _value_as_of(
        history.owner_deal,
        history.owner_time,
        history.owner_from,
        history.owner_to,
        history.deal_owner,
        deals,
        times,
    )
    totals: dict[int, float] = {}
    for owner, amount in zip(owners.tolist(), amounts.tolist(), strict=True):
        totals[int(owner)] = totals.get(int(owner), 0.0) + amount
    return totals
