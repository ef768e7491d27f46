"""Settings (admins write, everyone reads), contacts, /me and tokens."""

from __future__ import annotations

import pytest

from dealflow.accounts.models import ApiToken
from dealflow.contacts.models import Organization
from dealflow.deals.models import ExchangeRate, Pipeline
from dealflow.deals.tests.factories import DealFactory, default_pipeline, stage_named


@pytest.mark.django_db
def test_everyone_reads_settings_only_admins_change_them(api_as, rep, admin_user):
    pipelines = api_as(rep).get("/pipelines").data
    assert [stage["name"] for stage in pipelines[0]["stages"]] == [
        "Qualification",
        "Needs analysis",
        "Proposal",
        "Negotiation",
        "Closing",
        "Won",
        "Lost",
    ]
    assert api_as(rep).post("/pipelines", {"name": "Renewals"}).status_code == 403
    assert api_as(rep).patch(f"/stages/{stage_named('Proposal').pk}", {"probability": 99}).status_code == 403
    assert api_as(rep).post("/lost-reasons", {"name": "Mood"}).status_code == 403
    assert (
        api_as(rep)
        .post("/exchange-rates", {"currency": "USD", "rate": "0.9", "valid_from": "2026-01-01"})
        .status_code
        == 403
    )
    assert not Pipeline.objects.filter(name="Renewals").exists()

    admin = api_as(admin_user)
    created = admin.post("/pipelines", {"name": "Renewals"})
    assert created.status_code == 201
    assert [stage["kind"] for stage in created.data["stages"]] == ["open", "open", "open", "won", "lost"]
    stage = admin.post("/stages", {"pipeline_id": created.data["id"], "name": "Legal", "probability": 80})
    assert (stage.status_code, stage.data["order"]) == (201, 3)
    bad = admin.patch(f"/stages/{stage.data['id']}", {"probability": 120})
    assert (bad.status_code, bad.data["field"]) == (400, "probability")
    assert admin.get("/stages/999999").status_code == 404
    assert admin.delete(f"/stages/{stage.data['id']}").data["is_active"] is False
    assert admin.delete(f"/pipelines/{default_pipeline().pk}").status_code == 400
    retired = admin.delete(f"/pipelines/{created.data['id']}")
    assert (retired.status_code, retired.data["is_active"]) == (200, False)


@pytest.mark.django_db
def test_stage_order_and_lost_reasons(api_as, admin_user):
    admin = api_as(admin_user)
    pipeline = admin.post("/pipelines", {"name": "Partners"}).data
    open_ids = [stage["id"] for stage in pipeline["stages"] if stage["kind"] == "open"]
    reordered = admin.post(
        f"/pipelines/{pipeline['id']}/stage-order", {"stage_ids": list(reversed(open_ids))}
    )
    assert [stage["name"] for stage in reordered.data["stages"]][:3] == [
        "Negotiation",
        "Proposal",
        "Qualification",
    ]
    assert (
        admin.post(f"/pipelines/{pipeline['id']}/stage-order", {"stage_ids": open_ids[:1]}).status_code == 400
    )
    reason = admin.post("/lost-reasons", {"name": "Security review"})
    assert reason.status_code == 201
    assert admin.post("/lost-reasons", {"name": "security review"}).status_code == 400
    retired = admin.patch(f"/lost-reasons/{reason.data['id']}", {"is_active": False})
    assert retired.data["is_active"] is False
    names = [item["name"] for item in admin.get("/lost-reasons").data]
    assert "Security review" not in names
    assert "Price" in names
    assert [source["key"] for source in admin.get("/lead-sources").data][:2] == ["website", "trade_show"]


@pytest.mark.django_db
def test_exchange_rates(api_as, admin_user, rep):
    admin = api_as(admin_user)
    created = admin.post("/exchange-rates", {"currency": "usd", "rate": "0.91", "valid_from": "2026-01-01"})
    assert (created.status_code, created.data["currency"], created.data["rate"]) == (201, "USD", "0.91")
    bad = admin.post("/exchange-rates", {"currency": "USD", "rate": "-1", "valid_from": "2026-01-01"})
    assert (bad.status_code, bad.data["field"]) == (400, "rate")
    listed = api_as(rep).get("/exchange-rates", currency="USD").data
    assert (listed["count"], listed["items"][0]["rate"]) == (1, "0.91")
    assert admin.delete(f"/exchange-rates/{created.data['id']}").status_code == 204
    assert not ExchangeRate.objects.exists()


