"""Round trips of line items, custom fields and tags through the exports and back; the catalogue import;
the CLI commands for products, quotes and contents."""

from __future__ import annotations

import csv
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from dealflow.core.errors import ApplicationError
from dealflow.customfields.selectors import custom_values_get
from dealflow.customfields.services import custom_field_create
from dealflow.deals.services import deal_custom_values_set, deal_lines_set, deal_tags_set, exchange_rate_set
from dealflow.deals.tests.factories import DealFactory
from dealflow.importers.contents import custom_values_import, lines_import, products_import
from dealflow.importers.export import export_write
from dealflow.products.models import DealLine, Product
from dealflow.products.tests.factories import ProductFactory
from dealflow.quotes.models import Quote, QuoteStatus
from dealflow.tags.selectors import tag_names_of

pytestmark = pytest.mark.django_db

LINE_FIELDS = ("product_id", "description", "quantity", "unit_price_minor", "currency", "discount_percent",
               "tax_rate", "billing", "term_months", "net_minor", "tax_minor", "value_minor", "deal_value_minor")  # fmt: skip


def _lines(deal):
    return list(DealLine.objects.filter(deal=deal).order_by("position").values_list(*LINE_FIELDS))


def _rows(path):
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_lines_round_trip(tmp_path, rep):
    import datetime as dt

    exchange_rate_set(currency="USD", rate="0.9", valid_from=dt.date(2020, 1, 1))
    seat = ProductFactory(
        code="SEAT", name="Seat", prices={"EUR": "49.00", "USD": "55"}, billing="monthly", term_months=24
    )
    first, second = DealFactory(owner=rep), DealFactory(owner=rep)
    deal_lines_set(
        deal=first,
        lines=[
            {"product": seat, "quantity": "2.5", "discount_percent": "12.5", "currency": "USD"},
            {"description": "Custom work", "unit_price": "1234.56", "tax_rate": "9"},
        ],
        by=rep,
    )
    deal_lines_set(deal=second, lines=[{"product": seat, "quantity": 3}], by=rep)
    before = {deal.pk: _lines(deal) for deal in (first, second)}
    amounts = {deal.pk: deal.amount_minor for deal in (first, second)}
    path = tmp_path / "lines.csv"
    assert export_write(entity="lines", user=rep, path=path) == 3
    rows = _rows(path)
    # 2.5 x USD 55.00 less 12.5 % = 120.3125 -> USD 120.31 a month; 24 months = 2,887.44.
    assert (rows[0]["Product code"], rows[0]["Quantity"], rows[0]["Net"], rows[0]["Value"]) == (
        "SEAT",
        "2.5",
        "120.31",
        "2887.44",
    )
    DealLine.objects.all().delete()
    result = lines_import(path=path, by=rep)
    assert (result.records, result.lines) == (2, 3)
    for deal in (first, second):
        deal.refresh_from_db()
        assert _lines(deal) == before[deal.pk]
        assert deal.amount_minor == amounts[deal.pk]


def test_a_bad_lines_file_names_its_line_and_changes_nothing(tmp_path, rep):
    deal = DealFactory(owner=rep)
    path = tmp_path / "lines.csv"
    path.write_text(f"Deal ID,Description,Quantity,Unit price\n{deal.pk},Work,1,100\n{deal.pk},More,lots,5\n")
    with pytest.raises(ApplicationError) as error:
        lines_import(path=path, by=rep)
    assert error.value.message.startswith("Line 3: Line 2: quantity 'lots'")
    assert not DealLine.objects.exists()


