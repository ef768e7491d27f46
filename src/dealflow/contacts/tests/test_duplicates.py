"""Likely duplicates: legal forms, domains, E.164 phones and fuzzy names; only among what the user sees."""

from __future__ import annotations

import pytest

from dealflow.contacts.duplicates import (
    company_domain_of,
    domain_of,
    name_normalized,
    names_alike,
    phone_e164,
)
from dealflow.contacts.selectors import organization_duplicates_for_user, person_duplicates_for_user
from dealflow.contacts.services import organization_create, person_create


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("Acme B.V.", "acme"),
        ("ACME BV", "acme"),
        ("Acme GmbH & Co. KG", "acme"),
        ("Acme Ltd.", "acme"),
        ("Acme, Inc", "acme"),
        ("Société Générale S.A.", "societe generale"),
        ("B.V.", "bv"),  # nothing but a legal form: the words stay
    ],
)
def test_names_lose_case_accents_punctuation_and_legal_forms(name, normalized):
    assert name_normalized(name) == normalized


def test_domains_phones_and_fuzzy_names():
    assert domain_of("https://www.Acme.nl/contact") == "acme.nl" == domain_of("jan@ACME.nl")
    assert company_domain_of("jan@gmail.com") == "" and company_domain_of("jan@acme.nl") == "acme.nl"
    assert phone_e164("06 1234 5678") == "+31612345678" == phone_e164("+31 (0)6-12345678")
    assert phone_e164("030 123 4567", country="NL") == "+31301234567"
    assert phone_e164("0171 1234567", country="DE") == "+491711234567"
    assert phone_e164("call me") == ""
    assert names_alike("acme industries", "acme industires") == 93  # 15 + 15 letters, 2 edits: 1 - 2/30
    assert names_alike("industries acme", "acme industries") == 100
    assert names_alike("acme", "globex") < 50


@pytest.mark.django_db
def test_organization_duplicates_among_visible_ones(rep, outsider):
    acme = organization_create(name="Acme B.V.", website="https://acme.nl", owner=rep)
    industries = organization_create(name="Acme Industries", owner=rep)
    organization_create(name="Acme GmbH", owner=outsider)  # not rep's to see
    organization_create(name="Globex", website="globex.com")
    found = organization_duplicates_for_user(user=rep, name="ACME BV")
    assert [(duplicate.contact, duplicate.score, duplicate.reasons) for duplicate in found] == [
        (acme, 100, ["same name"])
    ]
    by_site = organization_duplicates_for_user(user=rep, name="Totally Else", website="www.acme.nl/about")
    assert [(duplicate.contact, duplicate.reasons) for duplicate in by_site] == [(acme, ["same website"])]
    typo = organization_duplicates_for_user(user=rep, name="Acme Industires Ltd")
    assert [(duplicate.contact, duplicate.reasons) for duplicate in typo] == [
        (industries, ["similar name (93 %)"])
    ]
    assert organization_duplicates_for_user(user=rep, name="Acme B.V.", exclude_id=acme.pk) == []
    assert [
        duplicate.contact.name for duplicate in organization_duplicates_for_user(user=outsider, name="acme")
    ] == ["Acme GmbH"]


@pytest.mark.django_db
def test_person_duplicates_by_email_phone_and_name_at_the_same_organization(rep):
    acme = organization_create(name="Acme", country="NL", owner=rep)
    jan = person_create(
        first_name="Jan",
        last_name="de Vries",
        email="jan@acme.nl",
        phone="06 1234 5678",
        organization=acme,
        owner=rep,
    )
    person_create(
        first_name="Jan", last_name="de Vries", email="jan@other.nl", owner=rep
    )  # same name elsewhere

    def found(**values):
        return [
            (duplicate.contact, duplicate.reasons)
            for duplicate in person_duplicates_for_user(user=rep, **values)
        ]

    assert found(email="JAN@acme.nl") == [(jan, ["same e-mail address"])]
    assert found(first_name="J.", last_name="X", phone="+31 6 12345678") == [(jan, ["same phone number"])]
    # "de jan vries" (12 letters) vs "de jan vriess" (13): Indel ratio 2 * 12 / 25 = 0.96.
    assert found(first_name="Jan", last_name="de Vriess", organization=acme) == [
        (jan, ["similar name (96 %) at the same organization"])
    ]
    assert found(first_name="Jan", last_name="de Vries", email="j.devries@acme.nl")[0][0] == jan
    assert found(first_name="Piet", last_name="Jansen") == []
