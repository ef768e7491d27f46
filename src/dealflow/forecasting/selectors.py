"""Reads of the forecast: the page's numbers, snapshots, calls, quotas, accuracy and calibration.

Access: a scope is company (admins and analysts), a team (its managers, admins, analysts, and its reps
when the team lets reps see team deals) or a rep (anyone who may see that rep's deals); anything else
is a 404, like every ``_for_user`` gate. Deal data is always filtered through ``owner_visibility_q``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import asdict, dataclass, field

import numpy as np
from django.db.models import Case, Count, F, Q, QuerySet, Sum, Value, When
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from dealflow.accounts.models import Membership, Team, User
from dealflow.accounts.selectors import owner_visibility_q, user_access_scope, user_list_visible
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.core.formatting import format_number, format_percent
from dealflow.core.money import from_minor
from dealflow.core.periods import Period, parse_period
from dealflow.deals.models import Deal, DealStatus, Stage
from dealflow.deals.selectors import base_currency
from dealflow.forecasting import calculations as calc
from dealflow.forecasting import engine
from dealflow.forecasting.models import (
    BacktestRun,
    BacktestStatus,
    CalibrationSample,
    CallKind,
    ForecastCall,
    ForecastSnapshot,
    Method,
    Quota,
    ScopeKind,
    SnapshotDeal,
)

DRAWS = 10_000
SEED = 20_260_101
EXPLAINED_DEALS = 50
PERIOD_KINDS = ("month", "quarter")


# ------------------------------------------------------------------------------------------- scopes
@dataclass(frozen=True)
class Scope:
    kind: str
    team: Team | None = None
    user: User | None = None
    owner_ids: frozenset[int] | None = None  # None: everybody the viewer may see

    @property
    def label(self) -> str:
        if self.kind == ScopeKind.TEAM and self.team:
            return self.team.name
        if self.kind == ScopeKind.REP and self.user:
            return self.user.display_name
        return str(_("Company"))

    @property
    def key(self) -> str:
        if self.kind == ScopeKind.TEAM and self.team:
            return f"team:{self.team.pk}"
        if self.kind == ScopeKind.REP and self.user:
            return f"rep:{self.user.pk}"
        return "company"

    def owner_q(self, owner_field: str = "owner_id") -> Q:
        return Q() if self.owner_ids is None else Q(**{f"{owner_field}__in": self.owner_ids})


def _team_members(team_id: int) -> frozenset[int]:
    return frozenset(Membership.objects.filter(team_id=team_id).values_list("user_id", flat=True))


def scope_options_for_user(*, user: User) -> dict[str, list]:
    """The scopes a user may pick: company, teams and reps."""
    access = user_access_scope(user=user)
    teams = (
        Team.objects.all() if access.sees_everything else Team.objects.filter(pk__in=access.readable_team_ids)
    )
    return {
        "company": [True] if access.sees_everything else [],
        "teams": list(teams.order_by("name")),
        "reps": list(user_list_visible(user=user).order_by("first_name", "last_name", "username")),
    }


def scope_resolve_for_user(*, user: User, kind: str | None = None, scope_id: int | None = None) -> Scope:
    """The scope asked for, or the widest the user may see; 404 when it is missing or not theirs."""
    access = user_access_scope(user=user)
    if access.user_id is None:
        raise Http404("No such scope.")
    if kind in (None, ""):
        if access.sees_everything:
            return Scope(kind=ScopeKind.COMPANY)
        if access.managed_team_ids:
            kind, scope_id = ScopeKind.TEAM, min(access.managed_team_ids)
        else:
            kind, scope_id = ScopeKind.REP, user.pk
    if kind == ScopeKind.COMPANY:
        if not access.sees_everything:
            raise Http404("No such scope.")
        return Scope(kind=ScopeKind.COMPANY)
    if kind == ScopeKind.TEAM:
        team = Team.objects.filter(pk=scope_id).first() if scope_id else None
        if team is None or not (access.sees_everything or team.pk in access.readable_team_ids):
            raise Http404("No such team.")
        return Scope(kind=ScopeKind.TEAM, team=team, owner_ids=_team_members(team.pk))
    if kind == ScopeKind.REP:
        target = user_list_visible(user=user).filter(pk=scope_id or user.pk).first()
        if target is None:
            raise Http404("No such rep.")
        return Scope(kind=ScopeKind.REP, user=target, owner_ids=frozenset([target.pk]))
    raise ApplicationError("Scope must be company, team or rep.", field="scope")


def period_kind_check(kind: str) -> str:
    if kind not in PERIOD_KINDS:
        raise ApplicationError("Period must be month or quarter.", field="kind")
    return kind


# ------------------------------------------------------------------------------------ quotas, calls
def quota_list_for_user(*, user: User, period_keys: list[str] | None = None) -> QuerySet[Quota]:
    """Quotas of the teams and reps the user may see."""
    options = scope_options_for_user(user=user)
    team_ids = [team.pk for team in options["teams"]]
    user_ids = [rep.pk for rep in options["reps"]]
    quotas = Quota.objects.filter(Q(team_id__in=team_ids) | Q(user_id__in=user_ids)).select_related(
        "team", "user"
    )
    if period_keys is not None:
        quotas = quotas.filter(period_key__in=period_keys)
    return quotas.order_by("period_start", "team__name", "user__username")


def call_list_for_user(*, user: User, period_keys: list[str] | None = None) -> QuerySet[ForecastCall]:
    """Every call (newest first) of the teams and reps the user may see; the newest per scope counts."""
    options = scope_options_for_user(user=user)
    calls = ForecastCall.objects.filter(
        Q(team_id__in=[team.pk for team in options["teams"]])
        | Q(user_id__in=[rep.pk for rep in options["reps"]])
    ).select_related("team", "user", "submitted_by")
    if period_keys is not None:
        calls = calls.filter(period_key__in=period_keys)
    return calls.order_by("-created_at", "-id")


@dataclass
class ScopeTargets:
    quota: int | None
    call_commit: int | None
    call_best_case: int | None


def _latest_calls(period_keys: list[str], *, at: dt.datetime | None = None) -> tuple[dict, dict]:
    calls = ForecastCall.objects.filter(period_key__in=period_keys)
    if at is not None:
        calls = calls.filter(created_at__lte=at)
    rep_calls: dict[tuple[str, int], tuple[int, int]] = {}
    adjustments: dict[tuple[str, int], tuple[int, int]] = {}
    for period_key, kind, user_id, team_id, commit, best in calls.order_by("created_at", "id").values_list(
        "period_key", "kind", "user_id", "team_id", "commit_minor", "best_case_minor"
    ):
        if kind == CallKind.REP:
            rep_calls[(period_key, user_id)] = (commit, best)
        else:
            adjustments[(period_key, team_id)] = (commit, best)
    return rep_calls, adjustments


def _sum_or_none(values: list[int | None]) -> int | None:
    present = [value for value in values if value is not None]
    return sum(present) if present else None


class TargetBook:
    """Quotas and the latest calls for some periods, rolled up rep -> team -> company."""

    def __init__(self, period_keys: list[str], *, at: dt.datetime | None = None) -> None:
        self.team_quota: dict[tuple[str, int], int] = {}
        self.rep_quota: dict[tuple[str, int], int] = {}
        for period_key, team_id, user_id, amount in Quota.objects.filter(
            period_key__in=period_keys
        ).values_list("period_key", "team_id", "user_id", "amount_minor"):
            if team_id:
                self.team_quota[(period_key, team_id)] = amount
            else:
                self.rep_quota[(period_key, user_id)] = amount
        self.rep_calls, self.adjustments = _latest_calls(period_keys, at=at)
        self.members: dict[int, list[int]] = defaultdict(list)
        for team_id, user_id in Membership.objects.order_by("id").values_list("team_id", "user_id"):
            self.members[team_id].append(user_id)

    def rep(self, period_key: str, user_id: int) -> ScopeTargets:
        call = self.rep_calls.get((period_key, user_id))
        return ScopeTargets(
            self.rep_quota.get((period_key, user_id)), call[0] if call else None, call[1] if call else None
        )

    def team(self, period_key: str, team_id: int) -> ScopeTargets:
        reps = [self.rep(period_key, user_id) for user_id in self.members.get(team_id, [])]
        quota = self.team_quota.get((period_key, team_id))
        if quota is None:
            quota = _sum_or_none([rep.quota for rep in reps])
        adjustment = self.adjustments.get((period_key, team_id))
        if adjustment:
            return ScopeTargets(quota, adjustment[0], adjustment[1])
        return ScopeTargets(
            quota,
            _sum_or_none([rep.call_commit for rep in reps]),
            _sum_or_none([rep.call_best_case for rep in reps]),
        )

    def company(self, period_key: str) -> ScopeTargets:
        teams = [self.team(period_key, team_id) for team_id in self.members]
        return ScopeTargets(
            _sum_or_none([team.quota for team in teams]),
            _sum_or_none([team.call_commit for team in teams]),
            _sum_or_none([team.call_best_case for team in teams]),
        )

    def for_scope(self, period_key: str, scope: Scope) -> ScopeTargets:
        if scope.kind == ScopeKind.TEAM and scope.team:
            return self.team(period_key, scope.team.pk)
        if scope.kind == ScopeKind.REP and scope.user:
            return self.rep(period_key, scope.user.pk)
        return self.company(period_key)


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


@dataclass
class DealExplanation:
    deal_id: int
    title: str
    owner: str
    stage: str
    age_days: int
    amount: float
    expected_close_on: dt.date | None
    category: str
    configured: float
    p_win: float
    p_period: float
    expected_value: float
    source: str
    reason: str


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


def _major(minor: float | int | None, currency: str) -> float | None:
    if minor is None:
        return None
    return float(from_minor(round(minor), currency))


def method_default() -> tuple[str, str]:
    """The method the page uses and why: the best on the latest backtest of this team's own data."""
    run = BacktestRun.objects.filter(status=BacktestStatus.DONE).order_by("-finished_at", "-id").first()
    if run is None or not run.result.get("scored"):
        return Method.DEALFLOW, _(
            "No backtest has been run yet, so Dealflow's own method is used: win rates within the period "
            "learned from weekly pipeline states, plus a run-rate for deals not yet created."
        )
    result = run.result
    default = result["default_method"]
    overall = result["overall"][default]
    reason = _("%(method)s had the lowest error on your own data: WAPE %(wape)s over %(count)s forecasts") % {
        "method": Method(default).label,
        "wape": format_percent(overall["wape"], 1),
        "count": format_number(overall["count"]),
    }
    baseline = result.get("best_baseline")
    if baseline:
        baseline_wape = format_percent(result["overall"][baseline]["wape"], 1)
        if result.get("beats_baselines"):
            reason += _(", better than the best baseline (%(baseline)s, WAPE %(wape)s).") % {
                "baseline": Method(baseline).label,
                "wape": baseline_wape,
            }
        else:
            reason += _(
                "; it does not beat the baseline %(baseline)s (WAPE %(wape)s) yet, so read it with care."
            ) % {
                "baseline": Method(baseline).label,
                "wape": baseline_wape,
            }
    reason += " " + _("Backtest of %(start)s to %(end)s.") % {"start": run.period_from, "end": run.period_to}
    return default, reason


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

    Queries: scope, stages, rates, open deals, closed-to-date, memberships, quotas, calls, fit (cached
    per day) and the latest backtest, whatever the number of deals.
    """
    period_kind_check(kind)
    scope = scope_resolve_for_user(user=user, kind=scope_kind, scope_id=scope_id)
    default_method, reason = method_default()
    method = method or default_method
    if method not in calc.MODEL_METHODS:
        raise ApplicationError("Method must be dealflow, learned or configured.", field="method")
    if method != default_method:
        reason = _("Chosen on this page instead of the default (%(default)s).") % {
            "default": Method(default_method).label
        }
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
    prediction, revenue = calc.forecast_draws(
        fit_result,
        states,
        calendar,
        now,
        method=method,
        horizons=len(periods),
        leaf=leaf,
        leaf_owners=[np.array([owner], dtype=np.int64) for owner in leaf_owner_ids],
        draws=draws,
        seed=seed,
    )
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
    result_periods = []
    for horizon, period in enumerate(periods):
        closed = float(sum(closed_by_owner.values())) if horizon == 0 else 0.0
        targets = book.for_scope(period.key, scope)
        summary = calc.summarise(revenue[:, horizon, :].sum(axis=0), closed=closed, quota=targets.quota)
        flags = calc.in_period_flags(states.close_on, calendar, np.full(len(states), horizon), horizon)
        result_periods.append(
            PeriodForecast(
                period=period,
                closed=_major(closed, currency) or 0.0,
                commit=_major(states.amount[flags & (states.category == 2)].sum(), currency) or 0.0,
                best_case=_major(states.amount[flags & (states.category == 1)].sum(), currency) or 0.0,
                pipeline=_major(states.amount[flags & (states.category == 0)].sum(), currency) or 0.0,
                weighted=_major((states.amount * stage_probability[states.stage] * flags).sum(), currency)
                or 0.0,
                expected_open=_major((states.amount * prediction.p_period[:, horizon]).sum(), currency)
                or 0.0,
                expected_new=_major(
                    max(
                        0.0,
                        summary.mean
                        - closed
                        - float((states.amount * prediction.p_period[:, horizon]).sum()),
                    ),
                    currency,
                )
                or 0.0,
                mean=_major(summary.mean, currency) or 0.0,
                p10=_major(summary.p10, currency) or 0.0,
                p50=_major(summary.p50, currency) or 0.0,
                p90=_major(summary.p90, currency) or 0.0,
                standard_error=_major(summary.standard_error, currency) or 0.0,
                quota=_major(targets.quota, currency),
                p_quota=summary.p_quota,
                call_commit=_major(targets.call_commit, currency),
                call_best_case=_major(targets.call_best_case, currency),
                children=[
                    _child_forecast(
                        child,
                        revenue,
                        horizon,
                        closed_by_owner if horizon == 0 else {},
                        book,
                        period,
                        currency,
                    )
                    for child in children
                ],
            )
        )
    explanations = _explain(rows, states, prediction, fit_result, stage_names, periods[0], currency)
    return ForecastView(
        scope=scope,
        kind=kind,
        method=method,
        method_reason=reason,
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
    child: _Child, revenue, horizon, closed_by_owner, book: TargetBook, period: Period, currency
):
    draws = revenue[child.leaves, horizon, :].sum(axis=0)
    if child.kind == ScopeKind.TEAM:
        members = set(book.members.get(child.scope_id, []))
        closed = float(sum(value for owner, value in closed_by_owner.items() if owner in members and value))
        targets = book.team(period.key, child.scope_id) if child.scope_id else ScopeTargets(None, None, None)
    else:
        closed = float(closed_by_owner.get(child.scope_id) or 0)
        targets = book.rep(period.key, child.scope_id)
    summary = calc.summarise(draws, closed=closed, quota=targets.quota)
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


def deal_reason(
    *, fit_result: calc.Fit, stage: int, stage_name: str, age_days: float, level: str, overridden: float | None,
    p_period: float, in_period: bool, period_key: str,
) -> str:  # fmt: skip
    """Why a deal has its probability, in words."""
    bucket = int(calc.age_bucket(np.array([age_days]))[0])
    if overridden is not None and not np.isnan(overridden):
        text = _("The owner set the win probability to %(p)d %%.") % {"p": round(100 * overridden)}
    elif level == "L0":
        text = _(
            "Configured probability of %(stage)s (%(p)d %%): fewer than %(n)d deals closed in the last 24 months to learn from."
        ) % {"stage": stage_name, "p": round(100 * fit_result.configured[stage]), "n": calc.L1_MIN_CLOSED}
    elif level == "L1":
        text = _(
            "Deals that reached %(stage)s were won %(p)d %% of the time (%(n)d closed deals, last 24 months)."
        ) % {
            "stage": stage_name,
            "p": round(100 * fit_result.learned[stage]),
            "n": fit_result.stage_count[stage],
        }
    else:
        text = _(
            "Deals in %(stage)s for %(age)s days have been won %(p)d %% of the time (%(n)d deals, last 24 months)."
        ) % {
            "stage": stage_name,
            "age": calc.AGE_LABELS[bucket],
            "p": round(100 * fit_result.aged[stage][bucket]),
            "n": fit_result.aged_count[stage][bucket],
        }
    if level == "L3":
        text += " " + _(
            "Won inside %(period)s: %(p)d %%, learned from past weekly pipelines (stage, age, close date %(flag)s the period)."
        ) % {"period": period_key, "p": round(100 * p_period), "flag": _("in") if in_period else _("outside")}
    elif in_period:
        text += " " + _("Counted in %(period)s because its close date falls in it.") % {"period": period_key}
    else:
        text += " " + _("Not counted in %(period)s: its close date falls outside it.") % {
            "period": period_key
        }
    return text


def _explain(rows, states, prediction, fit_result, stage_names, period, currency) -> list[DealExplanation]:
    expected = states.amount * prediction.p_period[:, 0]
    order = np.argsort(-expected, kind="stable")[:EXPLAINED_DEALS]
    in_period = states.close_on != calc.NO_DATE
    in_period &= states.close_on < period.end.toordinal()
    result = []
    for index in order.tolist():
        row = rows[index]
        stage = int(states.stage[index])
        result.append(
            DealExplanation(
                deal_id=row[0],
                title=row[9],
                owner=row[10],
                stage=stage_names[stage],
                age_days=int(states.age_days[index]),
                amount=_major(states.amount[index], currency) or 0.0,
                expected_close_on=dt.date.fromordinal(row[6]) if row[6] != calc.NO_DATE else None,
                category=calc.CATEGORIES[int(states.category[index])] if states.category[index] >= 0 else "",
                configured=float(fit_result.configured[stage]),
                p_win=float(prediction.p_win[index]),
                p_period=float(prediction.p_period[index, 0]),
                expected_value=_major(expected[index], currency) or 0.0,
                source=prediction.source[index],
                reason=deal_reason(
                    fit_result=fit_result,
                    stage=stage,
                    stage_name=stage_names[stage],
                    age_days=float(states.age_days[index]),
                    level=prediction.level,
                    overridden=float(states.probability_override[index]),
                    p_period=float(prediction.p_period[index, 0]),
                    in_period=bool(in_period[index]),
                    period_key=period.key,
                ),
            )
        )
    return result


# ------------------------------------------------------------------------------------------ snapshots
def snapshot_list_for_user(
    *, user: User, scope_kind: str | None = None, scope_id: int | None = None, period: str | None = None
) -> QuerySet[ForecastSnapshot]:
    """Snapshots of one scope the user may see (default: the widest), newest first."""
    scope = scope_resolve_for_user(user=user, kind=scope_kind, scope_id=scope_id)
    snapshots = ForecastSnapshot.objects.filter(scope_kind=scope.kind)
    if scope.kind == ScopeKind.TEAM and scope.team:
        snapshots = snapshots.filter(team=scope.team)
    elif scope.kind == ScopeKind.REP and scope.user:
        snapshots = snapshots.filter(owner=scope.user)
    if period:
        snapshots = snapshots.filter(period_key=parse_period(period).key)
    return snapshots.order_by("-as_of", "period_start", "-id")


def snapshot_get_for_user(*, snapshot_id: int, user: User) -> ForecastSnapshot:
    snapshot = ForecastSnapshot.objects.filter(pk=snapshot_id).select_related("team", "owner").first()
    if snapshot is None:
        raise Http404("No such snapshot.")
    scope_id = snapshot.team_id if snapshot.scope_kind == ScopeKind.TEAM else snapshot.owner_id
    scope_resolve_for_user(user=user, kind=snapshot.scope_kind, scope_id=scope_id)  # 404 when not theirs
    return snapshot


def snapshot_deals_for_user(*, snapshot: ForecastSnapshot, user: User) -> QuerySet[SnapshotDeal]:
    """The deal rows of a snapshot's run that the user may see and that belong to its scope."""
    rows = SnapshotDeal.objects.filter(run_key=snapshot.run_key).filter(
        deal_id__in=Deal.objects.filter(owner_visibility_q(user=user)).values("id")
    )
    if snapshot.scope_kind == ScopeKind.TEAM and snapshot.team_id:
        rows = rows.filter(
            owner_id_at__in=Membership.objects.filter(team_id=snapshot.team_id).values("user_id")
        )
    elif snapshot.scope_kind == ScopeKind.REP and snapshot.owner_id:
        rows = rows.filter(owner_id_at=snapshot.owner_id)
    return rows.select_related("stage").order_by("-amount_minor", "deal_id")


