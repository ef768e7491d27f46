"""Forecast accuracy for the dashboard tile, computed by dealflow.forecasting (which metrics must not import).

The front doors pass forecasting's ``forecast_accuracy_for_period`` in as ``lookup`` (None when that app
has no such selector), so the rules for which period and scope to ask about live here, once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from dealflow.accounts.models import User
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.metrics.selectors.scope import MetricFilters


@dataclass
class ForecastAccuracy:
    available: bool
    message: str
    period: str | None = None
    accuracy: float | None = None  # 1 - |actual - forecast| / actual
    forecast: float | None = None
    actual: float | None = None
    as_of: dt.datetime | None = None


def forecast_accuracy(
    *, user: User, filters: MetricFilters, lookup: Callable[..., Any] | None
) -> ForecastAccuracy:
    """Accuracy of the forecast frozen at the start of the period (or of the last period that has ended)."""
    period = filters.period
    if period.kind == "custom":
        return ForecastAccuracy(False, _("Forecast accuracy is measured per month, quarter or year."))
    if period.end > clock.today():
        period = period.previous()
    if lookup is None or period.end > clock.today():
        return ForecastAccuracy(False, _("No forecast snapshot exists for this period yet."))
    scope_kind, scope_id = ("rep", filters.owner_id) if filters.owner_id else ("team", filters.team_id)
    try:
        result = lookup(
            user=user, period=period, scope_kind=scope_kind if scope_id else None, scope_id=scope_id
        )
    except ApplicationError as error:
        return ForecastAccuracy(False, error.message)
    if result is None:
        return ForecastAccuracy(False, _("No forecast snapshot exists for this period yet."))
    return ForecastAccuracy(
        available=True,
        message="",
        period=period.key,
        accuracy=result.accuracy,
        forecast=result.forecast,
        actual=result.actual,
        as_of=result.as_of,
    )
