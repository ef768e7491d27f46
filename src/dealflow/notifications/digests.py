"""The daily digest for reps and the weekly one for managers, e-mailed in each user's language.

Daily (from 07:00 local time, once per day): activities due today, overdue ones, my deals that rot, and what
others changed on my deals in the last 24 hours. Weekly (Mondays from 07:00, once per ISO week), per team the
user manages: deals created, won and lost in the last 7 days, close dates that slipped (moved later, or passed
while the deal is still open) and new bottlenecks: stages holding more deals past their rotting days than a
week before.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.template.loader import render_to_string
from django.utils import timezone, translation

from dealflow.accounts.models import Membership, Role, User
from dealflow.core import clock
from dealflow.core.money import from_minor
from dealflow.deals.models import Activity, Deal, DealEvent, DealStatus, EventKind, Stage, StageSpell
from dealflow.notifications.models import Channel, DigestSent, NotificationKind
from dealflow.notifications.services import channel_for

logger = logging.getLogger(__name__)
SEND_FROM_HOUR = 7
LIST_LIMIT = 10


@dataclass
class DailyDigest:
    due_today: list[Activity]
    overdue: list[Activity]
    rotting: list[Deal]
    changes: list[DealEvent]

    @property
    def is_empty(self) -> bool:
        return not (self.due_today or self.overdue or self.rotting or self.changes)


def digest_daily_for(*, user: User, now: dt.datetime) -> DailyDigest:
    """What a rep's daily digest lists (each list at most ten, soonest or newest first)."""
    today = timezone.localdate(now)
    day_start = timezone.make_aware(dt.datetime.combine(today, dt.time.min))
    open_activities = Activity.objects.filter(owner=user, done_at__isnull=True).select_related("deal")
    due_today = list(
        open_activities.filter(
            due_at__gte=max(day_start, now), due_at__lt=day_start + dt.timedelta(days=1)
        ).order_by("due_at")[:LIST_LIMIT]
    )
    overdue = list(open_activities.filter(due_at__lt=now).order_by("-due_at")[:LIST_LIMIT])
    rotting = [
        deal
        for deal in Deal.objects.filter(owner=user, status=DealStatus.OPEN)
        .select_related("stage")
        .order_by("stage_entered_at")[:200]
        if deal.stage.rotting_days and (now - deal.stage_entered_at).days > deal.stage.rotting_days
    ][:LIST_LIMIT]
    changes = list(
        DealEvent.objects.filter(deal__owner=user, recorded_at__gte=now - dt.timedelta(days=1))
        .exclude(actor=user)
        .select_related("deal", "actor")
        .order_by("-recorded_at", "-id")[:LIST_LIMIT]
    )
    return DailyDigest(due_today, overdue, rotting, changes)


@dataclass
class TeamWeek:
    team_name: str
    created: int = 0
    won: int = 0
    won_amounts: list[str] = field(default_factory=list)
    lost: int = 0
    moves: int = 0
    slipped: list[dict[str, Any]] = field(default_factory=list)
    bottlenecks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.created or self.won or self.lost or self.moves or self.slipped or self.bottlenecks)


def _stuck_by_stage(*, owner_ids: list[int], at: dt.datetime) -> dict[int, int]:
    """Per open stage: deals that at ``at`` had sat in it longer than its rotting days."""
    counts: dict[int, int] = {}
    for stage in Stage.objects.filter(kind="open", rotting_days__gt=0):
        cutoff = at - dt.timedelta(days=stage.rotting_days + 1)
        counts[stage.pk] = (
            StageSpell.objects.filter(stage=stage, deal__owner_id__in=owner_ids, entered_at__lte=cutoff)
            .filter(Q(exited_at__isnull=True) | Q(exited_at__gt=at))
            .count()
        )
    return counts


