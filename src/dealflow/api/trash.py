"""The trash: what a user may see of it, restore and (admins) purge. Deleting lives with each record's
own endpoints (``DELETE /deals/{id}`` and so on) and answers with what went and where to restore it."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Query, Router, Schema, Status

from dealflow.api.base import ApiRequest
from dealflow.api.schemas import Id
from dealflow.directory.trash import trash_get_for_user, trash_list_for_user, trash_purge, trash_restore

router = Router(tags=["Trash"])

Kind = Literal["deal", "lead", "organization", "person", "activity"]


class TrashedOut(Schema):
    """What a delete moved to the trash (the record and what went with it) and how to undo it."""

    kind: str
    id: int
    restore_url: str
    went: dict[str, list[int]]


def trashed_out(*, kind: str, record_id: int, went: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": kind,
        "id": record_id,
        "restore_url": f"/api/v1/trash/{kind}/{record_id}/restore",
        "went": went,
    }


class TrashItemOut(Schema):
    kind: str
    id: int
    name: str
    deleted_at: dt.datetime
    deleted_by: str


class TrashQuery(Schema):
    kind: Kind | None = None


class RestoredOut(Schema):
    kind: str
    id: int
    came_back: dict[str, list[int]]


@router.get("/trash", response=list[TrashItemOut])
def list_trash(request: ApiRequest, query: Query[TrashQuery]):
    """Records in the trash: an admin sees all; others those they deleted and may still change (newest first)."""
    return [
        {
            "kind": item.kind,
            "id": item.pk,
            "name": item.name,
            "deleted_at": item.deleted_at,
            "deleted_by": item.deleted_by,
        }
        for item in trash_list_for_user(user=request.user, kind=query.kind)
    ]


@router.post("/trash/{kind}/{record_id}/restore", response=RestoredOut)
def restore_from_trash(request: ApiRequest, kind: Kind, record_id: Id):
    """Bring a record back with what was deleted with it (a deal's `restored` event; audit for the rest)."""
    record = trash_get_for_user(kind=kind, record_id=record_id, user=request.user)
    came_back = trash_restore(kind=kind, record=record, by=request.user)
    return {"kind": kind, "id": record_id, "came_back": came_back if isinstance(came_back, dict) else {}}


@router.delete("/trash/{kind}/{record_id}", response={204: None})
def purge_from_trash(request: ApiRequest, kind: Kind, record_id: Id):
    """Delete a record in the trash for good (admins; written to the audit log). Cannot be undone."""
    record = trash_get_for_user(kind=kind, record_id=record_id, user=request.user)
    trash_purge(kind=kind, record=record, by=request.user)
    return Status(204, None)
