"""The API of what a deal holds: catalogue, lines and totals, quotes, custom fields and tags."""

from __future__ import annotations

import pytest
from django.core import mail

from dealflow.deals.models import DealEvent
from dealflow.deals.tests.factories import DealFactory
from dealflow.products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_admins_manage_the_catalogue_and_everyone_reads_it(api_as, admin_user, rep):
    admin, reader = api_as(admin_user), api_as(rep)
    payload = {
        "name": "Seat",
        "code": "SEAT",
        "prices": {"EUR": "49.00", "usd": "55"},
        "tax_rate": "21",
        "billing": "monthly",
        "term_months": 12,
        "unit": "seat",
    }
    assert reader.post("/products", payload).status_code == 403
    response = admin.post("/products", payload)
    assert response.status_code == 201, response.data
    assert response.data["prices"] == {"EUR": "49.00", "USD": "55.00"}
    assert response.data["tax_rate"] == "21"
    product_id = response.data["id"]
    assert [product["code"] for product in reader.get("/products").data] == ["SEAT"]
    assert [product["code"] for product in reader.get("/products?q=sea").data] == ["SEAT"]
    # A NUL byte is refused with the field's name on both engines (PostgreSQL's text refuses it: once a 500).
    response = reader.get("/products?q=a%00b")
    assert (response.status_code, response.data["field"]) == (400, "q")
    response = reader.get("/tags?q=%00")  # the tags list, the same way
    assert (response.status_code, response.data["field"]) == (400, "q")
    response = admin.patch(f"/products/{product_id}", {"term_months": 7, "billing": "yearly"})
    assert (response.status_code, response.data["field"]) == (400, "term_months")
    assert admin.patch(f"/products/{product_id}", {"is_active": False}).data["is_active"] is False
    assert reader.get("/products").data == []
    assert reader.get("/products/999999").status_code == 404


def test_lines_set_the_amount_and_totals(api_as, rep, outsider):
    ProductFactory(
        code="SEAT", name="Seat", prices={"EUR": "49.00"}, billing="monthly", term_months=24, tax_rate="21"
    )
    onboarding = ProductFactory(code="ONB", name="Onboarding", prices={"EUR": "1500"}, tax_rate="21")
    deal = DealFactory(owner=rep)
    api = api_as(rep)
    response = api.put(
        f"/deals/{deal.pk}/lines",
        {
            "lines": [
                {"product_code": "SEAT", "quantity": "5"},
                {"product_id": onboarding.pk, "discount_percent": "20"},
            ]
        },
    )
    assert response.status_code == 200, response.data
    totals = response.data["totals"]
    # Seats 5 x 49 = 245.00 a month for 24 months = 5,880.00; onboarding 1,500 less 20 % = 1,200.00.
    assert totals == {
        "currency": "EUR",
        "basis": "tcv",
        "net": "1445.00",
        "tax": "303.45",
        "gross": "1748.45",
        "one_off": "1200.00",
        "mrr": "245.00",
        "arr": "2940.00",
        "tcv": "7080.00",
        "amount": "7080.00",
    }
    assert api.get(f"/deals/{deal.pk}").data["amount"] == "7080.00"
    refused = api.patch(f"/deals/{deal.pk}", {"version": response.data["version"], "amount": "5"})
    assert (refused.status_code, refused.data["field"]) == (400, "amount")
    bad = api.put(f"/deals/{deal.pk}/lines", {"lines": [{"product_code": "SEAT", "quantity": "-1"}]})
    assert (bad.status_code, bad.data["field"]) == (400, "lines.0.quantity")
    stale = api.put(f"/deals/{deal.pk}/lines", {"lines": [], "version": 1})
    assert stale.status_code == 409
    assert api_as(outsider).get(f"/deals/{deal.pk}/lines").status_code == 404
    assert api_as(outsider).put(f"/deals/{deal.pk}/lines", {"lines": []}).status_code == 404


def test_quote_flow_and_pdf(api_as, rep, django_capture_on_commit_callbacks):
    ProductFactory(code="ONB", name="Onboarding", prices={"EUR": "1500"}, tax_rate="21")
    deal = DealFactory(owner=rep)
    api = api_as(rep)
    api.put(f"/deals/{deal.pk}/lines", {"lines": [{"product_code": "ONB"}]})
    created = api.post(f"/deals/{deal.pk}/quotes", {"recipient_email": "buyer@example.com", "language": "en"})
    assert created.status_code == 201, created.data
    quote = created.data
    assert (quote["version"], quote["status"], quote["gross"]) == (1, "draft", "1815.00")
    with django_capture_on_commit_callbacks(execute=True):
        sent = api.post(f"/quotes/{quote['id']}/send", {})
    assert sent.data["status"] == "sent" and len(mail.outbox) == 1
    frozen = api.patch(f"/quotes/{quote['id']}", {"terms": "x"})
    assert frozen.status_code == 400
    assert api.post(f"/quotes/{quote['id']}/accept").data["status"] == "accepted"
    pdf = api.client.get(f"/api/v1/quotes/{quote['id']}/pdf")
    assert (
        pdf.status_code == 200
        and pdf["Content-Type"] == "application/pdf"
        and pdf.content.startswith(b"%PDF")
    )
    assert [row["number"] for row in api.get(f"/deals/{deal.pk}/quotes").data] == [quote["number"]]


