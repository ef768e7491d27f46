"""The demo's products, custom fields, tags, lines and quotes: every table gets rows, no amount moves."""

from __future__ import annotations

import datetime as dt

import pytest

from dealflow.customfields.models import (
    DealFieldValues,
    LeadFieldValues,
    OrganizationFieldValues,
    PersonFieldValues,
)
from dealflow.deals.models import Deal, DealEvent, EventKind
from dealflow.demo import contents, generate
from dealflow.products.models import DealLine, Product, ProductPrice
from dealflow.quotes.models import Quote, QuoteLine, QuoteRule, QuoteStatus
from dealflow.tags.models import DealTag, OrganizationTag, PersonTag, Tag

TODAY = dt.date(2026, 6, 30)
pytestmark = pytest.mark.django_db


def test_the_demo_fills_every_table_and_keeps_every_amount(monkeypatch):
    monkeypatch.setattr(generate, "OPTIONAL_STEPS", [])
    generate.demo_generate(deals=300, seed=4, today=TODAY, progress=False, chunk_size=300)
    amounts = dict(Deal.objects.values_list("id", "amount_minor"))
    amount_events = DealEvent.objects.filter(kind=EventKind.AMOUNT_CHANGED).count()
    contents.seed(seed=4, today=TODAY)
    for model in (
        Product,
        ProductPrice,
        DealLine,
        DealFieldValues,
        OrganizationFieldValues,
        PersonFieldValues,
        LeadFieldValues,
        Tag,
        DealTag,
        OrganizationTag,
        PersonTag,
        Quote,
        QuoteLine,
        QuoteRule,
    ):
        assert model.objects.exists(), model.__name__
    assert dict(Deal.objects.values_list("id", "amount_minor")) == amounts
    assert DealEvent.objects.filter(kind=EventKind.AMOUNT_CHANGED).count() == amount_events
    lined = Deal.objects.filter(lines__isnull=False).distinct()
    for deal in lined:
        assert sum(deal.lines.values_list("deal_value_minor", flat=True)) == deal.amount_minor
    assert Quote.objects.filter(status=QuoteStatus.ACCEPTED, deal__status="won").exists()
    assert DealLine.objects.filter(billing="monthly").exists()
    contents.seed(seed=4, today=TODAY)  # a second run adds nothing
    assert Product.objects.count() == len(contents.PRODUCTS)
