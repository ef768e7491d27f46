"""The Forecast page: the default method, the forecast per period and scope, and per-deal reasons."""

from __future__ import annotations

import datetime as dt
import pickle
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from dealflow.accounts.models import Membership, User
from dealflow.accounts.selectors import owner_visibility_q, user_access_scope
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.core.formatting import format_number, format_percent
from dealflow.core.periods import Period
from dealflow.deals.models import Deal, DealEvent, DealStatus, ExchangeRate, Stage
from dealflow.deals.selectors import base_currency
from dealflow.forecasting import calculations as calc
from dealflow.forecasting import calibration, engine, live
from dealflow.forecasting.models import (
    BacktestRun,
    BacktestStatus,
    ForecastCall,
    ForecastFit,
    KeptForecast,
    Method,
    Quota,
    ScopeKind,
)
from dealflow.forecasting.selectors.explanations import DealExplanation, _explain
from dealflow.forecasting.selectors.scopes import (
    DRAWS,
    HORIZON_COUNT,
    SEED,
    Scope,
    _major,
    period_kind_check,
    scope_resolve_for_user,
)
from dealflow.forecasting.selectors.targets import ScopeTargets, TargetBook


# ------------------------------------------------------------------------------------- the forecast
@dataclass
class ChildForecast:
    label: str
    scope_kind: str
    scope_id: int
    closed: float
    mean: float
    p10: float
    p90: float
    quota: float | None
    p_quota: float | None
    call_commit: float | None


@dataclass
class PeriodForecast:
    period: Period
    closed: float
    commit: float
    best_case: float
    pipeline: float
    weighted: float
    expected_open: float
    expected_new: float
    mean: float
    p10: float
    p50: float
    p90: float
    standard_error: float
    quota: float | None
    p_quota: float | None
    call_commit: float | None
    call_best_case: float | None
    children: list[ChildForecast] = field(default_factory=list)
    method: str = "dealflow"  # the method behind mean and range for this period
    calibrated: bool = False  # the range comes from the method's own backtest errors
    attainment: float | None = None  # closed so far / quota (this period)

    @property
    def method_label(self) -> str:
        return _method_label(self.method)


@dataclass
class ForecastView:
    scope: Scope
    kind: str
    method: str
    method_reason: str
    level: str
    currency: str
    as_of: dt.datetime
    draws: int
    seed: int
    periods: list[PeriodForecast]
    deals: list[DealExplanation]
    open_deals: int
    fitted_on: dt.date  # the probabilities were learned from history up to this day's midnight
    later_method: str = "dealflow"
    changed_since: bool = (
        False  # kept from before a change (or over VIEW_CACHE_SECONDS ago): being recomputed
    )
    calibrated: bool = False
    coverage: float | None = None  # measured P10-P90 coverage of the method in the latest backtest


@dataclass
class MethodChoice:
    """The method the page uses this period and later, why, and the corrections the backtest measured."""

    method: str
    later_method: str
    reason: str
    calibration: dict | None  # ``calibration.current_corrections`` of the latest backtest
    coverage: float | None  # measured P10-P90 coverage of the default this period
    calibrated: bool


def _method_label(method: str) -> str:
    return str(Method(method).label) if method in Method.values else method