def test_quotes_are_behind_the_deal_gate(api_as, rep, outsider):
    ProductFactory(code="ONB", prices={"EUR": "1500"})
    deal = DealFactory(owner=rep)
    api_as(rep).put(f"/deals/{deal.pk}/lines", {"lines": [{"product_code": "ONB"}]})
    quote = api_as(rep).post(f"/deals/{deal.pk}/quotes", {}).data
    other = api_as(outsider)
    assert other.get(f"/quotes/{quote['id']}").status_code == 404
    assert other.client.get(f"/api/v1/quotes/{quote['id']}/pdf").status_code == 404
    assert other.post(f"/quotes/{quote['id']}/accept").status_code == 404
    assert other.post(f"/deals/{deal.pk}/quotes", {}).status_code == 404


def test_custom_fields_are_typed_and_filter_the_deal_list(api_as, admin_user, rep):
    admin, api = api_as(admin_user), api_as(rep)
    assert (
        api.post(
            "/custom-fields", {"entity": "deal", "key": "tier", "label": "Tier", "kind": "choice"}
        ).status_code
        == 403
    )
    created = admin.post(
        "/custom-fields",
        {"entity": "deal", "key": "tier", "label": "Tier", "kind": "choice", "choices": ["Gold", "Silver"]},
    )
    assert created.status_code == 201, created.data
    admin.post(
        "/custom-fields",
        {"entity": "deal", "key": "budget", "label": "Budget", "kind": "money", "currency": "EUR"},
    )
    admin.post(
        "/custom-fields", {"entity": "organization", "key": "vat", "label": "VAT number", "kind": "text"}
    )
    gold, silver = DealFactory(owner=rep, title="Gold deal"), DealFactory(owner=rep, title="Silver deal")
    response = api.patch(f"/deals/{gold.pk}/custom-fields", {"values": {"tier": "gold", "budget": "1250.5"}})
    assert response.status_code == 200, response.data
    assert response.data == {"values": {"tier": "Gold", "budget": "1250.50"}}
    api.patch(f"/deals/{silver.pk}/custom-fields", {"values": {"tier": "Silver"}})
    bad = api.patch(f"/deals/{gold.pk}/custom-fields", {"values": {"tier": "Bronze"}})
    assert (bad.status_code, bad.data["field"]) == (400, "custom.tier")
    assert [row["title"] for row in api.get("/deals", cf_tier="Gold").data["items"]] == ["Gold deal"]
    assert [row["title"] for row in api.get("/deals", order="cf_tier").data["items"]] == [
        "Gold deal",
        "Silver deal",
    ]
    assert api.get("/deals", cf_nope="x").status_code == 400
    assert DealEvent.objects.filter(deal=gold, field="custom.tier").count() == 1
    organization = gold.organization
    response = api.patch(f"/organizations/{organization.pk}/custom-fields", {"values": {"vat": "NL001"}})
    assert response.data == {"values": {"vat": "NL001"}}


def test_tags_and_bulk_tagging(api_as, rep, outsider):
    first, second = DealFactory(owner=rep), DealFactory(owner=rep)
    api = api_as(rep)
    assert api.put(f"/deals/{first.pk}/tags", {"tags": ["VIP", "q4"]}).data == {"tags": ["q4", "VIP"]}
    assert api.post("/bulk-tags/deals", {"ids": [first.pk, second.pk], "tags": ["q4"]}).data == {"changed": 1}
    assert api.get(f"/deals/{second.pk}/tags").data == {"tags": ["q4"]}
    assert len(api.get("/deals", tag="Q4").data["items"]) == 2
    assert [tag["name"] for tag in api.get("/tags").data] == ["q4", "VIP"]
    assert api_as(outsider).post("/bulk-tags/deals", {"ids": [first.pk], "tags": ["x"]}).status_code == 404
    organization = first.organization
    assert api.put(f"/organizations/{organization.pk}/tags", {"tags": ["partner"]}).data == {
        "tags": ["partner"]
    }
