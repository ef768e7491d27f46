"""Leads: list, read, create, edit, qualify, disqualify, convert into a deal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ninja import Query, Router, Schema, Status

from dealflow.api.base import ApiRequest, paginate
from dealflow.api.deals import DealOut, deal_out, deal_references
from dealflow.api.schemas import Id, Offset, PageOut, UserRef
from dealflow.api.trash import TrashedOut, trashed_out
from dealflow.deals.models import Lead
from dealflow.deals.selectors import (
    lead_get_for_user,
    lead_list_for_user,
    lead_page_rows,
    user_check_can_write,
)
from dealflow.deals.services import lead_convert, lead_create, lead_disqualify, lead_qualify, lead_update
from dealflow.deals.services.trash import lead_delete

router = Router(tags=["Leads"])


class LeadOut(Schema):
    id: int
    title: str
    status: str
    source: str
    owner: UserRef
    organization_id: int | None
    organization: str | None
    person_id: int | None
    person: str | None
    has_budget: bool
    has_authority: bool
    has_need: bool
    has_timeline: bool
    qualification_score: int
    qualification_notes: str
    disqualified_reason: str
    qualified_at: dt.datetime | None
    closed_at: dt.datetime | None
    created_at: dt.datetime
    deal_id: int | None

    @staticmethod
    def resolve_source(lead: Lead) -> str:
        return lead.source.key

    @staticmethod
    def resolve_organization(lead: Lead) -> str | None:
        return lead.organization.name if lead.organization else None

    @staticmethod
    def resolve_person(lead: Lead) -> str | None:
        return lead.person.full_name if lead.person else None

    @staticmethod
    def resolve_deal_id(lead: Lead) -> int | None:
        deal = getattr(lead, "deal", None) if lead.status == "converted" else None
        return deal.pk if deal else None


class LeadQuery(Schema):
    status: str | None = None
    source: str | None = None
    owner: Id | None = None
    q: str | None = None
    order: str | None = None
    limit: int = 50
    offset: Offset = 0


class LeadCreateIn(Schema):
    title: str
    source: str
    owner_id: Id | None = None
    organization_id: Id | None = None
    person_id: Id | None = None
    has_budget: bool = False
    has_authority: bool = False
    has_need: bool = False
    has_timeline: bool = False
    qualification_notes: str = ""


class LeadUpdateIn(Schema):
    title: str | None = None
    source: str | None = None
    owner_id: Id | None = None
    organization_id: Id | None = None
    person_id: Id | None = None
    has_budget: bool | None = None
    has_authority: bool | None = None
    has_need: bool | None = None
    has_timeline: bool | None = None
    qualification_notes: str | None = None


class LeadQualifyIn(Schema):
    has_budget: bool | None = None
    has_authority: bool | None = None
    has_need: bool | None = None
    has_timeline: bool | None = None
    qualification_notes: str | None = None


class LeadDisqualifyIn(Schema):
    reason: str


class LeadConvertIn(Schema):
    title: str | None = None
    pipeline_id: Id | None = None
    stage_id: Id | None = None
    amount: Decimal | None = None
    currency: str = "EUR"
    expected_close_on: dt.date | None = None


@router.get("/leads", response=PageOut[LeadOut])
def list_leads(request: ApiRequest, query: Query[LeadQuery]):
    """Leads you may see; `status` takes a comma-separated list."""
    leads = lead_list_for_user(
        user=request.user,
        status=query.status,
        source=query.source,
        search=query.q,
        owner_id=query.owner,
        order=query.order,
    ).select_related("deal")
    rows = lead_page_rows(leads, user=request.user, search=query.q, owner_id=query.owner, order=query.order)
    return paginate(leads, limit=query.limit, offset=query.offset, rows=rows)


@router.post("/leads", response={201: LeadOut})
def create_lead(request: ApiRequest, payload: LeadCreateIn):
    """Create a new lead (owner: you, unless you manage the owner's team)."""
    user_check_can_write(user=request.user)
    data = deal_references(payload.dict(exclude_none=True), user=request.user)
    data["owner"] = data.get("owner") or request.user
    return Status(201, lead_create(by=request.user, **data))


@router.get("/leads/{lead_id}", response=LeadOut)
def get_lead(request: ApiRequest, lead_id: Id):
    return lead_get_for_user(lead_id=lead_id, user=request.user)


@router.patch("/leads/{lead_id}", response=LeadOut)
def update_lead(request: ApiRequest, lead_id: Id, payload: LeadUpdateIn):
    """Edit a lead's details or qualification answers."""
    lead = lead_get_for_user(lead_id=lead_id, user=request.user, for_write=True)
    data = deal_references(payload.dict(exclude_unset=True), user=request.user)
    return lead_update(lead=lead, data=data, by=request.user)


@router.post("/leads/{lead_id}/qualify", response=LeadOut)
def qualify_lead(request: ApiRequest, lead_id: Id, payload: LeadQualifyIn):
    """Mark the lead qualified: need plus one of budget, authority or timeline must be yes."""
    lead = lead_get_for_user(lead_id=lead_id, user=request.user, for_write=True)
    return lead_qualify(lead=lead, by=request.user, **payload.dict(exclude_none=True))


@router.post("/leads/{lead_id}/disqualify", response=LeadOut)
def disqualify_lead(request: ApiRequest, lead_id: Id, payload: LeadDisqualifyIn):
    """Close the lead as disqualified; `reason` is required."""
    lead = lead_get_for_user(lead_id=lead_id, user=request.user, for_write=True)
    return lead_disqualify(lead=lead, reason=payload.reason, by=request.user)


@router.post("/leads/{lead_id}/convert", response={201: DealOut})
def convert_lead(request: ApiRequest, lead_id: Id, payload: LeadConvertIn):
    """Turn a qualified lead into a deal that keeps its source and creation date."""
    lead = lead_get_for_user(lead_id=lead_id, user=request.user, for_write=True)
    data = deal_references(payload.dict(exclude_none=True), user=request.user)
    return Status(201, deal_out(lead_convert(lead=lead, by=request.user, origin="api", **data)))


@router.delete("/leads/{lead_id}", response=TrashedOut)
def delete_lead(request: ApiRequest, lead_id: Id):
    """Move a lead and its activities to the trash (audit log); a converted lead belongs to its deal (400).
    Undo: POST the `restore_url`."""
    lead = lead_get_for_user(lead_id=lead_id, user=request.user, for_write=True)
    user_check_can_write(user=request.user)
    lead_delete(lead=lead, by=request.user)
    return trashed_out(kind="lead", record_id=lead_id, went={"leads": [lead_id]})
