"""The Forecast page: per period and scope, the range against quota, calls, quotas, reasons, accuracy, backtest."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from dealflow.accounts.models import Team, User
from dealflow.accounts.selectors import user_access_scope
from dealflow.core.errors import ApplicationError
from dealflow.core.parameters import choice_parameter, id_parameter, text_parameter
from dealflow.forecasting import selectors, services
from dealflow.web.views.workspace import AuthenticatedRequest, permission_errors_as_403, safe_next


def _integer(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def fan_chart(view: selectors.ForecastView) -> dict:
    """Plotly figure: P10-P90 band, P50 and mean per period, against quota and closed to date."""
    keys = [item.period.key for item in view.periods]
    data: list[dict] = [
        {
            "x": keys,
            "y": [item.p90 for item in view.periods],
            "type": "scatter",
            "mode": "lines",
            "line": {"width": 0},
            "name": "P90",
            "hoverinfo": "y+name",
        },
        {
            "x": keys,
            "y": [item.p10 for item in view.periods],
            "type": "scatter",
            "mode": "lines",
            "fill": "tonexty",
            "fillcolor": "rgba(37,99,235,0.18)",
            "line": {"width": 0},
            "name": "P10-P90",
        },
        {
            "x": keys,
            "y": [item.p50 for item in view.periods],
            "type": "scatter",
            "mode": "lines+markers",
            "line": {"color": "#2563eb"},
            "name": "P50",
        },
        {
            "x": keys,
            "y": [item.mean for item in view.periods],
            "type": "scatter",
            "mode": "markers",
            "marker": {"color": "#1e3a8a", "symbol": "diamond"},
            "name": _("Mean"),
        },
        {
            "x": keys,
            "y": [item.closed for item in view.periods],
            "type": "bar",
            "name": _("Closed so far"),
            "marker": {"color": "rgba(22,163,74,0.55)"},
        },
    ]
    if any(item.quota is not None for item in view.periods):
        data.append(
            {
                "x": keys,
                "y": [item.quota for item in view.periods],
                "type": "scatter",
                "mode": "lines+markers",
                "line": {"color": "#dc2626", "dash": "dash"},
                "name": _("Quota"),
            }
        )
    return {
        "data": data,
        "layout": {
            "height": 320,
            "xaxis": {"type": "category"},  # "2026-11" is a period, not a date
            "yaxis": {"title": view.currency, "rangemode": "tozero"},
            "legend": {"orientation": "h"},
            "barmode": "overlay",
        },
    }


QUOTAS_SHOWN = 40


@login_required
@require_GET
def forecast_page(request: AuthenticatedRequest) -> HttpResponse:
    """GET ?kind=month|quarter&scope=company|team|rep&id=&method=."""
    user = request.user
    query = request.GET
    kind = choice_parameter(query, "kind", ("month", "quarter"), default="month") or "month"
    view = selectors.forecast_for_user(
        user=user,
        kind=kind,
        scope_kind=choice_parameter(query, "scope", ("company", "team", "rep")),
        scope_id=id_parameter(query, "id"),
        method=text_parameter(query, "method"),
    )
    access = user_access_scope(user=user)
    options = selectors.scope_options_for_user(user=user)
    period_keys = [item.period.key for item in view.periods]
    context = {
        "view": view,
        "current": view.periods[0],
        "chart": fan_chart(view),
        "options": options,
        # Calibration, accuracy and the backtest come in a second request (forecast_panels), so the
        # forecast itself answers first (issue #19: the page took 0.3 s beyond the kept forecast).
        "panels_url": reverse("web:forecast_panels") + _query(request),
        "can_manage": access.is_admin or access.is_manager,
        "managed_teams": Team.objects.filter(pk__in=access.managed_team_ids)
        if not access.is_admin
        else Team.objects.all(),
        "calls": selectors.call_list_for_user(user=user, period_keys=period_keys, options=options)[:20],
    }
    quotas = selectors.quota_list_for_user(user=user, period_keys=period_keys, options=options)
    shown = list(quotas[:QUOTAS_SHOWN])
    # An admin's four periods hold hundreds of quotas: the first ones, and how many there are.
    context["quotas"] = shown
    context["quota_count"] = quotas.count() if len(shown) == QUOTAS_SHOWN else len(shown)
    return render(request, "web/forecast/page.html", context)


def _query(request: HttpRequest) -> str:
    query = request.GET.urlencode()
    return "?" + query if query else ""


@login_required
@require_GET
def forecast_panels(request: AuthenticatedRequest) -> HttpResponse:
    """The Forecast page's lower panels for the same ?kind=&scope=&id=: calibration, the accuracy of past
    forecasts and the backtest (the page loads them after the forecast)."""
    user = request.user
    query = request.GET
    kind = choice_parameter(query, "kind", ("month", "quarter"), default="month") or "month"
    selectors.period_kind_check(kind)
    scope = selectors.scope_resolve_for_user(
        user=user,
        kind=choice_parameter(query, "scope", ("company", "team", "rep")),
        scope_id=id_parameter(query, "id"),
    )
    access = user_access_scope(user=user)
    context = {
        "kind": kind,
        "next_url": reverse("web:forecast") + _query(request),
        "accuracy": selectors.forecast_accuracy_table_for_user(
            user=user, kind=kind, scope_kind=scope.kind, scope_id=_scope_id(scope)
        ),
        "calibration": selectors.forecast_calibration_for_user(user=user),
        "backtest": selectors.backtest_latest_for_user(user=user),
        "can_manage": access.is_admin or access.is_manager,
    }
    return render(request, "web/forecast/_panels.html", context)


def _scope_id(scope: selectors.Scope) -> int | None:
    return scope.team.pk if scope.team else (scope.user.pk if scope.user else None)


def _back(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(safe_next(request, reverse("web:forecast")))


@login_required
@require_POST
@permission_errors_as_403
def forecast_call(request: AuthenticatedRequest) -> HttpResponse:
    """A rep's call, or with ``team`` and a note a manager's adjustment of the team's call."""
    data = request.POST
    try:
        if data.get("team"):
            team = get_object_or_404(Team, pk=_integer(data["team"]))
            services.call_adjust(
                by=request.user,
                team=team,
                period=data.get("period", ""),
                commit=data.get("commit", ""),
                best_case=data.get("best_case", ""),
                note=data.get("note", ""),
            )
        else:
            services.call_submit(
                by=request.user,
                period=data.get("period", ""),
                commit=data.get("commit", ""),
                best_case=data.get("best_case", ""),
                note=data.get("note", ""),
            )
        messages.success(request, _("Your call is recorded."))
    except ApplicationError as error:
        messages.error(request, error.message)
    return _back(request)


