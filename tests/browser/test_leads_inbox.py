"""The leads inbox in a real browser: tick the checklist, convert a lead into a deal, screenshots."""

from __future__ import annotations

import pytest

from dealflow.deals.models import Deal, Lead
from dealflow.deals.tests.factories import LeadFactory, lead_source

pytestmark = pytest.mark.browser


@pytest.fixture
def lead(rep):
    return LeadFactory(title="Inbound: Initech wants a demo", owner=rep, source=lead_source("website"))


def test_convert_a_lead_into_a_deal(signed_in_page, rep, lead, pipeline):
    page = signed_in_page(rep, path="/leads/")
    card = page.locator(f"#lead-{lead.pk}")
    # Each tick saves through HTMX and re-renders the card (the score in the legend follows).
    card.get_by_label("Need").check()
    page.locator(f"#lead-{lead.pk} legend", has_text="Qualification 1/4").wait_for()
    page.locator(f"#lead-{lead.pk}").get_by_label("Budget").check()
    page.locator(f"#lead-{lead.pk} legend", has_text="Qualification 2/4").wait_for()
    lead.refresh_from_db()
    assert (lead.has_need, lead.has_budget, lead.status) == (True, True, "working")

    page.locator(f"#lead-{lead.pk} [data-action=convert]").click()
    page.wait_for_url(f"**/leads/{lead.pk}/convert/")
    assert page.locator("#id_has_need").is_checked()
    page.fill("#id_amount", "8000")
    page.fill("#id_expected_close_on", "2027-02-28")
    page.click("[data-action=convert-lead]")
    page.wait_for_url("**/deals/*/")
    assert page.locator("h1.deal-page-title").inner_text() == "Inbound: Initech wants a demo"
    deal = Deal.objects.get(lead=lead)
    assert (deal.amount_minor, deal.source.key, deal.pipeline) == (800_000, "website", pipeline)
    assert Lead.objects.get(pk=lead.pk).status == "converted"
    page.goto("/leads/")
    assert page.locator(f"#lead-{lead.pk}").count() == 0


def test_disqualify_a_lead_with_a_reason(signed_in_page, rep, lead):
    page = signed_in_page(rep, path="/leads/")
    page.locator(f"#lead-{lead.pk} [data-action=disqualify]").click()
    dialog = page.locator(f"#disqualify-{lead.pk}")
    dialog.locator("input[name=reason]").fill("A student project, no budget")
    dialog.get_by_role("button", name="Disqualify").click()
    page.wait_for_url("**/leads/")
    assert page.locator(f"#lead-{lead.pk}").count() == 0
    lead.refresh_from_db()
    assert (lead.status, lead.disqualified_reason) == ("disqualified", "A student project, no budget")


def test_screenshot_of_the_leads_inbox(signed_in_page, rep, rep2, lead, screenshot):
    LeadFactory(title="Met at the Amsterdam trade show", owner=rep, source=lead_source("trade_show"))
    LeadFactory(title="Referral from Globex", owner=rep, source=lead_source("referral"), has_need=True)
    LeadFactory(title="Pricing page visitor", owner=rep, source=lead_source("website"), has_budget=True)
    page = signed_in_page(rep, path="/leads/")
    paths = screenshot(page, "leads-inbox")
    assert all(path.exists() and path.stat().st_size > 10_000 for path in paths)
