"""Leads: create, qualify, disqualify, convert into a deal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction

from dealflow.accounts.models import User
from dealflow.accounts.services import audit_record
from dealflow.contacts.models import Organization, Person
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.deals.models import Deal, Lead, LeadSource, LeadStatus, Pipeline, Stage
from dealflow.deals.services.deals import deal_create, team_for_owner
from dealflow.deals.services.derived import derived_lead_sync, lead_cell_of
from dealflow.deals.services.history import local_date
from dealflow.deals.services.search import lead_search_index

# The audit action of a lead handed to another owner (read by the notifications watch).
LEAD_OWNER_CHANGED = "lead.owner_changed"
_QUALIFICATION_FIELDS = ("has_budget", "has_authority", "has_need", "has_timeline", "qualification_notes")


def _qualification_value(name: str, value: Any) -> Any:
    if name == "qualification_notes":
        return str(value or "")
    if not isinstance(value, bool):
        raise ApplicationError(f"{name} must be true or false.", field=name)
    return value


@transaction.atomic
def lead_create(
    *,
    title: str,
    source: LeadSource | None,
    owner: User,
    by: User | None = None,
    organization: Organization | None = None,
    person: Person | None = None,
    at: dt.datetime | None = None,
    external_source: str = "",
    external_id: str = "",
    **qualification: Any,
) -> Lead:
    """Create a new lead with its source and owner."""
    text = str(title or "").strip()
    if not text:
        raise ApplicationError("A lead needs a title.", field="title")
    if source is None:
        raise ApplicationError("Pick the lead's source.", field="source")
    unknown = set(qualification) - set(_QUALIFICATION_FIELDS)
    if unknown:
        raise ApplicationError(f"Unknown lead field {sorted(unknown)[0]!r}.", field=sorted(unknown)[0])
    qualification = {name: _qualification_value(name, value) for name, value in qualification.items()}
    created_at = at or clock.now()
    lead = Lead.objects.create(
        title=text[:200],
        source=source,
        owner=owner,
        team=team_for_owner(owner),
        organization=organization,
        person=person,
        created_at=created_at,
        created_on=local_date(created_at),
        external_source=external_source,
        external_id=external_id,
        **qualification,
    )
    derived_lead_sync(before=None, lead=lead)
    lead_search_index(lead)
    return lead


def _ensure_open(lead: Lead) -> None:
    if lead.status in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED):
        raise ApplicationError(f"The lead is already {lead.get_status_display().lower()}.", field="status")


@transaction.atomic
def lead_update(*, lead: Lead, data: dict[str, Any], by: User | None = None) -> Lead:
    """Edit a lead's details or qualification answers; a new lead being worked on becomes 'working'."""
    _ensure_open(lead)
    previous_owner_id = lead.owner_id
    counted_in = lead_cell_of(lead)
    allowed = {"title", "organization", "person", "owner", "source", *_QUALIFICATION_FIELDS}
    for name, value in data.items():
        if name not in allowed:
            raise ApplicationError(f"Field {name!r} cannot be changed here.", field=name)
        if name == "title":
            value = str(value or "").strip()[:200]
            if not value:
                raise ApplicationError("A lead needs a title.", field="title")
        if name == "source" and not isinstance(value, LeadSource):
            raise ApplicationError("Pick the lead's source.", field="source")
        if name == "owner" and (not isinstance(value, User) or not value.is_active):
            raise ApplicationError("Pick an active user as owner.", field="owner")
        if name in _QUALIFICATION_FIELDS:
            value = _qualification_value(name, value)
        setattr(lead, name, value)
    if "owner" in data:
        lead.team = team_for_owner(lead.owner)
    if lead.status == LeadStatus.NEW:
        lead.status = LeadStatus.WORKING
    lead.save()
    derived_lead_sync(before=counted_in, lead=lead)
    if {"title", "organization", "person", "owner"} & set(data):
        lead_search_index(lead)
    if lead.owner_id != previous_owner_id:
        # Leads keep no event log: the hand-over is audited, and the notifications watch tells the new owner.
        audit_record(
            actor=by,
            action=LEAD_OWNER_CHANGED,
            target=f"lead:{lead.pk}",
            detail={"lead_id": lead.pk, "from": previous_owner_id, "to": lead.owner_id},
        )
    return lead


@transaction.atomic
def lead_qualify(
    *, lead: Lead, by: User | None = None, at: dt.datetime | None = None, **answers: Any
) -> Lead:
    """Mark a lead qualified; at least need and one other qualification answer must be yes."""
    _ensure_open(lead)
    for name, value in answers.items():
        if name not in _QUALIFICATION_FIELDS:
            raise ApplicationError(f"Unknown qualification field {name!r}.", field=name)
        setattr(lead, name, _qualification_value(name, value))
    if not lead.has_need or lead.qualification_score < 2:
        raise ApplicationError(
            "A qualified lead needs a confirmed need and at least one of budget, authority or timeline.",
            field="has_need",
        )
    lead.status = LeadStatus.QUALIFIED
    lead.qualified_at = at or clock.now()
    lead.save()
    return lead


@transaction.atomic
def lead_disqualify(
    *, lead: Lead, reason: str, by: User | None = None, at: dt.datetime | None = None
) -> Lead:
    """Close a lead as disqualified; the reason is required."""
    _ensure_open(lead)
    text = str(reason or "").strip()
    if not text:
        raise ApplicationError("Say why the lead is disqualified.", field="reason")
    lead.status = LeadStatus.DISQUALIFIED
    lead.disqualified_reason = text[:300]
    lead.closed_at = at or clock.now()
    lead.save()
    return lead


@transaction.atomic
def lead_convert(
    *,
    lead: Lead,
    by: User | None,
    pipeline: Pipeline | None = None,
    stage: Stage | None = None,
    amount: Decimal | int | str | None = None,
    currency: str = "EUR",
    expected_close_on: dt.date | None = None,
    title: str | None = None,
    at: dt.datetime | None = None,
    origin: str = "",
) -> Deal:
    """Turn a qualified lead into a deal that keeps the lead's source and creation date."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    if lead.status != LeadStatus.QUALIFIED:
        if lead.status in (LeadStatus.NEW, LeadStatus.WORKING):
            raise ApplicationError("Qualify the lead before converting it.", field="status")
        _ensure_open(lead)
    moment = at or clock.now()
    deal = deal_create(
        title=title or lead.title,
        owner=lead.owner,
        by=by,
        pipeline=pipeline,
        stage=stage,
        amount=amount,
        currency=currency,
        expected_close_on=expected_close_on,
        organization=lead.organization,
        person=lead.person,
        source=lead.source,
        lead=lead,
        at=moment,
        origin=origin,
    )
    lead.status = LeadStatus.CONVERTED
    lead.closed_at = moment
    lead.save(update_fields=["status", "closed_at", "updated_at"])
    return deal