def test_custom_fields_and_tags_round_trip(tmp_path, rep):
    custom_field_create(entity="deal", key="tier", label="Tier", kind="choice", choices=["Gold", "Silver"])
    custom_field_create(entity="deal", key="budget", label="Budget", kind="money", currency="EUR")
    custom_field_create(
        entity="deal", key="modules", label="Modules", kind="multi_choice", choices=["A", "B"]
    )
    custom_field_create(entity="deal", key="go_live", label="Go-live", kind="date")
    custom_field_create(entity="deal", key="signed", label="Signed", kind="checkbox")
    custom_field_create(entity="organization", key="vat", label="VAT", kind="text")
    deal = DealFactory(owner=rep, amount=Decimal("5"))
    values = {
        "tier": "Gold",
        "budget": "1234.5",
        "modules": ["A", "B"],
        "go_live": "2027-02-01",
        "signed": True,
    }
    deal_custom_values_set(deal=deal, values=values, by=rep)
    deal_tags_set(deal=deal, tags="vip, q4", by=rep)
    stored = custom_values_get(entity="deal", object_id=deal.pk)
    path = tmp_path / "deals.csv"
    export_write(entity="deals", user=rep, path=path)
    (row,) = _rows(path)
    assert (row["Tier"], row["Budget"], row["Modules"], row["Signed"], row["Tags"]) == (
        "Gold",
        "1234.50",
        "A; B",
        "yes",
        "q4; vip",
    )
    deal_custom_values_set(
        deal=deal, values={"tier": "Silver", "budget": None, "modules": [], "go_live": None}, by=rep
    )
    deal_tags_set(deal=deal, tags=[], by=rep)
    result = custom_values_import(path=path, entity="deals", by=rep)
    assert result.records == 1 and "Title" in result.ignored_columns and "Tier" not in result.ignored_columns
    assert custom_values_get(entity="deal", object_id=deal.pk) == stored
    assert tag_names_of(entity="deal", object_id=deal.pk) == ["q4", "vip"]
    organization_path = tmp_path / "organizations.csv"
    organization_path.write_text(f"ID,VAT,Tags\n{deal.organization_id},NL123,partner\n")
    custom_values_import(path=organization_path, entity="organizations", by=rep)
    assert custom_values_get(entity="organization", object_id=deal.organization_id) == {"vat": "NL123"}


def test_a_bad_value_names_the_line_and_field(tmp_path, rep):
    custom_field_create(entity="deal", key="tier", label="Tier", kind="choice", choices=["Gold"])
    deal = DealFactory(owner=rep)
    path = tmp_path / "deals.csv"
    path.write_text(f"ID,Tier\n{deal.pk},Gold\n{deal.pk},Bronze\n")
    with pytest.raises(ApplicationError) as error:
        custom_values_import(path=path, entity="deals", by=rep)
    assert (error.value.message, error.value.field) == (
        "Line 3: Tier: 'Bronze' is not one of the options (Gold).",
        "custom.tier",
    )
    assert custom_values_get(entity="deal", object_id=deal.pk) == {}


def test_someone_elses_record_is_refused_like_a_missing_one(tmp_path, rep, outsider):
    deal = DealFactory(owner=rep)
    path = tmp_path / "lines.csv"
    path.write_text(f"Deal ID,Description,Unit price\n{deal.pk},Work,100\n")
    with pytest.raises(Exception) as error:
        lines_import(path=path, by=outsider)
    assert "404" in type(error.value).__name__ or "no deal" in str(error.value)


def test_catalogue_import_creates_and_updates(tmp_path, admin_user):
    path = tmp_path / "products.csv"
    path.write_text(
        "Code;Name;Unit;Tax rate %;Billing;Term months;Price EUR;Price USD;Colour\n"
        "SEAT;Seat;seat;21;monthly;12;49,00;55;red\n"
        "ONB;Onboarding;;21;one_off;;1500;;\n"
    )
    result = products_import(path=path, by=admin_user)
    assert (result.records, result.lines, result.ignored_columns) == (2, 2, ["Colour"])
    seat = Product.objects.get(code="SEAT")
    assert {price.currency: price.unit_price_minor for price in seat.prices.all()} == {
        "EUR": 4900,
        "USD": 5500,
    }
    path.write_text("Code,Name,Price EUR,Billing,Term months\nSEAT,Seat licence,50,yearly,7\n")
    with pytest.raises(ApplicationError) as error:
        products_import(path=path, by=admin_user)
    assert error.value.message.startswith("Line 2: A yearly product's term")
    path.write_text("Code,Name,Price EUR\nseat,Seat licence,50\n")
    products_import(path=path, by=admin_user)
    seat.refresh_from_db()
    assert seat.name == "Seat licence" and list(seat.prices.values_list("currency", "unit_price_minor")) == [
        ("EUR", 5000)
    ]


