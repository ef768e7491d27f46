"""Statements, disputes, preferences and deals behind the access gates (404 for missing and not yours)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from django.http import Http404

from dealflow.accounts.models import User
from dealflow.accounts.selectors import owner_editable_q, owner_visibility_q, user_access_scope
from dealflow.commissions.models import (
    CommissionPreference,
    CommissionSettings,
    DealSplit,
    Dispute,
    Statement,
    StatementLine,
)
from dealflow.commissions.selectors.common import day_start
from dealflow.core.errors import ApplicationError
from dealflow.core.periods import Period, parse_period, period_containing
from dealflow.deals.models import Deal, DealStatus


# ------------------------------------------------------------------------------------- statements
def statement_list_for_user(
    *, user: User, period_key: str | None = None, person_id: int | None = None, status: str | None = None
) -> QuerySet[Statement]:
    """Statements the user may see: their own, their managed teams' members', everybody's for admins."""
    statements = Statement.objects.filter(
        owner_visibility_q(user=user, owner_field="user_id")
    ).select_related("user", "plan")
    if period_key:
        statements = statements.filter(period_key=period_key)
    if person_id:
        statements = statements.filter(user_id=person_id)
    if status:
        statements = statements.filter(status=status)
    return statements.order_by("-period_start", "user__username")


def statement_get_for_user(*, statement_id: int, user: User) -> Statement:
    statement = statement_list_for_user(user=user).filter(pk=statement_id).first()
    if statement is None:
        raise Http404("No such statement.")
    return statement


def statement_can_manage(*, statement: Statement, user: User) -> bool:
    """Managers of the person's team and admins approve, adjust and pay; nobody approves their own."""
    scope = user_access_scope(user=user)
    if statement.user_id == user.pk:
        return False
    if scope.is_admin:
        return True
    return (
        scope.is_manager
        and Statement.objects.filter(
            owner_editable_q(user=user, owner_field="user_id"), pk=statement.pk
        ).exists()
    )


def statement_lines_queryset(*, statement: Statement) -> QuerySet[StatementLine]:
    """The statement's lines in their order (the page shows them a page at a time, the PDF all)."""
    return statement.lines.select_related("created_by").order_by("position", "id")


def statement_lines(*, statement: Statement) -> list[StatementLine]:
    return list(statement_lines_queryset(statement=statement))


def people_for_statements(*, user: User) -> QuerySet[User]:
    """People whose statements the user may compute and see."""
    return User.objects.filter(owner_visibility_q(user=user, owner_field="pk"), is_active=True).order_by(
        "username"
    )


def dispute_list_for_user(*, user: User, status: str | None = None) -> QuerySet[Dispute]:
    disputes = Dispute.objects.filter(
        owner_visibility_q(user=user, owner_field="statement__user_id")
    ).select_related("statement", "statement__user", "opened_by", "line")
    return disputes.filter(status=status) if status else disputes


def dispute_get_for_user(*, dispute_id: int, user: User) -> Dispute:
    dispute = dispute_list_for_user(user=user).filter(pk=dispute_id).first()
    if dispute is None:
        raise Http404("No such dispute.")
    return dispute


def period_parse(text: str | None, *, default_kind: str = "quarter", today: dt.date) -> Period:
    """A period from its key; the current one of ``default_kind`` when none is given."""
    if not text:
        return period_containing(today, kind=default_kind)
    period = parse_period(text)
    if period.kind not in ("month", "quarter"):
        raise ApplicationError("Statements are per month (2026-11) or quarter (2026-Q4).", field="period")
    return period


def preference_for(*, user: User) -> CommissionPreference:
    preference = CommissionPreference.objects.filter(user=user).first()
    return preference or CommissionPreference(user=user)


def settings_get() -> CommissionSettings:
    return CommissionSettings.objects.filter(pk=1).first() or CommissionSettings(pk=1)


def deal_split_history(*, deal: Deal) -> list[DealSplit]:
    """The deal's splits, current ones (no ``valid_to``) first, then the past ones newest first."""
    rows = list(DealSplit.objects.filter(deal=deal).select_related("user"))
    return sorted(
        rows, key=lambda split: (split.valid_to is not None, -split.valid_from.timestamp(), split.pk)
    )


def open_deals_of(*, user: User) -> QuerySet[Deal]:
    return Deal.objects.filter(owner=user, status=DealStatus.OPEN)


def deal_visible(*, deal_id: int, user: User) -> Deal:
    deal = Deal.objects.filter(owner_visibility_q(user=user), pk=deal_id).first()
    if deal is None:
        raise Http404("No such deal.")
    return deal


def users_with_activity_q(day_from: dt.date, day_to: dt.date) -> Q:
    return Q(done_at__gte=day_start(day_from), done_at__lt=day_start(day_to))
