"""Background jobs of the forecast (django-tasks); ForecastingConfig.ready() registers the weekly snapshot."""

from __future__ import annotations

from django_tasks import task

from dealflow.forecasting import engine, services
from dealflow.forecasting.models import BacktestRun


@task()
def snapshot_weekly() -> int:
    """Take the weekly snapshot (month and quarter periods) and refresh the day's fit; returns rows written."""
    count = 0
    for kind in ("month", "quarter"):
        count += len(services.snapshot_take(origin="schedule", kind=kind))
        engine.fit_refresh(kind=kind)
    return count


@task()
def backtest_run_task(run_id: int) -> str:
    """Run a queued backtest; progress is written to its row as it goes."""
    run = BacktestRun.objects.get(pk=run_id)
    return services.backtest_execute(run=run).status


@task()
def fit_warm() -> int:
    """Compute today's fits (month and quarter) if missing, so the page never waits for one; returns how many."""
    computed = 0
    for kind in ("month", "quarter"):
        if not engine.fit_is_current(kind=kind):
            engine.fit_for_today(kind=kind)
            computed += 1
    return computed
