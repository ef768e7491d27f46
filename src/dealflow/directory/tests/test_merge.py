"""Merging duplicates keeps every deal, lead, person and activity, records history and audit, for review."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealflow.accounts.models import AuditEntry
from dealflow.contacts.models import Organization, Person
from dealflow.contacts.services import contact_tags_set, organization_create, person_create
from dealflow.deals.models import Deal, DealEvent, Lead
from dealflow.deals.services import activity_create, deal_create, lead_create
from dealflow.deals.tests.factories import lead_source
from dealflow.directory.models import ContactMerge
from dealflow.directory.services import organization_merge, person_merge
from dealflow.search.selectors import search_for_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def twins(rep, rep2, pipeline):
    survivor = organization_create(name="Acme B.V.", owner=rep)
    merged = organization_create(name="ACME BV", website="acme.nl", country="NL", owner=rep)
    contact_tags_set(contact=merged, tags=["vip"])
    deals = [
        deal_create(title="Presses", owner=rep, by=rep, organization=merged),
        deal_create(title="Robots", owner=rep2, by=rep2, organization=merged),  # a teammate's deal moves too
        deal_create(title="Already ours", owner=rep, by=rep, organization=survivor),
    ]
    lead = lead_create(title="Second site", source=lead_source("website"), owner=rep, organization=merged)
    jan = person_create(first_name="Jan", last_name="Smit", organization=merged, owner=rep)
    return {"survivor": survivor, "merged": merged, "deals": deals, "lead": lead, "jan": jan}


def test_organization_merge_moves_everything_records_it_and_deletes_the_duplicate(rep, twins):
    survivor, merged = twins["survivor"], twins["merged"]
    merged_id = merged.pk
    merge = organization_merge(survivor=survivor, merged=merged, by=rep)
    assert not Organization.objects.filter(pk=merged_id).exists()
    assert sorted(Deal.objects.filter(organization=survivor).values_list("title", flat=True)) == [
        "Already ours",
        "Presses",
        "Robots",
    ]
    assert Lead.objects.get(pk=twins["lead"].pk).organization == survivor
    assert Person.objects.get(pk=twins["jan"].pk).organization == survivor
    survivor.refresh_from_db()
    assert (survivor.website, survivor.country) == ("acme.nl", "NL")  # empty fields filled
    events = DealEvent.objects.filter(origin="merge").order_by("deal_id")
    assert [(event.field, event.from_value, event.to_value) for event in events] == [
        ("organization", "ACME BV", "Acme B.V."),
        ("organization", "ACME BV", "Acme B.V."),
    ]
    assert merge.moved == {
        "deals": [twins["deals"][0].pk, twins["deals"][1].pk],
        "leads": [twins["lead"].pk],
        "persons": [twins["jan"].pk],
    }
    assert merge.merged_data["name"] == "ACME BV" and merge.by == rep
    entry = AuditEntry.objects.get(action="organization.merged")
    assert entry.detail["merged_id"] == merged_id and entry.target == f"organization:{survivor.pk}"
    from dealflow.tags.selectors import tag_names_of

    assert tag_names_of(entity="organization", object_id=survivor.pk) == ["vip"]
    assert [entry.title for entry in search_for_user(user=rep, query="acme", kinds=["organization"])] == [
        "Acme B.V."
    ]


def test_person_merge_moves_deals_leads_and_activities(rep, pipeline):
    jan = person_create(first_name="Jan", last_name="Smit", email="jan@acme.nl", owner=rep)
    twin = person_create(first_name="Jan", last_name="Smit", phone="0612345678", owner=rep)
    deal = deal_create(title="Presses", owner=rep, by=rep, person=twin)
    call = activity_create(owner=rep, by=rep, person=twin, subject="Call")
    merge = person_merge(survivor=jan, merged=twin, by=rep)
    deal.refresh_from_db()
    call.refresh_from_db()
    jan.refresh_from_db()
    assert (deal.person, call.person, jan.phone) == (jan, jan, "0612345678")
    assert merge.moved == {"deals": [deal.pk], "leads": [], "activities": [call.pk]}


def test_merging_a_contact_into_itself_is_refused(rep, twins):
    from dealflow.core.errors import ApplicationError

    with pytest.raises(ApplicationError) as error:
        organization_merge(survivor=twins["survivor"], merged=twins["survivor"], by=rep)
    assert error.value.field == "merged"


def test_merge_page_lists_duplicates_merges_and_admins_review(client, rep, outsider, admin_user, twins):
    client.force_login(rep)
    url = reverse("web:organization_merge", args=[twins["survivor"].pk])
    page = client.get(url)
    assert [duplicate.contact for duplicate in page.context["duplicates"]] == [twins["merged"]]
    answer = client.post(url, {"other": twins["merged"].pk})
    assert answer.status_code == 302
    assert ContactMerge.objects.count() == 1
    assert client.get(reverse("web:merge_list")).status_code == 403
    client.force_login(admin_user)
    review = client.get(reverse("web:merge_list")).content.decode()
    assert "ACME BV" in review and "deals: 2" in review
    client.force_login(outsider)
    assert client.get(url).status_code == 404


def test_api_duplicates_and_merge(client, rep, twins):
    client.force_login(rep)
    found = client.get("/api/v1/organizations-duplicates", {"name": "acme b.v."}).json()
    assert [(item["name"], item["reasons"]) for item in found] == [
        ("Acme B.V.", ["same name"]),
        ("ACME BV", ["same name"]),
    ]
    answer = client.post(
        f"/api/v1/organizations/{twins['survivor'].pk}/merge",
        {"merged_id": twins["merged"].pk},
        content_type="application/json",
    )
    assert answer.status_code == 200 and answer.json()["moved"]["leads"] == [twins["lead"].pk]


def test_creating_a_likely_duplicate_asks_first(client, rep, twins):
    client.force_login(rep)
    url = reverse("web:organization_create")
    asked = client.post(url, {"name": "Acme bv"})
    assert asked.status_code == 400 and [d.contact for d in asked.context["duplicates"]] == [
        twins["survivor"],
        twins["merged"],
    ]
    assert not Organization.objects.filter(name="Acme bv").exists()
    created = client.post(url, {"name": "Acme bv", "confirm_new": "1"})
    assert created.status_code == 302 and Organization.objects.filter(name="Acme bv").exists()
