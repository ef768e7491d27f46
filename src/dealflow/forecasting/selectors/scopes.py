"""Scopes (company, team, rep) a user may pick, and the constants of the forecast reads."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.http import Http404
from django.utils.translation import gettext as _

from dealflow.accounts.models import Membership, Team, User
from dealflow.accounts.selectors import user_access_scope, user_list_visible
from dealflow.core.errors import ApplicationError
from dealflow.core.money import from_minor
from dealflow.forecasting import engine
from dealflow.forecasting.models import ScopeKind

DRAWS = 10_000
SEED = 20_260_101
HORIZON_COUNT = engine.HORIZONS
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


def _major(minor: float | int | None, currency: str) -> float | None:
    if minor is None:
        return None
    return float(from_minor(round(minor), currency))
