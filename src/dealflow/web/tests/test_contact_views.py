"""Organization and person pages, and the autocomplete: rep, manager, outsider (GUIDE.md personas)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealflow.contacts.models import Organization, Person
from dealflow.contacts.services import contact_tags_set, organization_create, person_create
from dealflow.deals.models import Activity, Deal, DealStatus
from dealflow.deals.selectors import lost_reason_list
from dealflow.deals.services import activity_create, deal_mark_lost, deal_mark_won
from dealflow.deals.tests.factories import DealFactory, LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(rep):
    return organization_create(name="Acme B.V.", country="NL", industry="Machines", owner=rep)


@pytest.fixture
def book(rep, outsider, acme):
    """Acme with three deals of rep (open, won, lost), a lead, a person and a note; an outsider's company."""
    open_deal = DealFactory(owner=rep, title="Acme presses", organization=acme)
    won = DealFactory(owner=rep, title="Acme spare parts", organization=acme)
    deal_mark_won(deal=won, by=rep)
    lost = DealFactory(owner=rep, title="Acme robots", organization=acme)
    deal_mark_lost(deal=lost, reason=lost_reason_list().first(), by=rep)
    jan = person_create(
        first_name="Jan", last_name="de Vries", email="jan@acme.nl", organization=acme, owner=rep
    )
    lead = LeadFactory(owner=rep, title="Acme second site", organization=acme)
    note = activity_create(owner=rep, by=rep, deal=open_deal, kind="note", subject="Budget approved")
    call = activity_create(owner=rep, by=rep, person=jan, kind="call", subject="Call Jan back")
    foreign = organization_create(name="Globex Ltd", country="DE", owner=outsider)
    return {
        "open": open_deal,
        "won": won,
        "lost": lost,
        "jan": jan,
        "lead": lead,
        "note": note,
        "call": call,
        "foreign": foreign,
    }


def test_organization_page_shows_open_won_lost_deals_leads_people_activities_notes(client, rep, acme, book):
    client.force_login(rep)
    response = client.get(reverse("web:organization_detail", args=[acme.pk]))
    assert response.status_code == 200
    overview = response.context["overview"]
    assert [deal.title for deal in overview.open_deals] == ["Acme presses"]
    assert [deal.title for deal in overview.won_deals] == ["Acme spare parts"]
    assert [deal.title for deal in overview.lost_deals] == ["Acme robots"]
    assert overview.deal_counts == {"open": 1, "won": 1, "lost": 1}
    assert [lead.title for lead in overview.leads] == ["Acme second site"]
    assert [str(person) for person in overview.people] == ["Jan de Vries"]
    assert [note.subject for note in overview.notes] == ["Budget approved"]
    assert "Call Jan back" in [activity.subject for activity in overview.activities]
    kinds = {item["event"].kind for item in overview.timeline if item["type"] == "event"}
    assert {"created", "won", "lost"} <= kinds
    html = response.content.decode()
    assert "Acme B.V." in html and "Budget approved" in html


def test_a_teammates_deal_on_a_shared_company_is_hidden_from_an_outsider(client, outsider, acme, book):
    shared = organization_create(name="Shared Corp")  # the company's: everybody sees it
    DealFactory(owner=book["open"].owner, title="Our secret deal", organization=shared)
    client.force_login(outsider)
    response = client.get(reverse("web:organization_detail", args=[shared.pk]))
    assert response.status_code == 200
    assert "Our secret deal" not in response.content.decode()
    assert response.context["overview"].deal_counts == {"open": 0, "won": 0, "lost": 0}


def test_outsider_gets_404_for_reps_organization_and_person(client, outsider, acme, book):
    client.force_login(outsider)
    assert client.get(reverse("web:organization_detail", args=[acme.pk])).status_code == 404
    assert client.get(reverse("web:person_detail", args=[book["jan"].pk])).status_code == 404
    edit = client.post(reverse("web:organization_edit", args=[acme.pk]), {"name": "Mine now"})
    assert edit.status_code == 404
    acme.refresh_from_db()
    assert acme.name == "Acme B.V."


