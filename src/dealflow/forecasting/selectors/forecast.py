"""The Forecast page: the default method, the forecast per period and scope, and per-deal reasons."""

from __future__ import annotations

import datetime as dt
import pickle
from dataclasses import dataclass, field

import numpy as np
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from dealflow.accounts.models import Membership, User
from dealflow.accounts.selectors import owner_visibility_q
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.core.periods import Period, period_containing
from dealflow.deals.models import Deal, DealEvent, DealStatus, ExchangeRate, Stage
from dealflow.deals.selectors import base_currency
from dealflow.forecasting import calculations as calc
from dealflow.forecasting import engine, live
from dealflow.forecasting.models import (
    BacktestRun,
    BacktestStatus,
    ForecastCall,
    ForecastFit,
    KeptForecast,
    Quota,
    ScopeKind,
)
from dealflow.forecasting.selectors.children import ChildForecast, _child_forecast, _children, _leaf_owners
from dealflow.forecasting.selectors.explanations import DealExplanation, _explain
from dealflow.forecasting.selectors.methods import _method_label, method_choice
from dealflow.forecasting.selectors.scopes import (
    DRAWS,
    HORIZON_COUNT,
    SEED,
    Scope,
    _major,
    period_kind_check,
    scope_resolve_for_user,
)
from dealflow.forecasting.selectors.targets import TargetBook

# ------------------------------------------------------------------------------------- the forecast


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
    earlier_day: bool = False  # kept from an earlier day of the same period (shown with its date)


VIEW_CACHE_SECONDS = (
    600  # a kept forecast is recomputed after this even when no data changed (the clock moves it)
)
VIEW_STALE_SECONDS = 120  # a large one is still shown this long after it was computed, changed data or not
VIEW_STALE_MIN_OPEN = 5_000  # scopes with this many open deals (0.3 s or more to compute) may be shown stale
REFRESH_RETRY_SECONDS = 60  # a refresh asked of the worker is asked again after this
KEPT_FORMAT = "2"  # part of the key: a new layout or a moved class never unpickles an old payload


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
    view = _kept_view(kept, version=_version_text(version), moment=moment, kind=kind)
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


def _kept_view(
    kept: KeptForecast | None, *, version: str, moment: dt.datetime, kind: str
) -> ForecastView | None:
    """The kept forecast if it may be shown now: fresh, or (a large scope, the same period) marked
    ``changed_since`` until the worker has had VIEW_STALE_SECONDS to recompute it.

    A large scope's first request of a day is answered from the day before (with its date) while the worker
    recomputes it, instead of computing for seconds (2.4 s for a company of 1M deals); in a new period the
    periods shown are others, so it is computed."""
    if kept is None:
        return None
    age = (moment - kept.computed_at).total_seconds()
    computed_on, today = timezone.localdate(kept.computed_at), timezone.localdate(moment)
    if period_containing(computed_on, kind=kind) != period_containing(today, kind=kind) or age < 0:
        return None
    fresh = computed_on == today and kept.version == version and age < VIEW_CACHE_SECONDS
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
    view.earlier_day = computed_on != today
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