def method_choice() -> MethodChoice:
    """The default method per horizon and why: the lowest error on the latest backtest of this company's
    own data among every method, baselines (run-rate, last year, weighted pipeline) and the blend included."""
    run = BacktestRun.objects.filter(status=BacktestStatus.DONE).order_by("-finished_at", "-id").first()
    if run is None or not run.result.get("scored") or "by_horizon" not in run.result:
        return MethodChoice(
            Method.DEALFLOW,
            Method.DEALFLOW,
            _(
                "No backtest has been run yet, so Dealflow's own method is used: win rates within the period "
                "learned from weekly pipeline states, plus a run-rate for deals not yet created. Its range is "
                "uncalibrated and wide: what is still open, plus or minus half, wider where the simulation says so."
            ),
            None,
            None,
            False,
        )
    result = run.result
    first, later = live.choice_methods(result)
    entry = result["by_horizon"]["0"]
    score = entry["scores"][first]
    reason = _(
        "%(method)s had the lowest error on your own data this period: WAPE %(wape)s over %(count)s forecasts"
    ) % {
        "method": _method_label(first),
        "wape": format_percent(score["wape"], 1),
        "count": format_number(score["count"]),
    }
    baseline = entry.get("best_baseline")
    if baseline and baseline != first:
        baseline_wape = entry["scores"][baseline]["wape"]
        reason += _(", %(points)s points better than the best baseline (%(baseline)s, WAPE %(wape)s).") % {
            "points": format_number(100 * (baseline_wape - score["wape"]), 1),
            "baseline": _method_label(baseline),
            "wape": format_percent(baseline_wape, 1),
        }
    elif baseline:
        models = {
            method: value
            for method, value in entry["scores"].items()
            if method not in calibration.BASELINES and value["wape"] is not None
        }
        best_model = min(models, key=lambda method: models[method]["wape"]) if models else None
        if best_model:
            reason += _("; it is a baseline: the best model, %(model)s, lost to it by %(points)s points.") % {
                "model": _method_label(best_model),
                "points": format_number(100 * (models[best_model]["wape"] - score["wape"]), 1),
            }
        else:
            reason += "."
    coverage = score.get("coverage")
    if coverage is not None:
        reason += " " + _(
            "Ranges calibrated from its own backtest errors: P10-P90 held the actual in %(coverage)s of %(count)s forecasts."
        ) % {
            "coverage": format_percent(coverage),
            "count": format_number(score.get("calibrated", 0)),
        }
    else:
        reason += " " + _("Too little history to calibrate its range yet: it is uncalibrated and wider.")
    if later != first:
        reason += " " + _("Later periods: %(method)s, the lowest error next period.") % {
            "method": _method_label(later)
        }
    later_score = result["by_horizon"].get("1", {}).get("scores", {}).get(later, {})
    if later_score.get("coverage") is not None and later_score.get("wape") is not None:
        # Next period's forecasts are calibrated from their own backtest errors, and hold differently.
        reason += " " + _(
            "Next period: WAPE %(wape)s, bias %(bias)s; P10-P90 held the actual in %(coverage)s of "
            "%(count)s forecasts."
        ) % {
            "wape": format_percent(later_score["wape"], 1),
            "bias": format_percent(later_score["bias"], 1),
            "coverage": format_percent(later_score["coverage"]),
            "count": format_number(later_score.get("calibrated", 0)),
        }
    reason += " " + _("Backtest of %(start)s to %(end)s.") % {"start": run.period_from, "end": run.period_to}
    return MethodChoice(first, later, reason, result.get("calibration"), coverage, coverage is not None)


def method_default() -> tuple[str, str]:
    """The per-deal model behind this period's default and why (``method_choice``): the default itself
    when it is dealflow, learned or configured; Dealflow's when it is a baseline or the blend (neither has
    per-deal probabilities). Pipeline reviews use it for their deal rows."""
    choice = method_choice()
    model = choice.method if choice.method in calc.MODEL_METHODS else Method.DEALFLOW
    return model, choice.reason


VIEW_CACHE_SECONDS = (
    600  # a kept forecast is recomputed after this even when no data changed (the clock moves it)
)
VIEW_STALE_SECONDS = 120  # a large one is still shown this long after it was computed, changed data or not
VIEW_STALE_MIN_OPEN = 5_000  # scopes with this many open deals (0.3 s or more to compute) may be shown stale
REFRESH_RETRY_SECONDS = 60  # a refresh asked of the worker is asked again after this
KEPT_FORMAT = "1"  # part of the key: a new ForecastView layout never unpickles an old payload


def _kept_key(scope: Scope, kind: str, method: str | None, draws: int, seed: int) -> str:
    parts = (KEPT_FORMAT, scope.key, kind, method or "", draws, seed, translation.get_language() or "")
    return ":".join(str(part) for part in parts)