# ------------------------------------------------------------------------------------------- accuracy
@dataclass
class AccuracyResult:
    period: str
    scope: str
    as_of: dt.datetime
    week: int
    method: str
    currency: str
    forecast: float
    p10: float
    p90: float
    actual: float
    accuracy: float | None
    covered: bool
    call_commit: float | None
    call_accuracy: float | None


def _scope_snapshots(scope: Scope):
    snapshots = ForecastSnapshot.objects.filter(scope_kind=scope.kind)
    if scope.kind == ScopeKind.TEAM and scope.team:
        return snapshots.filter(team=scope.team)
    if scope.kind == ScopeKind.REP and scope.user:
        return snapshots.filter(owner=scope.user)
    return snapshots


def _actual_minor(*, user: User, scope: Scope, period: Period) -> int:
    total = Deal.objects.filter(
        owner_visibility_q(user=user),
        scope.owner_q(),
        status=DealStatus.WON,
        closed_on__gte=period.start,
        closed_on__lt=period.end,
    ).aggregate(total=Sum("amount_base_minor"))["total"]
    return int(total or 0)


def _accuracy_from(
    snapshot: ForecastSnapshot, actual_minor: int, scope: Scope, period: Period
) -> AccuracyResult:
    currency = snapshot.currency
    call = snapshot.call_commit_minor
    return AccuracyResult(
        period=period.key,
        scope=scope.key,
        as_of=snapshot.as_of,
        week=(snapshot.as_of_on - period.start).days // 7,
        method=snapshot.method,
        currency=currency,
        forecast=_major(snapshot.mean_minor, currency) or 0.0,
        p10=_major(snapshot.p10_minor, currency) or 0.0,
        p90=_major(snapshot.p90_minor, currency) or 0.0,
        actual=_major(actual_minor, currency) or 0.0,
        accuracy=calc.accuracy(actual_minor, snapshot.mean_minor),
        covered=snapshot.p10_minor <= actual_minor <= snapshot.p90_minor,
        call_commit=_major(call, currency),
        call_accuracy=calc.accuracy(actual_minor, call) if call is not None else None,
    )


