"""A deal built from two products in a real browser: line items, a quote sent and accepted, its PDF."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal

import pytest

from dealflow.deals.models import DealEvent
from dealflow.deals.tests.factories import DealFactory
from dealflow.products.tests.factories import ProductFactory
from dealflow.quotes.models import Quote, QuoteStatus

pytestmark = pytest.mark.browser


def test_build_a_deal_from_two_products_quote_it_and_see_the_pdf(
    signed_in_page, rep, pipeline, screenshot, tmp_path
):
    seat = ProductFactory(
        name="CRM seat",
        code="SEAT",
        prices={"EUR": "49.00"},
        billing="monthly",
        term_months=12,
        tax_rate="21",
    )
    onboarding = ProductFactory(name="Onboarding", code="ONBOARD", prices={"EUR": "1500.00"}, tax_rate="21")
    deal = DealFactory(title="Acme rollout", owner=rep, amount=Decimal("0"), pipeline=pipeline)
    page = signed_in_page(rep, path=f"/deals/{deal.pk}/")

    page.click(".lines-editor summary")
    page.select_option("select[name=line-0-product]", str(seat.pk))
    page.fill("input[name=line-0-quantity]", "10")
    page.fill("input[name=line-0-discount_percent]", "10")
    page.select_option("select[name=line-1-product]", str(onboarding.pk))
    page.click("[data-action=save-lines]")
    page.locator("table[data-lines] tr[data-line='2']").wait_for()
    # Seats: 10 x 49.00 less 10 % = 441.00 a month, 12 months = 5,292.00; onboarding 1,500.00: 6,792.00.
    assert page.locator("[data-total=amount]").inner_text() == "€6,792.00"
    assert page.locator("[data-total=mrr]").inner_text() == "€441.00"
    assert page.locator("[data-total=tax]").inner_text() == "€407.61"  # 21 % of 441.00 + 21 % of 1,500.00
    assert "€6,792.00" in page.locator(".deal-amount-large").inner_text()
    page.locator("#deal-lines").scroll_into_view_if_needed()
    screenshot(page, "deal-lines")

    page.click("#deal-quotes details summary")
    page.select_option("#id_language", "nl")
    page.click("[data-action=create-quote]")
    page.locator("[data-quote-status=draft]").wait_for()
    page.fill("#deal-quotes input[name=recipient_email]", "inkoop@acme.example")
    page.click("[data-action=send-quote]")
    page.locator("[data-quote-status=sent]").wait_for()
    page.click("[data-action=accept-quote]")
    page.locator("[data-quote-status=accepted]").wait_for()
    quote = Quote.objects.get(deal=deal)
    assert quote.status == QuoteStatus.ACCEPTED
    assert "Q-" in page.locator(".quotes-table").inner_text()
    assert DealEvent.objects.filter(deal=deal, field="quote", to_value__endswith="accepted").exists()

    pdf_url = page.locator("[data-action=quote-pdf]").get_attribute("href")
    response = page.request.get(pdf_url)
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    pdf = response.body()
    assert pdf.startswith(b"%PDF")
    page.goto(f"/quotes/{quote.pk}/document.html")
    assert "Offerte" in page.locator("h1").inner_text()
    # One period: 441.00 + 1,500.00 = 1.941,00 net, 92,61 + 315,00 = 407,61 tax, 2.348,61 in all.
    assert "€ 2.348,61" in page.content() and "€ 407,61" in page.content()
    if shutil.which("pdftoppm"):  # Debian's poppler-utils: the PDF's first page for docs/screenshots
        (tmp_path / "quote.pdf").write_bytes(pdf)
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "80",
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                str(tmp_path / "quote.pdf"),
                str(tmp_path / "quote"),
            ],
            check=True,
        )
        from tests.browser.conftest import SCREENSHOTS

        shutil.copy(tmp_path / "quote.png", SCREENSHOTS / "quote-pdf.png")
