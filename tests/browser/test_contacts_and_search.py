"""Organisations, people and the global search in a real browser (issue 15): Ctrl-K finds a deal, a new
deal picks its organisation by autocomplete, two duplicate organisations merge, a person is erased."""

from __future__ import annotations

import pytest

from dealflow.contacts.models import Organization
from dealflow.contacts.services import organization_create, person_create
from dealflow.deals.models import Deal
from dealflow.deals.services import activity_create, deal_create

pytestmark = pytest.mark.browser


@pytest.fixture
def book(rep, pipeline):
    acme = organization_create(name="Acme Industrial B.V.", country="NL", industry="Machines", owner=rep)
    jan = person_create(
        first_name="Jan",
        last_name="de Vries",
        email="jan@acme.nl",
        job_title="CFO",
        organization=acme,
        owner=rep,
    )
    presses = deal_create(
        title="Hydraulic presses", owner=rep, by=rep, organization=acme, person=jan, amount="48000"
    )
    deal_create(title="Spare parts 2027", owner=rep, by=rep, organization=acme, amount="9500")
    activity_create(owner=rep, by=rep, deal=presses, kind="note", subject="Budget approved by the board")
    return {"acme": acme, "jan": jan, "presses": presses}


def test_ctrl_k_finds_a_deal_as_you_type(signed_in_page, rep, book, screenshot):
    page = signed_in_page(rep)
    page.set_default_timeout(60_000)  # the first page of a session on a busy machine
    page.goto("/organizations/", wait_until="domcontentloaded")
    page.keyboard.press("Control+k")
    box = page.locator("#search-dialog input[type=search]")
    box.wait_for()
    box.type("h")  # one letter: the dialog asks for a second instead of answering with nothing
    page.locator("#search-dialog-results", has_text="Type at least 2 letters or digits to search.").wait_for()
    box.type("ydr pre", delay=40)
    result = page.locator("#search-dialog-results [data-kind=deal]", has_text="Hydraulic presses")
    result.wait_for()
    screenshot(page, "search")
    assert result.get_attribute("href") == f"/search/open/deal/{book['presses'].pk}/"
    with page.expect_navigation(url=f"**/deals/{book['presses'].pk}/", wait_until="domcontentloaded"):
        result.click()
    page.locator("h1.deal-page-title", has_text="Hydraulic presses").wait_for(timeout=60_000)


def test_new_deal_picks_its_organization_by_autocomplete(signed_in_page, rep, book):
    page = signed_in_page(rep, path="/deals/new/")
    page.fill("#id_title", "Robot cell")
    page.locator("#id_organization").type("acme ind", delay=40)
    page.locator("#id_organization-options [data-pick='Acme Industrial B.V.']").click()
    assert page.input_value("#id_organization") == "Acme Industrial B.V."
    page.click("[data-action=create-deal]")
    page.wait_for_url("**/deals/*/")
    assert Deal.objects.get(title="Robot cell").organization == book["acme"]
    assert Organization.objects.filter(name__icontains="acme").count() == 1


def test_merge_two_duplicate_organizations(signed_in_page, rep, book, screenshot):
    twin = organization_create(name="ACME Industrial BV", owner=rep)
    deal_create(title="Service contract", owner=rep, by=rep, organization=twin)
    page = signed_in_page(rep, path=f"/organizations/{book['acme'].pk}/")
    screenshot(page, "organization")
    page.click("[data-action=find-duplicates]")
    page.wait_for_url("**/merge/")
    page.evaluate("window.confirm = () => true")  # the fixture dismisses real dialogs
    page.locator(f"tr[data-duplicate-id='{twin.pk}'] [data-action=merge]").click()
    page.wait_for_url(f"**/organizations/{book['acme'].pk}/")
    open_deals = page.locator("[data-section=open]").inner_text()
    assert "Service contract" in open_deals and "Hydraulic presses" in open_deals
    assert not Organization.objects.filter(pk=twin.pk).exists()


def test_erase_a_person_and_their_name_is_gone_from_the_deal_page_and_the_exports(signed_in_page, rep, book):
    page = signed_in_page(rep, path=f"/persons/{book['jan'].pk}/")
    page.evaluate("window.confirm = () => true")  # the fixture dismisses real dialogs
    page.click("[data-action=erase-person]")
    page.wait_for_url(f"**/persons/{book['jan'].pk}/")
    assert page.locator("h1.contact-title").inner_text() == "(erased)"
    page.goto(f"/deals/{book['presses'].pk}/")
    details = page.locator(".deal-fields").inner_text()
    assert "(erased)" in details
    assert "de Vries" not in page.content()
    # The exports a user downloads from the lists (the session's cookies, as a click on the link sends).
    for path in ("/deals/export/", "/export/persons/", "/export/activities/"):
        export = page.request.get(path)
        assert export.ok, path
        assert "Vries" not in export.text() and "jan@acme.nl" not in export.text(), path
