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


@task()
def forecast_refresh(
    *,
    user_id: int,
    language: str,
    kind: str,
    scope_kind: str | None,
    scope_id: int | None,
    method: str | None,
    draws: int,
    seed: int,
) -> int:
    """Recompute a kept forecast the page showed with "the deals have changed since" (as the user who saw
    it: the same scope, so the same numbers for everybody who may see it); returns its open deals, or -1
    when the user may no longer see the scope."""
    from django.http import Http404
    from django.utils import translation

    from dealflow.accounts.models import User
    from dealflow.forecasting.selectors.forecast import forecast_keep

    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return -1
    with translation.override(language or None):
        try:
            view = forecast_keep(
                user=user,
                kind=kind,
                scope_kind=scope_kind,
                scope_id=scope_id,
                method=method,
                draws=draws,
                seed=seed,
            )
        except Http404:
            return -1
    return view.open_deals
