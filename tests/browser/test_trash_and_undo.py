"""Delete and undo, the board's undo and saved views, clicked in a real browser (issue #15)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dealflow.deals.models import Deal, DealEvent
from dealflow.deals.tests.factories import DealFactory, stage_named

pytestmark = pytest.mark.browser


def _accept_confirm(page) -> None:
    """The delete form asks first (data-confirm); the test says yes (the fixture dismisses dialogs)."""
    page.evaluate("window.confirm = function () { return true; }")


def test_delete_a_deal_and_undo(signed_in_page, rep, pipeline):
    deal = DealFactory(owner=rep, title="Junk deal", amount=Decimal("100"))
    page = signed_in_page(rep, path=f"/deals/{deal.pk}/")
    _accept_confirm(page)
    with page.expect_navigation():
        page.click("[data-action=delete]")
    assert page.url.endswith("/deals/")
    message = page.locator(".message-success")
    assert message.inner_text().startswith("“Junk deal” is in the trash.")
    assert page.locator(f"tr[data-deal-id='{deal.pk}']").count() == 0
    assert not Deal.objects.filter(pk=deal.pk).exists()

    with page.expect_navigation():
        message.locator("[data-action=undo]").click()
    assert page.url.endswith(f"/deals/{deal.pk}/")
    assert page.locator(".deal-page-title").inner_text() == "Junk deal"
    assert Deal.objects.filter(pk=deal.pk).exists()
    kinds = list(DealEvent.objects.filter(deal=deal).order_by("id").values_list("kind", flat=True))
    assert kinds[-2:] == ["deleted", "restored"]


def test_lose_a_deal_on_the_board_and_undo(signed_in_page, rep, pipeline):
    qualification = stage_named("Qualification")
    deal = DealFactory(owner=rep, title="Initech", amount=Decimal("500.00"), stage=qualification)
    page = signed_in_page(rep, path="/")
    page.click(f"#deal-{deal.pk} [data-open-move-menu]")
    page.click("#move-menu [data-lost-deal]")
    page.select_option("#lost-reason", label="Price")
    page.click("#lost-form button[type=submit]")
    page.wait_for_selector(f"#deal-{deal.pk}", state="detached")
    toast = page.locator(".message-success", has_text="“Initech” is lost.")
    assert Deal.objects.get(pk=deal.pk).status == "lost"

    toast.locator("[data-action=undo]").click()
    page.wait_for_selector(f"#cards-{qualification.pk} #deal-{deal.pk}")
    assert page.locator(f"#column-header-{qualification.pk} [data-count]").inner_text() == "1"
    page.locator(".message-success", has_text="Undone").wait_for()
    deal.refresh_from_db()
    assert (deal.status, deal.stage) == ("open", qualification)
    assert DealEvent.objects.filter(deal=deal).order_by("-id").values_list("kind", "note").first() == (
        "reopened",
        "Undo",
    )


def test_move_on_the_board_then_undo_puts_the_card_back(signed_in_page, rep, pipeline):
    qualification, needs = stage_named("Qualification"), stage_named("Needs analysis")
    deal = DealFactory(owner=rep, title="Acme renewal", stage=qualification)
    page = signed_in_page(rep, path="/")
    page.drag_and_drop(f"#deal-{deal.pk}", f"#cards-{needs.pk}")
    page.wait_for_selector(f"#cards-{needs.pk} #deal-{deal.pk}")
    page.locator(".message-success", has_text="moved to Needs analysis").locator("[data-action=undo]").click()
    page.wait_for_selector(f"#cards-{qualification.pk} #deal-{deal.pk}")
    assert page.locator(f"#deal-{deal.pk}").count() == 1
    assert page.locator(f"#column-header-{needs.pk} [data-count]").inner_text() == "0"


def test_save_a_view_and_reopen_it(signed_in_page, rep, pipeline):
    """A view keeps the filters, the sort and the columns shown."""
    DealFactory(owner=rep, title="Acme expansion")
    DealFactory(owner=rep, title="Globex pilot")
    page = signed_in_page(rep, path="/deals/?q=Acme")
    assert page.locator("tr[data-deal-id]").count() == 1
    page.click("[data-columns] summary")
    page.uncheck("[data-columns] [data-column=owner]")
    page.uncheck("[data-columns] [data-column=updated_at]")
    with page.expect_navigation():
        page.click("[data-action=set-columns]")
    assert page.locator("th [data-sort=owner]").count() == 0
    assert page.locator("tr[data-deal-id]").count() == 1
    page.click("[data-saved-views] summary")
    page.fill("#saved-view-name", "Acme only")
    with page.expect_navigation():
        page.click("[data-action=save-view]")
    page.goto("/deals/")
    assert page.locator("tr[data-deal-id]").count() == 2
    page.click("[data-saved-views] summary")
    with page.expect_navigation():
        page.click("[data-saved-view='Acme only'] a")
    assert "q=Acme" in page.url
    assert page.locator("tr[data-deal-id]").count() == 1
    assert page.locator("tr[data-deal-id]").inner_text().startswith("Acme expansion") or (
        "Acme expansion" in page.locator("tr[data-deal-id]").inner_text()
    )
    assert page.locator("[data-saved-view='Acme only']").get_attribute("aria-current") == "true"
    assert page.locator("th [data-sort=owner]").count() == 0
    assert page.locator("th [data-sort=stage]").count() == 1


def test_add_an_activity_from_the_board_card_menu(signed_in_page, rep, pipeline):
    deal = DealFactory(owner=rep, title="Globex pilot")
    page = signed_in_page(rep, path="/")
    page.click(f"#deal-{deal.pk} [data-open-move-menu]")
    page.click("#move-menu [data-add-activity]")
    page.select_option("#activity-kind", "call")
    page.fill("#activity-subject", "Call about the pilot")
    page.click("#activity-form button[type=submit]")
    page.locator(".message-success", has_text="Activity added to “Globex pilot”.").wait_for()
    assert page.locator(f"#deal-{deal.pk}").count() == 1
    activity = deal.activities.get()
    assert (activity.subject, activity.kind, activity.owner) == ("Call about the pilot", "call", rep)
