"""Snapshots of a scope and their deal rows, for the users who may see them."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from dealflow.accounts.models import Membership, User
from dealflow.accounts.selectors import owner_visibility_q
from dealflow.core.periods import parse_period
from dealflow.deals.models import Deal
from dealflow.forecasting.models import ForecastSnapshot, ScopeKind, SnapshotDeal
from dealflow.forecasting.selectors.scopes import scope_resolve_for_user


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