def forecast_accuracy_for_period(
    *,
    user: User,
    period: str | Period,
    scope_kind: str | None = None,
    scope_id: int | None = None,
    week: int = 0,
) -> AccuracyResult | None:
    """The forecast frozen at the period's start (or ``week`` weeks in) against what closed; None if no snapshot.

    The snapshot used is the first taken in that week of the period; for week 0, one taken up to 7 days
    before the start counts too. Accuracy = 1 - |A - F| / A (None when nothing closed). The period must
    have ended.
    """
    period = parse_period(period) if isinstance(period, str) else period
    if period.end > clock.today():
        raise ApplicationError("The period has not ended yet; accuracy needs the actual.", field="period")
    scope = scope_resolve_for_user(user=user, kind=scope_kind, scope_id=scope_id)
    week_start = period.start + dt.timedelta(days=7 * week)
    window_start = week_start - dt.timedelta(days=7) if week == 0 else week_start
    candidates = _scope_snapshots(scope).filter(
        period_key=period.key, as_of_on__gte=window_start, as_of_on__lt=week_start + dt.timedelta(days=7)
    )
    snapshot = (
        candidates.filter(as_of_on__gte=week_start).order_by("as_of", "id").first()
        or candidates.order_by("-as_of", "-id").first()
    )
    if snapshot is None:
        return None
    return _accuracy_from(snapshot, _actual_minor(user=user, scope=scope, period=period), scope, period)


