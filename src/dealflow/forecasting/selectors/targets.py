"""Quotas and calls of the teams and reps a user may see, rolled up rep -> team -> company."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from dealflow.accounts.models import Membership, User
from dealflow.forecasting.models import CallKind, ForecastCall, Quota, ScopeKind
from dealflow.forecasting.selectors.scopes import Scope, scope_options_for_user


# ------------------------------------------------------------------------------------ quotas, calls
def quota_list_for_user(
    *, user: User, period_keys: list[str] | None = None, options: dict[str, list] | None = None
) -> QuerySet[Quota]:
    """Quotas of the teams and reps the user may see (``options``: the user's scope_options_for_user, when
    the caller has them already)."""
    options = options or scope_options_for_user(user=user)
    team_ids = [team.pk for team in options["teams"]]
    user_ids = [rep.pk for rep in options["reps"]]
    quotas = Quota.objects.filter(Q(team_id__in=team_ids) | Q(user_id__in=user_ids)).select_related(
        "team", "user"
    )
    if period_keys is not None:
        quotas = quotas.filter(period_key__in=period_keys)
    return quotas.order_by("period_start", "team__name", "user__username")


def call_list_for_user(
    *, user: User, period_keys: list[str] | None = None, options: dict[str, list] | None = None
) -> QuerySet[ForecastCall]:
    """Every call (newest first) of the teams and reps the user may see; the newest per scope counts."""
    options = options or scope_options_for_user(user=user)
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
