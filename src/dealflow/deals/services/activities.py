"""Activities: calls, meetings, e-mails, tasks and notes on a deal, lead or person."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Q

from dealflow.accounts.models import User
from dealflow.accounts.selectors import owner_editable_q
from dealflow.contacts.models import Person
from dealflow.core import clock
from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.deals import lifecycle
from dealflow.deals.models import Activity, ActivityKind, Deal, Lead
from dealflow.deals.services.search import activity_search_index


def _touch_deal(deal_id: int | None, moment: dt.datetime) -> None:
    # last_activity_at feeds the stale flag; it is not history, so no version bump and no event.
    # Only ever moved forward (a backdated activity must not make a deal look staler than it is).
    if deal_id:
        Deal.objects.filter(
            Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=moment), pk=deal_id
        ).update(last_activity_at=moment)


@transaction.atomic
def activity_create(
    *,
    owner: User,
    subject: str,
    kind: str = ActivityKind.TASK,
    by: User | None = None,
    deal: Deal | None = None,
    lead: Lead | None = None,
    person: Person | None = None,
    notes: str = "",
    due_at: dt.datetime | None = None,
    done_at: dt.datetime | None = None,
    at: dt.datetime | None = None,
    origin: str = "",
) -> Activity:
    """Log or schedule an activity; a note or a done activity counts as activity on its deal."""
    if (
        by is not None
        and deal is not None
        and not Deal.objects.filter(owner_editable_q(user=by), pk=deal.pk).exists()
    ):
        # The same rule as the deal page: who may only read a deal logs nothing on it, through any door.
        raise PermissionDeniedError("You may read this deal but not log activities on it.", field="deal_id")
    moment = at or clock.now()
    subject, done_at = lifecycle.valid_activity(kind=kind, subject=subject, at=moment, done_at=done_at)
    activity = Activity.objects.create(
        kind=kind,
        subject=subject,
        notes=notes,
        owner=owner,
        deal=deal,
        lead=lead,
        person=person,
        due_at=due_at,
        done_at=done_at,
        created_at=moment,
        origin=origin,
    )
    if deal is not None and done_at is not None:
        _touch_deal(deal.pk, done_at)
    activity_search_index(activity)
    return activity


@transaction.atomic
def activity_update(*, activity: Activity, data: dict[str, Any], by: User | None = None) -> Activity:
    """Edit an activity's subject, notes, due time, kind or owner."""
    for name, value in data.items():
        if name not in {"subject", "notes", "due_at", "kind", "owner"}:
            raise ApplicationError(f"Field {name!r} cannot be changed here.", field=name)
        if name == "subject":
            value, _done_at = lifecycle.valid_activity(
                kind=ActivityKind.NOTE, subject=value, at=clock.now(), done_at=None
            )
        if name == "kind":
            lifecycle.valid_activity(kind=value, subject="-", at=clock.now(), done_at=None)
        if name == "notes":
            value = str(value or "")
        setattr(activity, name, value)
    activity.save()
    if {"subject", "notes", "owner"} & set(data):
        activity_search_index(activity)
    return activity


@transaction.atomic
def activity_complete(
    *, activity: Activity, by: User | None = None, at: dt.datetime | None = None
) -> Activity:
    """Mark an activity done (idempotent) and count it as activity on its deal."""
    if activity.done_at is None:
        activity.done_at = at or clock.now()
        activity.save(update_fields=["done_at", "updated_at"])
        _touch_deal(activity.deal_id, activity.done_at)
    return activity