@pytest.mark.django_db
def test_contacts_crud_and_visibility(api_as, rep, manager, outsider, analyst):
    api = api_as(rep)
    company = api.post("/organizations", {"name": "Acme BV", "country": "nl"})
    assert (company.status_code, company.data["country"], company.data["owner"]) == (201, "NL", None)
    private = api.post("/organizations", {"name": "Rita's prospect", "owner_id": rep.pk})
    person = api.post(
        "/persons",
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ADA@acme.example",
            "organization_id": company.data["id"],
        },
    )
    assert (person.status_code, person.data["email"], person.data["organization"]) == (
        201,
        "ada@acme.example",
        "Acme BV",
    )
    bad_email = api.post("/persons", {"last_name": "X", "email": "not-an-email"})
    assert (bad_email.status_code, bad_email.data["field"]) == (400, "email")
    nameless = api.post("/persons", {})
    assert nameless.status_code == 400

    assert api_as(outsider).get(f"/organizations/{company.data['id']}").status_code == 200  # the company's
    assert api_as(outsider).get(f"/organizations/{private.data['id']}").status_code == 404
    assert api_as(manager).get(f"/organizations/{private.data['id']}").status_code == 200
    assert api_as(analyst).patch(f"/organizations/{private.data['id']}", {"name": "Mine"}).status_code == 403
    assert api_as(outsider).get("/organizations", q="prospect").data["count"] == 0
    assert api.get("/persons", organization=company.data["id"]).data["count"] == 1

    DealFactory(owner=rep, organization=Organization.objects.get(pk=company.data["id"]))
    kept = api.delete(f"/organizations/{company.data['id']}")
    assert (kept.status_code, kept.data["field"]) == (400, "with_records")
    assert kept.data["detail"].startswith("1 deal, 1 person refer to")
    trashed = api.delete(f"/organizations/{private.data['id']}")
    assert (trashed.status_code, trashed.data["restore_url"]) == (
        200,
        f"/api/v1/trash/organization/{private.data['id']}/restore",
    )
    assert api.get(f"/organizations/{private.data['id']}").status_code == 404


@pytest.mark.django_db
def test_me_and_my_tokens(api_as, manager, rep):
    api = api_as(manager)
    me = api.get("/me").data
    assert (me["username"], me["is_admin"], me["memberships"]) == (
        "manager",
        False,
        [{"team_id": me["memberships"][0]["team_id"], "team": "Benelux", "role": "manager"}],
    )
    created = api.post("/tokens", {"name": "Nightly export", "scope": "read"})
    assert created.status_code == 201
    secret = created.data["secret"]
    assert secret.startswith("dfl_")
    assert ApiToken.objects.get(pk=created.data["id"]).token_hash != secret
    listed = api.get("/tokens").data
    assert [(token["name"], token["scope"]) for token in listed] == [("Nightly export", "read")]
    assert "secret" not in listed[0]
    bad = api.post("/tokens", {"name": "x", "scope": "admin"})
    assert (bad.status_code, bad.data["field"]) == (400, "scope")

    from django.test import Client

    from dealflow.api.tests.conftest import ApiClient

    script = ApiClient(Client(), token=secret)
    assert script.get("/me").data["username"] == "manager"
    assert api_as(rep).delete(f"/tokens/{created.data['id']}").status_code == 404  # not hers
    revoked = api.delete(f"/tokens/{created.data['id']}")
    assert revoked.data["revoked_at"] is not None
    assert script.get("/me").status_code == 401


@pytest.mark.django_db
def test_openapi_schema_validates_and_docs_answer(client):
    from openapi_spec_validator import validate

    schema = client.get("/api/openapi.json")
    assert schema.status_code == 200
    validate(schema.json())
    paths = schema.json()["paths"]
    for path in (
        "/api/v1/deals",
        "/api/v1/deals/{deal_id}/move",
        "/api/v1/leads/{lead_id}/convert",
        "/api/v1/me",
    ):
        assert path in paths
    assert client.get("/api/docs").status_code == 200
