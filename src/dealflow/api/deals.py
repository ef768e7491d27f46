"""Deals: list, read, create, edit (with ``version``), move, win, lose, reopen, history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Query, Router, Schema, Status

from dealflow.accounts.models import display_name_of
from dealflow.accounts.selectors import user_get_assignable_for_user
from dealflow.api.base import ApiRequest, paginate, rendered
from dealflow.api.schemas import Id, Offset, PageOut, PageQuery, UserRef, Version, money_text
from dealflow.api.trash import TrashedOut, trashed_out
from dealflow.contacts.models import person_name_of
from dealflow.contacts.selectors import organization_get_for_user, person_get_for_user
from dealflow.core.errors import ApplicationError
from dealflow.deals.models import Deal, DealEvent, deal_forecast_category, deal_probability
from dealflow.deals.selectors import (
    DEAL_RELATED_COLUMNS,
    DEAL_ROW_FIELDS,
    DealFilters,
    base_currency,
    deal_get_for_user,
    deal_list_events_for_user,
    deal_list_for_user,
    deal_related_for_rows,
    lead_source_get,
    lost_reason_get,
    pipeline_get,
    stage_get,
    user_check_can_write,
)
from dealflow.deals.services import (
    deal_bulk_edit,
    deal_create,
    deal_mark_lost,
    deal_mark_won,
    deal_move_to_stage,
    deal_reopen,
    deal_update,
)
from dealflow.deals.services.trash import deal_delete, deal_undo_stage_step

router = Router(tags=["Deals"])


class DealOut(Schema):
    id: int
    title: str
    status: str
    pipeline_id: Id
    pipeline: str
    stage_id: Id
    stage: str
    owner: UserRef
    organization_id: int | None
    organization: str | None
    person_id: int | None
    person: str | None
    amount: str
    currency: str
    amount_base: str | None
    expected_close_on: dt.date | None
    probability: int
    probability_override: int | None
    forecast_category: str
    forecast_category_override: str
    source: str | None
    lead_id: int | None
    lead_created_at: dt.datetime | None
    parent_id: int | None
    lost_reason_id: int | None
    lost_reason: str | None
    lost_note: str
    next_step: str
    next_step_on: dt.date | None
    created_at: dt.datetime
    stage_entered_at: dt.datetime
    won_at: dt.datetime | None
    lost_at: dt.datetime | None
    closed_on: dt.date | None
    last_activity_at: dt.datetime | None
    version: Version
    updated_at: dt.datetime


def deal_out(deal: Deal) -> dict[str, Any]:
    """A deal as the API speaks it (DealOut), from an instance with its relations."""
    row = {name: getattr(deal, name) for name in DEAL_ROW_FIELDS}
    related = {
        (kind, key): tuple(str(getattr(getattr(deal, kind), column)) for column in columns)
        for kind, (_model, columns) in DEAL_RELATED_COLUMNS.items()
        if (key := row[f"{kind}_id"]) is not None
    }
    return deal_row_out(row, related)


def deal_row_out(row: dict[str, Any], related: dict[tuple[str, int], tuple[str, ...]]) -> dict[str, Any]:
    """A deal as the API speaks it (DealOut), from its row and the text columns of its relations: the one
    serializer of the list (which renders it directly) and of every single-deal answer (validated by ninja).
    """

    def one(kind: str) -> tuple[str, ...] | None:
        key = row[f"{kind}_id"]
        return None if key is None else related[(kind, key)]

    username, first_name, last_name = related[("owner", row["owner_id"])]
    stage_name, stage_probability, stage_category = related[("stage", row["stage_id"])]
    organization, person, source, lost_reason = (
        one("organization"),
        one("person"),
        one("source"),
        one("lost_reason"),
    )
    return {
        **{name: row[name] for name in _COPIED},
        "pipeline": related[("pipeline", row["pipeline_id"])][0],
        "stage": stage_name,
        "owner": {
            "id": row["owner_id"],
            "username": username,
            "name": display_name_of(username, first_name, last_name),
        },
        "organization": organization[0] if organization else None,
        "person": person_name_of(*person) if person else None,
        "amount": money_text(row["amount_minor"], row["currency"]) or "0",
        "amount_base": money_text(row["amount_base_minor"], base_currency()),
        "probability": deal_probability(row["status"], row["probability_override"], int(stage_probability)),
        "forecast_category": deal_forecast_category(
            row["status"], row["forecast_category_override"], stage_category
        ),
        "source": source[0] if source else None,
        "lost_reason": lost_reason[0] if lost_reason else None,
    }


# The row's columns DealOut carries as they are; deal_row_out shapes the rest.
_COPIED = tuple(name for name in DEAL_ROW_FIELDS if name in DealOut.model_fields)


class DealEventOut(Schema):
    id: int
    kind: str
    field: str
    from_value: str
    to_value: str
    from_stage_id: int | None
    to_stage_id: int | None
    amount: str | None
    currency: str
    actor: UserRef | None
    origin: str
    note: str
    occurred_at: dt.datetime
    recorded_at: dt.datetime

    @staticmethod
    def resolve_amount(event: DealEvent) -> str | None:
        return money_text(event.amount_minor, event.currency) if event.currency else None


class DealQuery(Schema):
    pipeline: Id | None = None
    stage: Id | None = None
    owner: Id | None = None
    team: Id | None = None
    status: str | None = None
    source: str | None = None
    close_from: dt.date | None = None
    close_to: dt.date | None = None
    closed_from: dt.date | None = None
    closed_to: dt.date | None = None
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    q: str | None = None
    mine: bool = False
    tag: str | None = None
    product: Id | None = None
    order: str | None = None  # a column, or cf_<key> for a custom field; "-" first sorts descending
    limit: int = 50
    offset: Offset = 0


class DealCreateIn(Schema):
    title: str
    pipeline_id: Id | None = None
    stage_id: Id | None = None
    owner_id: Id | None = None
    amount: Decimal = Decimal(0)
    currency: str = "EUR"
    expected_close_on: dt.date | None = None
    organization_id: Id | None = None
    person_id: Id | None = None
    source: str | None = None
    parent_id: Id | None = None
    probability_override: int | None = None
    forecast_category_override: str = ""
    next_step: str = ""
    next_step_on: dt.date | None = None


class DealUpdateIn(Schema):
    version: Version
    title: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    expected_close_on: dt.date | None = None
    owner_id: Id | None = None
    organization_id: Id | None = None
    person_id: Id | None = None
    source: str | None = None
    probability_override: int | None = None
    forecast_category_override: str | None = None
    next_step: str | None = None
    next_step_on: dt.date | None = None
    lost_note: str | None = None
    note: str = ""


class DealMoveIn(Schema):
    stage_id: Id
    version: Version | None = None
    note: str = ""


class DealWinIn(Schema):
    version: Version | None = None
    note: str = ""


class DealLoseIn(Schema):
    reason_id: Id | None = None
    version: Version | None = None
    note: str = ""


class DealBulkEditIn(Schema):
    deal_ids: list[Id]
    action: str  # owner, stage, close_date or tag
    owner_id: Id | None = None
    stage_id: Id | None = None
    expected_close_on: dt.date | None = None
    tags: list[str] | None = None
    versions: dict[str, Version] = {}  # deal id -> the version you read; a stale one refuses the edit


class DealBulkEditOut(Schema):
    changed: int


class DealReopenIn(Schema):
    stage_id: Id | None = None
    version: Version | None = None
    note: str = ""


def deal_references(data: dict[str, Any], *, user) -> dict[str, Any]:
    """Turn the ids of a deal payload into the records they name, each checked against what the user may see."""
    resolved: dict[str, Any] = {}
    for name, value in data.items():
        if name == "owner_id":
            resolved["owner"] = user_get_assignable_for_user(user_id=value, user=user, field=name)
        elif name == "organization_id":
            resolved["organization"] = value and organization_get_for_user(
                organization_id=value, user=user, field=name
            )
        elif name == "person_id":
            resolved["person"] = value and person_get_for_user(person_id=value, user=user, field=name)
        elif name == "pipeline_id":
            resolved["pipeline"] = value and pipeline_get(pipeline_id=value, field=name)
        elif name == "stage_id":
            resolved["stage"] = value and stage_get(stage_id=value, field=name)
        elif name == "parent_id":
            resolved["parent"] = value and _parent(value, user=user)
        elif name == "source":
            resolved["source"] = lead_source_get(key=value)
        else:
            resolved[name] = value
    return resolved


def _parent(deal_id: int, *, user) -> Deal:
    parent = deal_list_for_user(user=user).filter(pk=deal_id).first()
    if parent is None:
        raise ApplicationError("No such deal.", field="parent_id")
    return parent


@router.get("/deals", response=PageOut[DealOut])
def list_deals(request: ApiRequest, query: Query[DealQuery]):
    """Deals you may see, filtered, ordered (`order=-amount`) and paginated with a total count.

    Custom fields filter as `cf_<key>=value` (a multiple choice: includes it) and `cf_<key>_from` / `_to`
    (numbers, amounts, dates); `order=cf_<key>` sorts by one (GET /custom-fields lists the keys).
    """
    custom = {name: value for name, value in request.GET.items() if name.startswith("cf_")}
    filters = DealFilters.from_mapping({**query.dict(), **custom})
    deals = deal_list_for_user(user=request.user, filters=filters, order=query.order)
    # The hot list reads its page as rows of the deals table alone, its relations' names in one more query
    # (PostgreSQL spent 25-60 ms *planning* the eight-table join for a 1 ms query), and renders the rows
    # straight from `deal_row_out` instead of building 80 model instances and validating 20 x 37 fields
    # through the schema a second time (tested against PageOut[DealOut] in api/tests/test_deals.py).
    rows = deals.select_related(None).values(*DEAL_ROW_FIELDS)
    page = paginate(rows, limit=query.limit, offset=query.offset)
    related = deal_related_for_rows(rows=page["items"])
    page["items"] = [deal_row_out(row, related) for row in page["items"]]
    return rendered(request, page)


@router.post("/deals", response={201: DealOut})
def create_deal(request: ApiRequest, payload: DealCreateIn):
    """Create an open deal (owner: you, unless you manage the owner's team)."""
    user_check_can_write(user=request.user)
    data = deal_references(payload.dict(exclude_none=True), user=request.user)
    data["owner"] = data.get("owner") or request.user
    return Status(201, deal_out(deal_create(by=request.user, origin="api", **data)))


@router.post("/deals/bulk-edit", response=DealBulkEditOut)
def bulk_edit_deals(request: ApiRequest, payload: DealBulkEditIn):
    """One action on many deals, all or nothing: any refusal answers 400 listing each (`refusals`) and
    changes nothing. An id you may not see answers 404; a value a deal already has is no change."""
    user_check_can_write(user=request.user)
    deals = [
        deal_get_for_user(deal_id=deal_id, user=request.user) for deal_id in dict.fromkeys(payload.deal_ids)
    ]
    owner = (
        user_get_assignable_for_user(user_id=payload.owner_id, user=request.user, field="owner_id")
        if payload.owner_id is not None
        else None
    )
    stage = stage_get(stage_id=payload.stage_id, field="stage_id") if payload.stage_id is not None else None
    versions = {int(key): value for key, value in payload.versions.items() if key.isdigit()}
    changed = deal_bulk_edit(
        deals=deals,
        user=request.user,
        action=payload.action,
        owner=owner,
        stage=stage,
        expected_close_on=payload.expected_close_on,
        tags=payload.tags,
        versions=versions,
        origin="api",
    )
    return {"changed": changed}


@router.get("/deals/{deal_id}", response=DealOut)
def get_deal(request: ApiRequest, deal_id: Id):
    return deal_out(deal_get_for_user(deal_id=deal_id, user=request.user))


@router.patch("/deals/{deal_id}", response=DealOut)
def update_deal(request: ApiRequest, deal_id: Id, payload: DealUpdateIn):
    """Change fields; send the `version` you read: a stale one answers 409 and changes nothing."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    data = payload.dict(exclude_unset=True)
    version, note = data.pop("version"), data.pop("note", "")
    changes = deal_references(data, user=request.user)
    return deal_out(
        deal_update(
            deal=deal, by=request.user, data=changes, expected_version=version, origin="api", note=note
        )
    )


@router.post("/deals/{deal_id}/move", response=DealOut)
def move_deal(request: ApiRequest, deal_id: Id, payload: DealMoveIn):
    """Move an open deal to another open stage of its pipeline."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    stage = stage_get(stage_id=payload.stage_id, field="stage_id")
    return deal_out(
        deal_move_to_stage(
            deal=deal,
            stage=stage,
            by=request.user,
            expected_version=payload.version,
            origin="api",
            note=payload.note,
        )
    )


@router.post("/deals/{deal_id}/win", response=DealOut)
def win_deal(request: ApiRequest, deal_id: Id, payload: DealWinIn):
    """Close the deal as won (schedules the post-sale follow-up)."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    return deal_out(
        deal_mark_won(
            deal=deal, by=request.user, expected_version=payload.version, origin="api", note=payload.note
        )
    )


@router.post("/deals/{deal_id}/lose", response=DealOut)
def lose_deal(request: ApiRequest, deal_id: Id, payload: DealLoseIn):
    """Close the deal as lost; `reason_id` (a lost reason) is required."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    reason = lost_reason_get(reason_id=payload.reason_id, field="reason_id")
    return deal_out(
        deal_mark_lost(
            deal=deal,
            reason=reason,
            by=request.user,
            note=payload.note,
            expected_version=payload.version,
            origin="api",
        )
    )


@router.post("/deals/{deal_id}/reopen", response=DealOut)
def reopen_deal(request: ApiRequest, deal_id: Id, payload: DealReopenIn):
    """Reopen a won or lost deal, into `stage_id` or the last open stage it was in."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    stage = stage_get(stage_id=payload.stage_id, field="stage_id") if payload.stage_id else None
    return deal_out(
        deal_reopen(
            deal=deal,
            by=request.user,
            stage=stage,
            expected_version=payload.version,
            origin="api",
            note=payload.note,
        )
    )


class DealUndoIn(Schema):
    version: Version  # the deal's version right after the step being undone
    previous_stage_id: Id  # the stage it was in before


@router.delete("/deals/{deal_id}", response=TrashedOut)
def delete_deal(request: ApiRequest, deal_id: Id, version: Version | None = None):
    """Move a deal and its activities to the trash (a `deleted` event; it leaves lists, search and
    metrics). `version`, when sent, refuses a stale delete with 409. Undo: POST the `restore_url`."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    user_check_can_write(user=request.user)
    deal_delete(deal=deal, by=request.user, expected_version=version, origin="api")
    return trashed_out(kind="deal", record_id=deal_id, went={"deals": [deal_id]})


@router.post("/deals/{deal_id}/undo", response=DealOut)
def undo_deal_step(request: ApiRequest, deal_id: Id, payload: DealUndoIn):
    """Undo a move, win or loss just made: back to `previous_stage_id` (a move, or a reopen), written as
    events; 409 when the deal changed after that step (`version` is its version right after it)."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    stage = stage_get(stage_id=payload.previous_stage_id, field="previous_stage_id")
    return deal_out(
        deal_undo_stage_step(
            deal=deal, previous_stage=stage, expected_version=payload.version, by=request.user, origin="api"
        )
    )


@router.get("/deals/{deal_id}/events", response=PageOut[DealEventOut])
def list_deal_events(request: ApiRequest, deal_id: Id, page: Query[PageQuery]):
    """The deal's append-only history, oldest first."""
    events = deal_list_events_for_user(deal_id=deal_id, user=request.user)
    return paginate(events, limit=page.limit, offset=page.offset)
