"""What the notifications watch looks at on each pass (notifications.tasks runs it in the worker).

Two kinds of source: growing tables read once through a cursor (deal events for assignments, the audit
log for leads handed over, notes for @mentions, new leads, new pipeline reviews), and moments that fall due (an activity due or overdue, a deal
that starts to rot, a forecast call, a survey, tomorrow's one-on-one). Each occasion has a key, and
``services.notify`` notifies once per user and key, so a pass repeated after a crash changes nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealflow.accounts.models import AuditEntry, Membership, Role, User
from dealflow.accounts.selectors import owner_visibility_q
from dealflow.core import clock
from dealflow.core.periods import period_containing
from dealflow.deals.models import Activity, Deal, DealEvent, DealStatus, EventKind, Lead, Stage
from dealflow.deals.services.leads import LEAD_OWNER_CHANGED
from dealflow.forecasting.models import CallKind, ForecastCall
from dealflow.notifications.calculations import mentioned_usernames
from dealflow.notifications.models import NotificationKind, NotificationPreference, WatchCursor
from dealflow.notifications.services import (
    Message,
    NotificationDraft,
    cursor_filter,
    cursor_lock,
    cursor_save,
    notify_many,
)
from dealflow.people.models import OneOnOneMeeting, SurveyInvitation
from dealflow.reviews.models import PipelineReview

BATCH = 1000
# Bulk writers (imports, restores, the demo) are not people assigning work: they notify nobody.
QUIET_ORIGINS = ("import", "restore", "demo", "bulk")
FORECAST_CALL_DAYS_BEFORE_END = 5
ROT_CATCH_UP_DAYS = 3  # a worker that was down this long still sees a deal start to rot


def url_for(name: str, *args: Any) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


class Preferences:
    """Every user's chosen channels, read once per pass."""

    def __init__(self) -> None:
        self.channels = {
            (user_id, kind): channel
            for user_id, kind, channel in NotificationPreference.objects.values_list(
                "user_id", "kind", "channel"
            )
        }


def _users(ids: set[int]) -> dict[int, User]:
    return {user.pk: user for user in User.objects.filter(pk__in=ids, is_active=True)}


def _notify_all(drafts: Iterable[NotificationDraft], prefs: Preferences) -> int:
    """Make the drafts a source found (each source decides only who hears of what), 500 at a time; returns
    how many are new."""
    count, iterator = 0, iter(drafts)
    while chunk := list(itertools.islice(iterator, 500)):
        count += notify_many(drafts=chunk, preferences=prefs.channels)
    return count


def _read(name: str, queryset, handle: Callable[[list[Any], Preferences], None], prefs: Preferences) -> int:
    """Read the rows of ``queryset`` (a whole table: the cursor follows its ids) the cursor ``name`` has not
    seen, in id order, and hand them to ``handle``, which picks the rows it cares about."""
    total = 0
    while True:
        with transaction.atomic():
            start = None
            if not WatchCursor.objects.filter(name=name).exists():
                start = queryset.aggregate(newest=Max("pk"))["newest"] or 0
            cursor = cursor_lock(name=name, start_at=start)
            rows = list(queryset.filter(cursor_filter(cursor=cursor)).order_by("pk")[:BATCH])
            handle(rows, prefs)
            cursor_save(cursor=cursor, read_ids=[row.pk for row in rows])
        total += len(rows)
        if len(rows) < BATCH:
            return total


def _is_quiet(origin: str) -> bool:
    return origin.split(":", 1)[0] in QUIET_ORIGINS


def _owner_at_creation(deal: Deal) -> int:
    """The deal's first owner: the ``from`` of its first hand-over, if it has been handed over since."""
    if deal.version == 1:
        return deal.owner_id  # never changed since it was created
    first_change = (
        DealEvent.objects.filter(deal=deal, kind=EventKind.OWNER_CHANGED)
        .order_by("pk")
        .values("from_value")
        .first()
    )
    if first_change and str(first_change["from_value"]).isdigit():
        return int(first_change["from_value"])
    return deal.owner_id


