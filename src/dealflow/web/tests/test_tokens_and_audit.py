"""API tokens in the account area, the admins' audit log (read-only, filtered), settings changes audited."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import DatabaseError, transaction
from django.urls import reverse

from dealflow.accounts.models import ApiToken, AuditEntry
from dealflow.accounts.services import audit_record, token_authenticate


def test_a_user_creates_a_token_sees_its_secret_once_and_can_use_it(client, rep):
    client.force_login(rep)
    response = client.post(reverse("web:tokens"), {"name": "CI export", "scope": "read"})
    assert response.status_code == 200
    secret = response.context["secret"]
    assert secret.startswith("dfl_") and secret in response.content.decode()
    token = ApiToken.objects.get(user=rep)
    assert (token.name, token.scope, token.expires_at) == ("CI export", "read", None)
    assert token_authenticate(secret=secret) == token
    listing = client.get(reverse("web:tokens")).content.decode()
    assert "CI export" in listing and secret not in listing and token.prefix in listing
    assert AuditEntry.objects.filter(action="token.created", actor=rep).count() == 1


def test_the_list_shows_expiry_and_last_use(client, rep):
    client.force_login(rep)
    with time_machine.travel(dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC), tick=False):
        client.post(reverse("web:tokens"), {"name": "x", "scope": "write", "expires_at": "2027-01-31T12:00"})
        secret_token = ApiToken.objects.get(user=rep)
        assert secret_token.expires_at is not None and secret_token.expires_at.year == 2027
    ApiToken.objects.filter(pk=secret_token.pk).update(
        last_used_at=dt.datetime(2026, 11, 3, 8, 0, tzinfo=dt.UTC)
    )
    page = client.get(reverse("web:tokens")).content.decode()
    assert "2027-01-31" in page and "2026-11-03" in page


def test_a_past_expiry_is_a_form_error(client, rep):
    client.force_login(rep)
    response = client.post(
        reverse("web:tokens"), {"name": "x", "scope": "read", "expires_at": "2001-01-01T00:00"}
    )
    assert response.status_code == 400
    assert "future" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_user_revokes_their_token_but_not_someone_elses(client, rep, outsider):
    from dealflow.accounts.services import token_create

    token, secret = token_create(user=rep, name="old")
    client.force_login(outsider)
    assert client.post(reverse("web:token_revoke", args=[token.pk])).status_code == 404
    client.force_login(rep)
    assert client.post(reverse("web:token_revoke", args=[token.pk])).status_code == 302
    assert token_authenticate(secret=secret) is None
    assert AuditEntry.objects.filter(action="token.revoked", actor=rep).count() == 1
    assert "revoked" in client.get(reverse("web:tokens")).content.decode()


def test_only_admins_see_the_settings_and_audit_links(client, manager, admin_user):
    client.force_login(manager)
    names = {item["name"] for item in client.get(reverse("web:home")).context["navigation"]}
    assert "web:audit_log" not in names and "web:settings" not in names
    assert client.get(reverse("web:audit_log")).status_code == 403
    client.force_login(admin_user)
    names = {item["name"] for item in client.get(reverse("web:home")).context["navigation"]}
    assert {"web:audit_log", "web:settings"} <= names


def test_the_audit_log_filters_by_action_actor_and_days(client, admin_user, rep, manager):
    with time_machine.travel(dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC), tick=False):
        audit_record(actor=rep, action="export.deals", target="deals")
    with time_machine.travel(dt.datetime(2026, 11, 5, 12, 0, tzinfo=dt.UTC), tick=False):
        audit_record(actor=manager, action="export.leads", target="leads")
        audit_record(actor=rep, action="token.created", target="token:9")
    client.force_login(admin_user)
    url = reverse("web:audit_log")

    def shown(**query) -> list[tuple[str, str]]:
        entries = client.get(url, query).context["entries"]
        # (signing the admin in wrote an "auth.login" entry too)
        return [(entry.actor.username, entry.action) for entry in entries if entry.action != "auth.login"]

    assert shown() == [("rep", "token.created"), ("manager", "export.leads"), ("rep", "export.deals")]
    assert shown(action="export") == [("manager", "export.leads"), ("rep", "export.deals")]
    assert shown(actor=rep.pk) == [("rep", "token.created"), ("rep", "export.deals")]
    assert shown(since="2026-11-03") == [("rep", "token.created"), ("manager", "export.leads")]
    assert shown(until="2026-11-02") == [("rep", "export.deals")]
    assert shown(action="export", actor=rep.pk, since="2026-11-01", until="2026-11-30") == [
        ("rep", "export.deals")
    ]
    assert client.get(url, {"since": "not a day"}).status_code == 400


def test_the_audit_page_offers_no_way_to_change_an_entry(client, admin_user):
    audit_record(actor=admin_user, action="export.deals")
    client.force_login(admin_user)
    assert client.post(reverse("web:audit_log")).status_code == 405
    assert b'<form method="post"' not in client.get(reverse("web:audit_log")).content.split(b"<main")[-1]


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_to_change_or_delete_an_audit_entry(admin_user):
    entry = audit_record(actor=admin_user, action="token.created", target="token:1")
    for change in (
        lambda: AuditEntry.objects.filter(pk=entry.pk).update(action="nothing happened"),
        lambda: AuditEntry.objects.filter(pk=entry.pk).update(actor=None, target="elsewhere"),
        lambda: AuditEntry.objects.filter(pk=entry.pk).delete(),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            change()
    assert AuditEntry.objects.get(pk=entry.pk).action == "token.created"


@pytest.mark.django_db(transaction=True)
def test_deleting_a_user_keeps_their_audit_entries_without_the_actor(rep):
    entry = audit_record(actor=rep, action="token.created", target="token:1")
    rep.delete()
    entry = AuditEntry.objects.get(pk=entry.pk)
    assert (entry.actor_id, entry.action, entry.target) == (None, "token.created", "token:1")


def test_settings_changes_through_web_and_api_are_audited(client, admin_user, pipeline):
    client.force_login(admin_user)
    client.post(reverse("web:settings_lost_reasons"), {"name": "Went quiet"})
    client.post(
        reverse("web:settings_exchange_rates"),
        {"currency": "GBP", "rate": "1.17", "valid_from": "2026-01-01"},
    )
    response = client.post("/api/v1/pipelines", {"name": "Renewals"}, content_type="application/json")
    assert response.status_code == 201
    stage = pipeline.stages.filter(kind="open").order_by("order").first()
    response = client.patch(
        f"/api/v1/stages/{stage.pk}", {"probability": 15}, content_type="application/json"
    )
    assert response.status_code == 200
    entries = {
        entry.action: entry
        for entry in AuditEntry.objects.filter(action__startswith="settings.", actor=admin_user)
    }
    assert set(entries) == {
        "settings.lost_reason_created",
        "settings.exchange_rate_set",
        "settings.pipeline_created",
        "settings.stage_changed",
    }
    assert entries["settings.exchange_rate_set"].detail == {
        "currency": "GBP",
        "rate": str(Decimal("1.17")),
        "valid_from": "2026-01-01",
    }
    assert entries["settings.stage_changed"].detail == {"probability": 15}
    assert entries["settings.stage_changed"].target == f"stage:{stage.pk}"
