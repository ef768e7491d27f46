"""Leads and activities as another system had them (imports): facts of the source, not steps taken here.

The lead services move a lead forward one step at a time (new -> working -> qualified -> converted); a
file from another CRM states where each lead stands, and a second import of a changed file may move it
anywhere. These writes take those states as given, keep the fields the services derive (closing and
qualifying times), and index for search like the services do.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from dealflow.accounts.models import User
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.deals.models import Activity, Lead, LeadStatus
from dealflow.deals.services.derived import derived_lead_sync, lead_cell_of
from dealflow.deals.services.search import activity_search_index, lead_search_index

_LEAD_FIELDS = {
    "title", "status", "disqualified_reason", "has_budget", "has_authority", "has_need", "has_timeline",
    "owner", "organization", "person", "source",
}  # fmt: skip
_ACTIVITY_FIELDS = {"kind", "subject", "notes", "due_at", "done_at", "owner"}


@transaction.atomic
def lead_status_set_from_source(
    *, lead: Lead, status: str, closed_at: dt.datetime | None = None, disqualified_reason: str = ""
) -> Lead:
    """Give a lead just created the status its source system reports: qualified from its creation,
    converted or disqualified at ``closed_at`` (default: its creation)."""
    if status not in LeadStatus.values:
        raise ApplicationError(f"Unknown lead status {status!r}.", field="status")
    if status == LeadStatus.NEW:
        return lead
    lead.status = status
    if status in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED):
        lead.closed_at = closed_at or lead.created_at
    if status == LeadStatus.QUALIFIED:
        lead.qualified_at = lead.created_at
    lead.disqualified_reason = str(disqualified_reason or "")[:300]
    lead.save(update_fields=["status", "closed_at", "qualified_at", "disqualified_reason", "updated_at"])
    return lead


@transaction.atomic
def lead_update_from_source(*, lead: Lead, values: dict[str, Any]) -> Lead:
    """A lead imported before, changed to what its source system reports now (any status; a lead that
    became converted or disqualified is closed now). ``owner``/``organization``/``person``/``source`` are
    records or ids."""
    counted_in = lead_cell_of(lead)
    fields = []
    for name, value in values.items():
        if name not in _LEAD_FIELDS:
            continue  # the source's other columns (created_at, external_id) say which lead, not what changed
        if name in ("owner", "organization", "person", "source"):
            setattr(lead, f"{name}_id", value.pk if hasattr(value, "pk") else value)
        else:
            setattr(lead, name, value)
        fields.append(name)
    if lead.status not in LeadStatus.values:
        raise ApplicationError(f"Unknown lead status {lead.status!r}.", field="status")
    if lead.status in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED) and lead.closed_at is None:
        lead.closed_at = clock.now()
        fields.append("closed_at")
    lead.save(update_fields=[*fields, "updated_at"])
    derived_lead_sync(before=counted_in, lead=lead)
    if {"title", "organization", "person", "owner"} & set(fields):
        lead_search_index(lead)
    return lead


@transaction.atomic
def leads_convert_from_source(*, converted: dict[int, dt.datetime]) -> int:
    """Mark existing leads converted at their deal's (past) creation; a converted lead stays as it is."""
    count = 0
    for lead_id, closed_at in converted.items():
        count += (
            Lead.objects.filter(pk=lead_id)
            .exclude(status=LeadStatus.CONVERTED)
            .update(status=LeadStatus.CONVERTED, closed_at=closed_at, updated_at=clock.now())
        )
    return count


@transaction.atomic
def activity_source_set(*, activity: Activity, external_source: str, external_id: str) -> Activity:
    """Record which activity of another system this one stands for (so a second import updates it)."""
    activity.external_source, activity.external_id = external_source, external_id
    activity.save(update_fields=["external_source", "external_id", "updated_at"])
    return activity


@transaction.atomic
def activity_update_from_source(*, activity: Activity, values: dict[str, Any]) -> Activity:
    """An activity imported before, set to what its source system reports now (done time included)."""
    for name, value in values.items():
        if name not in _ACTIVITY_FIELDS:
            raise ApplicationError(f"Field {name!r} cannot be changed here.", field=name)
        if name == "owner" and not isinstance(value, User):
            raise ApplicationError("Pick a user as owner.", field="owner")
        setattr(activity, name, value)
    activity.save()
    activity_search_index(activity)
    return activity