def forecast_for_user(
    *,
    user: User,
    kind: str = "month",
    scope_kind: str | None = None,
    scope_id: int | None = None,
    method: str | None = None,
    draws: int = DRAWS,
    seed: int = SEED,
) -> ForecastView:
    """This period and the next three for a scope: category totals, weighted, and the simulated range.

    Computed by ``forecast_compute`` and kept in the database (``KeptForecast``) per scope, period kind,
    method and language, with a data version: the newest deal event, the day's fit, the latest backtest
    and the quotas, calls, memberships, stages and rates (one query of index look-ups). Everybody who may
    see the scope reads the same numbers (a scope's deals are the same for each of them), so one
    computation serves every user and every web process. The same version answers from the kept forecast
    without reading a deal for VIEW_CACHE_SECONDS. After a change, or later, a scope with
    VIEW_STALE_MIN_OPEN open deals or more (0.3 s or more to compute) is still shown, marked
    ``changed_since`` with the time it was computed (``as_of``), while the worker recomputes it
    (``tasks.forecast_refresh``, asked by the first reader); if the worker has not done so
    VIEW_STALE_SECONDS after it was asked, or for a smaller scope, or on another day, the request computes
    it. The scope's access check runs on every request (404 as before).
    """
    period_kind_check(kind)
    scope = scope_resolve_for_user(user=user, kind=scope_kind, scope_id=scope_id)
    if method and method not in live.METHODS:
        raise ApplicationError(
            "Method must be dealflow, learned, configured, run_rate, last_year or blend.", field="method"
        )
    key = _kept_key(scope, kind, method, draws, seed)
    version = _data_version(kind)
    moment = clock.now()
    kept = KeptForecast.objects.filter(key=key).first()
    view = _kept_view(kept, version=_version_text(version), moment=moment)
    if kept is not None and view is not None:
        view.scope = scope  # the scope as resolved now (its team's name, the rep's name)
        if view.changed_since:
            _refresh_request(
                kept,
                moment=moment,
                user=user,
                kind=kind,
                scope_kind=scope_kind,
                scope_id=scope_id,
                method=method,
                draws=draws,
                seed=seed,
            )
        return view
    return forecast_keep(
        user=user,
        kind=kind,
        scope_kind=scope_kind,
        scope_id=scope_id,
        method=method,
        draws=draws,
        seed=seed,
        version=version,
    )


def _kept_view(kept: KeptForecast | None, *, version: str, moment: dt.datetime) -> ForecastView | None:
    """The kept forecast if it may be shown now: fresh, or (a large scope, the same day) marked
    ``changed_since`` until the worker has had VIEW_STALE_SECONDS to recompute it."""
    if kept is None:
        return None
    age = (moment - kept.computed_at).total_seconds()
    same_day = timezone.localdate(kept.computed_at) == timezone.localdate(moment)
    if not same_day or age < 0:
        return None
    fresh = kept.version == version and age < VIEW_CACHE_SECONDS
    asked = kept.refresh_requested_at
    waiting = asked is None or (moment - asked).total_seconds() < VIEW_STALE_SECONDS
    if not fresh and not (kept.open_deals >= VIEW_STALE_MIN_OPEN and waiting):
        return None
    try:
        view = pickle.loads(bytes(kept.payload))  # noqa: S301 - written by forecast_keep only, never input
    except Exception:  # a payload of an older code version: compute anew
        return None
    if not isinstance(view, ForecastView):
        return None
    view.changed_since = not fresh
    return view


def _refresh_request(kept: KeptForecast, *, moment: dt.datetime, user: User, **arguments) -> None:
    """Ask the worker to recompute a kept forecast, once (whoever reads it first; the request computes it
    itself when the worker has not within VIEW_STALE_SECONDS)."""
    claimed = KeptForecast.objects.filter(pk=kept.pk, refresh_requested_at__isnull=True).update(
        refresh_requested_at=moment
    )
    if claimed:
        from dealflow.forecasting.tasks import forecast_refresh

        forecast_refresh.enqueue(user_id=user.pk, language=translation.get_language() or "", **arguments)


