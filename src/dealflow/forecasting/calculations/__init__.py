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

The package splits it by responsibility: ``history`` (arrays, periods, as-of states), ``fitting`` (and its ``trends``),
``prediction``, ``seasonality``, ``simulation``, ``scoring`` and ``backtesting``; every name is importable from here."""

from __future__ import annotations

from dealflow.forecasting.calculations.backtesting import (
    BASELINE_METHODS,
    MODEL_METHODS,
    RUN_RATE_PERIODS,
    BacktestRow,
    backtest,
    backtest_table,
    bookings_by_owner,
    forecast_draws,
)
from dealflow.forecasting.calculations.backtesting import (
    _calibration_row as _calibration_row,
)
from dealflow.forecasting.calculations.backtesting import (
    _score as _score,
)
from dealflow.forecasting.calculations.fitting import (
    Fit,
    Panel,
    beta_mean,
    build_panel,
    drift_factors,
    drift_from_residuals,
    fit,
    stage_mass_scale,
    weekly_points,
)
from dealflow.forecasting.calculations.fitting import (
    _p_win_for as _p_win_for,
)
from dealflow.forecasting.calculations.fitting import (
    _shrink_within as _shrink_within,
)
from dealflow.forecasting.calculations.fitting import (
    _stage_fit as _stage_fit,
)
from dealflow.forecasting.calculations.fitting import (
    _within_prior as _within_prior,
)
from dealflow.forecasting.calculations.history import (
    _SPAN as _SPAN,
)
from dealflow.forecasting.calculations.history import (
    AGE_BUCKETS,
    AGE_LABELS,
    CATEGORIES,
    COARSE_PHASES,
    DAY,
    DRIFT_DEFAULT,
    DRIFT_MIN_POINTS,
    L1_MIN_CLOSED,
    L2_MIN_CLOSED,
    L3_MIN_POINTS,
    L3_MIN_ROWS,
    LOST,
    NO_DATE,
    OPEN,
    PHASES,
    PRIOR_STRENGTH,
    RUN_RATE_MIN_POINTS,
    STAY_MIN_SPELLS,
    TRAILING_DAYS,
    WON,
    Calendar,
    History,
    States,
    age_bucket,
    bookings_between,
    bookings_by_period,
    closed_as_of,
    coarse_phase,
    first_won_after,
    in_period_flags,
    owner_bookings_by_period,
    states_as_of,
)
from dealflow.forecasting.calculations.history import (
    _first_after as _first_after,
)
from dealflow.forecasting.calculations.history import (
    _key as _key,
)
from dealflow.forecasting.calculations.history import (
    _last_at_or_before as _last_at_or_before,
)
from dealflow.forecasting.calculations.history import (
    _value_as_of as _value_as_of,
)
from dealflow.forecasting.calculations.prediction import (
    Prediction,
    ageing_factor,
    closing_shares,
    method_level,
    new_bookings_samples,
    predict,
)
from dealflow.forecasting.calculations.scoring import (
    Calibration,
    accuracy,
    bias,
    calibration,
    calibration_from_groups,
    coverage,
    wape,
)
from dealflow.forecasting.calculations.seasonality import run_rate_factors, season_factors
from dealflow.forecasting.calculations.simulation import (
    Summary,
    expected_and_variance,
    row_uniforms,
    simulate,
    simulate_plain_python,
    summarise,
)
from dealflow.forecasting.calculations.trends import new_deal_trend, season_run_rate, stage_trend

__all__ = [
    "AGE_BUCKETS",
    "AGE_LABELS",
    "BASELINE_METHODS",
    "CATEGORIES",
    "COARSE_PHASES",
    "DAY",
    "DRIFT_DEFAULT",
    "DRIFT_MIN_POINTS",
    "L1_MIN_CLOSED",
    "L2_MIN_CLOSED",
    "L3_MIN_POINTS",
    "L3_MIN_ROWS",
    "LOST",
    "MODEL_METHODS",
    "NO_DATE",
    "OPEN",
    "PHASES",
    "PRIOR_STRENGTH",
    "RUN_RATE_MIN_POINTS",
    "RUN_RATE_PERIODS",
    "STAY_MIN_SPELLS",
    "TRAILING_DAYS",
    "WON",
    "BacktestRow",
    "Calendar",
    "Calibration",
    "Fit",
    "History",
    "Panel",
    "Prediction",
    "States",
    "Summary",
    "accuracy",
    "age_bucket",
    "ageing_factor",
    "backtest",
    "backtest_table",
    "beta_mean",
    "bias",
    "bookings_between",
    "bookings_by_owner",
    "bookings_by_period",
    "build_panel",
    "calibration",
    "calibration_from_groups",
    "closed_as_of",
    "closing_shares",
    "coarse_phase",
    "coverage",
    "drift_factors",
    "drift_from_residuals",
    "expected_and_variance",
    "first_won_after",
    "fit",
    "forecast_draws",
    "in_period_flags",
    "method_level",
    "new_bookings_samples",
    "new_deal_trend",
    "owner_bookings_by_period",
    "predict",
    "row_uniforms",
    "run_rate_factors",
    "season_factors",
    "season_run_rate",
    "simulate",
    "simulate_plain_python",
    "stage_mass_scale",
    "stage_trend",
    "states_as_of",
    "summarise",
    "wape",
    "weekly_points",
]