def test_cli_products_quotes_and_contents(tmp_path, admin_user, rep):
    out = StringIO()
    call_command(
        "products", "add", "ONB", "--name", "Onboarding", "--price", "EUR=1500", "--tax", "21", stdout=out
    )
    call_command("products", "list", stdout=out)
    assert "ONB\tOnboarding\tEUR 1500.00\t21.00%" in out.getvalue()
    with pytest.raises(ApplicationError):
        call_command("products", "add", "X", "--name", "X", "--user", "rep", stdout=out)  # not an admin
    deal = DealFactory(owner=rep)
    path = tmp_path / "lines.csv"
    path.write_text(f"Deal ID,Product code,Quantity\n{deal.pk},ONB,2\n")
    call_command("contents", "import", str(path), "--entity", "lines", "--user", "rep", stdout=out)
    deal.refresh_from_db()
    assert deal.amount_minor == 300000
    call_command("quotes", "create", str(deal.pk), "--user", "rep", "--email", "b@example.com", stdout=out)
    quote = Quote.objects.get(deal=deal)
    call_command("quotes", "send", str(quote.pk), "--no-email", "--user", "rep", stdout=out)
    call_command("quotes", "accept", str(quote.pk), "--user", "rep", stdout=out)
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.ACCEPTED
    pdf = tmp_path / "quote.pdf"
    call_command("quotes", "pdf", str(quote.pk), str(pdf), "--user", "rep", stdout=out)
    assert pdf.read_bytes().startswith(b"%PDF")
    custom_field_create(entity="deal", key="tier", label="Tier", kind="choice", choices=["Gold"])
    call_command("contents", "fields", stdout=out)
    assert "deal\ttier\tTier\tchoice\tGold" in out.getvalue()


@pytest.mark.parametrize("entity", ["deals", "events"])
def test_an_export_reads_a_fixed_number_of_queries_whatever_its_size(tmp_path, rep, entity):
    # The deal and event exports load only the columns they show (export._LOADED): a column reading a field
    # left out would cost a query per row, and the count would grow with the rows.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    custom_field_create(entity="deal", key="tier", label="Tier", kind="choice", choices=["Gold", "Silver"])

    def export_counting() -> tuple[int, list[dict[str, str]]]:
        path = tmp_path / f"{entity}.csv"
        with CaptureQueriesContext(connection) as queries:
            export_write(entity=entity, user=rep, path=path)
        return len(queries.captured_queries), _rows(path)

    def add_deals(count: int) -> None:
        for _ in range(count):
            deal = DealFactory(owner=rep)
            deal_custom_values_set(deal=deal, values={"tier": "Gold"}, by=rep)
            deal_tags_set(deal=deal, tags="vip", by=rep)

    add_deals(2)
    export_counting()  # warm: what the process keeps after the first export (the field definitions)
    few, rows = export_counting()
    add_deals(5)
    many, more_rows = export_counting()
    assert len(more_rows) > len(rows) >= 2
    assert many == few
    if entity == "deals":
        assert {(row["Tier"], row["Tags"], row["Owner"]) for row in more_rows} == {
            ("Gold", "vip", rep.username)
        }
        assert all(row["Stage"] and row["Pipeline"] and row["Probability"] for row in more_rows)
    else:
        assert all(
            row["Deal"] and row["Actor"] == rep.username for row in more_rows if row["Kind"] == "created"
        )
