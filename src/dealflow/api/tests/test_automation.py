"""The notifications, automation-rules and webhooks APIs."""

from __future__ import annotations

import pytest
from django.test import Client
from icalendar import Calendar

from dealflow.automation.models import Rule, WebhookSubscription
from dealflow.deals.services import deal_move_to_stage
from dealflow.deals.tests.factories import DealFactory, stage_named
from dealflow.notifications.models import NotificationKind
from dealflow.notifications.services import Message, notify

pytestmark = pytest.mark.django_db
PROPOSAL_RULE = {
    "name": "Chase proposals",
    "trigger": "stage_entered",
    "action": "create_activity",
    "params": {"subject": "Chase", "due_in_days": 2},
}


def test_rules_admins_and_managers_only(api_as, rep, manager, admin_user, team):
    stage_id = stage_named("Proposal").pk
    body = {**PROPOSAL_RULE, "stage_id": stage_id}
    assert api_as(rep).post("/automation/rules", {**body, "team_id": team.pk}).status_code == 403
    refused = api_as(manager).post("/automation/rules", body)
    assert (refused.status_code, refused.data["field"]) == (403, "team")
    created = api_as(manager).post("/automation/rules", {**body, "team_id": team.pk})
    assert created.status_code == 201, created.data
    assert (created.data["team_id"], created.data["stage_id"], created.data["params"]["due_in_days"]) == (
        team.pk,
        stage_id,
        2,
    )
    assert [rule["name"] for rule in api_as(admin_user).get("/automation/rules").data] == ["Chase proposals"]
    assert api_as(rep).get("/automation/rules").data == []
    assert api_as(rep).get(f"/automation/rules/{created.data['id']}").status_code == 404
    patched = api_as(manager).patch(f"/automation/rules/{created.data['id']}", {"is_active": False})
    assert patched.data["is_active"] is False


def test_rule_input_errors_name_the_field(api_as, admin_user):
    api = api_as(admin_user)
    missing_stage = api.post("/automation/rules", PROPOSAL_RULE)
    assert (missing_stage.status_code, missing_stage.data["field"]) == (400, "stage")
    wrong_stage = api.post("/automation/rules", {**PROPOSAL_RULE, "stage_id": 99999})
    assert (wrong_stage.status_code, wrong_stage.data["field"]) == (400, "stage_id")
    wrong_source = api.post(
        "/automation/rules", {**PROPOSAL_RULE, "trigger": "lead_source", "source": "pigeon"}
    )
    assert (wrong_source.status_code, wrong_source.data["field"]) == (400, "source")
    assert Rule.objects.count() == 0


def test_dry_run_answers_counts_and_saves_nothing(api_as, rep, admin_user):
    for title in ("One", "Two"):
        deal = DealFactory(owner=rep, title=title)
        deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep)
    answer = api_as(admin_user).post(
        "/automation/rules/dry-run", {**PROPOSAL_RULE, "stage_id": stage_named("Proposal").pk}
    )
    assert answer.status_code == 200, answer.data
    assert (answer.data["count"], answer.data["records"]) == (2, 2)
    assert sorted(hit["title"] for hit in answer.data["hits"]) == ["One", "Two"]
    assert Rule.objects.count() == 0


def test_notifications_list_count_read(api_as, rep, rep2):
    first = notify(user=rep, kind=NotificationKind.RULE, key="a", message=Message("First", {}))
    notify(user=rep, kind=NotificationKind.RULE, key="b", message=Message("Second", {}))
    theirs = notify(user=rep2, kind=NotificationKind.RULE, key="a", message=Message("Theirs", {}))
    api = api_as(rep)
    assert api.get("/notifications/count").data == {"unread": 2}
    assert [item["title"] for item in api.get("/notifications").data["items"]] == ["Second", "First"]
    assert api.post(f"/notifications/{theirs.pk}/read").status_code == 404
    assert api.post(f"/notifications/{first.pk}/read").data["read_at"] is not None
    assert [item["title"] for item in api.get("/notifications", unread="true").data["items"]] == ["Second"]
    assert api.post("/notifications/read-all").data == {"unread": 1}
    assert api.get("/notifications/count").data == {"unread": 0}


def test_preferences_round_trip_and_refusals(api_as, rep):
    api = api_as(rep)
    saved = api.put("/notifications/preferences", {"channels": {"mention": "both", "digest_daily": "off"}})
    channels = {row["kind"]: row["channel"] for row in saved.data}
    assert (channels["mention"], channels["digest_daily"], channels["deal_assigned"]) == (
        "both",
        "off",
        "in_app",
    )
    refused = api.put("/notifications/preferences", {"channels": {"mention": "fax"}})
    assert (refused.status_code, refused.data["field"]) == (400, "channel")


def test_calendar_feed_url_serves_ics_until_revoked(api_as, rep):
    api = api_as(rep)
    created = api.post("/notifications/calendar-feed")
    assert created.status_code == 201
    path = created.data["url"].split("testserver", 1)[1]
    assert path.startswith("/calendar/cal_") and path.endswith(".ics")
    anonymous = Client()
    response = anonymous.get(path)
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert Calendar.from_ical(response.content)["prodid"] == "-//Dealflow//My calendar//EN"
    assert api.get("/notifications/calendar-feed").data["is_active"] is True
    assert api.delete("/notifications/calendar-feed").status_code == 204
    assert anonymous.get(path).status_code == 404
    assert anonymous.get("/calendar/cal_guessed.ics").status_code == 404


def test_webhook_subscription_api(api_as, rep, manager, admin_user):
    api = api_as(rep)
    created = api.post(
        "/webhooks",
        {"name": "Sync", "url": "https://example.com/hook", "event_types": ["deal.won", "deal.lost"]},
    )
    assert created.status_code == 201, created.data
    assert created.data["secret"].startswith("whsec_") and created.data["is_company_wide"] is False
    hook_id = created.data["id"]
    assert api_as(manager).get(f"/webhooks/{hook_id}").status_code == 404
    assert api_as(admin_user).get(f"/webhooks/{hook_id}").status_code == 200
    bad = api.post("/webhooks", {"name": "x", "url": "not a url", "event_types": ["deal.won"]})
    assert (bad.status_code, bad.data["field"]) == (400, "url")
    unknown = api.post("/webhooks", {"name": "x", "url": "https://e.com", "event_types": ["deal.exploded"]})
    assert unknown.status_code == 400
    sample = api.get(f"/webhooks/{hook_id}/sample")
    assert (sample.data["type"], sample.data["data"]["event"]["from"]) == ("deal.moved", "Needs analysis")
    rotated = api.post(f"/webhooks/{hook_id}/secret")
    assert (
        rotated.data["secret"] == WebhookSubscription.objects.get(pk=hook_id).secret != created.data["secret"]
    )
    assert api.get(f"/webhooks/{hook_id}/deliveries").data["count"] == 0
    assert (
        api_as(admin_user)
        .post("/webhooks", {"name": "All", "url": "https://example.com/all", "event_types": ["deal.won"]})
        .data["is_company_wide"]
        is True
    )


def test_openapi_documents_the_webhook_payload(client):
    schema = client.get("/api/openapi.json").json()
    components = schema["components"]["schemas"]
    envelope = components["WebhookEnvelope"]
    assert set(envelope["properties"]) == {"id", "type", "occurred_at", "data"}
    assert "Dealflow-Event-Id" in envelope["properties"]["id"]["description"]
    assert {"deal", "event", "lead", "activity", "rule"} <= set(components["WebhookData"]["properties"])
