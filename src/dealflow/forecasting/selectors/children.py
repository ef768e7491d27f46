"""The forecast's breakdown one level down: the teams of a company forecast, the reps of a team's."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.utils.translation import gettext as _

from dealflow.accounts.models import User
from dealflow.accounts.selectors import user_access_scope
from dealflow.core.periods import Period
from dealflow.forecasting import calculations as calc
from dealflow.forecasting import live
from dealflow.forecasting.models import ScopeKind
from dealflow.forecasting.selectors.scopes import Scope, _major
from dealflow.forecasting.selectors.targets import ScopeTargets, TargetBook


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
