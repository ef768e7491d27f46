"""Saved views of the deals list: a name for a set of filters and a sort, optionally shared with a team."""

from __future__ import annotations

import datetime as dt

from ninja import Router, Schema, Status

from dealflow.api.base import ApiRequest
from dealflow.api.schemas import Id
from dealflow.directory.selectors import saved_view_get_for_user, saved_view_list_for_user
from dealflow.directory.services import saved_view_delete, saved_view_save

router = Router(tags=["Saved views"])


class SavedViewOut(Schema):
    id: int
    name: str
    query: str
    team_id: int | None
    owner_id: int
    created_at: dt.datetime


class SavedViewIn(Schema):
    name: str
    query: str = ""  # the deals list's query string, e.g. "stage=3&owner=7&order=-amount"
    team_id: Id | None = None


@router.get("/saved-views", response=list[SavedViewOut])
def list_saved_views(request: ApiRequest):
    """The caller's saved views and those shared with their teams."""
    return list(saved_view_list_for_user(user=request.user))


@router.post("/saved-views", response={201: SavedViewOut})
def create_saved_view(request: ApiRequest, payload: SavedViewIn):
    """Save (or overwrite by name) a view; the query is checked as the deals list reads it."""
    view = saved_view_save(
        owner=request.user, name=payload.name, query=payload.query, team_id=payload.team_id
    )
    return Status(201, view)


@router.delete("/saved-views/{view_id}", response={204: None})
def delete_saved_view(request: ApiRequest, view_id: Id):
    """Delete one of the caller's own views (403 for a teammate's shared one)."""
    view = saved_view_get_for_user(view_id=view_id, user=request.user)
    saved_view_delete(view=view, by=request.user)
    return Status(204, None)
