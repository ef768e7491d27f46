"""Deleting contacts to the trash (with what refers to them, when asked) and renames reaching search."""

from __future__ import annotations

import pytest

from dealflow.contacts.models import Organization, Person
from dealflow.contacts.services import organization_create, person_create
from dealflow.core.errors import ApplicationError
from dealflow.deals.models import Deal, DealFact, Lead
from dealflow.deals.tests.factories import DealFactory, LeadFactory
from dealflow.directory.services import organization_change, person_change
from dealflow.directory.trash import contact_delete, contact_restore, trash_list_for_user, trash_purge
from dealflow.search.selectors import search_for_user

pytestmark = pytest.mark.django_db


def _found(user, query: str) -> set[tuple[str, int]]:
    return {(entry.kind, entry.object_id) for entry in search_for_user(user=user, query=query)}


def test_renaming_an_organisation_or_person_refreshes_their_deals_and_leads_in_search(rep, pipeline):
    acme = organization_create(name="Acme", owner=rep)
    jansen = person_create(last_name="Jansen", organization=acme, owner=rep)
    deal = DealFactory(owner=rep, title="Renewal", organization=acme, person=jansen)
    lead = LeadFactory(owner=rep, title="Upsell", organization=acme)
    organization_change(organization=acme, data={"name": "Initrode"}, by=rep)
    assert {("deal", deal.pk), ("lead", lead.pk), ("person", jansen.pk), ("organization", acme.pk)} <= _found(
        rep, "Initrode"
    )
    assert ("deal", deal.pk) not in _found(rep, "Acme")
    person_change(person=jansen, data={"last_name": "Pietersen"}, by=rep)
    assert ("deal", deal.pk) in _found(rep, "Pietersen")


def test_an_organisation_with_records_is_refused_then_deleted_and_restored_with_them(
    rep, admin_user, pipeline
):
    acme = organization_create(name="Acme BV", owner=rep)
    person = person_create(last_name="Jansen", organization=acme, owner=rep)
    deal = DealFactory(owner=rep, organization=acme, person=person)
    lead = LeadFactory(owner=rep, organization=acme)
    with pytest.raises(ApplicationError) as refused:
        contact_delete(contact=acme, by=rep)
    assert (
        refused.value.message
        == "1 deal, 1 lead, 1 person refer to Acme BV. Delete them with it, or move them first."
    )
    went = contact_delete(contact=acme, by=rep, with_records=True)
    assert went == {"deals": [deal.pk], "leads": [lead.pk], "persons": [person.pk]}
    assert (
        not Deal.objects.filter(pk=deal.pk).exists() and not DealFact.objects.filter(deal_id=deal.pk).exists()
    )
    assert [item.kind for item in trash_list_for_user(user=rep)].count("deal") == 1
    assert _found(rep, "Acme") == set()
    with pytest.raises(ApplicationError, match="refer to Acme BV; purge or move them first"):
        trash_purge(kind="organization", record=Organization.all_objects.get(pk=acme.pk), by=admin_user)

    back = contact_restore(contact=Organization.all_objects.get(pk=acme.pk), by=rep)
    assert back == {"deals": [deal.pk], "leads": [lead.pk], "persons": [person.pk]}
    assert Deal.objects.filter(pk=deal.pk).exists() and DealFact.objects.filter(deal_id=deal.pk).exists()
    assert Lead.objects.filter(pk=lead.pk).exists() and Person.objects.filter(pk=person.pk).exists()
    assert ("deal", deal.pk) in _found(rep, "Acme")


def test_a_deal_of_a_trashed_organisation_cannot_come_back_alone(rep, pipeline):
    from dealflow.deals.services.trash import deal_restore

    acme = organization_create(name="Acme", owner=rep)
    deal = DealFactory(owner=rep, organization=acme)
    contact_delete(contact=acme, by=rep, with_records=True)
    with pytest.raises(ApplicationError, match="restore the organisation first"):
        deal_restore(deal=Deal.all_objects.get(pk=deal.pk), by=rep)
