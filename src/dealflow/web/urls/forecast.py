"""The Forecast page and its forms (web/views/forecast.py)."""

from django.urls import path

from dealflow.web.views import forecast

urlpatterns = [
    path("forecast/", forecast.forecast_page, name="forecast"),
    path("forecast/panels/", forecast.forecast_panels, name="forecast_panels"),
    path("forecast/calls/", forecast.forecast_call, name="forecast_call"),
    path("forecast/quotas/", forecast.forecast_quota, name="forecast_quota"),
    path("forecast/snapshots/", forecast.forecast_snapshot, name="forecast_snapshot"),
    path("forecast/backtests/", forecast.forecast_backtest, name="forecast_backtest"),
    path(
        "forecast/backtests/<int:run_id>/", forecast.forecast_backtest_status, name="forecast_backtest_status"
    ),
]