def test_manager_sees_the_team_organization_and_rep_its_person(client, manager, rep, acme, book):
    client.force_login(manager)
    assert client.get(reverse("web:organization_detail", args=[acme.pk])).status_code == 200
    client.force_login(rep)
    response = client.get(reverse("web:person_detail", args=[book["jan"].pk]))
    assert response.status_code == 200
    assert [activity.subject for activity in response.context["overview"].activities] == ["Call Jan back"]


def test_list_searches_filters_sorts_and_paginates(client, rep, outsider, acme, book):
    for number in range(55):
        organization_create(name=f"Zeta {number:02d}", country="BE", owner=rep)
    contact_tags_set(contact=acme, tags=["vip"])
    client.force_login(rep)
    url = reverse("web:organization_list")
    first = client.get(url)
    names = [organization.name for organization in first.context["page"].object_list]
    assert first.context["page"].paginator.count == 56  # not Globex: the outsider's
    assert names[0] == "Acme B.V." and len(names) == 50
    second = client.get(url, {"page": 2})
    assert len(second.context["page"].object_list) == 6
    assert [o.name for o in client.get(url, {"q": "acme"}).context["page"].object_list] == ["Acme B.V."]
    assert [o.name for o in client.get(url, {"country": "nl"}).context["page"].object_list] == ["Acme B.V."]
    assert [o.name for o in client.get(url, {"tag": "VIP"}).context["page"].object_list] == ["Acme B.V."]
    by_owner = client.get(url, {"owner": rep.pk, "order": "-name"}).context["page"].object_list
    assert by_owner[0].name == "Zeta 54"
    assert client.get(url, {"team": rep.memberships.first().team_id}).context["page"].paginator.count == 56
    bad = client.get(url, {"country": "Netherlands"})
    assert bad.status_code == 200 and bad.context["form"].errors["country"]


def test_person_list_filters_by_the_organizations_country(client, rep, book):
    client.force_login(rep)
    url = reverse("web:person_list")
    assert [str(p) for p in client.get(url, {"country": "NL"}).context["page"].object_list] == [
        "Jan de Vries"
    ]
    assert list(client.get(url, {"country": "DE"}).context["page"].object_list) == []


def test_edit_in_place_saves_through_the_service_and_names_the_bad_field(client, rep, acme):
    client.force_login(rep)
    url = reverse("web:organization_edit", args=[acme.pk])
    ok = client.post(
        url, {"name": "Acme Holding B.V.", "country": "nl", "website": "acme.nl"}, HTTP_HX_REQUEST="true"
    )
    assert ok.status_code == 200 and "Acme Holding B.V." in ok.content.decode()
    acme.refresh_from_db()
    assert (acme.name, acme.country, acme.website) == ("Acme Holding B.V.", "NL", "acme.nl")
    bad = client.post(url, {"name": "Acme", "country": "NLD"})
    assert bad.status_code == 400
    assert bad.context["edit_form"].errors["country"] == ["Country must be a two-letter ISO 3166 code."]


def test_create_person_picks_an_existing_organization_by_name_or_creates_one(client, rep, acme):
    client.force_login(rep)
    url = reverse("web:person_create")
    response = client.post(url, {"first_name": "Eva", "last_name": "Smit", "organization": "acme b.v."})
    eva = Person.objects.get(first_name="Eva")
    assert response.status_code == 302 and response["Location"] == reverse("web:person_detail", args=[eva.pk])
    assert eva.organization == acme
    client.post(url, {"first_name": "Piet", "organization": "Initech"})
    assert Person.objects.get(first_name="Piet").organization.name == "Initech"
    assert Organization.objects.filter(name="Initech").count() == 1
    nameless = client.post(url, {"organization": "Acme B.V."})
    assert nameless.status_code == 400
    assert "A person needs a name or an e-mail address." in nameless.content.decode()


