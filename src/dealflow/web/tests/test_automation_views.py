"""Notifications, rules and webhooks pages."""

from __future__ import annotations

import pytest

from dealflow.automation.dispatch import dispatch_pass
from dealflow.automation.models import Rule, WebhookSubscription
from dealflow.deals.services import deal_move_to_stage
from dealflow.deals.tests.factories import DealFactory, stage_named
from dealflow.notifications.models import NotificationKind
from dealflow.notifications.services import Message, notify

pytestmark = pytest.mark.django_db


def _rule_form(**extra):
    data = {
        "name": "Chase proposals",
        "trigger": "stage_entered",
        "stage": stage_named("Proposal").pk,
        "currency": "EUR",
        "action": "create_activity",
        "subject": "Chase the proposal",
        "activity_kind": "call",
        "due_in_days": "2",
        "recipient": "owner",
    }
    return {**data, **extra}


def test_bell_counts_and_reading_opens_the_target(client, rep):
    client.force_login(rep)
    notification = notify(
        user=rep, kind=NotificationKind.RULE, key="a", message=Message("Look at this", {}, url="/deals/")
    )
    assert "data-bell-count>1<" in client.get("/notifications/bell/").content.decode()
    page = client.get("/notifications/").content.decode()
    assert "Look at this" in page
    response = client.post(f"/notifications/{notification.pk}/read/")
    assert (response.status_code, response["Location"]) == (302, "/deals/")
    assert "data-bell-count" not in client.get("/notifications/bell/").content.decode()


def test_settings_save_channels_and_make_a_feed_url(client, rep):
    client.force_login(rep)
    response = client.post("/notifications/settings/", {"action": "preferences", "mention": "email"})
    assert response.status_code == 400  # every kind is on the form: the others are required
    data = {kind: "in_app" for kind in NotificationKind.values if not kind.startswith("digest")}
    data |= {"digest_daily": "off", "digest_weekly": "email", "mention": "both", "action": "preferences"}
    assert client.post("/notifications/settings/", data).status_code == 302
    page = client.post("/notifications/settings/", {"action": "feed_create"}).content.decode()
    assert "http://testserver/calendar/cal_" in page


def test_rule_form_dry_runs_then_saves(client, manager, rep, team):
    deal = DealFactory(owner=rep, title="Desks")
    deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep)
    client.force_login(manager)
    dry = client.post("/automation/rules/new/", _rule_form(team=team.pk, dry_run="1"))
    html = dry.content.decode()
    assert dry.status_code == 200
    assert "This rule would have fired 1 time over the last 90 days, on 1 records." in html
    assert "Desks" in html and Rule.objects.count() == 0
    saved = client.post("/automation/rules/new/", _rule_form(team=team.pk, save="1"))
    rule = Rule.objects.get()
    assert (saved.status_code, saved["Location"]) == (302, f"/automation/rules/{rule.pk}/")
    assert (rule.team, rule.params) == (
        team,
        {"subject": "Chase the proposal", "kind": "call", "due_in_days": 2, "due_in_hours": 0},
    )


def test_rule_form_errors_stay_on_the_form(client, admin_user):
    client.force_login(admin_user)
    response = client.post("/automation/rules/new/", _rule_form(stage="", save="1"))
    assert response.status_code == 400
    assert "Pick the open stage the deal enters." in response.content.decode()


def test_reps_may_not_open_the_rule_form(client, rep):
    client.force_login(rep)
    assert client.get("/automation/rules/new/").status_code == 403


def test_the_deal_timeline_shows_what_a_rule_did(client, rep, admin_user):
    client.force_login(admin_user)
    client.post("/automation/rules/new/", _rule_form(save="1"))
    deal = DealFactory(owner=rep, title="Desks")
    deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep)
    dispatch_pass()
    client.force_login(rep)
    html = client.get(f"/deals/{deal.pk}/").content.decode()
    assert "Chase proposals: Created the activity “Chase the proposal”" in html


def test_webhook_pages(client, rep):
    client.force_login(rep)
    response = client.post(
        "/automation/webhooks/",
        {"name": "Sync", "url": "https://example.com/hook", "event_types": ["deal.won", "lead.created"]},
    )
    subscription = WebhookSubscription.objects.get()
    assert response["Location"] == f"/automation/webhooks/{subscription.pk}/"
    assert subscription.secret in client.get(response["Location"]).content.decode()
    client.post(f"/automation/webhooks/{subscription.pk}/toggle/")
    subscription.refresh_from_db()
    assert subscription.is_active is False
    assert client.post(f"/automation/webhooks/{subscription.pk}/explode/").status_code == 404
    bad = client.post(
        "/automation/webhooks/", {"name": "x", "url": "mailto:a@b", "event_types": ["deal.won"]}
    )
    assert bad.status_code == 400