def forecast_keep(
    *,
    user: User,
    kind: str = "month",
    scope_kind: str | None = None,
    scope_id: int | None = None,
    method: str | None = None,
    draws: int = DRAWS,
    seed: int = SEED,
    version: tuple | None = None,
) -> ForecastView:
    """Compute the forecast now and keep it for everybody who may see its scope (the worker's refresh and
    the page when nothing recent is kept); ``version``: the data version read just before, if any."""
    version = version or _data_version(kind)
    view = forecast_compute(
        user=user, kind=kind, scope_kind=scope_kind, scope_id=scope_id, method=method, draws=draws, seed=seed
    )
    after = _data_version(kind)
    # The computation may have stored the day's fit (part of the version); anything else that changed
    # meanwhile keeps the version read before, so the next request recomputes.
    if after[:4] + after[5:] == version[:4] + version[5:]:
        version = after
    key = _kept_key(view.scope, kind, method, draws, seed)
    values = {
        "version": _version_text(version),
        "computed_at": view.as_of,
        "open_deals": view.open_deals,
        "payload": pickle.dumps(view, protocol=pickle.HIGHEST_PROTOCOL),
        "refresh_requested_at": None,
    }
    if not KeptForecast.objects.filter(key=key).update(**values):
        try:
            with transaction.atomic():
                KeptForecast.objects.create(key=key, **values)
        except IntegrityError:  # another process kept the same forecast at the same moment
            pass
    return view


def _version_text(version: tuple) -> str:
    return "|".join(version)


def _data_version(kind: str) -> tuple:
    """What a forecast depends on besides the clock, in one query of index look-ups: the newest deal
    event (every change of stage, amount, close date, owner, category or probability, and every win, loss
    and new deal writes one), the newest deal and the trash's count and latest deletion, the day's fit and the latest backtest, and count + last
    change of quotas, calls, memberships, stages and exchange rates."""
    # Our own table names, never input.
    event, deal, fit, run = (model._meta.db_table for model in (DealEvent, Deal, ForecastFit, BacktestRun))
    parts = [
        f"(SELECT MAX(id) FROM {event})",  # noqa: S608 - our names
        f"(SELECT MAX(id) FROM {deal})",  # noqa: S608 - our names
        # Deals moved to or restored from the trash (indexed deleted_at: a look-up, not a scan).
        f"(SELECT COUNT(*) FROM {deal} WHERE deleted_at IS NOT NULL)",  # noqa: S608 - our names
        f"(SELECT MAX(deleted_at) FROM {deal})",  # noqa: S608 - our names
        f"(SELECT MAX(id) FROM {fit} WHERE data_key = %s)",  # noqa: S608 - our names
        f"(SELECT MAX(id) FROM {run} WHERE status = %s)",  # noqa: S608 - our names
    ]
    for model in (Quota, ForecastCall, Membership, Stage, ExchangeRate):
        table = model._meta.db_table
        parts += [f"(SELECT COUNT(*) FROM {table})", f"(SELECT MAX(updated_at) FROM {table})"]  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT " + ", ".join(parts), [f"{engine.FIT_VERSION}:{kind}", BacktestStatus.DONE.value]
        )
        return tuple(str(value) for value in cursor.fetchone())