def test_an_analyst_reads_but_cannot_create_or_edit(client, analyst, acme):
    client.force_login(analyst)
    assert client.get(reverse("web:organization_detail", args=[acme.pk])).status_code == 200
    assert client.get(reverse("web:organization_create")).status_code == 403
    assert client.post(reverse("web:organization_edit", args=[acme.pk]), {"name": "x"}).status_code == 403


def test_activity_from_the_organization_page_hangs_on_its_person(client, rep, acme, book):
    client.force_login(rep)
    url = reverse("web:organization_activity_create", args=[acme.pk])
    response = client.post(
        url, {"target": f"person:{book['jan'].pk}", "kind": "call", "subject": "Intro call", "is_done": "on"}
    )
    assert response.status_code == 302
    activity = Activity.objects.get(subject="Intro call")
    assert activity.person == book["jan"] and activity.owner == rep and activity.done_at is not None
    on_deal = client.post(url, {"target": f"deal:{book['open'].pk}", "kind": "task", "subject": "Send offer"})
    assert on_deal.status_code == 302
    assert Activity.objects.get(subject="Send offer").deal == book["open"]
    foreign = client.post(
        url,
        {"target": f"person:{Person.objects.create(first_name='Zed').pk}", "kind": "task", "subject": "x"},
    )
    assert foreign.status_code == 400
    assert "Pick a person of this organization." in foreign.content.decode()


def test_autocomplete_offers_visible_organizations_and_a_create_option(client, rep, outsider, acme, book):
    client.force_login(rep)
    url = reverse("web:organization_autocomplete")
    html = client.get(url, {"organization": "ac"}).content.decode()
    assert 'data-pick="Acme B.V."' in html and "Create “ac”" in html
    exact = client.get(url, {"q": "acme b.v."}).content.decode()
    assert "Create" not in exact
    assert "Globex" not in client.get(url, {"q": "glob"}).content.decode()  # the outsider's
    client.force_login(outsider)
    assert "Acme" not in client.get(url, {"q": "acme"}).content.decode()
    people = client.get(reverse("web:person_autocomplete"), {"q": "vries"}).content.decode()
    assert "Jan de Vries" not in people  # rep's person, the outsider may not see


def test_deal_create_picks_the_organization_typed_in_the_picker(client, rep, acme, pipeline):
    client.force_login(rep)
    form = client.get(reverse("web:deal_create"), {"organization": "Acme B.V."}).content.decode()
    assert 'value="Acme B.V."' in form and "data-picker" in form
    before = Deal.objects.count()
    response = client.post(
        reverse("web:deal_create"),
        {
            "title": "Line 3",
            "pipeline": pipeline.pk,
            "currency": "EUR",
            "owner": rep.pk,
            "organization": "ACME B.V.",
        },
    )
    assert response.status_code == 302, response.content.decode()[:500]
    assert Deal.objects.count() == before + 1
    assert Deal.objects.get(title="Line 3").organization == acme
    assert Deal.objects.get(title="Line 3").status == DealStatus.OPEN


def test_the_leads_inbox_is_paginated_25_a_page(client, rep):
    for number in range(28):
        LeadFactory(owner=rep, title=f"Lead {number:02d}")
    client.force_login(rep)
    first = client.get(reverse("web:lead_inbox"))
    assert first.context["count"] == 28
    assert sum(len(group["cards"]) for group in first.context["groups"]) == 25
    assert 'rel="next"' in first.content.decode()
    second = client.get(reverse("web:lead_inbox"), {"page": 2})
    assert sum(len(group["cards"]) for group in second.context["groups"]) == 3