def digest_weekly_for(*, user: User, now: dt.datetime) -> list[TeamWeek]:
    """One section per team the user manages (admins: every team they belong to)."""
    since = now - dt.timedelta(days=7)
    today = timezone.localdate(now)
    weeks = []
    memberships = Membership.objects.filter(user=user, role__in=[Role.MANAGER, Role.ADMIN]).select_related(
        "team"
    )
    stage_names = dict(Stage.objects.values_list("pk", "name"))
    for membership in memberships:
        owner_ids = list(Membership.objects.filter(team=membership.team).values_list("user_id", flat=True))
        week = TeamWeek(team_name=membership.team.name)
        events = DealEvent.objects.filter(deal__owner_id__in=owner_ids, recorded_at__gte=since)
        tally = dict(events.values_list("kind").annotate(count=Count("id")).values_list("kind", "count"))
        week.created = tally.get(EventKind.CREATED, 0)
        week.won = tally.get(EventKind.WON, 0)
        week.lost = tally.get(EventKind.LOST, 0)
        week.moves = tally.get(EventKind.STAGE_CHANGED, 0)
        won = (
            Deal.objects.filter(owner_id__in=owner_ids, status=DealStatus.WON, won_at__gte=since)
            .values("currency")
            .annotate(total=Sum("amount_minor"))
            .order_by("currency")
        )
        week.won_amounts = [f"{from_minor(row['total'], row['currency'])} {row['currency']}" for row in won]
        slipped = events.filter(kind=EventKind.CLOSE_DATE_CHANGED).select_related("deal")
        for event in slipped.order_by("-recorded_at")[:50]:
            if event.from_value and event.to_value and event.to_value > event.from_value:
                week.slipped.append(
                    {"deal": event.deal.title, "from": event.from_value, "to": event.to_value}
                )
        for deal in Deal.objects.filter(
            owner_id__in=owner_ids,
            status=DealStatus.OPEN,
            expected_close_on__lt=today,
            expected_close_on__gte=today - dt.timedelta(days=7),
        ).order_by("expected_close_on")[:LIST_LIMIT]:
            week.slipped.append({"deal": deal.title, "from": str(deal.expected_close_on), "to": ""})
        week.slipped = week.slipped[:LIST_LIMIT]
        now_stuck = _stuck_by_stage(owner_ids=owner_ids, at=now)
        before = _stuck_by_stage(owner_ids=owner_ids, at=since)
        week.bottlenecks = [
            {"stage": stage_names.get(stage_id, stage_id), "before": before.get(stage_id, 0), "now": count}
            for stage_id, count in sorted(now_stuck.items())
            if count > before.get(stage_id, 0)
        ]
        weeks.append(week)
    return weeks


def _send(*, user: User, kind: str, period_key: str, template: str, context: dict[str, Any], now) -> bool:
    """Render in the user's language, record the period as sent, then e-mail; False if sent before."""
    try:
        with transaction.atomic():
            DigestSent.objects.create(user=user, kind=kind, period_key=period_key, sent_at=now)
    except IntegrityError:
        return False
    with translation.override(user.language or settings.LANGUAGE_CODE):
        text = render_to_string(template, {"user": user, **context})
        subject, _, body = text.strip().partition("\n")
    try:
        send_mail(subject.strip(), body.strip(), None, [user.email])
    except Exception:
        logger.exception("Could not e-mail the %s digest to user %s.", kind, user.pk)
        DigestSent.objects.filter(user=user, kind=kind, period_key=period_key).delete()  # try again next pass
        return False
    return True


def digests_send_due(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Send the daily and weekly digests that are due now to whoever wants them; returns counts."""
    moment = now or clock.now()
    local = timezone.localtime(moment)
    sent = {"daily": 0, "weekly": 0}
    if local.hour < SEND_FROM_HOUR:
        return sent
    day_key = local.date().isoformat()
    reps = User.objects.filter(is_active=True, memberships__role=Role.REP).exclude(email="").distinct()
    done = set(
        DigestSent.objects.filter(kind=NotificationKind.DIGEST_DAILY, period_key=day_key).values_list(
            "user_id", flat=True
        )
    )
    for user in reps:
        if user.pk in done or channel_for(user=user, kind=NotificationKind.DIGEST_DAILY) != Channel.EMAIL:
            continue
        digest = digest_daily_for(user=user, now=moment)
        if digest.is_empty:
            continue
        sent["daily"] += _send(
            user=user,
            kind=NotificationKind.DIGEST_DAILY,
            period_key=day_key,
            template="notifications/email/digest_daily.txt",
            context={"digest": digest, "day": local.date()},
            now=moment,
        )
    if local.isoweekday() != 1:
        return sent
    year, week, _ = local.isocalendar()
    week_key = f"{year}-W{week:02d}"
    managers = (
        User.objects.filter(is_active=True, memberships__role__in=[Role.MANAGER, Role.ADMIN])
        .exclude(email="")
        .distinct()
    )
    for user in managers:
        if channel_for(user=user, kind=NotificationKind.DIGEST_WEEKLY) != Channel.EMAIL:
            continue
        if DigestSent.objects.filter(
            user=user, kind=NotificationKind.DIGEST_WEEKLY, period_key=week_key
        ).exists():
            continue
        teams = [team for team in digest_weekly_for(user=user, now=moment) if not team.is_empty]
        if not teams:
            continue
        sent["weekly"] += _send(
            user=user,
            kind=NotificationKind.DIGEST_WEEKLY,
            period_key=week_key,
            template="notifications/email/digest_weekly.txt",
            context={"teams": teams, "week": week_key},
            now=moment,
        )
    return sent
