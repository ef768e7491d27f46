import datetime as dt

from django.apps import AppConfig


class ForecastingConfig(AppConfig):
    name = "dealflow.forecasting"
    label = "forecasting"
    verbose_name = "Forecast"

    def ready(self) -> None:
        from dealflow.core.schedule import periodic_register

        periodic_register(
            name="forecasting.snapshot_weekly",
            task_path="dealflow.forecasting.tasks.snapshot_weekly",
            every=dt.timedelta(days=7),
        )
        # Today's model fit, ready before the first visit of the day (the page falls back to yesterday's).
        periodic_register(
            name="forecasting.fit_warm",
            task_path="dealflow.forecasting.tasks.fit_warm",
            every=dt.timedelta(hours=1),
        )
