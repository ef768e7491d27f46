"""Line items on deals: the amount is the sum of the lines, changes write events, currency per line."""

import datetime as dt
from decimal import Decimal

import pytest

from dealflow.core.errors import ApplicationError
from dealflow.deals.models import DealEvent, EventKind
from dealflow.deals.services import deal_lines_set, deal_update, exchange_rate_set
from dealflow.deals.tests.factories import DealFactory
from dealflow.products.models import DealLine
from dealflow.products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def seat(db):
    return ProductFactory(
        name="Seat", code="SEAT", prices={"EUR": "49.00", "USD": "55.00"}, billing="monthly", term_months=12
    )


@pytest.fixture
def onboarding(db):
    return ProductFactory(name="Onboarding", code="ONB", prices={"EUR": "1500.00"}, tax_rate="21")


def test_amount_is_the_sum_of_the_lines_and_writes_an_amount_event(rep, seat, onboarding):
    deal = DealFactory(owner=rep, amount=Decimal("1000"))
    deal_lines_set(
        deal=deal,
        lines=[{"product": seat, "quantity": 10, "discount_percent": "10"}, {"product": onboarding}],
        by=rep,
    )
    deal.refresh_from_db()
    # Seats: 10 x 49.00 less 10 % = 441.00 a month, 12 months = 5,292.00; onboarding 1,500.00 (price from
    # the catalogue, tax 21 % = 315.00 on top, not in the amount). 5,292.00 + 1,500.00 = 6,792.00.
    assert deal.amount_minor == 679200
    lines = list(DealLine.objects.filter(deal=deal))
    assert [(line.net_minor, line.tax_minor, line.mrr_minor, line.value_minor) for line in lines] == [
        (44100, 9261, 44100, 529200),
        (150000, 31500, 0, 150000),
    ]
    events = list(DealEvent.objects.filter(deal=deal).order_by("id").values_list("kind", "field", "to_value"))
    assert events[-2] == (EventKind.AMOUNT_CHANGED, "amount", "6792.00 EUR")
    assert events[-1] == (EventKind.FIELD_CHANGED, "lines", "10 x Seat; 1 x Onboarding")
    assert DealEvent.objects.filter(deal=deal).last().amount_minor == 679200


def test_a_manual_amount_is_refused_while_lines_exist(rep, onboarding):
    deal = DealFactory(owner=rep)
    deal_lines_set(deal=deal, lines=[{"product": onboarding}], by=rep)
    with pytest.raises(ApplicationError) as error:
        deal_update(deal=deal, by=rep, data={"amount": "5"})
    assert error.value.field == "amount"
    # Without lines the amount is manual again, and keeps its last value.
    deal.refresh_from_db()
    deal_lines_set(deal=deal, lines=[], by=rep)
    deal.refresh_from_db()
    assert deal.amount_minor == 150000
    deal_update(deal=deal, by=rep, data={"amount": "5"})


def test_currency_per_line_converts_to_the_deal_currency(rep, seat):
    exchange_rate_set(currency="USD", rate="0.92", valid_from=dt.date(2020, 1, 1))
    deal = DealFactory(owner=rep)
    deal_lines_set(
        deal=deal,
        lines=[
            {"product": seat, "currency": "USD", "quantity": 1},
            {"description": "Travel", "unit_price": "99.99", "quantity": 1},
        ],
        by=rep,
    )
    deal.refresh_from_db()
    # USD 55.00 a month x 12 = USD 660.00 -> EUR 607.20 at 0.92; plus EUR 99.99 = EUR 707.19.
    usd, eur = DealLine.objects.filter(deal=deal).order_by("position")
    assert (usd.currency, usd.value_minor, usd.deal_value_minor) == ("USD", 66000, 60720)
    assert (eur.currency, eur.value_minor, eur.deal_value_minor) == ("EUR", 9999, 9999)
    assert deal.amount_minor == 70719


def test_arr_basis_counts_a_year_of_recurring_revenue(rep, seat, onboarding, settings):
    settings.DEALFLOW = {**settings.DEALFLOW, "DEAL_VALUE_BASIS": "arr"}
    deal = DealFactory(owner=rep)
    line = {"product": seat, "quantity": 2, "billing": "monthly", "term_months": 36}
    deal_lines_set(deal=deal, lines=[line, {"product": onboarding}], by=rep)
    deal.refresh_from_db()
    # 2 x 49.00 = 98.00 a month, ARR 1,176.00 (not the 36-month 3,528.00) + one-off 1,500.00.
    assert deal.amount_minor == 117600 + 150000


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"product_code": "NOPE"}, "lines.1.product"),
        ({"description": "Custom work"}, "lines.1.unit_price"),
        ({"unit_price": "10"}, "lines.1.description"),
        ({"description": "x", "unit_price": "10", "quantity": "0"}, "lines.1.quantity"),
        ({"description": "x", "unit_price": "10", "quantity": "1.0005"}, "lines.1.quantity"),
        ({"description": "x", "unit_price": "abc"}, "lines.1.unit_price"),
        ({"description": "x", "unit_price": "10", "discount_percent": "101"}, "lines.1.discount_percent"),
        ({"description": "x", "unit_price": "10", "currency": "GBP"}, "lines.1.currency"),
        ({"product_code": "SEAT", "currency": "CHF"}, "lines.1.unit_price"),
    ],
)
def test_a_bad_line_is_refused_naming_the_line_and_field(rep, seat, line, field):
    deal = DealFactory(owner=rep, amount=Decimal("10"))
    with pytest.raises(ApplicationError) as error:
        deal_lines_set(deal=deal, lines=[{"product": seat}, line], by=rep)
    assert error.value.field == field
    assert error.value.message.startswith("Line 2:")
    assert not DealLine.objects.filter(deal=deal).exists()


def test_setting_the_same_lines_again_writes_no_event(rep, onboarding):
    deal = DealFactory(owner=rep)
    deal_lines_set(deal=deal, lines=[{"product": onboarding}], by=rep)
    count = DealEvent.objects.filter(deal=deal).count()
    deal_lines_set(deal=deal, lines=[{"product": onboarding}], by=rep)
    assert DealEvent.objects.filter(deal=deal).count() == count


def test_a_retired_product_stays_on_its_deals_but_no_new_line_takes_it(rep, onboarding):
    from dealflow.products.services import product_update

    deal = DealFactory(owner=rep)
    deal_lines_set(deal=deal, lines=[{"product": onboarding}], by=rep)
    product_update(product=onboarding, data={"is_active": False})
    onboarding.refresh_from_db()
    deal_lines_set(deal=deal, lines=[{"product": onboarding, "quantity": 2}], by=rep)  # kept
    other = DealFactory(owner=rep)
    with pytest.raises(ApplicationError) as error:
        deal_lines_set(deal=other, lines=[{"product": onboarding}], by=rep)
    assert (error.value.field, error.value.message) == (
        "lines.0.product",
        "Line 1: Onboarding is retired; pick an active product.",
    )


def test_a_stale_version_changes_no_line(rep, onboarding):
    from dealflow.core.errors import ConflictError

    deal = DealFactory(owner=rep)
    version = deal.version
    deal_lines_set(deal=deal, lines=[{"product": onboarding}], by=rep, expected_version=version)
    deal.refresh_from_db()
    with pytest.raises(ConflictError):
        deal_lines_set(deal=deal, lines=[], by=rep, expected_version=version)
    assert DealLine.objects.filter(deal=deal).count() == 1