@login_required
@require_POST
@permission_errors_as_403
def forecast_quota(request: AuthenticatedRequest) -> HttpResponse:
    """Set a team's or a rep's quota for a period (the team's manager or an admin)."""
    data = request.POST
    team = get_object_or_404(Team, pk=_integer(data["team"])) if data.get("team") else None
    rep = get_object_or_404(User, pk=_integer(data["user"])) if data.get("user") else None
    try:
        services.quota_set(
            by=request.user, period=data.get("period", ""), amount=data.get("amount", ""), team=team, user=rep
        )
        messages.success(request, _("Quota saved."))
    except ApplicationError as error:
        messages.error(request, error.message)
    return _back(request)


@login_required
@require_POST
@permission_errors_as_403
def forecast_snapshot(request: AuthenticatedRequest) -> HttpResponse:
    """Take a snapshot now (managers and admins)."""
    services.snapshot_take(origin="web", by=request.user, kind=request.POST.get("kind") or "month")
    messages.success(request, _("Snapshot taken. It will be scored when the period closes."))
    return _back(request)


@login_required
@require_POST
@permission_errors_as_403
def forecast_backtest(request: AuthenticatedRequest) -> HttpResponse:
    """Queue a backtest; the page shows its progress bar (polled with HTMX)."""
    try:
        run = services.backtest_start(
            by=request.user,
            period_from=request.POST.get("period_from", ""),
            period_to=request.POST.get("period_to", ""),
            kind=request.POST.get("kind") or "month",
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return _back(request)
    run.refresh_from_db()
    if getattr(request, "htmx", False):
        return render(request, "web/forecast/_backtest.html", {"backtest": run})
    return _back(request)


@login_required
@require_GET
def forecast_backtest_status(request: AuthenticatedRequest, run_id: int) -> HttpResponse:
    """The progress bar or, when done, the backtest table (HTMX polls this while it runs)."""
    run = selectors.backtest_get_for_user(run_id=run_id, user=request.user)
    return render(request, "web/forecast/_backtest.html", {"backtest": run})
