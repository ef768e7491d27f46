"""The one parsing layer for query parameters: every refusal names the parameter; nothing overflows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.http import QueryDict

from dealflow.core.errors import ApplicationError
from dealflow.core.parameters import (
    MAX_INTEGER,
    boolean_parameter,
    choice_parameter,
    date_parameter,
    id_parameter,
    integer_parameter,
    period_parameter,
    text_parameter,
)
from dealflow.core.periods import parse_period


def query(text: str) -> QueryDict:
    return QueryDict(text)


@pytest.mark.parametrize("raw", ["", "   "])
def test_an_empty_parameter_is_a_missing_one(raw):
    data = {"x": raw}
    assert integer_parameter(data, "x") is None
    assert id_parameter(data, "x") is None
    assert text_parameter(data, "x") is None
    assert date_parameter(data, "x") is None
    assert period_parameter(data, "x") is None
    assert choice_parameter(data, "x", ("a",), default="a") == "a"
    assert boolean_parameter(data, "x") is False


@pytest.mark.parametrize("raw", ["²", "٣", "1.5", "x", "1e3", "0x10", "\x00", "99999999999999999999"])
def test_an_id_accepts_ascii_digits_only_and_names_the_parameter(raw):
    with pytest.raises(ApplicationError) as caught:
        id_parameter({"owner": raw}, "owner")
    assert caught.value.field == "owner"
    assert "owner" in caught.value.message


def test_ids_are_positive_and_fit_64_bits():
    assert id_parameter(query("team=42"), "team") == 42
    assert id_parameter({"team": str(MAX_INTEGER)}, "team") == MAX_INTEGER
    for raw in ("0", "-3", str(MAX_INTEGER + 1)):
        with pytest.raises(ApplicationError, match="team must be between 1 and"):
            id_parameter({"team": raw}, "team")


def test_integers_take_bounds():
    assert integer_parameter({"p": "-5"}, "p") == -5
    assert integer_parameter({"p": " 100 "}, "p", minimum=0, maximum=100) == 100
    with pytest.raises(ApplicationError, match="p must be between 0 and 100"):
        integer_parameter({"p": "101"}, "p", minimum=0, maximum=100)


@pytest.mark.parametrize("raw", ["a\x00b", "\x00", "tab\x08"])
def test_text_refuses_control_characters(raw):
    with pytest.raises(ApplicationError, match="q may not contain control characters") as caught:
        text_parameter({"q": raw}, "q")
    assert caught.value.field == "q"


def test_text_is_stripped_and_bounded():
    assert text_parameter({"q": "  Acme\tCorp "}, "q") == "Acme\tCorp"
    assert text_parameter({"q": "ü" * 200}, "q") == "ü" * 200
    with pytest.raises(ApplicationError, match="at most 200"):
        text_parameter({"q": "x" * 201}, "q")


def test_a_choice_lists_what_is_allowed():
    assert choice_parameter({"kind": "quarter"}, "kind", ("month", "quarter")) == "quarter"
    with pytest.raises(ApplicationError, match="kind must be one of: month, quarter") as caught:
        choice_parameter({"kind": "x"}, "kind", ("month", "quarter"))
    assert caught.value.field == "kind"


def test_booleans():
    assert boolean_parameter({"won": "1"}, "won") is True
    assert boolean_parameter({"won": "off"}, "won") is False
    with pytest.raises(ApplicationError, match="won must be 1 or 0"):
        boolean_parameter({"won": "²"}, "won")


@pytest.mark.parametrize("raw", ["0001-01-01", "9999-12-31", "1899-12-31", "3000-01-01"])
def test_dates_outside_the_years_a_crm_means_are_refused(raw):
    with pytest.raises(ApplicationError, match="closed_from must lie between the years 1900 and 2999"):
        date_parameter({"closed_from": raw}, "closed_from")


@pytest.mark.parametrize("raw", ["2026-2-1", "٢٠٢٦-01-01", "2026-02-30", "20260201", "tomorrow"])
def test_malformed_dates_are_refused(raw):
    with pytest.raises(ApplicationError, match="created_to must be a date written YYYY-MM-DD"):
        date_parameter({"created_to": raw}, "created_to")


def test_a_date_passes_through():
    assert date_parameter({"d": "2026-02-28"}, "d") == dt.date(2026, 2, 28)
    assert date_parameter({"d": dt.date(2026, 2, 28)}, "d") == dt.date(2026, 2, 28)


@pytest.mark.parametrize(
    "raw", ["9999", "0001", "9999-12", "0001-01", "9999-Q4", "FY0001", "0001-01-01..0001-01-31"]
)
def test_periods_of_years_python_cannot_step_past_are_refused(raw):
    """Found by the fuzz: 9999 and 0001 in the dashboard's Period field answered 500 (next()/previous())."""
    with pytest.raises(ApplicationError, match="period must lie between the years 1900 and 2999") as caught:
        period_parameter({"period": raw}, "period")
    assert caught.value.field == "period"


@pytest.mark.parametrize("raw", ["²⁰²⁶", "٢٠٢٦-١١", "2026-1\x00"])
def test_periods_in_other_digits_or_with_nul_are_refused(raw):
    with pytest.raises(ApplicationError) as caught:
        period_parameter({"period": raw}, "period")
    assert caught.value.field == "period"


def test_the_edge_years_still_step_both_ways():
    first, last = parse_period("1900-01"), parse_period("2999-12")
    assert first.end == dt.date(1900, 2, 1)
    assert last.previous().key == "2999-11"
    assert parse_period("2026-Q3").start == dt.date(2026, 7, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("42", True), ("007", True), ("", False), ("²", False), ("٣", False), ("-1", False), ("1e3", False),
     (" 4", False), ("9" * 18, True), ("9" * 19, False)],
)  # fmt: skip
def test_is_number_takes_only_what_int_and_a_64_bit_id_take(text, expected):
    from dealflow.core.parameters import is_number

    assert is_number(text) is expected
    if expected:
        assert int(text) < 2**63