def _assignments(events: list[DealEvent], prefs: Preferences) -> None:
    """A deal created for someone else, or handed over: its new owner hears of it."""
    wanted = [
        event
        for event in events
        if event.kind in (EventKind.CREATED, EventKind.OWNER_CHANGED) and not _is_quiet(event.origin)
    ]
    deals = {deal.pk: deal for deal in Deal.objects.filter(pk__in={event.deal_id for event in wanted})}
    owner_ids: dict[int, int] = {}
    for event in wanted:
        deal = deals.get(event.deal_id)
        if deal is None:
            continue
        if event.kind == EventKind.CREATED:
            owner_ids[event.pk] = _owner_at_creation(deal)
        elif event.kind == EventKind.OWNER_CHANGED and event.to_value.isdigit():
            owner_ids[event.pk] = int(event.to_value)
    users = _users(set(owner_ids.values()) | {event.actor_id for event in wanted if event.actor_id})

    def drafts() -> Iterator[NotificationDraft]:
        for event in wanted:
            owner = users.get(owner_ids.get(event.pk, 0))
            if owner is None or event.actor_id == owner.pk:
                continue
            deal = deals[event.deal_id]
            actor = users.get(event.actor_id or 0)
            yield NotificationDraft(
                user=owner,
                kind=NotificationKind.DEAL_ASSIGNED,
                key=f"deal_assigned:{event.pk}",
                message=Message(
                    _("%(actor)s assigned the deal “%(deal)s” to you"),
                    {"actor": actor.display_name if actor else _("Dealflow"), "deal": deal.title},
                    url=url_for("web:deal_detail", deal.pk),
                ),
                deal_id=deal.pk,
            )

    _notify_all(drafts(), prefs)


def _new_leads(leads: list[Lead], prefs: Preferences) -> None:
    _notify_all(
        (
            NotificationDraft(
                user=lead.owner,
                kind=NotificationKind.LEAD_ASSIGNED,
                key=f"lead_assigned:{lead.pk}:{lead.owner_id}",
                message=Message(
                    _("A new lead is yours: “%(lead)s” (%(source)s)"),
                    {"lead": lead.title, "source": lead.source.name},
                    url=url_for("web:lead_inbox"),
                ),
            )
            for lead in leads
            if not lead.external_source  # imported in bulk
        ),
        prefs,
    )


def _lead_handovers(entries: list[AuditEntry], prefs: Preferences) -> None:
    """A lead handed to someone else (audited by ``lead_update``): its new owner hears of it, unless they
    took it themselves."""
    handovers = [
        entry
        for entry in entries
        if entry.action == LEAD_OWNER_CHANGED
        and isinstance(entry.detail.get("to"), int)
        and isinstance(entry.detail.get("lead_id"), int)
    ]
    if not handovers:
        return
    leads = Lead.objects.in_bulk({entry.detail["lead_id"] for entry in handovers})
    users = _users(
        {entry.detail["to"] for entry in handovers}
        | {entry.actor_id for entry in handovers if entry.actor_id}
    )

    def drafts() -> Iterator[NotificationDraft]:
        for entry in handovers:
            owner = users.get(entry.detail["to"])
            lead = leads.get(entry.detail["lead_id"])
            if owner is None or lead is None or entry.actor_id == owner.pk:
                continue
            actor = users.get(entry.actor_id or 0)
            yield NotificationDraft(
                user=owner,
                kind=NotificationKind.LEAD_ASSIGNED,
                key=f"lead_handover:{entry.pk}",
                message=Message(
                    _("%(actor)s handed the lead “%(lead)s” to you"),
                    {"actor": actor.display_name if actor else _("Dealflow"), "lead": lead.title},
                    url=url_for("web:lead_inbox"),
                ),
            )

    _notify_all(drafts(), prefs)


def _mentions(notes: list[Activity], prefs: Preferences) -> None:
    """Everyone @mentioned in a note who may see what the note is on (nobody learns of a hidden deal)."""
    _notify_all((draft for note in notes for draft in _mention_drafts(note)), prefs)


