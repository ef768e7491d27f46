"""The one formatting helper: Dutch and English numbers, percentages and amounts, rounded half up."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import translation

from dealflow.core.formatting import format_money, format_money_major, format_number, format_percent


@pytest.mark.parametrize(
    ("language", "number", "percent", "money", "major"),
    [
        ("nl", "393.819", "9,7%", "€ 393.819,50", "€ 393.820"),
        ("en", "393,819", "9.7%", "€393,819.50", "€393,820"),
    ],
)
def test_the_active_language_picks_the_format(language, number, percent, money, major):
    with translation.override(language):
        assert format_number(393819) == number
        assert format_percent(0.097, 1) == percent
        assert format_money(39381950, "EUR") == money
        assert format_money_major(Decimal("393819.50"), "EUR") == major


def test_digits_are_rounded_half_up_not_cut_off():
    """100 x (0.15 - 0.10) is 4.999...: it read "4.9" when number_format cut the digits off."""
    with translation.override("nl"):
        assert format_number(100 * (0.15 - 0.10), 1) == "5,0"
        assert format_number(27.55, 1) == "27,6"
        assert format_percent(0.09999, 1) == "10,0%"


def test_nothing_to_show_is_empty():
    assert format_number(None) == "" and format_percent(None) == "" and format_money(None, "EUR") == ""
