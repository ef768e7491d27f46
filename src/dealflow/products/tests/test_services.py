"""The catalogue: products with prices per currency, validation naming the field."""

from decimal import Decimal

import pytest

from dealflow.core.errors import ApplicationError
from dealflow.products.models import ProductPrice
from dealflow.products.selectors import product_get_by_code, product_list, product_unit_price_minor
from dealflow.products.services import product_create, product_update
from dealflow.products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_a_product_has_a_price_per_currency():
    product = product_create(
        name="Seat licence",
        code="SEAT",
        prices={"EUR": "49.00", "USD": Decimal("55.5")},
        tax_rate="21",
        billing="monthly",
        term_months=12,
        unit="seat",
    )
    assert product_unit_price_minor(product=product, currency="EUR") == 4900
    assert product_unit_price_minor(product=product, currency="USD") == 5550
    assert product_unit_price_minor(product=product, currency="GBP") is None
    assert product.tax_rate == Decimal("21.00") and product.is_recurring
    assert product_get_by_code(code="seat") == product


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"code": "has space"}, "code"),
        ({"tax_rate": "121"}, "tax_rate"),
        ({"tax_rate": "21.555"}, "tax_rate"),
        ({"billing": "weekly"}, "billing"),
        ({"billing": "monthly"}, "term_months"),
        ({"billing": "yearly", "term_months": 18}, "term_months"),
        ({"term_months": 12}, "term_months"),
        ({"prices": {"EURO": "1"}}, "prices"),
        ({"prices": {"EUR": "-1"}}, "prices"),
    ],
)
def test_bad_input_names_the_field(changes, field):
    arguments = {"name": "Onboarding", "code": "ONB", "prices": {"EUR": "500"}} | changes
    with pytest.raises(ApplicationError) as error:
        product_create(**arguments)
    assert error.value.field == field


def test_codes_are_unique_in_any_case():
    ProductFactory(code="SEAT")
    with pytest.raises(ApplicationError) as error:
        ProductFactory(code="seat")
    assert error.value.field == "code"


def test_update_replaces_prices_and_retires():
    product = ProductFactory(prices={"EUR": "10", "USD": "12"})
    product_update(product=product, data={"prices": {"EUR": "11.50"}, "is_active": False})
    assert list(ProductPrice.objects.filter(product=product).values_list("currency", "unit_price_minor")) == [
        ("EUR", 1150)
    ]
    assert product not in product_list()
    assert product in product_list(include_inactive=True)
