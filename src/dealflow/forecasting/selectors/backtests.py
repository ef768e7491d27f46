"""Backtest runs, for managers, analysts and admins."""

from __future__ import annotations

from django.http import Http404

from dealflow.accounts.models import User
from dealflow.accounts.selectors import user_access_scope
from dealflow.forecasting.models import BacktestRun


# ------------------------------------------------------------------------------------------ backtests
def backtest_get_for_user(*, run_id: int, user: User) -> BacktestRun:
    """A backtest run; company-wide figures, so only for managers, admins and analysts."""
    access = user_access_scope(user=user)
    if not (access.sees_everything or access.is_manager):
        raise Http404("No such backtest.")
    run = BacktestRun.objects.filter(pk=run_id).first()
    if run is None:
        raise Http404("No such backtest.")
    return run


def backtest_latest_for_user(*, user: User) -> BacktestRun | None:
    access = user_access_scope(user=user)
    if not (access.sees_everything or access.is_manager):
        return None
    return BacktestRun.objects.order_by("-created_at", "-id").first()
