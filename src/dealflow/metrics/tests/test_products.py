"""Figures by product, worked out by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from dealflow.deals.services import deal_lines_set, deal_mark_lost, deal_mark_won, exchange_rate_set
from dealflow.deals.services.trash import deal_delete
from dealflow.deals.tests.factories import DealFactory, lost_reason
from dealflow.metrics.selectors import MetricFilters, product_figures_for_user
from dealflow.products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 7, 1, 9, 0, tzinfo=dt.UTC)


def test_won_revenue_win_rate_size_and_cycle_by_product(rep, outsider):
    exchange_rate_set(currency="USD", rate="0.9", valid_from=dt.date(2020, 1, 1))
    seat = ProductFactory(
        code="SEAT", name="Seat", prices={"EUR": "100", "USD": "100"}, billing="monthly", term_months=12
    )
    onboarding = ProductFactory(code="ONB", name="Onboarding", prices={"EUR": "1000", "USD": "1000"})
    with time_machine.travel(START, tick=False):
        first = DealFactory(owner=rep)  # seats 1,200.00 + onboarding 1,000.00 = 2,200.00
        deal_lines_set(deal=first, lines=[{"product": seat}, {"product": onboarding}], by=rep)
        second = DealFactory(owner=rep, currency="USD")  # USD 3 x 1,000 = 3,000 -> EUR 2,700.00 at close
        deal_lines_set(deal=second, lines=[{"product": onboarding, "quantity": 3}], by=rep)
        third = DealFactory(owner=rep)  # lost
        deal_lines_set(deal=third, lines=[{"product": seat, "quantity": 2}], by=rep)
        hidden = DealFactory(owner=outsider)  # another team: rep's view leaves it out
        deal_lines_set(deal=hidden, lines=[{"product": seat}], by=outsider)
        trashed = DealFactory(owner=rep)  # won, then deleted: in the trash, it counts nowhere
        deal_lines_set(deal=trashed, lines=[{"product": onboarding, "quantity": 5}], by=rep)
    with time_machine.travel(START + dt.timedelta(days=10), tick=False):
        deal_mark_won(deal=first, by=rep)
        deal_mark_lost(deal=third, reason=lost_reason(), by=rep)
        deal_mark_won(deal=hidden, by=outsider)
        deal_mark_won(deal=trashed, by=rep)
        deal_delete(deal=trashed, by=rep)
    with time_machine.travel(START + dt.timedelta(days=20), tick=False):
        deal_mark_won(deal=second, by=rep)
        rows = product_figures_for_user(user=rep, filters=MetricFilters.from_mapping({"period": "2026-Q3"}))
    by_code = {row.code: row for row in rows}
    onb, seats = by_code["ONB"], by_code["SEAT"]
    # Onboarding: 1,000.00 of the first deal + 2,700.00 (the whole second deal) = 3,700.00 over 2 won deals.
    assert (onb.won, onb.lost, onb.won_revenue, onb.average_deal_size) == (
        2,
        0,
        Decimal("3700.00"),
        Decimal("1850.00"),
    )
    assert (onb.win_rate, onb.cycle_days, onb.currency, onb.basis) == (1.0, Decimal("15.0"), "EUR", "tcv")
    # Seats: 1,200.00 won (first deal), the third deal lost: win rate 1/2; cycle 10 days.
    assert (seats.won, seats.lost, seats.won_revenue, seats.win_rate, seats.cycle_days) == (
        1,
        1,
        Decimal("1200.00"),
        0.5,
        Decimal("10.0"),
    )
    assert [row.code for row in rows] == ["ONB", "SEAT"]
