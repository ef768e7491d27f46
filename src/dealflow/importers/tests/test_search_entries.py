"""An import that renames a record refreshes the search entries that carry the name, as the web/API rename
does (directory.services: organization_change, person_change)."""

from __future__ import annotations

import pytest

from dealflow.importers.mapping import ImportOptions
from dealflow.importers.services import import_apply
from dealflow.search.selectors import search_for_user

pytestmark = pytest.mark.django_db


def _found(user, query: str) -> set[tuple[str, str]]:
    return {(entry.kind, entry.title) for entry in search_for_user(user=user, query=query)}


def test_an_import_renaming_an_organization_and_a_person_refreshes_their_deals_entries(
    tmp_path, admin_user, rep
):
    options = ImportOptions(source="pipedrive")
    organizations = tmp_path / "organizations.csv"
    organizations.write_text("Organization ID,Name,Owner\nO1,Acme Industrial,rep\n")
    import_apply(path=organizations, by=admin_user, options=options)
    persons = tmp_path / "persons.csv"
    persons.write_text(
        "Person ID,First name,Last name,E-mail,Organization ID\nP1,Anna,Jansen,anna@acme.example,O1\n"
    )
    import_apply(path=persons, by=admin_user, options=options)
    deals = tmp_path / "deals.csv"
    deals.write_text(
        "Deal ID,Title,Organization ID,Contact email,Value,Owner\nD1,Robots,O1,anna@acme.example,1000,rep\n"
    )
    _plan, result = import_apply(path=deals, by=admin_user, options=options)
    assert result.created == {"deals": 1}
    assert ("deal", "Robots") in _found(rep, "acme")
    assert ("deal", "Robots") in _found(rep, "jansen")

    organizations.write_text("Organization ID,Name,Owner\nO1,Zenith Holding,rep\n")
    _plan, result = import_apply(path=organizations, by=admin_user, options=options)
    assert result.updated == {"organizations": 1}
    persons.write_text(
        "Person ID,First name,Last name,E-mail,Organization ID\nP1,Anna,Visser,anna@acme.example,O1\n"
    )
    _plan, result = import_apply(path=persons, by=admin_user, options=options)
    assert result.updated == {"persons": 1}

    assert _found(rep, "zenith") == {
        ("organization", "Zenith Holding"),
        ("person", "Anna Visser"),  # a person is found by their organisation's name
        ("deal", "Robots"),
    }
    assert _found(rep, "acme industrial") == set()
    assert ("deal", "Robots") in _found(rep, "visser")
    assert _found(rep, "jansen") == set()


def test_an_import_changing_a_deal_title_refreshes_its_entry(tmp_path, admin_user, rep):
    options = ImportOptions(source="pipedrive")
    deals = tmp_path / "deals.csv"
    deals.write_text("Deal ID,Title,Value,Owner\nD1,Robots for Acme,1000,rep\n")
    import_apply(path=deals, by=admin_user, options=options)
    assert _found(rep, "robots") == {("deal", "Robots for Acme")}
    deals.write_text("Deal ID,Title,Value,Owner\nD1,Presses for Acme,1000,rep\n")
    _plan, result = import_apply(path=deals, by=admin_user, options=options)
    assert result.updated == {"deals": 1}
    assert _found(rep, "presses") == {("deal", "Presses for Acme")}
    assert _found(rep, "robots") == set()