@pytest.mark.parametrize("persona", ["rep", "manager"])
def test_contact_pages_ask_a_fixed_number_of_queries(
    client, persona, request, acme, book, django_assert_num_queries
):
    """A contact page's queries do not grow with its deals, activities and events, and each section shows at
    most ``OVERVIEW_LIMIT`` rows (issue #19: 50 a section made a person's page 89 KB)."""
    from dealflow.directory.selectors import OVERVIEW_LIMIT

    user = request.getfixturevalue(persona)
    client.force_login(user)
    organization_page = reverse("web:organization_detail", args=[acme.pk])
    person_page = reverse("web:person_detail", args=[book["jan"].pk])
    client.get(organization_page)
    # Session, user, scope; the contact; deals open/won/lost and their counts in one; leads; notes;
    # activities; people (organization); the timeline's events and done activities; may edit; tags;
    # the delete form's dependents; the owner choices.
    with django_assert_num_queries(20):
        client.get(organization_page)
    with django_assert_num_queries(18):
        client.get(person_page)
    for number in range(OVERVIEW_LIMIT + 5):
        deal = DealFactory(
            owner=user if persona == "rep" else book["open"].owner, organization=acme, person=book["jan"]
        )
        activity_create(owner=deal.owner, by=deal.owner, deal=deal, kind="call", subject=f"Call {number}")
    with django_assert_num_queries(20):
        response = client.get(organization_page)
    assert len(response.context["overview"].open_deals) == OVERVIEW_LIMIT == 25
    assert len(response.context["overview"].activities) == OVERVIEW_LIMIT
    assert response.context["overview"].deal_counts["open"] == OVERVIEW_LIMIT + 6
    with django_assert_num_queries(18):
        client.get(person_page)


def test_an_activity_from_my_activities_on_one_of_my_deals_or_none(client, rep, rep2, book):
    client.force_login(rep)
    page = client.get(reverse("web:my_activities"))
    offered = list(page.context["quick_form"].fields["deal"].queryset)
    assert offered == [book["open"]]  # rep's open deals only (not won or lost ones)
    url = reverse("web:activity_quick_create")
    assert client.post(url, {"kind": "task", "subject": "Prepare QBR"}).status_code == 302
    assert client.post(url, {"kind": "call", "subject": "Call", "deal": book["open"].pk}).status_code == 302
    assert Activity.objects.get(subject="Prepare QBR").deal is None
    assert Activity.objects.get(subject="Call").deal == book["open"]
    teammates = DealFactory(owner=rep2, title="Not mine")
    refused = client.post(url, {"kind": "call", "subject": "Sneaky", "deal": teammates.pk}, follow=True)
    assert not Activity.objects.filter(subject="Sneaky").exists()
    assert "Select a valid choice" in refused.content.decode()


def test_a_contact_another_team_owns_is_listed_for_whoever_sees_a_deal_or_lead_on_it(
    client, rep, manager, outsider
):
    """contact_shared_visible_q: visible owners' contacts, plus those a visible deal or lead names."""
    from dealflow.contacts.selectors import organization_list_for_user, person_list_for_user

    by_deal = organization_create(name="Named by a deal", country="DE", owner=outsider)
    by_lead = organization_create(name="Named by a lead", country="DE", owner=outsider)
    hidden = organization_create(name="Nobody's business", country="DE", owner=outsider)
    anna = person_create(first_name="Anna", last_name="Lead", organization=by_lead, owner=outsider)
    DealFactory(owner=rep, organization=by_deal)
    LeadFactory(owner=rep, organization=by_lead, person=anna)
    for user in (rep, manager):
        names = set(organization_list_for_user(user=user).values_list("name", flat=True))
        assert {"Named by a deal", "Named by a lead"} <= names and "Nobody's business" not in names
        assert anna in person_list_for_user(user=user)
    assert hidden in organization_list_for_user(user=outsider)
    client.force_login(rep)
    assert client.get(reverse("web:organization_detail", args=[hidden.pk])).status_code == 404
    assert client.get(reverse("web:person_detail", args=[anna.pk])).status_code == 200
