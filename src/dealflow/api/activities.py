"""Activities: calls, meetings, e-mails, tasks and notes on a deal, lead or person."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Query, Router, Schema, Status

from dealflow.accounts.selectors import user_get_assignable_for_user
from dealflow.api.base import ApiRequest, paginate
from dealflow.api.schemas import Id, Offset, PageOut, UserRef
from dealflow.api.trash import TrashedOut, trashed_out
from dealflow.contacts.selectors import person_get_for_user
from dealflow.core.errors import ApplicationError
from dealflow.deals.models import Activity
from dealflow.deals.selectors import (
    activity_get_for_user,
    activity_list_for_user,
    activity_page_rows,
    deal_list_for_user,
    lead_list_for_user,
    user_check_can_write,
)
from dealflow.deals.services import activity_complete, activity_create, activity_update
from dealflow.deals.services.trash import activity_delete

router = Router(tags=["Activities"])


class ActivityOut(Schema):
    id: int
    kind: str
    subject: str
    notes: str
    due_at: dt.datetime | None
    done_at: dt.datetime | None
    is_done: bool
    owner: UserRef
    deal_id: int | None
    deal: str | None
    lead_id: int | None
    person_id: int | None
    origin: str
    created_at: dt.datetime

    @staticmethod
    def resolve_deal(activity: Activity) -> str | None:
        # Read through the selectors: the title of a deal the reader may see, else None.
        if hasattr(activity, "visible_deal_title"):
            return activity.visible_deal_title
        return activity.deal.title if activity.deal else None  # just written by the reader


class ActivityQuery(Schema):
    deal: Id | None = None
    open: bool = False
    mine: bool = False
    limit: int = 50
    offset: Offset = 0


class ActivityCreateIn(Schema):
    subject: str
    kind: str = "task"
    notes: str = ""
    due_at: dt.datetime | None = None
    done_at: dt.datetime | None = None
    owner_id: Id | None = None
    deal_id: Id | None = None
    lead_id: Id | None = None
    person_id: Id | None = None


class ActivityUpdateIn(Schema):
    subject: str | None = None
    kind: str | None = None
    notes: str | None = None
    due_at: dt.datetime | None = None
    owner_id: Id | None = None


def activity_references(data: dict[str, Any], *, user) -> dict[str, Any]:
    """Turn the ids of an activity payload into records the user may see (a 400 naming the field if not)."""
    resolved: dict[str, Any] = {}
    for name, value in data.items():
        if name == "owner_id":
            resolved["owner"] = user_get_assignable_for_user(user_id=value, user=user, field=name)
        elif name == "deal_id":
            resolved["deal"] = deal_list_for_user(user=user).filter(pk=value).first()
            if resolved["deal"] is None:
                raise ApplicationError("No such deal.", field=name)
        elif name == "lead_id":
            resolved["lead"] = lead_list_for_user(user=user).filter(pk=value).first()
            if resolved["lead"] is None:
                raise ApplicationError("No such lead.", field=name)
        elif name == "person_id":
            resolved["person"] = person_get_for_user(person_id=value, user=user, field=name)
        else:
            resolved[name] = value
    return resolved


@router.get("/activities", response=PageOut[ActivityOut])
def list_activities(request: ApiRequest, query: Query[ActivityQuery]):
    """Activities you may see (or all of one deal's), open ones first."""
    activities = activity_list_for_user(
        user=request.user, deal_id=query.deal, open_only=query.open, mine=query.mine
    )
    rows = activity_page_rows(activities, user=request.user, deal_id=query.deal, mine=query.mine)
    return paginate(activities, limit=query.limit, offset=query.offset, rows=rows)


@router.post("/activities", response={201: ActivityOut})
def create_activity(request: ApiRequest, payload: ActivityCreateIn):
    """Log or schedule an activity (owner: you, unless you manage the owner's team)."""
    user_check_can_write(user=request.user)
    data = activity_references(payload.dict(exclude_none=True), user=request.user)
    data["owner"] = data.get("owner") or request.user
    return Status(201, activity_create(by=request.user, origin="api", **data))


@router.get("/activities/{activity_id}", response=ActivityOut)
def get_activity(request: ApiRequest, activity_id: Id):
    return activity_get_for_user(activity_id=activity_id, user=request.user)


@router.patch("/activities/{activity_id}", response=ActivityOut)
def update_activity(request: ApiRequest, activity_id: Id, payload: ActivityUpdateIn):
    """Edit an activity's subject, kind, notes, due time or owner."""
    activity = activity_get_for_user(activity_id=activity_id, user=request.user, for_write=True)
    data = activity_references(payload.dict(exclude_unset=True), user=request.user)
    return activity_update(activity=activity, data=data, by=request.user)


@router.post("/activities/{activity_id}/complete", response=ActivityOut)
def complete_activity(request: ApiRequest, activity_id: Id):
    """Mark the activity done (doing it twice changes nothing)."""
    activity = activity_get_for_user(activity_id=activity_id, user=request.user, for_write=True)
    return activity_complete(activity=activity, by=request.user)


@router.delete("/activities/{activity_id}", response=TrashedOut)
def delete_activity(request: ApiRequest, activity_id: Id):
    """Move an activity to the trash (audit log). Undo: POST the `restore_url`."""
    activity = activity_get_for_user(activity_id=activity_id, user=request.user, for_write=True)
    user_check_can_write(user=request.user)
    activity_delete(activity=activity, by=request.user)
    return trashed_out(kind="activity", record_id=activity_id, went={"activities": [activity_id]})
