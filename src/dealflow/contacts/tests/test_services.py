"""Organizations and people: input checks and deletion rules."""

from __future__ import annotations

import pytest

from dealflow.contacts import services
from dealflow.contacts.models import Organization, Person
from dealflow.core.errors import ApplicationError
from dealflow.deals.tests.factories import DealFactory, LeadFactory


@pytest.mark.django_db
def test_organization_input_is_cleaned_and_checked(rep):
    organization = services.organization_create(
        name="  Acme BV ", country="nl", website="acme.example", owner=rep
    )
    assert (organization.name, organization.country, organization.owner) == ("Acme BV", "NL", rep)
    for data, field in (({"name": ""}, "name"), ({"country": "NLD"}, "country"), ({"size": 5}, "size")):
        with pytest.raises(ApplicationError) as error:
            services.organization_update(organization=organization, data=data)
        assert error.value.field == field
    rep.is_active = False
    rep.save()
    with pytest.raises(ApplicationError) as error:
        services.organization_create(name="Globex", owner=rep)
    assert error.value.field == "owner"


@pytest.mark.django_db
def test_a_person_needs_a_name_or_an_email():
    with pytest.raises(ApplicationError):
        services.person_create(phone="+31 20 123 4567")
    person = services.person_create(email=" Ada@Example.COM ")
    assert person.email == "ada@example.com"
    with pytest.raises(ApplicationError) as error:
        services.person_update(person=person, data={"email": "nope"})
    assert error.value.field == "email"
    with pytest.raises(ApplicationError):
        services.person_update(person=person, data={"email": ""})
    services.person_update(person=person, data={"first_name": "Ada", "email": ""})
    person.refresh_from_db()
    assert (person.full_name, person.email) == ("Ada", "")


@pytest.mark.django_db
def test_contacts_that_deals_or_leads_refer_to_stay(rep):
    organization = services.organization_create(name="Acme")
    person = services.person_create(last_name="Lovelace", organization=organization)
    DealFactory(owner=rep, organization=organization)
    LeadFactory(owner=rep, person=person)
    with pytest.raises(ApplicationError):
        services.organization_purge(organization=organization)
    with pytest.raises(ApplicationError):
        services.person_purge(person=person)
    loner = services.person_create(last_name="Hopper")
    services.person_purge(person=loner)
    assert not Person.objects.filter(pk=loner.pk).exists()
    empty = services.organization_create(name="Empty")
    services.organization_purge(organization=empty)
    assert not Organization.objects.filter(pk=empty.pk).exists()
