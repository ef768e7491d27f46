"""Board selectors: totals over whole columns in the base currency, first cards, states; fixed query counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from dealflow.core.periods import parse_period
from dealflow.deals import services
from dealflow.deals.rates import rate_table
from dealflow.deals.selectors import DealFilters
from dealflow.deals.selectors_board import (
    ActivityState,
    board_column_for_user,
    board_for_user,
    forecast_board_for_user,
    forecast_close_date_in,
    forecast_column_key,
)
from dealflow.deals.tests.factories import DealFactory, stage_named

NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def column(board, name):
    return next(column for column in board.columns if column.title == name)


def test_column_totals_convert_to_the_base_currency_and_weigh_by_probability(rep, pipeline, rate_usd):
    # Qualification has probability 10 %, Proposal 45 %.
    DealFactory(owner=rep, amount=Decimal("1000.00"), currency="EUR")
    DealFactory(owner=rep, amount=Decimal("200.00"), currency="USD")  # 180.00 EUR at 0.9
    moved = DealFactory(owner=rep, amount=Decimal("500.00"), currency="EUR")
    services.deal_move_to_stage(deal=moved, stage=stage_named("Proposal"), by=rep)
    overridden = DealFactory(owner=rep, amount=Decimal("100.00"), currency="EUR", probability_override=50)
    assert overridden.probability == 50

    board = board_for_user(user=rep, pipeline=pipeline, filters=DealFilters())

    qualification = column(board, "Qualification").summary
    assert qualification.count == 3
    assert qualification.amount_base_minor == 128000  # 1000 + 180 + 100
    # 1000 x 10 % + 180 x 10 % + 100 x 50 % = 100 + 18 + 50
    assert qualification.weighted_base_minor == 16800
    proposal = column(board, "Proposal").summary
    assert (proposal.count, proposal.amount_base_minor, proposal.weighted_base_minor) == (1, 50000, 22500)
    assert board.total.count == 4
    assert board.total.amount_base_minor == 178000
    assert [column.title for column in board.columns] == [
        "Qualification",
        "Needs analysis",
        "Proposal",
        "Negotiation",
        "Closing",
    ]


def test_latest_rate_on_or_before_today_is_used(db):
    services.exchange_rate_set(currency="USD", rate=Decimal("0.80"), valid_from=dt.date(2025, 1, 1))
    services.exchange_rate_set(currency="USD", rate=Decimal("0.90"), valid_from=dt.date(2026, 6, 1))
    services.exchange_rate_set(currency="USD", rate=Decimal("2.00"), valid_from=dt.date(2027, 1, 1))
    services.exchange_rate_set(currency="GBP", rate=Decimal("1.20"), valid_from=dt.date(2027, 1, 1))
    rates = rate_table(currencies={"USD", "GBP", "EUR"})
    day = dt.date(2026, 11, 26)
    assert [rates.rate_on(code, day) for code in ("USD", "GBP", "EUR")] == [
        Decimal("0.90"),
        Decimal("1.20"),  # GBP: only a future rate, so that one
        Decimal(1),
    ]


def test_a_currency_without_rate_is_left_out_and_reported(rep, pipeline):
    DealFactory(owner=rep, amount=Decimal("1000.00"), currency="EUR")
    DealFactory(owner=rep, amount=Decimal("999.00"), currency="CHF")
    summary = column(
        board_for_user(user=rep, pipeline=pipeline, filters=DealFilters()), "Qualification"
    ).summary
    assert summary.count == 2
    assert summary.amount_base_minor == 100000
    assert summary.missing_currencies == ["CHF"]


def test_cards_show_the_first_n_and_totals_cover_the_whole_column(rep, pipeline):
    for number in range(5):
        with time_machine.travel(NOW - dt.timedelta(days=10 - number), tick=False):
            DealFactory(owner=rep, title=f"Deal {number}", amount=Decimal("10.00"))
    board = board_for_user(user=rep, pipeline=pipeline, filters=DealFilters(), per_column=2)
    qualification = column(board, "Qualification")
    assert [card.deal.title for card in qualification.cards] == ["Deal 4", "Deal 3"]  # newest arrival first
    assert qualification.has_more
    assert qualification.summary.count == 5
    assert qualification.summary.amount_base_minor == 5000

    stage = stage_named("Qualification")
    more = board_column_for_user(
        user=rep, stage=stage, filters=DealFilters(), after=qualification.cursor, per_column=2
    )
    assert [card.deal.title for card in more.cards] == ["Deal 2", "Deal 1"]
    last = board_column_for_user(
        user=rep, stage=stage, filters=DealFilters(), after=more.cursor, per_column=2
    )
    assert [card.deal.title for card in last.cards] == ["Deal 0"]
    assert not last.has_more


def test_card_states_rotting_past_close_and_next_activity(rep, pipeline):
    with time_machine.travel(NOW - dt.timedelta(days=20), tick=False):
        old = DealFactory(
            owner=rep, title="Old", expected_close_on=dt.date(2026, 12, 1)
        )  # Qualification rots after 14 days
    fresh = DealFactory(owner=rep, title="Fresh")
    today = DealFactory(owner=rep, title="Today")
    planned = DealFactory(owner=rep, title="Planned")
    services.deal_update(deal=old, by=rep, data={"expected_close_on": dt.date(2026, 11, 20)})
    services.activity_create(owner=rep, by=rep, subject="Call", deal=old, due_at=NOW - dt.timedelta(days=2))
    services.activity_create(owner=rep, by=rep, subject="Call", deal=old, due_at=NOW + dt.timedelta(days=2))
    services.activity_create(
        owner=rep, by=rep, subject="Call", deal=today, due_at=NOW + dt.timedelta(hours=3)
    )
    services.activity_create(
        owner=rep, by=rep, subject="Call", deal=planned, due_at=NOW + dt.timedelta(days=3)
    )

    cards = {
        card.deal.title: card
        for card in column(
            board_for_user(user=rep, pipeline=pipeline, filters=DealFilters()), "Qualification"
        ).cards
    }
    assert cards["Old"].days_in_stage == 20 and cards["Old"].is_rotting
    assert cards["Old"].is_past_close
    assert cards["Old"].activity_state == ActivityState.OVERDUE
    assert cards["Today"].activity_state == ActivityState.TODAY
    assert cards["Planned"].activity_state == ActivityState.PLANNED
    assert cards["Fresh"].activity_state == ActivityState.NONE
    assert not cards["Fresh"].is_rotting and not cards["Fresh"].is_past_close
    assert fresh.pk


def test_the_board_shows_only_what_the_user_may_see(rep, rep2, manager, outsider, pipeline):
    DealFactory(owner=rep, title="Rita's")
    DealFactory(owner=rep2, title="Ruud's")
    DealFactory(owner=outsider, title="Otto's")

    def titles(user, **filters):
        board = board_for_user(user=user, pipeline=pipeline, filters=DealFilters(**filters))
        return sorted(card.deal.title for column in board.columns for card in column.cards)

    assert titles(rep) == ["Rita's"]
    assert titles(manager) == ["Rita's", "Ruud's"]
    assert titles(manager, owner_id=rep2.pk) == ["Ruud's"]
    assert titles(outsider) == ["Otto's"]
    assert titles(manager, search="Tweede") == []  # free text searches titles and organizations, not owners
    assert titles(manager, search="ruud") == ["Ruud's"]


@pytest.mark.parametrize(("deals", "queries"), [(3, 6), (30, 7)])
def test_the_board_costs_a_fixed_number_of_queries(
    rep, pipeline, rate_usd, django_assert_num_queries, deals, queries
):
    for number in range(deals):
        deal = DealFactory(owner=rep, currency="USD" if number % 2 else "EUR")
        services.activity_create(owner=rep, by=rep, subject="Call", deal=deal, due_at=NOW)
    rep = type(rep).objects.get(pk=rep.pk)  # a fresh object: no cached access scope, as in a new request
    # memberships, stages, totals, rates, ranked card ids, cards, activity states; when every column fits
    # (3 deals, 10 a column) the cards come in one query without ranking
    with django_assert_num_queries(queries):
        board_for_user(user=rep, pipeline=pipeline, filters=DealFilters(), per_column=10)


def test_forecast_board_columns_by_close_month(rep, pipeline, rate_usd):
    DealFactory(owner=rep, title="Nov", expected_close_on=dt.date(2026, 11, 30), amount=Decimal("100.00"))
    DealFactory(owner=rep, title="Dec", expected_close_on=dt.date(2026, 12, 1), amount=Decimal("200.00"))
    DealFactory(
        owner=rep,
        title="Dec USD",
        expected_close_on=dt.date(2026, 12, 31),
        amount=Decimal("100.00"),
        currency="USD",
    )
    DealFactory(owner=rep, title="Later", expected_close_on=dt.date(2027, 9, 1))
    DealFactory(owner=rep, title="Undated")
    board = forecast_board_for_user(user=rep, filters=DealFilters())
    keys = [column.key for column in board.columns]
    assert keys == ["2026-11", "2026-12", "2027-01", "2027-02", "2027-03", "2027-04", "later", "none"]
    december = board.columns[1]
    assert [card.deal.title for card in december.cards] == ["Dec", "Dec USD"]
    assert december.summary.amount_base_minor == 29000  # 200 + 100 USD x 0.9
    assert december.summary.weighted_base_minor == 2900  # Qualification: 10 %
    assert not board.columns[-1].is_drop_target


def test_forecast_column_key_and_drop_date():
    today = dt.date(2026, 11, 26)
    assert forecast_column_key(expected_close_on=dt.date(2026, 10, 31), today=today) == "earlier"
    assert forecast_column_key(expected_close_on=dt.date(2026, 11, 1), today=today) == "2026-11"
    assert forecast_column_key(expected_close_on=dt.date(2027, 4, 30), today=today) == "2027-04"
    assert forecast_column_key(expected_close_on=dt.date(2027, 5, 1), today=today) == "later"
    assert forecast_column_key(expected_close_on=None, today=today) == "none"
    february = parse_period("2027-02")
    assert forecast_close_date_in(month=february, current=dt.date(2026, 12, 31)) == dt.date(2027, 2, 28)
    assert forecast_close_date_in(month=february, current=dt.date(2026, 12, 15)) == dt.date(2027, 2, 15)
    assert forecast_close_date_in(month=february, current=None) == dt.date(2027, 2, 28)


def test_a_board_that_fits_reads_the_same_cards_without_ranking(rep, rep2, pipeline):
    from dealflow.deals.selectors_board import STAGE_ORDER, _first_cards, _open_deals_for_user, _summaries

    for number in range(7):
        deal = DealFactory(owner=rep if number % 2 else rep2, title=f"Deal {number}")
        if number % 3 == 0:
            services.deal_move_to_stage(deal=deal, stage=stage_named("Needs analysis"), by=deal.owner)
    deals = _open_deals_for_user(user=rep, filters=DealFilters()).filter(pipeline=pipeline)
    counts = {
        column: summary.count for column, summary in _summaries(deals, "stage_id", day=NOW.date()).items()
    }

    def ids(**extra):
        cards = _first_cards(deals, "stage_id", order=STAGE_ORDER, per_column=5, **extra)
        return {column: [deal.pk for deal in column_cards] for column, column_cards in cards.items()}

    assert ids(counts=counts) == ids()  # one plain query == ROW_NUMBER() ranking
    assert sum(len(cards) for cards in ids(counts=counts).values()) == deals.count()