def forecast_compute(
    *,
    user: User,
    kind: str = "month",
    scope_kind: str | None = None,
    scope_id: int | None = None,
    method: str | None = None,
    draws: int = DRAWS,
    seed: int = SEED,
) -> ForecastView:
    """The forecast computed now (``forecast_for_user`` keeps it).

    Queries: scope, stages, rates, open deals, closed-to-date, memberships, quotas, calls, fit (cached
    per day) and the latest backtest, whatever the number of deals.
    """
    period_kind_check(kind)
    scope = scope_resolve_for_user(user=user, kind=scope_kind, scope_id=scope_id)
    choice = method_choice()
    reason = choice.reason
    methods = [choice.method] + [choice.later_method] * (HORIZON_COUNT - 1)
    if method:
        if method not in live.METHODS:
            raise ApplicationError(
                "Method must be dealflow, learned, configured, run_rate, last_year or blend.", field="method"
            )
        if method != choice.method:
            reason = _("Chosen on this page instead of the default (%(default)s).") % {
                "default": _method_label(choice.method)
            }
        methods = [method] * HORIZON_COUNT
    now_at = clock.now()
    now = engine.moment_of(now_at)
    periods = engine.periods_ahead(kind=kind, day=clock.today())
    currency = base_currency()
    factors = engine.currency_factors()
    stage_ids, stage_probability, stage_category, _is_open, stage_names = engine.stages_arrays()
    visible = owner_visibility_q(user=user) & scope.owner_q()
    rows, states = engine.open_deals_load(
        deals_q=visible, now=now, stage_ids=stage_ids, stage_category=stage_category, factors=factors
    )
    fit_result = engine.fit_for_today(kind=kind, allow_stale=True)
    if fit_result.stage_ids != [int(stage) for stage in stage_ids]:
        fit_result = engine.fit_refresh(kind=kind)  # stages were added since the day's fit
    calendar = engine.calendar_build(kind=kind, first=periods[0].start, last=periods[-1].start)
    membership_rows = list(Membership.objects.order_by("id").values_list("user_id", "team_id", "team__name"))
    owner_team: dict[int, int] = {}
    team_names: dict[int, str] = {}
    for user_id, team_id, team_name in membership_rows:
        owner_team.setdefault(user_id, team_id)
        team_names[team_id] = team_name
    leaf_owner_ids = _leaf_owners(scope, states, fit_result, owner_team, user)
    leaf_index = {owner: index for index, owner in enumerate(leaf_owner_ids)}
    leaf = np.array([leaf_index[int(owner)] for owner in states.owner], dtype=np.int64)
    parts = live.components(
        fit_result,
        states,
        calendar,
        now,
        leaf=leaf,
        leaf_owner_ids=leaf_owner_ids,
        horizons=len(periods),
        draws=draws,
        seed=seed,
    )
    prediction = parts.prediction
    if methods[0] in ("learned", "configured"):
        prediction = calc.predict(fit_result, states, calendar, now, method=methods[0], horizons=len(periods))
    closed_by_owner = dict(
        Deal.objects.filter(
            visible, status=DealStatus.WON, closed_on__gte=periods[0].start, closed_on__lte=clock.today()
        )
        .values_list("owner_id")
        .annotate(total=Sum("amount_base_minor"))
        .values_list("owner_id", "total")
    )
    book = TargetBook([period.key for period in periods])
    children = _children(scope, leaf_owner_ids, owner_team, team_names)
    all_leaves = list(range(len(leaf_owner_ids)))
    result_periods = []
    for horizon, period in enumerate(periods):
        closed = float(sum(value or 0 for value in closed_by_owner.values())) if horizon == 0 else 0.0
        targets = book.for_scope(period.key, scope)
        figures = live.figures(
            parts,
            leaves=all_leaves,
            horizon=horizon,
            closed=closed,
            quota=targets.quota,
            method=methods[horizon],
            calibration=choice.calibration,
            company=scope.kind == ScopeKind.COMPANY,
        )
        flags = calc.in_period_flags(states.close_on, calendar, np.full(len(states), horizon), horizon)
        expected_open = float((states.amount * prediction.p_period[:, horizon]).sum())
        result_periods.append(
            PeriodForecast(
                period=period,
                closed=_major(closed, currency) or 0.0,
                commit=_major(states.amount[flags & (states.category == 2)].sum(), currency) or 0.0,
                best_case=_major(states.amount[flags & (states.category == 1)].sum(), currency) or 0.0,
                pipeline=_major(states.amount[flags & (states.category == 0)].sum(), currency) or 0.0,
                weighted=_major((states.amount * stage_probability[states.stage] * flags).sum(), currency)
                or 0.0,
                expected_open=_major(expected_open, currency) or 0.0,
                expected_new=_major(max(0.0, figures.mean - closed - expected_open), currency) or 0.0,
                mean=_major(figures.mean, currency) or 0.0,
                p10=_major(figures.p10, currency) or 0.0,
                p50=_major(figures.p50, currency) or 0.0,
                p90=_major(figures.p90, currency) or 0.0,
                standard_error=_major(figures.standard_error, currency) or 0.0,
                quota=_major(targets.quota, currency),
                p_quota=figures.p_quota,
                call_commit=_major(targets.call_commit, currency),
                call_best_case=_major(targets.call_best_case, currency),
                children=[
                    _child_forecast(
                        child,
                        parts,
                        horizon,
                        closed_by_owner if horizon == 0 else {},
                        book,
                        period,
                        currency,
                        method=methods[horizon],
                        calibration=choice.calibration,
                    )
                    for child in children
                ],
                method=methods[horizon],
                calibrated=figures.calibrated,
                attainment=(closed / targets.quota) if targets.quota and horizon == 0 else None,
            )
        )
    explanations = _explain(rows, states, prediction, fit_result, stage_names, periods[0], currency)
    return ForecastView(
        scope=scope,
        kind=kind,
        method=methods[0],
        method_reason=reason,
        later_method=methods[-1],
        calibrated=result_periods[0].calibrated,
        coverage=choice.coverage if not method or method == choice.method else None,
        level=prediction.level,
        currency=currency,
        as_of=now_at,
        draws=draws,
        seed=seed,
        periods=result_periods,
        deals=explanations,
        open_deals=len(rows),
        fitted_on=timezone.localdate(dt.datetime.fromtimestamp(fit_result.as_of, tz=dt.UTC)),
    )


