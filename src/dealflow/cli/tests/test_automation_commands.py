"""`dealflow automation` and `dealflow notifications`."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from dealflow.automation.models import Rule, RuleRun
from dealflow.core.errors import ApplicationError
from dealflow.deals.services import deal_move_to_stage
from dealflow.deals.tests.factories import DealFactory, stage_named
from dealflow.notifications.models import NotificationPreference

pytestmark = pytest.mark.django_db
RULE = {
    "name": "Chase",
    "trigger": "stage_entered",
    "stage": "Proposal",
    "action": "create_activity",
    "params": {"subject": "Chase"},
}


def _run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_rule_from_json_dry_run_create_and_run(admin_user, rep):
    deal = DealFactory(owner=rep, title="Desks")
    deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep)
    dry = _run("automation", "--user", "admin", "dry-run", json.dumps(RULE))
    assert "Would have fired 1 times in the last 90 days, on 1 records." in dry
    assert "Desks" in dry
    assert "created" in _run("automation", "--user", "admin", "rule", json.dumps(RULE))
    rule = Rule.objects.get()
    assert rule.stage == stage_named("Proposal")
    deal_move_to_stage(deal=deal, stage=stage_named("Needs analysis"), by=rep)
    deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep)
    assert "1 rule runs (0 failed)" in _run("automation", "run")
    assert RuleRun.objects.count() == 1
    assert "off" in _run("automation", "--user", "admin", "toggle", str(rule.pk))


def test_rule_errors_name_the_input(admin_user, rep):
    with pytest.raises(ApplicationError) as error:
        _run("automation", "--user", "admin", "rule", "{not json")
    assert error.value.field == "rule"
    with pytest.raises(ApplicationError) as error:
        _run("automation", "--user", "admin", "rule", json.dumps({**RULE, "stage": "Nowhere"}))
    assert error.value.field == "stage"
    with pytest.raises(ApplicationError) as error:
        _run("automation", "--user", "rep", "rule", json.dumps(RULE))  # a rep: no company rules
    assert error.value.field == "team"


def test_webhook_subscription_from_the_cli(rep):
    out = _run(
        "automation",
        "--user",
        "rep",
        "webhook",
        "Sync",
        "https://example.com/h",
        "--events",
        "deal.won,deal.lost",
    )
    assert out.splitlines()[1].startswith("whsec_")
    assert "deal.won,deal.lost" in _run("automation", "--user", "rep", "webhooks")


def test_notification_preferences_from_the_cli(rep):
    out = _run("notifications", "prefs", "rep", "--set", "mention=both", "--set", "digest_daily=off")
    assert "mention                both" in out
    assert dict(NotificationPreference.objects.values_list("kind", "channel")) == {
        "mention": "both",
        "digest_daily": "off",
    }
    with pytest.raises(ApplicationError) as error:
        _run("notifications", "prefs", "rep", "--set", "mention")
    assert error.value.field == "set"
    assert "/calendar/cal_" in _run("notifications", "feed", "rep", "create")
