"""The trash through its three doors (web, API, CLI), as each persona: who may delete, see the trash,
restore and purge, and that a deleted record is gone from lists, search and its own page (404)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from dealflow.accounts.models import AuditEntry
from dealflow.accounts.services import token_create
from dealflow.contacts.services import organization_create, person_create
from dealflow.core.errors import ApplicationError
from dealflow.deals.models import Deal, DealEvent
from dealflow.deals.services import deal_mark_lost, deal_move_to_stage
from dealflow.deals.tests.factories import DealFactory, lost_reason, stage_named

pytestmark = pytest.mark.django_db


def _api(user):
    return {"HTTP_AUTHORIZATION": f"Bearer {token_create(user=user, name='trash')[1]}"}


def test_api_delete_restore_purge_by_persona(
    client, rep, rep2, manager, outsider, analyst, admin_user, pipeline
):
    deal = DealFactory(owner=rep, title="Trashzq deal")
    url = f"/api/v1/deals/{deal.pk}"
    assert client.delete(url, **_api(outsider)).status_code == 404
    assert client.delete(url, **_api(analyst)).status_code == 403
    stale = client.delete(f"{url}?version={deal.version + 5}", **_api(rep))
    assert stale.status_code == 409
    deleted = client.delete(url, **_api(rep))
    assert deleted.status_code == 200
    assert deleted.json()["restore_url"] == f"/api/v1/trash/deal/{deal.pk}/restore"
    assert client.get(url, **_api(rep)).status_code == 404
    assert client.get("/api/v1/deals", **_api(rep)).json()["count"] == 0
    assert len(client.get("/api/v1/search?q=Trashzq", **_api(rep)).json()) == 0

    listed = {
        persona.username: client.get("/api/v1/trash", **_api(persona)).json()
        for persona in (rep, rep2, manager, outsider, admin_user)
    }
    assert [item["id"] for item in listed["rep"]] == [deal.pk]
    assert [item["id"] for item in listed["admin"]] == [deal.pk]
    assert listed["rep2"] == listed["manager"] == listed["outsider"] == []

    restore = f"/api/v1/trash/deal/{deal.pk}/restore"
    for persona in (rep2, manager, outsider):
        assert client.post(restore, **_api(persona)).status_code == 404
    assert client.delete(f"/api/v1/trash/deal/{deal.pk}", **_api(rep)).status_code == 403
    assert client.post(restore, **_api(rep)).status_code == 200
    assert client.get(url, **_api(rep)).status_code == 200
    assert len(client.get("/api/v1/search?q=Trashzq", **_api(rep)).json()) == 1

    client.delete(url, **_api(rep))
    assert client.delete(f"/api/v1/trash/deal/{deal.pk}", **_api(admin_user)).status_code == 204
    assert AuditEntry.objects.filter(action="deal.purged", target=f"deal:{deal.pk}").exists()
    assert client.get("/api/v1/trash", **_api(admin_user)).json() == []
    assert [event.kind for event in DealEvent.objects.filter(deal_id=deal.pk).order_by("id")][-3:] == [
        "deleted",
        "restored",
        "deleted",
    ]


def test_an_organisation_with_deals_asks_first_then_goes_and_comes_back_with_them(client, rep, pipeline):
    acme = organization_create(name="Acme BV", owner=rep)
    person_create(last_name="Jansen", organization=acme, owner=rep)
    deals = [DealFactory(owner=rep, organization=acme) for _ in range(2)]
    refused = client.delete(f"/api/v1/organizations/{acme.pk}", **_api(rep))
    assert refused.status_code == 400
    assert refused.json()["detail"] == (
        "2 deals, 1 person refer to Acme BV. Delete them with it, or move them first."
    )
    went = client.delete(f"/api/v1/organizations/{acme.pk}?with_records=true", **_api(rep)).json()["went"]
    assert sorted(went["deals"]) == sorted(deal.pk for deal in deals) and len(went["persons"]) == 1
    assert not Deal.objects.filter(organization=acme).exists()
    back = client.post(f"/api/v1/trash/organization/{acme.pk}/restore", **_api(rep)).json()["came_back"]
    assert sorted(back["deals"]) == sorted(deal.pk for deal in deals) and len(back["persons"]) == 1
    assert Deal.objects.filter(organization=acme).count() == 2


def test_web_delete_shows_an_undo_that_restores(client, rep, outsider, pipeline):
    deal = DealFactory(owner=rep, title="Junk deal")
    client.force_login(outsider)
    assert client.post(f"/trash/deal/{deal.pk}/delete/").status_code == 404
    client.force_login(rep)
    response = client.post(f"/trash/deal/{deal.pk}/delete/", {"version": deal.version}, follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == "/deals/"
    assert "“Junk deal” is in the trash." in page
    assert f'action="/trash/deal/{deal.pk}/restore/"' in page and 'data-action="undo"' in page
    assert client.get(f"/deals/{deal.pk}/").status_code == 404
    assert "Junk deal" in client.get("/trash/").content.decode()
    restored = client.post(f"/trash/deal/{deal.pk}/restore/")
    assert (restored.status_code, restored["Location"]) == (302, f"/deals/{deal.pk}/")
    assert client.get(f"/deals/{deal.pk}/").status_code == 200


def test_board_undo_of_a_loss_and_a_refused_stale_undo(client, rep, manager, pipeline):
    qualification = stage_named("Qualification")
    deal = DealFactory(owner=rep, stage=qualification)
    client.force_login(rep)
    lost = client.post(
        f"/board/deals/{deal.pk}/move/",
        {"outcome": "lost", "reason": lost_reason().pk, "version": deal.version},
        HTTP_HX_REQUEST="true",
    )
    assert lost.status_code == 200
    undo = __import__("json").loads(lost["HX-Trigger"])["dealflow:toast"]["undo"]
    assert undo["url"] == f"/board/deals/{deal.pk}/undo/"
    assert undo["values"]["previous_stage"] == qualification.pk
    undone = client.post(undo["url"], undo["values"], HTTP_HX_REQUEST="true")
    assert undone.status_code == 200
    deal.refresh_from_db()
    assert (deal.status, deal.stage) == ("open", qualification)
    # Undo again (same values): the deal has changed since, so it is refused and nothing changes.
    again = client.post(undo["url"], undo["values"], HTTP_HX_REQUEST="true")
    assert again.status_code == 409
    assert "cannot be undone" in __import__("json").loads(again["HX-Trigger"])["dealflow:toast"]["text"]
    deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=manager)
    deal_mark_lost(deal=deal, reason=lost_reason(), by=manager)
    assert Deal.objects.get(pk=deal.pk).status == "lost"


def test_board_undo_of_a_win_trashes_its_follow_up_and_the_api_undo_keeps_a_done_one(client, rep, pipeline):
    import json

    from dealflow.deals.models import Activity
    from dealflow.deals.services import activity_complete

    qualification = stage_named("Qualification")
    deal = DealFactory(owner=rep, stage=qualification, title="Presses")
    client.force_login(rep)
    won = client.post(
        f"/board/deals/{deal.pk}/move/", {"outcome": "won", "version": deal.version}, HTTP_HX_REQUEST="true"
    )
    assert won.status_code == 200
    follow_up = Activity.objects.get(deal=deal, origin="post_sale")
    undo = json.loads(won["HX-Trigger"])["dealflow:toast"]["undo"]
    undone = client.post(undo["url"], undo["values"], HTTP_HX_REQUEST="true")
    assert json.loads(undone["HX-Trigger"])["dealflow:toast"]["text"] == (
        "Undone: “Presses” is back in Qualification. "
        "The post-sale follow-up task the win created went to the trash."
    )
    assert Activity.all_objects.get(pk=follow_up.pk).deleted_at is not None
    timeline = client.get(f"/deals/{deal.pk}/").content.decode()
    assert "The post-sale follow-up task the win created went to the trash." in timeline

    # The API's undo, after the new follow-up was done: it stays, and the event says so.
    deal.refresh_from_db()
    won = client.post(
        f"/api/v1/deals/{deal.pk}/win", {"version": deal.version}, content_type="application/json"
    )
    assert won.status_code == 200, won.content
    activity_complete(activity=Activity.objects.get(deal=deal, origin="post_sale"), by=rep)
    undone = client.post(
        f"/api/v1/deals/{deal.pk}/undo",
        {"version": won.json()["version"], "previous_stage_id": qualification.pk},
        content_type="application/json",
    )
    assert undone.status_code == 200, undone.content
    assert Activity.objects.filter(deal=deal, origin="post_sale").count() == 1
    events = client.get(f"/api/v1/deals/{deal.pk}/events", {"limit": 50}).json()["items"]
    assert events[-1]["kind"] == "reopened"
    assert events[-1]["note"] == (
        "Undo. The post-sale follow-up task the win created was kept: it has been done or changed."
    )


def test_cli_trash_list_restore_purge(rep, admin_user, pipeline):
    deal = DealFactory(owner=rep, title="CLI junk")
    output = io.StringIO()
    call_command("trash", "--user", "rep", "delete", "deal", str(deal.pk), stdout=output)
    call_command("trash", "--user", "rep", "list", stdout=output)
    assert f"deal\t{deal.pk}\t" in output.getvalue() and "CLI junk" in output.getvalue()
    call_command("trash", "--user", "rep", "restore", "deal", str(deal.pk), stdout=output)
    assert Deal.objects.filter(pk=deal.pk).exists()
    call_command("trash", "--user", "rep", "delete", "deal", str(deal.pk), stdout=output)
    with pytest.raises(ApplicationError, match="--yes"):
        call_command("trash", "--user", "admin", "purge", "deal", str(deal.pk))
    with pytest.raises(ApplicationError, match="Only an admin"):
        call_command("trash", "--user", "rep", "purge", "deal", str(deal.pk), "--yes")
    call_command("trash", "--user", "admin", "purge", "deal", str(deal.pk), "--yes", stdout=output)
    assert Deal.all_objects.get(pk=deal.pk).purged_at is not None
