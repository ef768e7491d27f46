"""The contact gates: company contacts for everyone, owned ones follow the owner's visibility."""

from __future__ import annotations

import pytest
from django.http import Http404

from dealflow.contacts import selectors, services
from dealflow.core.errors import ApplicationError, PermissionDeniedError


def access(gate, **kwargs) -> str:
    try:
        gate(**kwargs, for_write=True)
        return "read-write"
    except PermissionDeniedError:
        gate(**kwargs)
        return "read-only"
    except Http404:
        return "hidden"


@pytest.fixture
def everyone(rep, rep2, manager, outsider, analyst, admin_user):
    return {
        "rep": rep,
        "rep2": rep2,
        "manager": manager,
        "outsider": outsider,
        "analyst": analyst,
        "admin": admin_user,
    }


@pytest.mark.django_db
def test_owned_contacts_follow_their_owner(everyone, rep):
    organization = services.organization_create(name="Rita's prospect", owner=rep)
    person = services.person_create(last_name="Lovelace", owner=rep)
    expected = {
        "rep": "read-write",
        "rep2": "hidden",
        "manager": "read-write",
        "outsider": "hidden",
        "analyst": "read-only",
        "admin": "read-write",
    }
    assert {
        name: access(selectors.organization_get_for_user, organization_id=organization.pk, user=user)
        for name, user in everyone.items()
    } == expected
    assert {
        name: access(selectors.person_get_for_user, person_id=person.pk, user=user)
        for name, user in everyone.items()
    } == expected


@pytest.mark.django_db
def test_company_contacts_are_everyones_but_analysts_only_read_them(everyone):
    organization = services.organization_create(name="Acme")
    assert {
        name: access(selectors.organization_get_for_user, organization_id=organization.pk, user=user)
        for name, user in everyone.items()
    } == {
        "rep": "read-write",
        "rep2": "read-write",
        "manager": "read-write",
        "outsider": "read-write",
        "analyst": "read-only",
        "admin": "read-write",
    }


@pytest.mark.django_db
def test_a_picked_contact_that_is_not_visible_is_a_field_error(rep, outsider):
    organization = services.organization_create(name="Secret", owner=outsider)
    with pytest.raises(ApplicationError) as error:
        selectors.organization_get_for_user(
            organization_id=organization.pk, user=rep, field="organization_id"
        )
    assert error.value.field == "organization_id"


@pytest.mark.django_db
def test_lists_search_and_order(rep, outsider):
    services.organization_create(name="Zeta")
    services.organization_create(name="Alpha", website="alpha.example")
    services.organization_create(name="Hidden", owner=outsider)
    names = [organization.name for organization in selectors.organization_list_for_user(user=rep)]
    assert names == ["Alpha", "Zeta"]
    assert [o.name for o in selectors.organization_list_for_user(user=rep, order="-name")] == [
        "Zeta",
        "Alpha",
    ]
    assert [o.name for o in selectors.organization_list_for_user(user=rep, search="ALPHA.ex")] == ["Alpha"]
    with pytest.raises(ApplicationError):
        selectors.organization_list_for_user(user=rep, order="secret")
    services.person_create(first_name="Ada", last_name="Lovelace")
    services.person_create(first_name="Grace", last_name="Hopper", email="grace@navy.example")
    assert [p.last_name for p in selectors.person_list_for_user(user=rep)] == ["Hopper", "Lovelace"]
    assert [p.last_name for p in selectors.person_list_for_user(user=rep, search="navy")] == ["Hopper"]
