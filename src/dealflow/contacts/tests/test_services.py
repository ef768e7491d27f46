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


@pytest.mark.django_db
def test_create_many_stores_what_it_returns_with_ids_and_indexes_it(rep):
    import datetime as dt

    from dealflow.search.models import SearchEntry

    at = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
    organizations = services.organizations_create_many(
        records=[
            {
                "name": " Acme BV ",
                "country": "nl",
                "owner": rep,
                "external_source": "crm",
                "external_id": "7",
            },
            {"name": "Globex", "website": "https://globex.example"},
        ],
        at=at,
    )
    persons = services.persons_create_many(
        records=[
            {"first_name": "Zoë", "last_name": "Müller", "organization": organizations[0].pk},
            {"email": " Ada@Example.COM ", "organization": organizations[1], "owner": rep},
        ],
        at=at,
    )
    stored = list(
        Organization.objects.order_by("pk").values_list(
            "pk", "name", "country", "website", "owner", "external_source", "external_id", "created_at"
        )
    )
    assert stored == [
        (organizations[0].pk, "Acme BV", "NL", "", rep.pk, "crm", "7", at),
        (organizations[1].pk, "Globex", "", "https://globex.example", None, "", "", at),
    ]
    assert list(
        Person.objects.order_by("pk").values_list(
            "pk", "first_name", "email", "organization", "owner", "created_at"
        )
    ) == [
        (persons[0].pk, "Zoë", "", organizations[0].pk, None, at),
        (persons[1].pk, "", "ada@example.com", organizations[1].pk, rep.pk, at),
    ]
    assert all(contact.updated_at is not None for contact in [*organizations, *persons])
    assert Person.objects.get(pk=persons[0].pk).updated_at == persons[0].updated_at
    assert set(SearchEntry.objects.values_list("kind", "object_id", "title", "subtitle")) == {
        ("organization", organizations[0].pk, "Acme BV", "NL"),
        ("organization", organizations[1].pk, "Globex", ""),
        ("person", persons[0].pk, "Zoë Müller", "Acme BV"),
        ("person", persons[1].pk, "ada@example.com", "Globex"),
    }
    # The saved objects behave like fetched ones: an update is an UPDATE of the same row.
    services.organization_update(organization=organizations[1], data={"industry": "Steel"})
    assert Organization.objects.get(pk=organizations[1].pk).industry == "Steel"
    with pytest.raises(ApplicationError):
        services.persons_create_many(records=[{"phone": "+31 20 123 4567"}])
    with pytest.raises(ApplicationError):
        services.organizations_create_many(records=[{"name": ""}])
    assert Organization.objects.count() == 2 and Person.objects.count() == 2
