"""Saved views of the deals list, and the board remembering its last filter."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.deals.tests.factories import DealFactory
from dealflow.directory.models import SavedView
from dealflow.directory.selectors import saved_view_list_for_user
from dealflow.directory.services import saved_view_delete, saved_view_save

pytestmark = pytest.mark.django_db


def test_save_share_and_list_views(rep, rep2, manager, outsider, team):
    mine = saved_view_save(owner=rep, name="  Big   open deals ", query="?status=open&order=-amount&page=3")
    assert (mine.name, mine.query) == ("Big open deals", "status=open&order=-amount")
    shared = saved_view_save(owner=rep, name="Team closing", query="period=2026-12", team_id=team.pk)
    assert {view.name for view in saved_view_list_for_user(user=rep)} == {"Big open deals", "Team closing"}
    assert [view.name for view in saved_view_list_for_user(user=rep2)] == ["Team closing"]
    assert [view.name for view in saved_view_list_for_user(user=manager)] == ["Team closing"]
    assert list(saved_view_list_for_user(user=outsider)) == []
    again = saved_view_save(owner=rep, name="Big open deals", query="status=won")
    assert again.pk == mine.pk and again.query == "status=won"  # saved again under its name: overwritten
    with pytest.raises(PermissionDeniedError):
        saved_view_delete(view=shared, by=rep2)


@pytest.mark.parametrize(
    ("name", "query", "shared", "field"),
    [
        ("", "", None, "name"),
        ("x", "status=maybe", None, "status"),
        ("x", "order=colour", None, "order"),
        ("x", "close_from=soon", None, "close_from"),
        ("x", "", "other", "team"),
    ],
)
def test_a_bad_view_names_the_field(rep, other_team, name, query, shared, field):
    with pytest.raises(ApplicationError) as error:
        saved_view_save(owner=rep, name=name, query=query, team_id=other_team.pk if shared else None)
    assert error.value.field == field


def test_save_and_reopen_a_view_from_the_deals_list(client, rep):
    DealFactory(owner=rep, title="Open one")
    client.force_login(rep)
    saved = client.post(
        reverse("web:saved_view_create"), {"name": "Open only", "query": "status=open&order=title"}
    )
    view = SavedView.objects.get(name="Open only")
    assert saved["Location"] == reverse("web:saved_view_open", args=[view.pk])
    opened = client.get(saved["Location"])
    assert opened["Location"] == f"{reverse('web:deal_list')}?status=open&order=title&view={view.pk}"
    page = client.get(opened["Location"]).content.decode()
    assert 'data-saved-view="Open only"' in page and 'aria-current="true"' in page
    refused = client.post(reverse("web:saved_view_create"), {"name": "Bad", "query": "status=maybe"})
    assert refused.status_code == 302 and not SavedView.objects.filter(name="Bad").exists()


def test_the_api_lists_saves_and_deletes_views(client, rep):
    client.force_login(rep)
    created = client.post(
        "/api/v1/saved-views", {"name": "Mine", "query": "mine=1"}, content_type="application/json"
    )
    assert created.status_code == 201 and created.json()["query"] == "mine=1"
    assert [view["name"] for view in client.get("/api/v1/saved-views").json()] == ["Mine"]
    bad = client.post(
        "/api/v1/saved-views", {"name": "x", "query": "status=maybe"}, content_type="application/json"
    )
    assert bad.status_code == 400 and bad.json()["field"] == "status"
    assert client.delete(f"/api/v1/saved-views/{created.json()['id']}").status_code == 204


def test_the_board_remembers_its_last_filter(client, rep, pipeline):
    client.force_login(rep)
    assert client.get("/").status_code == 200  # nothing remembered yet
    client.get("/", {"owner": "me", "q": "acme", "junk": "1"})
    back = client.get("/")
    assert back.status_code == 302 and back["Location"] == "/?owner=me&q=acme"
