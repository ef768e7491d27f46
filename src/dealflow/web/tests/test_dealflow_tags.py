"""Display filters per language: amounts, dates, percentages, initials."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template import Context, Template
from django.utils import translation

from dealflow.web.templatetags.dealflow import day, initials, money, money_whole, month_label, number, percent


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", ["€1,234.56", "$1,234.56", "CHF 1,234.56", "¥1,235", "€1,235", "-€5.00"]),
        ("nl", ["€ 1.234,56", "$ 1.234,56", "CHF 1.234,56", "¥ 1.235", "€ 1.235", "€ -5,00"]),
    ],
)
def test_money_follows_the_language(language, expected):
    with translation.override(language):
        assert [
            money(123456, "EUR"),
            money(123456, "USD"),
            money(123456, "CHF"),
            money(1235, "JPY"),  # no minor unit
            money_whole(123456, "EUR"),
            money(-500, "EUR"),
        ] == expected


def test_money_accepts_an_object_and_none():
    class Amount:
        amount_minor = 99
        currency = "EUR"

    with translation.override("en"):
        assert money(Amount()) == "€0.99"
        assert money(None, "EUR") == ""


def test_dates_numbers_and_percentages_per_language():
    moment = dt.datetime(2026, 11, 26, 23, 30, tzinfo=dt.UTC)  # 00:30 on the 27th in Amsterdam
    with translation.override("nl"):
        assert day(dt.date(2026, 11, 26)) == "26-11-2026"
        assert day(moment) == "27-11-2026"
        assert number(1234567) == "1.234.567"
        assert percent(0.256, 1) == "25,6%"
        assert month_label("2026-03") == "Mrt 2026"
    with translation.override("en"):
        assert day(dt.date(2026, 11, 26)) == "26 Nov 2026"
        assert number(1234567.891, 2) == "1,234,567.89"
        assert percent(0.5) == "50%"
        assert month_label(dt.date(2026, 3, 9)) == "Mar 2026"
    assert day(None) == "" and percent(None) == ""


def test_initials_of_a_name_or_user(rep):
    assert initials(rep) == "RR"
    assert initials("Mona van Manager") == "MVM"
    assert initials(None) == ""


def test_filters_load_in_a_template():
    template = Template("{% load dealflow %}{{ amount|money:'EUR' }} {{ when|day }}")
    with translation.override("nl"):
        assert template.render(Context({"amount": 100, "when": dt.date(2026, 1, 2)})) == "€ 1,00 02-01-2026"
