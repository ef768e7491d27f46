"""Each kind of custom field: what it accepts, how it is stored, and the message naming the field."""

import datetime as dt
from dataclasses import dataclass, field

import pytest

from dealflow.core.errors import ApplicationError
from dealflow.customfields.validation import value_clean, value_text, values_clean


@dataclass
class Definition:
    kind: str
    key: str = "budget"
    label: str = "Budget"
    is_required: bool = False
    choices: list = field(default_factory=list)
    currency: str = ""


@pytest.mark.parametrize(
    ("definition", "raw", "stored"),
    [
        (Definition("text"), "  Acme  ", "Acme"),
        (Definition("long_text"), "line one\r\nline two", "line one\nline two"),
        (Definition("number"), "12", 12),
        (Definition("number"), "1.234,5", 1234.5),
        (Definition("number"), 2.5, 2.5),
        (Definition("money", currency="EUR"), "1.234,56", 123456),
        (Definition("money", currency="JPY"), "1500", 1500),
        (Definition("date"), "2026-12-06", "2026-12-06"),
        (Definition("date"), dt.date(2027, 1, 31), "2027-01-31"),
        (Definition("choice", choices=["Gold", "Silver"]), "gold", "Gold"),
        (Definition("multi_choice", choices=["A", "B", "C"]), "c; a", ["A", "C"]),
        (Definition("multi_choice", choices=["A", "B", "C"]), ["B", "b"], ["B"]),
        (Definition("checkbox"), "ja", True),
        (Definition("checkbox"), "", False),
        (Definition("checkbox"), False, False),
        (Definition("url"), "https://example.com/x", "https://example.com/x"),
        (Definition("email"), "Ann@Example.COM ", "ann@example.com"),
        (Definition("text"), "", None),
        (Definition("number"), None, None),
    ],
)
def test_accepted_values_and_their_stored_form(definition, raw, stored):
    assert value_clean(definition, raw) == stored


@pytest.mark.parametrize(
    ("definition", "raw", "words"),
    [
        (Definition("text"), "a\nb", "one line"),
        (Definition("text"), "x" * 201, "at most 200"),
        (Definition("number"), "twelve", "not a number"),
        (Definition("number"), True, "enter a number"),
        (Definition("money", currency="EUR"), "-5", "negative"),
        (Definition("date"), "06-12-2026", "not a date"),
        (Definition("date"), "1800-01-01", "between 1900 and 2200"),
        (Definition("choice", choices=["Gold"]), "Bronze", "not one of the options (Gold)"),
        (Definition("multi_choice", choices=["A"]), "A; Z", "'Z' is not one of the options"),
        (Definition("checkbox"), "maybe", "not yes or no"),
        (Definition("url"), "javascript:alert(1)", "not a web address"),
        (Definition("email"), "not-an-address", "not an e-mail address"),
    ],
)
def test_refused_values_name_the_field(definition, raw, words):
    with pytest.raises(ApplicationError) as error:
        value_clean(definition, raw)
    assert error.value.field == "custom.budget"
    assert error.value.message.startswith("Budget: ")
    assert words in error.value.message


def test_required_fields_and_unknown_keys():
    definitions = [Definition("text", key="region", label="Region", is_required=True), Definition("number")]
    with pytest.raises(ApplicationError) as error:
        values_clean(definitions, {"budget": "5"})
    assert (error.value.field, error.value.message) == ("custom.region", "Region: this field is required.")
    assert values_clean(definitions, {"budget": "5"}, current={"region": "North"}) == {
        "region": "North",
        "budget": 5,
    }
    # Clearing a value removes its key; an unknown key is refused.
    assert values_clean(definitions, {"budget": ""}, current={"region": "North", "budget": 5}) == {
        "region": "North"
    }
    with pytest.raises(ApplicationError) as error:
        values_clean(definitions, {"colour": "red"}, current={"region": "North"})
    assert error.value.field == "custom.colour"


def test_a_required_checkbox_must_be_ticked():
    definitions = [Definition("checkbox", key="agreed", label="Terms agreed", is_required=True)]
    with pytest.raises(ApplicationError):
        values_clean(definitions, {"agreed": "no"})
    assert values_clean(definitions, {"agreed": "yes"}) == {"agreed": True}


@pytest.mark.parametrize(
    ("definition", "raw"),
    [
        (Definition("money", currency="EUR"), "1234.50"),
        (Definition("multi_choice", choices=["A", "B"]), "A; B"),
        (Definition("checkbox"), "yes"),
        (Definition("date"), "2026-01-02"),
        (Definition("number"), "7.25"),
    ],
)
def test_text_form_round_trips(definition, raw):
    stored = value_clean(definition, raw)
    assert value_clean(definition, value_text(definition, stored)) == stored


def test_values_of_fields_not_offered_stay():
    # A retired field (or another pipeline's) is not among the definitions; its stored value is kept.
    definitions = [Definition("number")]
    assert values_clean(definitions, {"budget": "7"}, current={"old_field": "kept", "budget": 5}) == {
        "old_field": "kept",
        "budget": 7,
    }
