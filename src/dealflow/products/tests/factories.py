"""Catalogue factories that go through the services."""

from __future__ import annotations

import factory

from dealflow.products import services
from dealflow.products.models import Product


class ProductFactory(factory.Factory):
    """``ProductFactory(code="SEAT", prices={"EUR": "49.00"}, billing="monthly", term_months=12)``."""

    class Meta:
        model = Product

    name = factory.Sequence(lambda number: f"Product {number}")
    code = factory.Sequence(lambda number: f"P-{number:04d}")
    prices = factory.LazyFunction(lambda: {"EUR": "100.00"})
    tax_rate = "21"

    @classmethod
    def _create(cls, model_class, **kwargs):
        return services.product_create(**kwargs)

    _build = _create
