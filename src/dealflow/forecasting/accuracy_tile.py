"""The dashboard's forecast-accuracy tile: metrics draws it, forecasting knows the accuracy.

metrics may not import forecasting (the layers run web -> forecasting -> metrics), so the two meet here,
where the dependency is allowed and import-linter sees it; the web page, the API and the CLI call this.
"""

from __future__ import annotations

from dealflow.accounts.models import User
from dealflow.forecasting.selectors import forecast_accuracy_for_period
from dealflow.metrics.selectors import ForecastAccuracy, MetricFilters, forecast_accuracy_for_user


def forecast_accuracy_tile_for_user(*, user: User, filters: MetricFilters) -> ForecastAccuracy:
    """The accuracy tile of the dashboard for ``filters``, with the same access checks as every metric."""
    return forecast_accuracy_for_user(user=user, filters=filters, lookup=forecast_accuracy_for_period)