def _mention_drafts(note: Activity) -> Iterator[NotificationDraft]:
    if "@" not in note.subject and "@" not in note.notes:
        return
    names = mentioned_usernames(f"{note.subject}\n{note.notes}")
    if not names:
        return
    query = Q()
    for name in names:
        query |= Q(username__iexact=name)
    for user in User.objects.filter(query, is_active=True).exclude(pk=note.owner_id):
        if note.deal_id and not Deal.objects.filter(owner_visibility_q(user=user), pk=note.deal_id).exists():
            continue
        if note.lead_id and not Lead.objects.filter(owner_visibility_q(user=user), pk=note.lead_id).exists():
            continue
        if (
            not note.deal_id
            and not note.lead_id
            and not Activity.objects.filter(owner_visibility_q(user=user), pk=note.pk).exists()
        ):
            continue
        on = note.deal.title if note.deal else (note.lead.title if note.lead else note.subject)
        yield NotificationDraft(
            user=user,
            kind=NotificationKind.MENTION,
            key=f"mention:{note.pk}",
            message=Message(
                _("%(author)s mentioned you on “%(on)s”"),
                {"author": note.owner.display_name, "on": on},
                body=note.notes[:1000],
                url=url_for("web:deal_detail", note.deal_id)
                if note.deal_id
                else url_for("web:my_activities"),
            ),
            deal_id=note.deal_id,
        )


def _reviews(reviews: list[PipelineReview], prefs: Preferences) -> None:
    """A pipeline review was started: the reviewed team's managers (and the rep, for a rep's review)."""
    _notify_all((draft for review in reviews for draft in _review_drafts(review)), prefs)


def _review_drafts(review: PipelineReview) -> Iterator[NotificationDraft]:
    recipients: set[int] = set()
    if review.team_id:
        recipients |= set(
            Membership.objects.filter(
                team_id=review.team_id, role__in=[Role.MANAGER, Role.ADMIN]
            ).values_list("user_id", flat=True)
        )
    if review.rep_id:
        recipients.add(review.rep_id)
    recipients.discard(review.started_by_id)
    for user in _users(recipients).values():
        yield NotificationDraft(
            user=user,
            kind=NotificationKind.REVIEW_SCHEDULED,
            key=f"review:{review.pk}",
            message=Message(
                _("A pipeline review is scheduled: %(period)s"),
                {"period": f"{review.period_start:%Y-%m-%d}"},
                url=url_for("web:review_detail", review.pk),
            ),
        )


# Moments that fall due. Each function below says who hears of what (its drafts); _notify_all makes them,
# once per key, as the recipient chose.


def _activities_due(now: dt.datetime) -> Iterator[NotificationDraft]:
    soon = Activity.objects.filter(
        done_at__isnull=True, due_at__gt=now, due_at__lte=now + dt.timedelta(hours=1)
    ).select_related("owner", "deal")
    overdue = Activity.objects.filter(
        done_at__isnull=True, due_at__lte=now, due_at__gt=now - dt.timedelta(days=7)
    ).select_related("owner", "deal")
    for kind, activities, text in (
        (NotificationKind.ACTIVITY_DUE, soon, _("Due at %(time)s: %(subject)s")),
        (NotificationKind.ACTIVITY_OVERDUE, overdue, _("Overdue since %(time)s: %(subject)s")),
    ):
        for activity in activities.iterator(chunk_size=500):
            due = timezone.localtime(activity.due_at)
            yield NotificationDraft(
                user=activity.owner,
                kind=kind,
                key=f"{kind}:{activity.pk}:{activity.due_at:%Y%m%d%H%M}",
                message=Message(
                    text,
                    {"time": f"{due:%Y-%m-%d %H:%M}", "subject": activity.subject},
                    url=url_for("web:deal_detail", activity.deal_id)
                    if activity.deal_id
                    else url_for("web:my_activities"),
                ),
                deal_id=activity.deal_id,
            )


def _rotting(now: dt.datetime) -> Iterator[NotificationDraft]:
    """Open deals that passed their stage's rotting days in the last few days (the board's red mark)."""
    for stage in Stage.objects.filter(kind="open", rotting_days__gt=0):
        threshold = now - dt.timedelta(days=stage.rotting_days + 1)  # the board: more than N whole days
        deals = Deal.objects.filter(
            status=DealStatus.OPEN,
            stage=stage,
            stage_entered_at__lte=threshold,
            stage_entered_at__gt=threshold - dt.timedelta(days=ROT_CATCH_UP_DAYS),
        ).select_related("owner")
        for deal in deals.iterator(chunk_size=500):
            yield NotificationDraft(
                user=deal.owner,
                kind=NotificationKind.DEAL_ROTTING,
                key=f"deal_rotting:{deal.pk}:{deal.stage_entered_at:%Y%m%d%H%M%S}",
                message=Message(
                    _("“%(deal)s” has sat in %(stage)s for more than %(days)s days"),
                    {"deal": deal.title, "stage": stage.name, "days": stage.rotting_days},
                    url=url_for("web:deal_detail", deal.pk),
                ),
                deal_id=deal.pk,
            )


