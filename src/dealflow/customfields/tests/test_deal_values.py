"""Custom values on deals: events per change, per-pipeline fields, filters and sorting on both engines."""

from decimal import Decimal

import pytest

from dealflow.core.errors import ApplicationError
from dealflow.customfields.selectors import (
    custom_field_filter,
    custom_field_filter_range,
    custom_field_list,
    custom_field_order,
    custom_values_get,
)
from dealflow.customfields.services import custom_field_create, custom_field_update
from dealflow.deals.models import Deal, DealEvent, EventKind
from dealflow.deals.services import deal_custom_values_set, deal_tags_add_bulk, deal_tags_set, pipeline_create
from dealflow.deals.tests.factories import DealFactory
from dealflow.tags.selectors import tag_filter, tag_names_map

pytestmark = pytest.mark.django_db


@pytest.fixture
def fields(db):
    return {
        "tier": custom_field_create(
            entity="deal", key="tier", label="Tier", kind="choice", choices="Gold\nSilver"
        ),
        "seats": custom_field_create(entity="deal", key="seats", label="Seats", kind="number"),
        "budget": custom_field_create(
            entity="deal", key="budget", label="Budget", kind="money", currency="EUR"
        ),
        "go_live": custom_field_create(entity="deal", key="go_live", label="Go-live", kind="date"),
        "modules": custom_field_create(
            entity="deal", key="modules", label="Modules", kind="multi_choice", choices=["CRM", "ERP", "BI"]
        ),
        "signed": custom_field_create(entity="deal", key="signed", label="NDA signed", kind="checkbox"),
    }


def test_values_are_stored_and_each_change_writes_an_event(rep, fields):
    deal = DealFactory(owner=rep)
    deal_custom_values_set(deal=deal, values={"tier": "gold", "budget": "12.500,00"}, by=rep)
    assert custom_values_get(entity="deal", object_id=deal.pk) == {"tier": "Gold", "budget": 1250000}
    deal_custom_values_set(deal=deal, values={"tier": "Silver", "budget": "12500"}, by=rep)
    events = list(
        DealEvent.objects.filter(deal=deal, kind=EventKind.FIELD_CHANGED).values_list(
            "field", "from_value", "to_value"
        )
    )
    assert events == [
        ("custom.tier", "", "Gold"),
        ("custom.budget", "", "12500.00"),
        ("custom.tier", "Gold", "Silver"),
    ]


def test_a_pipeline_field_is_required_only_in_its_pipeline(rep, fields):
    other = pipeline_create(name="Renewals")
    custom_field_create(entity="deal", key="contract", label="Contract no.", kind="text", pipeline=other)
    custom_field_update(
        field=custom_field_list(entity="deal", pipeline_id=other.pk)[-1], data={"is_required": True}
    )
    sales_deal = DealFactory(owner=rep)
    deal_custom_values_set(deal=sales_deal, values={"seats": 3}, by=rep)  # no contract field here
    renewal = DealFactory(owner=rep, pipeline=other)
    with pytest.raises(ApplicationError) as error:
        deal_custom_values_set(deal=renewal, values={"seats": 3}, by=rep)
    assert error.value.field == "custom.contract"
    with pytest.raises(ApplicationError) as error:
        deal_custom_values_set(deal=sales_deal, values={"contract": "C-1"}, by=rep)
    assert error.value.field == "custom.contract"


def _deals(rep, fields):
    rows = [
        {
            "tier": "Gold",
            "seats": 10,
            "budget": "500",
            "go_live": "2027-01-15",
            "modules": "CRM; BI",
            "signed": True,
        },
        {
            "tier": "Silver",
            "seats": 2.5,
            "budget": "50",
            "go_live": "2026-06-01",
            "modules": "ERP",
            "signed": False,
        },
        {"tier": "Gold", "seats": 40, "modules": "BI"},
        {},
    ]
    deals = []
    for number, values in enumerate(rows):
        deal = DealFactory(owner=rep, title=f"Deal {number}", amount=Decimal(number))
        if values:
            deal_custom_values_set(deal=deal, values=values, by=rep)
        deals.append(deal)
    return deals


def _titles(queryset):
    return sorted(queryset.values_list("title", flat=True))


