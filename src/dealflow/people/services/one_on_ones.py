"""Writes for one-on-ones: series, meetings, the shared agenda and notes, private notes and action items."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils.translation import gettext as _

from dealflow.accounts.models import User
from dealflow.accounts.services import audit_record
from dealflow.core import clock
from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.people.models import (
    ActionItem,
    AgendaItem,
    MeetingCadence,
    OneOnOneMeeting,
    OneOnOneSeries,
    PrivateNote,
)

MAX_NOTE = 20000


def _check_participant(*, meeting: OneOnOneMeeting, by: User) -> None:
    if by.pk not in meeting.series.participant_ids():
        raise PermissionDeniedError(
            _("Only the two people in this one-on-one can change it."), field="meeting"
        )


def _clean_line(text: str, *, field: str, limit: int = 300) -> str:
    line = " ".join(str(text or "").split())
    if not line:
        raise ApplicationError(_("Write something first."), field=field)
    if len(line) > limit:
        raise ApplicationError(_("Keep it under %(limit)d characters.") % {"limit": limit}, field=field)
    return line


def _clean_note(text: str, *, field: str) -> str:
    note = str(text or "").strip()
    if len(note) > MAX_NOTE:
        raise ApplicationError(
            _("Notes are limited to %(limit)d characters.") % {"limit": MAX_NOTE}, field=field
        )
    return note


@transaction.atomic
def one_on_one_series_create(
    *,
    manager: User,
    rep: User,
    first_meeting_at: dt.datetime,
    cadence: str = MeetingCadence.WEEKLY,
    duration_minutes: int = 60,
    by: User,
) -> OneOnOneSeries:
    """Start recurring one-on-ones between a manager and someone in a team they manage, with the first meeting."""
    from dealflow.people.selectors import one_on_one_partner_list

    if cadence not in MeetingCadence.values:
        raise ApplicationError(_("Meet weekly or every other week."), field="cadence")
    if not 5 <= int(duration_minutes) <= 480:
        raise ApplicationError(_("A meeting lasts between 5 and 480 minutes."), field="duration_minutes")
    if by.pk != manager.pk and not _is_admin(by):
        raise PermissionDeniedError(
            _("Only the manager or an admin can set up a one-on-one."), field="manager"
        )
    if not one_on_one_partner_list(manager=manager).filter(pk=rep.pk).exists():
        raise ApplicationError(
            _("%(rep)s is not in a team %(manager)s manages.")
            % {"rep": rep.display_name, "manager": manager.display_name},
            field="rep",
        )
    if OneOnOneSeries.objects.filter(manager=manager, rep=rep, is_active=True).exists():
        raise ApplicationError(_("These two already have a running one-on-one."), field="rep")
    series = OneOnOneSeries.objects.create(
        manager=manager,
        rep=rep,
        cadence=cadence,
        duration_minutes=int(duration_minutes),
        first_meeting_at=first_meeting_at,
    )
    OneOnOneMeeting.objects.create(
        series=series, scheduled_at=first_meeting_at, duration_minutes=series.duration_minutes
    )
    audit_record(actor=by, action="one_on_one.created", target=f"one_on_one:{series.pk}")
    return series


def _is_admin(user: User) -> bool:
    from dealflow.accounts.selectors import user_is_admin

    return user_is_admin(user=user)


@transaction.atomic
def one_on_one_series_stop(*, series: OneOnOneSeries, by: User) -> OneOnOneSeries:
    """End a series; its meetings and notes stay readable."""
    if by.pk not in series.participant_ids() and not _is_admin(by):
        raise PermissionDeniedError(_("Only the two people in this one-on-one can stop it."), field="series")
    series.is_active = False
    series.save(update_fields=["is_active", "updated_at"])
    return series


@transaction.atomic
def meeting_complete(
    *,
    meeting: OneOnOneMeeting,
    by: User,
    shared_notes: str | None = None,
    private_note: str | None = None,
) -> OneOnOneMeeting:
    """Mark a meeting held, plan the next one, and carry the unchecked agenda items over to it.

    ``shared_notes`` and ``private_note``, when given, are what the participant had typed on the page
    and not saved yet: each is saved first (only when it changed), in the same transaction, so marking
    the meeting held never discards typed text. Returns the next meeting. Carried items are copies that
    point back at their original (``carried_from``), so each meeting keeps the agenda it really had.
    """
    _check_participant(meeting=meeting, by=by)
    if meeting.is_completed:
        raise ApplicationError(_("This meeting is already marked as held."), field="meeting")
    if shared_notes is not None and _clean_note(shared_notes, field="shared_notes") != meeting.shared_notes:
        meeting_shared_notes_set(meeting=meeting, text=shared_notes, by=by)
    if private_note is not None:
        saved = PrivateNote.objects.filter(meeting=meeting, author=by).values_list("text", flat=True).first()
        if _clean_note(private_note, field="private_note") != (saved or ""):
            private_note_set(meeting=meeting, text=private_note, by=by)
    meeting.completed_at = clock.now()
    meeting.save(update_fields=["completed_at", "updated_at"])
    series = meeting.series
    following = (
        OneOnOneMeeting.objects.filter(series=series, scheduled_at__gt=meeting.scheduled_at)
        .order_by("scheduled_at")
        .first()
    )
    if following is None:
        following = OneOnOneMeeting.objects.create(
            series=series,
            scheduled_at=meeting.scheduled_at + dt.timedelta(days=series.interval_days),
            duration_minutes=series.duration_minutes,
        )
    open_items = list(meeting.agenda.filter(is_done=False).order_by("id"))
    already = set(
        following.agenda.filter(carried_from__in=open_items).values_list("carried_from_id", flat=True)
    )
    AgendaItem.objects.bulk_create(
        AgendaItem(
            meeting=following,
            text=item.text,
            added_by_id=item.added_by_id,
            carried_from=item,
            created_at=clock.now(),
        )
        for item in open_items
        if item.pk not in already
    )
    return following


@transaction.atomic
def meeting_reschedule(*, meeting: OneOnOneMeeting, scheduled_at: dt.datetime, by: User) -> OneOnOneMeeting:
    """Move a planned meeting to another time."""
    _check_participant(meeting=meeting, by=by)
    if meeting.is_completed:
        raise ApplicationError(_("A held meeting cannot move."), field="scheduled_at")
    if (
        OneOnOneMeeting.objects.filter(series=meeting.series, scheduled_at=scheduled_at)
        .exclude(pk=meeting.pk)
        .exists()
    ):
        raise ApplicationError(_("Another meeting of this series is at that time."), field="scheduled_at")
    meeting.scheduled_at = scheduled_at
    meeting.save(update_fields=["scheduled_at", "updated_at"])
    return meeting


@transaction.atomic
def agenda_item_add(*, meeting: OneOnOneMeeting, text: str, by: User) -> AgendaItem:
    """Add a line to the shared agenda (either participant)."""
    _check_participant(meeting=meeting, by=by)
    return AgendaItem.objects.create(meeting=meeting, text=_clean_line(text, field="text"), added_by=by)


@transaction.atomic
def agenda_item_set_done(*, item: AgendaItem, is_done: bool, by: User) -> AgendaItem:
    """Tick an agenda line off (or back on)."""
    _check_participant(meeting=item.meeting, by=by)
    item.is_done = bool(is_done)
    item.save(update_fields=["is_done", "updated_at"])
    return item


@transaction.atomic
def agenda_item_delete(*, item: AgendaItem, by: User) -> None:
    """Remove an agenda line its author added by mistake."""
    _check_participant(meeting=item.meeting, by=by)
    if item.added_by_id != by.pk:
        raise PermissionDeniedError(_("Only whoever added a line can remove it."), field="item")
    item.delete()


@transaction.atomic
def meeting_shared_notes_set(*, meeting: OneOnOneMeeting, text: str, by: User) -> OneOnOneMeeting:
    """Replace the notes both participants see."""
    _check_participant(meeting=meeting, by=by)
    meeting.shared_notes = _clean_note(text, field="shared_notes")
    meeting.save(update_fields=["shared_notes", "updated_at"])
    return meeting


@transaction.atomic
def private_note_set(*, meeting: OneOnOneMeeting, text: str, by: User) -> PrivateNote:
    """Save the author's own private note on a meeting (nobody else, admins included, ever reads it)."""
    _check_participant(meeting=meeting, by=by)
    note, _created = PrivateNote.objects.get_or_create(meeting=meeting, author=by)
    note.text = _clean_note(text, field="private_note")
    note.save(update_fields=["text", "updated_at"])
    return note


@transaction.atomic
def action_item_add(
    *, meeting: OneOnOneMeeting, text: str, owner: User, due_on: dt.date | None = None, by: User
) -> ActionItem:
    """Agree on an action: one of the two participants owns it, optionally by a date."""
    _check_participant(meeting=meeting, by=by)
    if owner.pk not in meeting.series.participant_ids():
        raise ApplicationError(_("An action item belongs to one of the two participants."), field="owner")
    return ActionItem.objects.create(
        meeting=meeting, text=_clean_line(text, field="text"), owner=owner, due_on=due_on, created_by=by
    )


@transaction.atomic
def action_item_set_done(*, item: ActionItem, is_done: bool, by: User) -> ActionItem:
    """Mark an action item done or open again."""
    _check_participant(meeting=item.meeting, by=by)
    item.done_at = clock.now() if is_done else None
    item.save(update_fields=["done_at", "updated_at"])
    return item
