"""The trash for deals, leads and activities: delete (soft), restore, purge, and undo of the board's steps.

A record in the trash keeps its row with ``deleted_at``/``deleted_by`` set; the default managers hide it,
so it drops out of boards, lists, search, exports and notifications, and a deal also leaves the derived
tables the metrics read (``derived_remove_deal``), to come back on restore exactly as a rebuild computes
it. A deal's steps write DealEvents (``deleted``, ``restored``) through the lifecycle; leads and
activities write audit entries. Purging is for admins (the trash page): a lead or an activity is deleted
for real; a deal's event log is append-only (docs/decisions/0001), so a purged deal keeps its row and
history under a blank title and loses its words, links, activities, custom values and tags.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext, gettext_noop

from dealflow.accounts.models import User
from dealflow.accounts.services import audit_record
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.customfields.services import custom_values_store
from dealflow.deals import lifecycle
from dealflow.deals.models import Activity, ActivityKind, Deal, DealStatus, Lead, LeadStatus, Stage
from dealflow.deals.services.derived import (
    derived_lead_sync,
    derived_remove_deal,
    derived_restore_deal,
    lead_cell_of,
)
from dealflow.deals.services.history import change_apply, deal_state, lifecycle_context, stage_info
from dealflow.deals.services.search import activity_search_index, deal_search_index, lead_search_index
from dealflow.search.models import SearchKind
from dealflow.search.services import search_index_remove
from dealflow.tags.services import tag_links_set

PURGED_TITLE = "(purged)"


def _by_id(by: User | None) -> int | None:
    return by.pk if by is not None else None


def _deleted_together(queryset: QuerySet[Activity], *, at: dt.datetime | None) -> QuerySet[Activity]:
    """The rows that went to the trash in the same step (one ``at`` for a record and what went with it)."""
    return queryset.filter(deleted_at=at)


# --- Deals ----------------------------------------------------------------------------------------------


@transaction.atomic
def deal_delete(
    *,
    deal: Deal,
    by: User | None,
    at: dt.datetime | None = None,
    expected_version: int | None = None,
    origin: str = "",
    note: str = "",
) -> Deal:
    """Move a deal and its activities to the trash: a ``deleted`` event, out of search and the metrics."""
    at = at or clock.now()
    change = lifecycle.delete(deal_state(deal), at=at, by_id=_by_id(by), origin=origin, note=note)
    change_apply(deal=deal, change=change, expected_version=expected_version)
    derived_remove_deal(deal_id=deal.pk)
    activities = Activity.objects.filter(deal_id=deal.pk)
    activity_ids = list(activities.values_list("pk", flat=True))
    activities.update(deleted_at=at, deleted_by=by)
    search_index_remove(kind=SearchKind.DEAL, object_ids=[deal.pk])
    search_index_remove(kind=SearchKind.ACTIVITY, object_ids=activity_ids)
    return deal


def _check_contacts_live(*, organization_id: int | None, person_id: int | None, what: str) -> None:
    from dealflow.contacts.models import Organization, Person

    if organization_id:
        organization = Organization.all_objects.filter(pk=organization_id, deleted_at__isnull=False).first()
        if organization is not None:
            raise ApplicationError(
                f"Its organisation {organization.name} is in the trash; restore the organisation first "
                f"(that brings back the {what} deleted with it).",
                field="organization",
            )
    if person_id:
        person = Person.all_objects.filter(pk=person_id, deleted_at__isnull=False).first()
        if person is not None:
            raise ApplicationError(
                f"Its person {person.full_name} is in the trash; restore the person first.", field="person"
            )


@transaction.atomic
def deal_restore(
    *, deal: Deal, by: User | None, at: dt.datetime | None = None, origin: str = "", note: str = ""
) -> Deal:
    """Bring a deal and the activities deleted with it back: a ``restored`` event, back in search and metrics."""
    if deal.deleted_at is not None:
        _check_contacts_live(organization_id=deal.organization_id, person_id=deal.person_id, what="deals")
    deleted_at = deal.deleted_at
    change = lifecycle.restore(
        deal_state(deal), at=at or clock.now(), by_id=_by_id(by), origin=origin, note=note
    )
    change_apply(deal=deal, change=change)
    derived_restore_deal(deal=deal)
    activities = _deleted_together(Activity.all_objects.filter(deal_id=deal.pk), at=deleted_at)
    activity_ids = list(activities.values_list("pk", flat=True))
    activities.update(deleted_at=None, deleted_by=None)
    deal_search_index(deal)
    for activity in Activity.objects.filter(pk__in=activity_ids).select_related("deal"):
        activity_search_index(activity)
    return deal


@transaction.atomic
def deal_purge(*, deal: Deal, by: User | None) -> None:
    """Erase a deal in the trash for good: its words, links, activities, custom values and tags go; the
    row and its append-only history stay (hidden) under a blank title. Written to the audit log."""
    if deal.deleted_at is None:
        raise ApplicationError("Only a deal in the trash can be purged; delete it first.", field="deal")
    title = deal.title
    activities, _ = Activity.all_objects.filter(deal_id=deal.pk).delete()
    custom_values_store(entity="deal", object_id=deal.pk, document={})
    tag_links_set(entity="deal", object_id=deal.pk, names=[])
    Deal.all_objects.filter(pk=deal.pk).update(
        title=PURGED_TITLE,
        next_step="",
        lost_note="",
        organization=None,
        person=None,
        external_id="",
        purged_at=clock.now(),
        updated_at=clock.now(),
    )
    audit_record(
        actor=by,
        action="deal.purged",
        target=f"deal:{deal.pk}",
        detail={"deal_id": deal.pk, "title": title, "activities": activities},
    )


# --- Undo of the board's quick steps (move, win, lose) ----------------------------------------------------

# What the reopened event's note (and the page that undid the win, translated) says about the win's task.
FOLLOW_UP_TRASHED = gettext_noop("The post-sale follow-up task the win created went to the trash.")
FOLLOW_UP_KEPT = gettext_noop(
    "The post-sale follow-up task the win created was kept: it has been done or changed."
)


@dataclass(frozen=True)
class FollowUpUndo:
    """What undoing a win does to the follow-up task it created: nothing (none), trash it, or keep it."""

    activity: Activity | None = None
    is_untouched: bool = False

    @property
    def note(self) -> str:
        if self.activity is None:
            return ""
        return FOLLOW_UP_TRASHED if self.is_untouched else FOLLOW_UP_KEPT


def follow_up_undo_plan(*, deal: Deal) -> FollowUpUndo:
    """Before a won deal is reopened (the board's undo, or a reopen): the post-sale task its win created,
    and whether it is still as the win wrote it (open, same subject, notes, due time, owner, contact)."""
    if deal.status != DealStatus.WON or deal.won_at is None:
        return FollowUpUndo()
    activity = (
        Activity.objects.filter(deal_id=deal.pk, origin="post_sale", created_at=deal.won_at)
        .order_by("-id")
        .first()
    )
    if activity is None:
        return FollowUpUndo()
    as_written = (
        activity.done_at is None
        and activity.kind == ActivityKind.TASK
        and activity.subject == f"Post-sale follow-up: {deal.title}"[:200]
        and activity.notes == lifecycle.POST_SALE_FOLLOW_UP_NOTES
        and activity.due_at == deal.won_at + dt.timedelta(days=lifecycle.POST_SALE_FOLLOW_UP_DAYS)
        and activity.owner_id == deal.owner_id
        and activity.person_id == deal.person_id
    )
    return FollowUpUndo(activity=activity, is_untouched=as_written)


def follow_up_undo_apply(*, plan: FollowUpUndo, by: User | None) -> None:
    """Trash the win's follow-up task when the plan says it is untouched (audited, out of search)."""
    if plan.activity is not None and plan.is_untouched:
        activity_delete(activity=plan.activity, by=by)


def follow_up_note_text(deal: Deal) -> str:
    """What ``deal_reopen``/``deal_undo_stage_step`` did with the win's follow-up task, in the user's language."""
    note = getattr(deal, "follow_up_note", "")
    return gettext(note) if note else ""


def note_with(note: str, addition: str) -> str:
    """An event note with a sentence added (DealEvent.note holds 300 characters)."""
    return (f"{note}. {addition}" if note and addition else note or addition)[:300]


@transaction.atomic
def deal_undo_stage_step(
    *, deal: Deal, previous_stage: Stage, expected_version: int, by: User | None, origin: str = ""
) -> Deal:
    """Undo a move, win or loss just made: move back, or reopen into ``previous_stage``; refused when the
    deal changed since (``expected_version`` is its version right after the step). Undoing a win trashes
    the follow-up task it created if nobody has done or changed it; ``deal.follow_up_note`` says which."""
    follow_up = follow_up_undo_plan(deal=deal)
    change = lifecycle.undo_stage_step(
        lifecycle_context(),
        deal_state(deal),
        expected_version=expected_version,
        previous_stage=stage_info(previous_stage),
        at=clock.now(),
        by_id=_by_id(by),
        origin=origin,
        note=note_with(lifecycle.UNDO_NOTE, follow_up.note),
    )
    deal = change_apply(deal=deal, change=change, expected_version=expected_version, stage=previous_stage)
    follow_up_undo_apply(plan=follow_up, by=by)
    deal.follow_up_note = follow_up.note  # type: ignore[attr-defined]  # for the page's message
    return deal


# --- Leads ----------------------------------------------------------------------------------------------


@transaction.atomic
def lead_delete(*, lead: Lead, by: User | None, at: dt.datetime | None = None) -> Lead:
    """Move a lead and its activities to the trash (a converted lead is part of its deal: delete the deal)."""
    if lead.deleted_at is not None:
        raise ApplicationError("The lead is already in the trash.", field="lead")
    if lead.status == LeadStatus.CONVERTED or Deal.all_objects.filter(lead_id=lead.pk).exists():
        raise ApplicationError(
            "This lead was converted into a deal and is part of the deal's history; delete the deal instead.",
            field="lead",
        )
    at = at or clock.now()
    counted_in = lead_cell_of(lead)
    Lead.all_objects.filter(pk=lead.pk).update(deleted_at=at, deleted_by=by)
    lead.deleted_at, lead.deleted_by = at, by
    derived_lead_sync(before=counted_in, lead=lead)
    activities = Activity.objects.filter(lead_id=lead.pk)
    activity_ids = list(activities.values_list("pk", flat=True))
    activities.update(deleted_at=at, deleted_by=by)
    search_index_remove(kind=SearchKind.LEAD, object_ids=[lead.pk])
    search_index_remove(kind=SearchKind.ACTIVITY, object_ids=activity_ids)
    audit_record(
        actor=by,
        action="lead.deleted",
        target=f"lead:{lead.pk}",
        detail={"lead_id": lead.pk, "title": lead.title, "activities": len(activity_ids)},
    )
    return lead


@transaction.atomic
def lead_restore(*, lead: Lead, by: User | None) -> Lead:
    """Bring a lead and the activities deleted with it back from the trash."""
    if lead.deleted_at is None:
        raise ApplicationError("The lead is not in the trash.", field="lead")
    _check_contacts_live(organization_id=lead.organization_id, person_id=lead.person_id, what="leads")
    activities = _deleted_together(Activity.all_objects.filter(lead_id=lead.pk), at=lead.deleted_at)
    activity_ids = list(activities.values_list("pk", flat=True))
    activities.update(deleted_at=None, deleted_by=None)
    Lead.all_objects.filter(pk=lead.pk).update(deleted_at=None, deleted_by=None)
    lead.deleted_at, lead.deleted_by = None, None
    derived_lead_sync(before=None, lead=lead)
    lead_search_index(lead)
    for activity in Activity.objects.filter(pk__in=activity_ids).select_related("deal"):
        activity_search_index(activity)
    audit_record(actor=by, action="lead.restored", target=f"lead:{lead.pk}", detail={"lead_id": lead.pk})
    return lead


@transaction.atomic
def lead_purge(*, lead: Lead, by: User | None) -> None:
    """Delete a lead in the trash for good, with its activities and custom values (audit log)."""
    if lead.deleted_at is None:
        raise ApplicationError("Only a lead in the trash can be purged; delete it first.", field="lead")
    detail = {"lead_id": lead.pk, "title": lead.title}
    Lead.all_objects.filter(pk=lead.pk).delete()
    audit_record(actor=by, action="lead.purged", target=f"lead:{detail['lead_id']}", detail=detail)


# --- Activities -----------------------------------------------------------------------------------------


@transaction.atomic
def activity_delete(*, activity: Activity, by: User | None, at: dt.datetime | None = None) -> Activity:
    """Move one activity to the trash."""
    if activity.deleted_at is not None:
        raise ApplicationError("The activity is already in the trash.", field="activity")
    at = at or clock.now()
    Activity.all_objects.filter(pk=activity.pk).update(deleted_at=at, deleted_by=by)
    activity.deleted_at, activity.deleted_by = at, by
    search_index_remove(kind=SearchKind.ACTIVITY, object_ids=[activity.pk])
    audit_record(
        actor=by,
        action="activity.deleted",
        target=f"activity:{activity.pk}",
        detail={"activity_id": activity.pk, "subject": activity.subject, "deal_id": activity.deal_id},
    )
    return activity


@transaction.atomic
def activity_restore(*, activity: Activity, by: User | None) -> Activity:
    """Bring an activity back; one whose deal or lead is in the trash comes back with it, not alone."""
    if activity.deleted_at is None:
        raise ApplicationError("The activity is not in the trash.", field="activity")
    if activity.deal_id and Deal.all_objects.filter(pk=activity.deal_id, deleted_at__isnull=False).exists():
        raise ApplicationError("Its deal is in the trash; restore the deal first.", field="activity")
    if activity.lead_id and Lead.all_objects.filter(pk=activity.lead_id, deleted_at__isnull=False).exists():
        raise ApplicationError("Its lead is in the trash; restore the lead first.", field="activity")
    Activity.all_objects.filter(pk=activity.pk).update(deleted_at=None, deleted_by=None)
    activity.deleted_at, activity.deleted_by = None, None
    activity_search_index(activity)
    audit_record(
        actor=by,
        action="activity.restored",
        target=f"activity:{activity.pk}",
        detail={"activity_id": activity.pk},
    )
    return activity


@transaction.atomic
def activity_purge(*, activity: Activity, by: User | None) -> None:
    """Delete an activity in the trash for good (audit log)."""
    if activity.deleted_at is None:
        raise ApplicationError(
            "Only an activity in the trash can be purged; delete it first.", field="activity"
        )
    detail = {"activity_id": activity.pk, "subject": activity.subject, "deal_id": activity.deal_id}
    Activity.all_objects.filter(pk=activity.pk).delete()
    audit_record(
        actor=by, action="activity.purged", target=f"activity:{detail['activity_id']}", detail=detail
    )
