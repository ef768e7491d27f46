"""The deal workspace in a real browser: create, edit in place, lose with a reason, conflicts, escaping."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dealflow.deals.models import Deal, DealEvent
from dealflow.deals.tests.factories import DealFactory, lost_reason

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def deal(rep, pipeline):
    return DealFactory(
        title="Acme rollout", owner=rep, amount=Decimal("12000"), pipeline=pipeline, organization=None
    )


def test_create_a_deal(signed_in_page, rep, pipeline):
    page = signed_in_page(rep, path="/deals/new/")
    page.fill("#id_title", "Globex platform")
    page.fill("#id_amount", "25000")
    page.fill("#id_expected_close_on", "2027-03-31")
    page.fill("#id_organization", "Globex")
    page.click("[data-action=create-deal]")
    page.wait_for_url("**/deals/*/")
    assert page.locator("h1.deal-page-title").inner_text() == "Globex platform"
    assert page.locator(".stage-step.is-current .stage-name").inner_text() == "Qualification"
    deal = Deal.objects.get(title="Globex platform")
    assert (deal.amount_minor, deal.organization.name, deal.owner) == (2_500_000, "Globex", rep)
    # The new deal is in the list too.
    page.goto("/deals/")
    assert page.locator(".deal-link", has_text="Globex platform").is_visible()


def test_edit_in_place_and_move_on_the_stage_bar(signed_in_page, rep, deal):
    page = signed_in_page(rep, path=f"/deals/{deal.pk}/")
    page.click("details[data-field=amount] summary")
    page.fill("#id_f-amount-amount", "15000")
    page.click("details[data-field=amount] button[type=submit]")
    # HTMX swaps the workspace: the new amount shows without a page load, and the history records it.
    page.locator("#deal-workspace[data-version='2']").wait_for()
    assert "15,000.00" in page.locator("details[data-field=amount] .inplace-value").inner_text()
    assert page.locator(".event-amount_changed").count() == 1
    page.click(".stage-step[data-stage=Proposal] button")
    page.locator("#deal-workspace[data-version='3']").wait_for()
    assert page.locator(".stage-step.is-current .stage-name").inner_text() == "Proposal"
    assert page.locator(".stage-step[data-stage=Qualification]").get_attribute("class").endswith("is-done")
    assert "Stage changed from Qualification to Proposal" in page.locator(".timeline").inner_text()


def test_lose_a_deal_with_a_reason(signed_in_page, rep, deal):
    page = signed_in_page(rep, path=f"/deals/{deal.pk}/")
    page.click("[data-action=lost]")
    dialog = page.locator("#lose-dialog")
    assert dialog.is_visible()
    dialog.locator("select[name=reason]").select_option(label="Chose a competitor")
    dialog.locator("textarea[name=note]").fill("Went with the incumbent.")
    dialog.locator("[data-action=confirm-lost]").click()
    page.locator("[data-status=lost]").wait_for()
    assert page.locator("[data-lost-reason]").inner_text() == "Chose a competitor"
    assert "Lost: Chose a competitor" in page.locator(".timeline").inner_text()
    assert page.locator("[data-action=reopen]").is_visible()
    deal.refresh_from_db()
    assert deal.status == "lost" and deal.lost_reason == lost_reason("Chose a competitor")
    assert deal.lost_note == "Went with the incumbent."


def test_two_sessions_edit_the_same_deal_and_the_second_sees_what_changed(signed_in_page, rep, manager, deal):
    first = signed_in_page(manager, path=f"/deals/{deal.pk}/")
    second = signed_in_page(rep, path=f"/deals/{deal.pk}/")

    first.click("details[data-field=title] summary")
    first.fill("#id_f-title-title", "Acme rollout, phase 2")
    first.click("details[data-field=title] button[type=submit]")
    first.locator("#deal-workspace[data-version='2']").wait_for()

    # The second session still shows version 1; its amount edit must not overwrite blindly.
    second.click("details[data-field=amount] summary")
    second.fill("#id_f-amount-amount", "18000")
    second.click("details[data-field=amount] button[type=submit]")
    conflict = second.locator("#deal-conflict")
    conflict.wait_for()
    title_row = conflict.locator("tr[data-field=title]")
    assert title_row.locator(".conflict-was").inner_text() == "Acme rollout"
    assert title_row.locator(".conflict-theirs").inner_text() == "Acme rollout, phase 2"
    amount_row = conflict.locator("tr[data-field=amount]")
    assert amount_row.locator(".conflict-theirs").inner_text() == "12000.00 EUR"
    assert amount_row.locator(".conflict-yours").inner_text() == "18000 EUR"
    deal.refresh_from_db()
    assert deal.amount_minor == 1_200_000  # nothing overwritten yet

    second.click("[data-reapply]")
    second.locator("#deal-workspace[data-version='3']").wait_for()
    assert second.locator("#deal-conflict").count() == 0
    deal.refresh_from_db()
    assert (deal.title, deal.amount_minor) == ("Acme rollout, phase 2", 1_800_000)
    assert DealEvent.objects.filter(deal=deal, kind="amount_changed").count() == 1


def test_hostile_title_shows_as_text_on_the_deal_page_and_the_list(signed_in_page, rep, pipeline, dialogs):
    deal = DealFactory(title=HOSTILE, owner=rep, pipeline=pipeline)
    page = signed_in_page(rep, path=f"/deals/{deal.pk}/")
    assert page.locator("h1.deal-page-title").inner_text() == HOSTILE
    assert page.locator("img[src=x]").count() == 0
    page.goto("/deals/")
    assert page.locator(".deal-link").first.inner_text() == HOSTILE
    assert page.locator("img[src=x]").count() == 0
    page.wait_for_timeout(200)
    assert dialogs == []


def test_screenshot_of_the_deal_page(signed_in_page, rep, deal, screenshot):
    from dealflow.deals import services

    services.deal_update(
        deal=deal, by=rep, data={"next_step": "Send the proposal", "expected_close_on": "2027-01-15"}
    )
    services.activity_create(owner=rep, deal=deal, kind="note", subject="Budget approved by the CFO")
    services.activity_create(owner=rep, deal=deal, kind="call", subject="Walk through the proposal")
    page = signed_in_page(rep, path=f"/deals/{deal.pk}/")
    paths = screenshot(page, "deal-page")
    assert all(path.exists() and path.stat().st_size > 10_000 for path in paths)
