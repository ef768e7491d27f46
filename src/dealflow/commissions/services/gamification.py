"""Gamification settings, preferences, contests and badges."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import F, Q

from dealflow.accounts.models import Team, User
from dealflow.accounts.services import audit_record
from dealflow.commissions import selectors
from dealflow.commissions.models import (
    Badge,
    BadgeKind,
    CommissionPreference,
    CommissionSettings,
    Contest,
    LeaderboardVisibility,
    Measure,
    Statement,
)
from dealflow.commissions.services.plans import money_of
from dealflow.core.errors import ApplicationError
from dealflow.core.periods import period_containing
from dealflow.deals.models import Deal, DealEvent, DealStatus, EventKind


@transaction.atomic
def settings_set(*, leaderboard_visibility: str, by: User) -> CommissionSettings:
    """Company-wide leaderboard visibility: team only, company, or off."""
    if leaderboard_visibility not in LeaderboardVisibility.values:
        raise ApplicationError("Visibility must be team, company or off.", field="leaderboard_visibility")
    settings, _created = CommissionSettings.objects.get_or_create(pk=1)
    settings.leaderboard_visibility = leaderboard_visibility
    settings.save()
    audit_record(
        actor=by, action="commissions.settings_changed", detail={"visibility": leaderboard_visibility}
    )
    return settings


@transaction.atomic
def preference_set(
    *,
    user: User,
    is_leaderboard_opt_out: bool | None = None,
    is_celebration_on: bool | None = None,
    is_board_what_if_on: bool | None = None,
) -> CommissionPreference:
    """A user's own choices (only the ones given change)."""
    preference, _created = CommissionPreference.objects.get_or_create(user=user)
    if is_leaderboard_opt_out is not None:
        preference.is_leaderboard_opt_out = is_leaderboard_opt_out
    if is_celebration_on is not None:
        preference.is_celebration_on = is_celebration_on
    if is_board_what_if_on is not None:
        preference.is_board_what_if_on = is_board_what_if_on
    preference.save()
    return preference


@transaction.atomic
def contest_create(
    *,
    name: str,
    measure: str,
    starts_on: dt.date,
    ends_on: dt.date,
    target: Any,
    prize: str = "",
    team: Team | None = None,
    is_for_teams: bool = False,
    by: User,
) -> Contest:
    """A time-boxed target on a measure (revenue in base-currency units, attainment/quality in percent,
    activities as a count)."""
    selectors.plan_check_admin(user=by)
    if not (name or "").strip():
        raise ApplicationError("Give the contest a name.", field="name")
    if measure not in Measure.values:
        raise ApplicationError("Pick a measure.", field="measure")
    if ends_on < starts_on:
        raise ApplicationError("A contest must end on or after its start.", field="ends_on")
    if measure == Measure.WON_REVENUE:
        target_value = money_of(target, field="target")
    else:
        try:
            target_value = int(str(target).strip())
        except ValueError as error:
            raise ApplicationError("The target must be a whole number.", field="target") from error
    if target_value <= 0:
        raise ApplicationError("The target must be above 0.", field="target")
    contest = Contest.objects.create(
        name=name.strip(),
        measure=measure,
        starts_on=starts_on,
        ends_on=ends_on,
        target=target_value,
        prize=prize.strip()[:300],
        team=team,
        is_for_teams=is_for_teams,
        created_by=by,
    )
    audit_record(
        actor=by, action="commissions.contest_created", target=contest.name, detail={"contest": contest.pk}
    )
    return contest


def _award(user_id: int, kind: str, key: str, on: dt.date) -> bool:
    _badge, created = Badge.objects.get_or_create(
        user_id=user_id, kind=kind, key=key, defaults={"awarded_on": on}
    )
    return created


@transaction.atomic
def badges_award(*, today: dt.date) -> int:
    """Award the milestones reached by ``today``; returns how many badges are new (running twice adds none).

    first_deal: a WON event whose deal the person owned when it was won. quota_reached: a statement at
    100 % or more. clean_month: last calendar month, the person had open deals and none of them went
    untouched longer than its stage's rotting days by the month's end."""
    new = 0
    won = DealEvent.objects.filter(kind=EventKind.WON, occurred_at__lt=selectors.day_start(today))
    first_owners = set(won.values_list("deal__owner_id", flat=True).distinct())
    for user_id in sorted(first_owners):
        new += _award(user_id, BadgeKind.FIRST_DEAL, "", today)
    for user_id, key in Statement.objects.filter(attainment_percent__gte=100).values_list(
        "user_id", "period_key"
    ):
        new += _award(user_id, BadgeKind.QUOTA_REACHED, key, today)
    month = period_containing(today, kind="month").previous()
    month_end = selectors.day_start(month.end)
    open_then = Deal.objects.filter(created_at__lt=month_end).filter(
        Q(status=DealStatus.OPEN) | Q(closed_on__gte=month.end)
    )
    owners = set(open_then.values_list("owner_id", flat=True).distinct())
    stale = set()
    for owner_id, last_activity, entered, rotting in open_then.values_list(
        "owner_id", "last_activity_at", "stage_entered_at", F("stage__rotting_days")
    ):
        touched = max(moment for moment in (last_activity, entered) if moment is not None)
        if (month_end - touched).days > rotting:
            stale.add(owner_id)
    for user_id in sorted(owners - stale):
        new += _award(user_id, BadgeKind.CLEAN_MONTH, month.key, today)
    return new