def _leaf_owners(scope: Scope, states: calc.States, fit_result: calc.Fit, owner_team, user) -> list[int]:
    owners = {int(owner) for owner in states.owner}
    if scope.owner_ids is not None:
        owners |= set(scope.owner_ids)
    elif user_access_scope(user=user).sees_everything:
        owners |= {
            int(owner) for points in fit_result.new_points for point in points for owner in point["by_owner"]
        }
        owners |= {int(owner) for owner in fit_result.owner_bookings}  # the run-rates' past owners
    return sorted(owners)


@dataclass
class _Child:
    label: str
    kind: str
    scope_id: int
    leaves: list[int]


def _children(
    scope: Scope, leaf_owner_ids: list[int], owner_team: dict[int, int], team_names: dict[int, str]
):
    if scope.kind == ScopeKind.REP:
        return []
    if scope.kind == ScopeKind.COMPANY:
        grouped: dict[int, list[int]] = defaultdict(list)
        for index, owner in enumerate(leaf_owner_ids):
            grouped[owner_team.get(owner, 0)].append(index)
        return [
            _Child(team_names.get(team_id, str(_("No team"))), ScopeKind.TEAM, team_id, leaves)
            for team_id, leaves in sorted(grouped.items(), key=lambda item: team_names.get(item[0], ""))
        ]
    names = dict(User.objects.filter(pk__in=leaf_owner_ids).values_list("pk", "username"))
    users = {user.pk: user.display_name for user in User.objects.filter(pk__in=leaf_owner_ids)}
    return [
        _Child(users.get(owner, names.get(owner, str(owner))), ScopeKind.REP, owner, [index])
        for index, owner in enumerate(leaf_owner_ids)
    ]


def _child_forecast(
    child: _Child,
    parts: live.Components,
    horizon,
    closed_by_owner,
    book: TargetBook,
    period: Period,
    currency,
    *,
    method: str,
    calibration: dict | None,
):
    if child.kind == ScopeKind.TEAM:
        members = set(book.members.get(child.scope_id, []))
        closed = float(sum(value for owner, value in closed_by_owner.items() if owner in members and value))
        targets = book.team(period.key, child.scope_id) if child.scope_id else ScopeTargets(None, None, None)
    else:
        closed = float(closed_by_owner.get(child.scope_id) or 0)
        targets = book.rep(period.key, child.scope_id)
    summary = live.figures(
        parts,
        leaves=child.leaves,
        horizon=horizon,
        closed=closed,
        quota=targets.quota,
        method=method,
        calibration=calibration,
        company=False,
    )
    return ChildForecast(
        label=child.label,
        scope_kind=child.kind,
        scope_id=child.scope_id,
        closed=_major(closed, currency) or 0.0,
        mean=_major(summary.mean, currency) or 0.0,
        p10=_major(summary.p10, currency) or 0.0,
        p90=_major(summary.p90, currency) or 0.0,
        quota=_major(targets.quota, currency),
        p_quota=summary.p_quota,
        call_commit=_major(targets.call_commit, currency),
    )
