"""The deal page's line items, quotes, custom fields and tags, the deals list's columns, and the settings."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from dealflow.customfields.services import custom_field_create
from dealflow.deals.models import DealEvent
from dealflow.deals.services import deal_custom_values_set, deal_lines_set
from dealflow.deals.tests.factories import DealFactory
from dealflow.products.models import DealLine, Product
from dealflow.products.tests.factories import ProductFactory
from dealflow.quotes.models import Quote, QuoteStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def products(db):
    return (
        ProductFactory(name="Seat", code="SEAT", prices={"EUR": "49.00"}, billing="monthly", term_months=12),
        ProductFactory(name="Onboarding", code="ONB", prices={"EUR": "1500.00"}),
    )


def _lines_post(client, deal, rows):
    data = {"line-count": str(len(rows))}
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"line-{index}-{key}"] = value
    return client.post(reverse("web:deal_lines_update", args=[deal.pk]), data)


def test_lines_from_two_products_set_the_amount(client, rep, products):
    seat, onboarding = products
    deal = DealFactory(owner=rep, amount=Decimal("1"))
    client.force_login(rep)
    response = _lines_post(
        client,
        deal,
        [
            {"product": str(seat.pk), "quantity": "3"},
            {"product": str(onboarding.pk), "discount_percent": "10"},
            {},
        ],
    )
    assert response.status_code == 302
    deal.refresh_from_db()
    # 3 x 49.00 x 12 months = 1,764.00; 1,500.00 less 10 % = 1,350.00.
    assert deal.amount_minor == 176400 + 135000
    page = client.get(reverse("web:deal_detail", args=[deal.pk])).content.decode()
    assert "Products and line items" in page and "€3,114.00" in page and 'data-total="mrr">€147.00' in page


def test_a_bad_line_keeps_what_was_typed(client, rep, products):
    deal = DealFactory(owner=rep, amount=Decimal("10"))
    client.force_login(rep)
    response = _lines_post(client, deal, [{"product": str(products[0].pk), "quantity": "two"}])
    assert response.status_code == 400
    page = response.content.decode()
    assert "Line 1: quantity &#x27;two&#x27; is not a number." in page
    assert 'value="two"' in page
    assert not DealLine.objects.filter(deal=deal).exists()


def test_quote_create_send_accept_and_pdf(client, rep, products, django_capture_on_commit_callbacks):
    deal = DealFactory(owner=rep)
    deal_lines_set(deal=deal, lines=[{"product": products[1]}], by=rep)
    client.force_login(rep)
    assert (
        client.post(reverse("web:deal_quote_create", args=[deal.pk]), {"language": "nl"}).status_code == 302
    )
    quote = Quote.objects.get(deal=deal)
    refused = client.post(reverse("web:quote_action", args=[quote.pk, "send"]), {"recipient_email": "nope"})
    assert refused.status_code == 400 and "is not an e-mail address" in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(
            reverse("web:quote_action", args=[quote.pk, "send"]), {"recipient_email": "k@example.nl"}
        )
    assert sent.status_code == 302 and mail.outbox[0].to == ["k@example.nl"]
    assert client.post(reverse("web:quote_action", args=[quote.pk, "accept"])).status_code == 302
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.ACCEPTED
    pdf = client.get(reverse("web:quote_document", args=[quote.pk, "pdf"]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    html = client.get(reverse("web:quote_document", args=[quote.pk, "html"])).content.decode()
    assert "Offerte" in html and "€ 1.815,00" in html


def test_custom_fields_and_tags_on_the_deal_page(client, rep):
    custom_field_create(entity="deal", key="tier", label="Tier", kind="choice", choices=["Gold", "Silver"])
    custom_field_create(entity="deal", key="seats", label="Seats", kind="number", is_required=True)
    deal = DealFactory(owner=rep)
    client.force_login(rep)
    url = reverse("web:deal_custom_values_update", args=[deal.pk])
    refused = client.post(url, {"custom.tier": "Gold"})
    assert refused.status_code == 400 and "Seats: this field is required." in refused.content.decode()
    assert client.post(url, {"custom.tier": "Gold", "custom.seats": "12"}).status_code == 302
    assert (
        client.post(reverse("web:deal_tags_update", args=[deal.pk]), {"tags": "vip, q4"}).status_code == 302
    )
    fields = list(DealEvent.objects.filter(deal=deal, kind="field_changed").values_list("field", flat=True))
    assert fields == ["custom.tier", "custom.seats", "tags"]
    listing = client.get(reverse("web:deal_list"), {"cf_tier": "Gold", "tag": "vip"}).content.decode()
    assert deal.title in listing and 'data-custom="tier">Gold' in listing and 'data-tag="vip"' in listing
    empty = client.get(reverse("web:deal_list"), {"cf_tier": "Silver"}).content.decode()
    assert deal.title not in empty
    bad = client.get(reverse("web:deal_list"), {"cf_seats_from": "many"})
    assert bad.status_code == 400 and "Seats: &#x27;many&#x27; is not a number." in bad.content.decode()


def test_bulk_tagging_from_the_list(client, rep):
    first, second = DealFactory(owner=rep), DealFactory(owner=rep)
    client.force_login(rep)
    response = client.post(
        reverse("web:deal_bulk"), {"deal": [first.pk, second.pk], "action": "tag", "tags": "q4"}
    )
    assert response.status_code == 302
    assert DealEvent.objects.filter(field="tags", to_value="q4").count() == 2


def test_admin_manages_products_fields_and_quote_rules(client, admin_user, rep):
    client.force_login(admin_user)
    response = client.post(
        reverse("web:settings_products"),
        {
            "new-name": "Seat",
            "new-code": "SEAT",
            "new-prices": "EUR 49,00\nUSD 55",
            "new-tax_rate": "21",
            "new-billing": "monthly",
            "new-term_months": "12",
            "new-is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    product = Product.objects.get(code="SEAT")
    assert {price.currency: price.unit_price_minor for price in product.prices.all()} == {
        "EUR": 4900,
        "USD": 5500,
    }
    refused = client.post(
        reverse("web:settings_products"),
        {"new-name": "X", "new-code": "X", "new-billing": "yearly", "new-term_months": "5"},
    )
    assert refused.status_code == 400 and "whole number of years" in refused.content.decode()
    assert client.get(reverse("web:settings_products")).status_code == 200
    response = client.post(
        reverse("web:settings_custom_fields"),
        {
            "new-entity": "deal",
            "new-key": "tier",
            "new-label": "Tier",
            "new-kind": "choice",
            "new-choices": "Gold\nSilver",
        },
    )
    assert response.status_code == 302
    assert client.get(reverse("web:settings_custom_fields")).status_code == 200
    assert client.get(reverse("web:settings_quote_rules")).status_code == 200
    client.force_login(rep)
    assert client.get(reverse("web:settings_products")).status_code == 403


def test_read_only_viewer_sees_values_but_no_forms(client, rep, analyst):
    custom_field_create(entity="deal", key="go_live", label="Go-live", kind="date")
    deal = DealFactory(owner=rep)
    deal_custom_values_set(deal=deal, values={"go_live": "2027-03-01"}, by=rep)
    client.force_login(analyst)
    page = client.get(reverse("web:deal_detail", args=[deal.pk])).content.decode()
    assert "1 Mar 2027" in page and "save-custom-fields" not in page


def test_the_sections_speak_dutch_with_dutch_amounts(client, rep, products):
    rep.language = "nl"
    rep.save(update_fields=["language"])
    deal = DealFactory(owner=rep)
    deal_lines_set(deal=deal, lines=[{"product": products[0], "quantity": 2}], by=rep)
    client.force_login(rep)
    page = client.get(reverse("web:deal_detail", args=[deal.pk])).content.decode()
    # 2 seats x 49,00 x 12 months = 1.176,00; MRR 98,00.
    assert "Producten en regels" in page and "€ 1.176,00" in page and 'data-total="mrr">€ 98,00' in page
    assert "Totale contractwaarde" in page and "Offertes" in page
