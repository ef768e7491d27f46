"""Django's admin lists the domain's records; the event logs and domain records are read-only there."""

from __future__ import annotations

import pytest
from django.contrib import admin

from dealflow.accounts.models import AuditEntry, User
from dealflow.contacts.services import organization_create
from dealflow.deals.models import Deal, DealEvent
from dealflow.deals.tests.factories import DealFactory
from dealflow.people.models import PrivateNote

pytestmark = pytest.mark.django_db


def test_the_models_are_registered_and_the_logs_read_only(client, admin_user, rep):
    deal = DealFactory(owner=rep, title="Presses")
    organization_create(name="Acme")
    client.force_login(admin_user)
    assert "Presses" in client.get("/admin/deals/deal/").content.decode()
    assert "Acme" in client.get("/admin/contacts/organization/").content.decode()
    event = DealEvent.objects.filter(deal=deal).first()
    assert client.get(f"/admin/deals/dealevent/{event.pk}/change/").status_code == 200  # a read-only view
    assert client.post(f"/admin/deals/dealevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/deals/deal/add/").status_code == 403
    assert DealEvent.objects.filter(deal=deal).exists() and Deal.objects.filter(pk=deal.pk).exists()
    for model in (AuditEntry, DealEvent, Deal):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_change_permission(None) and not model_admin.has_delete_permission(None)
    assert admin.site._registry[User].has_change_permission  # users are managed here
    assert PrivateNote not in admin.site._registry


def test_a_rep_is_kept_out_of_the_admin(client, rep):
    client.force_login(rep)
    response = client.get("/admin/deals/deal/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
