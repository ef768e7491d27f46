"""API tokens: shown once, stored hashed, revocable, expiring, scoped."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from dealflow.accounts import services
from dealflow.accounts.models import ApiToken, AuditEntry
from dealflow.core.errors import ApplicationError

NOON = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_a_token_is_stored_as_a_hash_and_found_by_its_secret(rep):
    token, secret = services.token_create(user=rep, name="export", scope="read")
    stored = ApiToken.objects.get(pk=token.pk)
    assert secret.startswith("dfl_") and secret not in (stored.token_hash, stored.prefix)
    assert stored.token_hash == services.token_hash(secret)
    assert services.token_authenticate(secret=secret) == token
    assert services.token_authenticate(secret=secret + "x") is None
    assert services.token_authenticate(secret="not-ours") is None
    assert AuditEntry.objects.filter(action="token.created").count() == 1


@pytest.mark.django_db
def test_revoked_and_expired_tokens_fail(rep):
    with time_machine.travel(NOON, tick=False):
        expiring, expiring_secret = services.token_create(
            user=rep, name="short", expires_at=NOON + dt.timedelta(hours=1)
        )
        revoked, revoked_secret = services.token_create(user=rep, name="old")
        services.token_revoke(token=revoked, by=rep)
        services.token_revoke(token=revoked, by=rep)  # idempotent
        assert services.token_authenticate(secret=revoked_secret) is None
        assert services.token_authenticate(secret=expiring_secret) == expiring
    with time_machine.travel(NOON + dt.timedelta(hours=1), tick=False):
        assert services.token_authenticate(secret=expiring_secret) is None
    assert AuditEntry.objects.filter(action="token.revoked").count() == 1


@pytest.mark.django_db
def test_token_input_is_checked(rep):
    with pytest.raises(ApplicationError) as error:
        services.token_create(user=rep, name="x", scope="root")
    assert error.value.field == "scope"
    with pytest.raises(ApplicationError) as error:
        services.token_create(user=rep, name="x", expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    assert error.value.field == "expires_at"


@pytest.mark.django_db
def test_an_inactive_users_token_fails(rep):
    _, secret = services.token_create(user=rep, name="script")
    rep.is_active = False
    rep.save()
    assert services.token_authenticate(secret=secret) is None