def test_filters_on_every_kind(rep, fields):
    _deals(rep, fields)
    deals = Deal.objects.all()
    assert _titles(custom_field_filter(deals, field=fields["tier"], value="gold")) == ["Deal 0", "Deal 2"]
    assert _titles(custom_field_filter(deals, field=fields["seats"], value="2,5")) == ["Deal 1"]
    assert _titles(custom_field_filter(deals, field=fields["modules"], value="BI")) == ["Deal 0", "Deal 2"]
    assert _titles(custom_field_filter(deals, field=fields["signed"], value="yes")) == ["Deal 0"]
    assert _titles(custom_field_filter(deals, field=fields["budget"], value="50.00")) == ["Deal 1"]
    assert _titles(custom_field_filter_range(deals, field=fields["seats"], low="3")) == ["Deal 0", "Deal 2"]
    assert _titles(custom_field_filter_range(deals, field=fields["go_live"], high="2026-12-31")) == ["Deal 1"]
    assert _titles(custom_field_filter_range(deals, field=fields["budget"], low="100", high="1000")) == [
        "Deal 0"
    ]
    with pytest.raises(ApplicationError) as error:
        custom_field_filter(deals, field=fields["tier"], value="Bronze")
    assert error.value.field == "custom.tier"


def test_sorting_puts_empty_values_last(rep, fields):
    _deals(rep, fields)
    ordered = custom_field_order(Deal.objects.all(), field=fields["seats"])
    assert list(ordered.values_list("title", flat=True)) == ["Deal 1", "Deal 0", "Deal 2", "Deal 3"]
    ordered = custom_field_order(Deal.objects.all(), field=fields["seats"], descending=True)
    assert list(ordered.values_list("title", flat=True)) == ["Deal 2", "Deal 0", "Deal 1", "Deal 3"]
    ordered = custom_field_order(Deal.objects.all(), field=fields["go_live"])
    assert list(ordered.values_list("title", flat=True))[:2] == ["Deal 1", "Deal 0"]


def test_an_option_in_use_cannot_be_removed(rep, fields):
    _deals(rep, fields)
    with pytest.raises(ApplicationError) as error:
        custom_field_update(field=fields["modules"], data={"choices": ["CRM", "BI"]})
    assert error.value.field == "choices"
    custom_field_update(field=fields["tier"], data={"choices": ["Gold", "Silver", "Bronze"]})


def test_tags_on_deals_with_events_filters_and_bulk_tagging(rep):
    first, second = DealFactory(owner=rep, title="First"), DealFactory(owner=rep, title="Second")
    assert deal_tags_set(deal=first, tags="enterprise, Q4", by=rep) == ["enterprise", "Q4"]
    event = DealEvent.objects.filter(deal=first, field="tags").get()
    assert (event.from_value, event.to_value) == ("", "enterprise, Q4")
    assert deal_tags_add_bulk(deals=[first, second], tags=["q4"], by=rep) == 1  # first has it (any case)
    assert tag_names_map(entity="deal", object_ids=[first.pk, second.pk]) == {
        first.pk: ["enterprise", "Q4"],
        second.pk: ["Q4"],
    }
    assert _titles(tag_filter(Deal.objects.all(), entity="deal", name="q4")) == ["First", "Second"]
    assert _titles(tag_filter(Deal.objects.all(), entity="deal", name="enterprise")) == ["First"]
    deal_tags_set(deal=first, tags=[], by=rep)
    assert DealEvent.objects.filter(deal=first, field="tags").count() == 2


def test_deal_list_filters_and_sorts_by_custom_fields_tags_and_products(rep, fields):
    from dealflow.core.errors import ApplicationError as Refused
    from dealflow.deals.selectors import DealFilters, deal_list_for_user
    from dealflow.products.tests.factories import ProductFactory

    deals = _deals(rep, fields)
    deal_tags_set(deal=deals[2], tags="vip", by=rep)
    product = ProductFactory(code="ONB")
    from dealflow.deals.services import deal_lines_set

    deal_lines_set(deal=deals[1], lines=[{"product": product}], by=rep)

    def titles(params, order=None):
        filters = DealFilters.from_mapping(params)
        return list(
            deal_list_for_user(user=rep, filters=filters, order=order).values_list("title", flat=True)
        )

    assert sorted(titles({"cf_tier": "Gold"})) == ["Deal 0", "Deal 2"]
    assert titles({"cf_tier": "Gold", "tag": "VIP"}) == ["Deal 2"]
    assert titles({"cf_seats_from": "5"}, order="-cf_seats") == ["Deal 2", "Deal 0"]
    assert titles({"product": str(product.pk)}) == ["Deal 1"]
    assert titles({}, order="cf_go_live") == ["Deal 1", "Deal 0", "Deal 2", "Deal 3"]
    for params, order, field in [
        ({"cf_colour": "red"}, None, "custom.colour"),
        ({"cf_seats": "many"}, None, "custom.seats"),
        ({}, "cf_colour", "custom.colour"),
        ({"product": "x"}, None, "product"),
    ]:
        with pytest.raises(Refused) as error:
            titles(params, order)
        assert error.value.field == field
