"""Reads of the forecast: the page's numbers, snapshots, calls, quotas, accuracy and calibration.

Access: a scope is company (admins and analysts), a team (its managers, admins, analysts, and its reps
when the team lets reps see team deals) or a rep (anyone who may see that rep's deals); anything else
is a 404, like every ``_for_user`` gate. Deal data is always filtered through ``owner_visibility_q``.

One module per page or read: ``scopes``, ``targets``, ``forecast`` (and its ``explanations``, ``methods`` and ``children``),
``snapshots``, ``accuracy``, ``stage_calibration`` and ``backtests``; every public name is importable
from here.
"""

from __future__ import annotations

from dealflow.forecasting.selectors.accuracy import (
    AccuracyResult,
    AccuracyTable,
    forecast_accuracy_for_period,
    forecast_accuracy_table_for_user,
)
from dealflow.forecasting.selectors.backtests import (
    backtest_get_for_user,
    backtest_latest_for_user,
)
from dealflow.forecasting.selectors.children import ChildForecast
from dealflow.forecasting.selectors.explanations import (
    DealExplanation,
    deal_reason,
)
from dealflow.forecasting.selectors.forecast import (
    ForecastView,
    PeriodForecast,
    forecast_for_user,
)
from dealflow.forecasting.selectors.methods import MethodChoice, method_choice, method_default
from dealflow.forecasting.selectors.scopes import (
    DRAWS,
    EXPLAINED_DEALS,
    HORIZON_COUNT,
    PERIOD_KINDS,
    SEED,
    Scope,
    period_kind_check,
    scope_options_for_user,
    scope_resolve_for_user,
)
from dealflow.forecasting.selectors.snapshots import (
    snapshot_deals_for_user,
    snapshot_get_for_user,
    snapshot_list_for_user,
)
from dealflow.forecasting.selectors.stage_calibration import (
    StageCalibration,
    forecast_calibration_for_user,
)
from dealflow.forecasting.selectors.targets import (
    ScopeTargets,
    TargetBook,
    call_list_for_user,
    quota_list_for_user,
)

__all__ = [
    "DRAWS",
    "EXPLAINED_DEALS",
    "HORIZON_COUNT",
    "PERIOD_KINDS",
    "SEED",
    "AccuracyResult",
    "AccuracyTable",
    "ChildForecast",
    "DealExplanation",
    "ForecastView",
    "MethodChoice",
    "PeriodForecast",
    "Scope",
    "ScopeTargets",
    "StageCalibration",
    "TargetBook",
    "backtest_get_for_user",
    "backtest_latest_for_user",
    "call_list_for_user",
    "deal_reason",
    "forecast_accuracy_for_period",
    "forecast_accuracy_table_for_user",
    "forecast_calibration_for_user",
    "forecast_for_user",
    "method_choice",
    "method_default",
    "period_kind_check",
    "quota_list_for_user",
    "scope_options_for_user",
    "scope_resolve_for_user",
    "snapshot_deals_for_user",
    "snapshot_get_for_user",
    "snapshot_list_for_user",
]