def _forecast_calls(today: dt.date) -> Iterator[NotificationDraft]:
    """In the last days of the month, reps who own open deals and have not called the month yet."""
    period = period_containing(today)
    if (period.end - today).days > FORECAST_CALL_DAYS_BEFORE_END:
        return
    called = ForecastCall.objects.filter(period_key=period.key, kind=CallKind.REP).values("user_id")
    reps = (
        User.objects.filter(is_active=True, memberships__role=Role.REP)
        .filter(Exists(Deal.objects.filter(owner=OuterRef("pk"), status=DealStatus.OPEN)))
        .exclude(pk__in=called)
        .distinct()
    )
    for user in reps:
        yield NotificationDraft(
            user=user,
            kind=NotificationKind.FORECAST_CALL_DUE,
            key=f"forecast_call_due:{period.key}",
            message=Message(
                _("Your forecast call for %(period)s is due by %(day)s"),
                {"period": period.key, "day": f"{period.end - dt.timedelta(days=1):%Y-%m-%d}"},
                url=url_for("web:forecast"),
            ),
        )


def _surveys(today: dt.date) -> Iterator[NotificationDraft]:
    invitations = SurveyInvitation.objects.filter(
        is_answered=False,
        run__opens_on__lte=today,
        run__closes_on__gte=today,
        run__closed_early_on__isnull=True,
    ).select_related("user", "run__survey")
    for invitation in invitations:
        yield NotificationDraft(
            user=invitation.user,
            kind=NotificationKind.SURVEY_OPEN,
            key=f"survey_open:{invitation.run_id}",
            message=Message(
                _("The survey “%(survey)s” is open for you until %(day)s"),
                {"survey": invitation.run.survey.title, "day": f"{invitation.run.closes_on:%Y-%m-%d}"},
                url=url_for("web:people_answer", invitation.run_id),
            ),
        )


def _one_on_ones(today: dt.date) -> Iterator[NotificationDraft]:
    tomorrow = today + dt.timedelta(days=1)
    start = timezone.make_aware(dt.datetime.combine(tomorrow, dt.time.min))
    meetings = OneOnOneMeeting.objects.filter(
        completed_at__isnull=True,
        scheduled_at__gte=start,
        scheduled_at__lt=start + dt.timedelta(days=1),
        series__is_active=True,
    ).select_related("series__manager", "series__rep")
    for meeting in meetings:
        series = meeting.series
        for user, other in ((series.manager, series.rep), (series.rep, series.manager)):
            yield NotificationDraft(
                user=user,
                kind=NotificationKind.ONE_ON_ONE_TOMORROW,
                key=f"one_on_one:{meeting.pk}",
                message=Message(
                    _("One-on-one with %(other)s tomorrow at %(time)s"),
                    {
                        "other": other.display_name,
                        "time": f"{timezone.localtime(meeting.scheduled_at):%H:%M}",
                    },
                    url=url_for("web:people_meeting", meeting.pk),
                ),
            )


def watch_pass(*, now: dt.datetime | None = None) -> dict[str, int]:
    """One pass over every source; returns how many rows or notifications each produced."""
    moment = now or clock.now()
    today = timezone.localdate(moment)
    prefs = Preferences()
    events = DealEvent.objects.all()
    notes = Activity.objects.select_related("owner", "deal", "lead")
    return {
        "events": _read("notifications.deal_events", events, _assignments, prefs),
        "leads": _read(
            "notifications.leads", Lead.objects.select_related("owner", "source"), _new_leads, prefs
        ),
        "lead_handovers": _read("notifications.audit", AuditEntry.objects.all(), _lead_handovers, prefs),
        "notes": _read("notifications.notes", notes, _mentions, prefs),
        "reviews": _read("notifications.reviews", PipelineReview.objects.all(), _reviews, prefs),
        "activities": _notify_all(_activities_due(moment), prefs),
        "rotting": _notify_all(_rotting(moment), prefs),
        "forecast_calls": _notify_all(_forecast_calls(today), prefs),
        "surveys": _notify_all(_surveys(today), prefs),
        "one_on_ones": _notify_all(_one_on_ones(today), prefs),
    }