@dataclass
class AccuracyTable:
    rows: list[AccuracyResult]
    by_week: list[dict]


def forecast_accuracy_table_for_user(
    *,
    user: User,
    kind: str = "month",
    scope_kind: str | None = None,
    scope_id: int | None = None,
    periods: int = 12,
) -> AccuracyTable:
    """Every closed period with snapshots: model vs human call per lead time, with WAPE, bias and coverage."""
    period_kind_check(kind)
    scope = scope_resolve_for_user(user=user, kind=scope_kind, scope_id=scope_id)
    today = clock.today()
    keys = list(
        _scope_snapshots(scope)
        .filter(period_end__lte=today)
        .order_by("-period_start")
        .values_list("period_key", flat=True)
        .distinct()
    )
    period_list = [parse_period(key) for key in dict.fromkeys(keys)]
    period_list = [period for period in period_list if period.kind == kind][:periods]
    rows: list[AccuracyResult] = []
    for period in period_list:
        actual = _actual_minor(user=user, scope=scope, period=period)
        snapshots = _scope_snapshots(scope).filter(period_key=period.key).order_by("as_of", "id")
        seen_weeks = set()
        for snapshot in snapshots:
            week = (
                max(0, (snapshot.as_of_on - period.start).days // 7)
                if snapshot.as_of_on >= period.start - dt.timedelta(days=7)
                else None
            )
            if week is None or week in seen_weeks or snapshot.as_of_on >= period.end:
                continue
            seen_weeks.add(week)
            rows.append(_accuracy_from(snapshot, actual, scope, period))
    by_week = []
    for week in sorted({row.week for row in rows}):
        members = [row for row in rows if row.week == week]
        actuals = [row.actual for row in members]
        with_call = [row for row in members if row.call_commit is not None]
        by_week.append(
            {
                "week": week,
                "count": len(members),
                "accuracy": _mean([row.accuracy for row in members]),
                "wape": calc.wape(actuals, [row.forecast for row in members]),
                "bias": calc.bias(actuals, [row.forecast for row in members]),
                "coverage": calc.coverage(
                    actuals, [row.p10 for row in members], [row.p90 for row in members]
                ),
                "call_count": len(with_call),
                "call_accuracy": _mean([row.call_accuracy for row in with_call]),
                "call_wape": calc.wape(
                    [row.actual for row in with_call], [float(row.call_commit or 0) for row in with_call]
                )
                if with_call
                else None,
                "call_bias": calc.bias(
                    [row.actual for row in with_call], [float(row.call_commit or 0) for row in with_call]
                )
                if with_call
                else None,
            }
        )
    return AccuracyTable(rows=rows, by_week=by_week)


def _mean(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) / len(present) if present else None


# ---------------------------------------------------------------------------------------- calibration
@dataclass
class StageCalibration:
    stage: str
    count: int
    configured: float
    predicted: float
    observed: float
    brier_configured: float
    brier_model: float
    skill_model: float | None
    ece_model: float


def _visibility_key(user: User) -> str:
    """Who the user's deal data comes from, as a short key: "all", or a hash of the visible owner ids."""
    access = user_access_scope(user=user)
    if access.sees_everything:
        return "all"
    owners = {access.user_id} if access.user_id else set()
    owners |= set(
        Membership.objects.filter(team_id__in=access.readable_team_ids).values_list("user_id", flat=True)
    )
    return hashlib.sha1(",".join(map(str, sorted(owners))).encode(), usedforsecurity=False).hexdigest()[:20]


def forecast_calibration_for_user(*, user: User, since: dt.date | None = None) -> dict:
    """Per stage: predicted against observed win rates of deals seen in snapshots that have since closed.

    Each deal counts once per stage: the first snapshot that saw it there (CalibrationSample), when that
    snapshot is no older than ``since`` (default two years). Brier scores for the configured probability
    and for the model, the model's skill against the base rate and its calibration error.

    As of today's midnight (samples and closings before it), computed once a day per set of visible
    owners and kept like the day's fit: one grouped query over every sample, then two small ones a day.
    """
    today = clock.today()
    since = since or today - dt.timedelta(days=730)
    key = f"calibration:{engine.FIT_VERSION}:{since.isoformat()}:{_visibility_key(user)}"
    stored = engine.daily_result_get(key=key)
    if stored is None:
        stored = engine.daily_result_put(
            key=key, value=_calibration_compute(user=user, since=since, today=today)
        )
    return {
        "stages": [StageCalibration(**row) for row in stored["stages"]],
        "model": calc.Calibration(**stored["model"]) if stored["model"] else None,
        "configured": calc.Calibration(**stored["configured"]) if stored["configured"] else None,
        "since": since,
    }


def _calibration_compute(*, user: User, since: dt.date, today: dt.date) -> dict:
    samples = CalibrationSample.objects.filter(
        owner_visibility_q(user=user, owner_field="deal__owner_id"),
        as_of__gte=engine.midnight(since),
        as_of__lt=engine.midnight(today),
        deal__status__in=[DealStatus.WON, DealStatus.LOST],
        deal__closed_on__lt=today,
    )
    # Summed by stage, outcome and both bins; the rows need not be unique per bin to be summed again.
    rows = np.array(
        list(
            samples.annotate(
                won=Case(When(deal__status=DealStatus.WON, then=Value(1)), default=Value(0)),
                model_bin=engine.ProbabilityBin("p_win"),
                configured_bin=engine.ProbabilityBin("configured_probability"),
            )
            .values("stage_id", "won", "model_bin", "configured_bin")
            .annotate(
                count=Count("*"),
                sum_p=Sum("p_win"),
                sum_p2=Sum(F("p_win") * F("p_win")),
                sum_c=Sum("configured_probability"),
                sum_c2=Sum(F("configured_probability") * F("configured_probability")),
            )
            .values_list(
                "stage_id",
                "won",
                "model_bin",
                "configured_bin",
                "count",
                "sum_p",
                "sum_p2",
                "sum_c",
                "sum_c2",
            )
        ),
        dtype=np.float64,
    ).reshape(-1, 9)

    def model(mask=None, base_rate=None) -> calc.Calibration:
        part = rows if mask is None else rows[mask]
        return calc.calibration_from_groups(
            part[:, 2], part[:, 1], part[:, 4], part[:, 5], part[:, 6], base_rate=base_rate
        )

    def configured(mask=None, base_rate=None) -> calc.Calibration:
        part = rows if mask is None else rows[mask]
        return calc.calibration_from_groups(
            part[:, 3], part[:, 1], part[:, 4], part[:, 7], part[:, 8], base_rate=base_rate
        )

    if not len(rows):
        return {"stages": [], "model": None, "configured": None}
    overall_model, overall_configured = model(), configured()
    stage_ids = sorted({int(stage) for stage in rows[:, 0]})
    names = {
        stage_id: (order, name)
        for stage_id, order, name in Stage.objects.filter(pk__in=stage_ids).values_list("id", "order", "name")
    }
    stages = []
    for stage_id in sorted(stage_ids, key=lambda key: names.get(key, (0, ""))):
        in_stage = rows[:, 0] == stage_id
        stage_model = model(in_stage, overall_model.observed)
        stage_configured = configured(in_stage, overall_model.observed)
        stages.append(
            StageCalibration(
                stage=names.get(stage_id, (0, str(stage_id)))[1],
                count=stage_model.count,
                configured=stage_configured.predicted,
                predicted=stage_model.predicted,
                observed=stage_model.observed,
                brier_configured=stage_configured.brier,
                brier_model=stage_model.brier,
                skill_model=stage_model.skill,
                ece_model=stage_model.ece,
            )
        )
    return {
        "stages": [asdict(stage) for stage in stages],
        "model": asdict(overall_model),
        "configured": asdict(overall_configured),
    }


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
