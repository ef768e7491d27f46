"""The leads inbox: grouping by source, checklist, new lead, convert, disqualify; rep/manager/outsider."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from dealflow.deals.models import Deal, Lead, LeadSource, LeadStatus
from dealflow.deals.services import lead_disqualify
from dealflow.deals.tests.factories import LeadFactory, lead_source
from dealflow.web.views import leads as lead_views

pytestmark = pytest.mark.django_db

FROZEN = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(FROZEN, tick=False):
        yield


@pytest.fixture
def leads(rep, rep2, outsider):
    return {
        "web": LeadFactory(title="Website ask", owner=rep, source=lead_source("website")),
        "fair": LeadFactory(title="Met at fair", owner=rep, source=lead_source("trade_show")),
        "ref": LeadFactory(title="Referral from Bob", owner=rep2, source=lead_source("referral")),
        "foreign": LeadFactory(title="Foreign lead", owner=outsider, source=lead_source("website")),
    }


def test_inbox_groups_open_leads_by_source(client, manager, leads, rep):
    dropped = LeadFactory(title="Dropped", owner=rep, source=lead_source("website"))
    lead_disqualify(lead=dropped, reason="Student project")
    client.force_login(manager)
    response = client.get(reverse("web:lead_inbox"))
    assert response.status_code == 200
    groups = {
        group["source"].key: [card["lead"].title for card in group["cards"]]
        for group in response.context["groups"]
    }
    assert groups == {
        "website": ["Website ask"],
        "trade_show": ["Met at fair"],
        "referral": ["Referral from Bob"],
    }
    html = response.content.decode()
    assert "Foreign lead" not in html and "Dropped" not in html


def test_rep_sees_own_leads_outsider_sees_none_of_ours(client, rep, outsider, leads):
    client.force_login(rep)
    titles = {
        card["lead"].title
        for group in client.get(reverse("web:lead_inbox")).context["groups"]
        for card in group["cards"]
    }
    assert titles == {"Website ask", "Met at fair"}
    client.force_login(outsider)
    assert client.get(reverse("web:lead_convert", args=[leads["web"].pk])).status_code == 404
    response = client.post(reverse("web:lead_checklist", args=[leads["web"].pk]), {})
    assert response.status_code == 404
    response = client.post(reverse("web:lead_disqualify", args=[leads["web"].pk]), {"reason": "x"})
    assert response.status_code == 404
    assert Lead.objects.get(pk=leads["web"].pk).status == LeadStatus.NEW


def test_checklist_saves_over_htmx_and_the_lead_becomes_working(client, rep, leads):
    client.force_login(rep)
    lead = leads["web"]
    prefix = f"lead-{lead.pk}"
    response = client.post(
        reverse("web:lead_checklist", args=[lead.pk]),
        {
            f"{prefix}-has_need": "on",
            f"{prefix}-has_budget": "on",
            f"{prefix}-qualification_notes": "CFO keen",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<article class="lead-card panel" id="lead-')
    lead.refresh_from_db()
    assert (lead.has_need, lead.has_budget, lead.has_authority, lead.status) == (True, True, False, "working")
    assert lead.qualification_notes == "CFO keen"
    assert "Qualification 2/4" in response.content.decode()


def test_convert_qualifies_and_creates_the_deal(client, rep, leads, pipeline):
    client.force_login(rep)
    lead = leads["fair"]
    page = client.get(reverse("web:lead_convert", args=[lead.pk]))
    assert page.status_code == 200
    response = client.post(
        reverse("web:lead_convert", args=[lead.pk]),
        {
            "has_need": "on",
            "has_timeline": "on",
            "title": "Fair deal",
            "pipeline": pipeline.pk,
            "amount": "4200",
            "currency": "EUR",
            "expected_close_on": "2027-02-28",
        },
    )
    assert response.status_code == 302
    deal = Deal.objects.get(lead=lead)
    assert response["Location"] == reverse("web:deal_detail", args=[deal.pk])
    assert (deal.title, deal.amount_minor, deal.expected_close_on) == (
        "Fair deal",
        420_000,
        dt.date(2027, 2, 28),
    )
    assert deal.source.key == "trade_show" and deal.owner == rep
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONVERTED and lead.has_timeline


def test_convert_of_an_unqualified_lead_explains_why(client, rep, leads, pipeline):
    client.force_login(rep)
    lead = leads["web"]
    response = client.post(
        reverse("web:lead_convert", args=[lead.pk]),
        {"has_budget": "on", "title": "Nope", "pipeline": pipeline.pk, "currency": "EUR"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    need_block = html.split('id="id_has_need"')[1].split("</div>")[0]
    assert "confirmed need" in need_block
    assert not Deal.objects.filter(lead=lead).exists()
    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEW  # the failed qualification rolled back with the conversion


def test_disqualify_needs_a_reason(client, rep, leads):
    client.force_login(rep)
    lead = leads["web"]
    response = client.post(reverse("web:lead_disqualify", args=[lead.pk]), {"reason": ""})
    assert response.status_code == 302
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.NEW
    client.post(reverse("web:lead_disqualify", args=[lead.pk]), {"reason": "No budget at all"})
    lead.refresh_from_db()
    assert (lead.status, lead.disqualified_reason) == (LeadStatus.DISQUALIFIED, "No budget at all")


def test_new_lead_form(client, rep, rep2, manager):
    client.force_login(rep)
    assert client.get(reverse("web:lead_create")).status_code == 200
    response = client.post(
        reverse("web:lead_create"),
        {
            "title": "Inbound from site",
            "source": lead_source("website").pk,
            "organization": "Hooli",
            "owner": rep.pk,
            "has_need": "on",
        },
    )
    assert response.status_code == 302
    lead = Lead.objects.get(title="Inbound from site")
    assert (lead.owner, lead.organization.name, lead.has_need) == (rep, "Hooli", True)
    # A rep cannot create a lead for a teammate; a manager can.
    response = client.post(
        reverse("web:lead_create"),
        {"title": "For Ruud", "source": lead_source("website").pk, "owner": rep2.pk},
    )
    assert response.status_code == 400
    client.force_login(manager)
    client.post(
        reverse("web:lead_create"),
        {"title": "For Ruud", "source": lead_source("website").pk, "owner": rep2.pk},
    )
    assert Lead.objects.get(title="For Ruud").owner == rep2


def test_new_lead_without_source_shows_the_error_on_source(client, rep):
    client.force_login(rep)
    response = client.post(reverse("web:lead_create"), {"title": "X", "owner": rep.pk})
    assert response.status_code == 400
    source_block = response.content.decode().split('id="id_source"')[1].split("</div>")[0]
    assert "errorlist" in source_block


def test_hostile_lead_title_is_escaped(client, rep):
    LeadFactory(title="<img src=x onerror=alert(1)>", owner=rep)
    client.force_login(rep)
    html = client.get(reverse("web:lead_inbox")).content.decode()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_inbox_query_count_is_fixed(client, rep, django_assert_num_queries):
    for number in range(3):
        LeadFactory(title=f"Lead {number}", owner=rep)
    client.force_login(rep)
    client.get(reverse("web:lead_inbox"))
    # 4, plus the count of the pages, the sources in order, the page's ids (one UNION ALL of a part per
    # source) and the page's leads with their relations (issue #19).
    with django_assert_num_queries(7):
        client.get(reverse("web:lead_inbox"))
    for number in range(20):
        LeadFactory(title=f"More {number}", owner=rep, source=lead_source("referral"))
    with django_assert_num_queries(7):
        client.get(reverse("web:lead_inbox"))
    for number in range(50):
        LeadFactory(title=f"Full {number}", owner=rep, source=lead_source("trade_show"))
    with django_assert_num_queries(7):
        response = client.get(reverse("web:lead_inbox"))
    # 25 cards a page (50 made 193 KB of HTML at 1M deals, issue #19).
    assert len(response.context["page"].object_list) == lead_views.INBOX_PAGE_SIZE == 25
    assert len(response.content) < 200 * 1024


def test_inbox_card_writes_the_checklist_inputs_the_form_reads(client, rep):
    """The card writes its inputs out itself (not through widget templates): names, ids and ticks match the
    form's, so a tick posts what ``LeadChecklistForm`` reads."""
    lead = LeadFactory(title="Ticked", owner=rep, has_need=True, qualification_notes="Call <back>")
    client.force_login(rep)
    html = client.get(reverse("web:lead_inbox")).content.decode()
    card = html.split(f'id="lead-{lead.pk}"')[1].split("</article>")[0]
    assert (
        f'<input type="checkbox" name="lead-{lead.pk}-has_need" id="id_lead-{lead.pk}-has_need" checked>'
        in card
    )
    assert (
        f'<input type="checkbox" name="lead-{lead.pk}-has_budget" id="id_lead-{lead.pk}-has_budget">' in card
    )
    assert f'name="lead-{lead.pk}-qualification_notes"' in card and "Call &lt;back&gt;</textarea>" in card
    assert 'title="The buyer has a problem we solve and wants it solved."' in card
    response = client.post(
        reverse("web:lead_checklist", args=[lead.pk]),
        {f"lead-{lead.pk}-has_need": "on", f"lead-{lead.pk}-has_budget": "on"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert f'id="id_lead-{lead.pk}-has_budget" checked>' in response.content.decode()
    lead.refresh_from_db()
    assert (lead.has_need, lead.has_budget, lead.qualification_notes) == (True, True, "")


def test_inbox_pages_run_source_by_source_newest_first(client, rep, monkeypatch):
    """The page order is the sources' order, then newest first; a page may span two sources."""
    monkeypatch.setattr(lead_views, "INBOX_PAGE_SIZE", 2)
    first, second = lead_source("website"), lead_source("referral")
    LeadSource.objects.filter(pk=first.pk).update(order=0)
    LeadSource.objects.filter(pk=second.pk).update(order=1)
    for number in range(3):
        LeadFactory(title=f"Web {number}", owner=rep, source=first)
        LeadFactory(title=f"Ref {number}", owner=rep, source=second)
    client.force_login(rep)

    def titles(page: int) -> list[str]:
        response = client.get(reverse("web:lead_inbox"), {"page": page})
        return [lead.title for lead in response.context["page"].object_list]

    assert [titles(1), titles(2), titles(3)] == [["Web 2", "Web 1"], ["Web 0", "Ref 2"], ["Ref 1", "Ref 0"]]


def test_teammates_lead_is_read_only_when_the_team_shares_its_leads(client, team, rep, rep2, leads):
    team.reps_see_team_deals = True
    team.save()
    client.force_login(rep2)
    html = client.get(reverse("web:lead_inbox")).content.decode()
    own = html.split(f'id="lead-{leads["ref"].pk}"')[1].split("</article>")[0]
    theirs = html.split(f'id="lead-{leads["web"].pk}"')[1].split("</article>")[0]
    assert "checklist-form" in own and "Convert to deal" in own
    assert "checklist-form" not in theirs and "Convert to deal" not in theirs
    assert client.post(reverse("web:lead_checklist", args=[leads["web"].pk]), {}).status_code == 403


def test_read_only_analyst_cannot_create_leads(client, analyst):
    client.force_login(analyst)
    assert client.get(reverse("web:lead_create")).status_code == 403
    assert reverse("web:lead_create") not in client.get(reverse("web:lead_inbox")).content.decode()
