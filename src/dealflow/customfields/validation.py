"""Turn what a form, the API or a file gives for a custom field into the stored JSON value, or refuse it
with a message naming the field. No ORM: the deal and contact services and the importers share it.

Stored forms: text, long text, URL, e-mail and single choice as a string; number as a JSON number (an
integer when whole); money as integer minor units of the field's currency; date as "YYYY-MM-DD"; multiple
choice as a list of options in the field's order; checkbox as true/false. An empty value is stored as
nothing (the key is absent).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator

from dealflow.core.errors import ApplicationError
from dealflow.core.money import from_minor, number_text, to_minor

TEXT_MAX, LONG_TEXT_MAX = 200, 10_000
_TRUE = {"1", "true", "yes", "y", "on", "ja", "j", "x", "✓"}
_FALSE = {"0", "false", "no", "n", "off", "nee", ""}


class FieldDefinition(Protocol):
    key: str
    label: str
    kind: str
    is_required: bool
    choices: list
    currency: str


def _error(definition: FieldDefinition, message: str) -> ApplicationError:
    return ApplicationError(f"{definition.label}: {message}", field=f"custom.{definition.key}")


def is_empty(raw: Any) -> bool:
    return (
        raw is None
        or (isinstance(raw, str) and not raw.strip())
        or (isinstance(raw, (list, tuple)) and not raw)
    )


def _number(definition: FieldDefinition, raw: Any) -> Decimal:
    if isinstance(raw, bool):
        raise _error(definition, "enter a number.")
    text = number_text(raw)  # "1.234,5" (Dutch) and "1,234.5" alike
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError) as error:
        raise _error(definition, f"{raw!r} is not a number.") from error
    if not number.is_finite() or abs(number) >= Decimal("1e15"):
        raise _error(definition, "enter a finite number below 10^15.")
    return number


def value_clean(definition: FieldDefinition, raw: Any) -> Any:
    """The stored form of ``raw`` for this field; None for an empty value (required is checked apart)."""
    if is_empty(raw) and definition.kind != "checkbox":
        return None
    kind = definition.kind
    if kind in ("text", "long_text"):
        text = str(raw).strip() if kind == "text" else str(raw).replace("\r\n", "\n").strip()
        limit = TEXT_MAX if kind == "text" else LONG_TEXT_MAX
        if kind == "text" and "\n" in text:
            raise _error(definition, "a text field holds one line.")
        if len(text) > limit:
            raise _error(definition, f"at most {limit} characters.")
        return text
    if kind == "number":
        number = _number(definition, raw)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "money":
        number = _number(definition, raw)
        if number < 0:
            raise _error(definition, "an amount cannot be negative.")
        return to_minor(number, definition.currency or "EUR", field=f"custom.{definition.key}")
    if kind == "date":
        if isinstance(raw, dt.datetime):
            raw = raw.date()
        if isinstance(raw, dt.date):
            day = raw
        else:
            try:
                day = dt.date.fromisoformat(str(raw).strip())
            except ValueError as error:
                raise _error(definition, f"{raw!r} is not a date (YYYY-MM-DD).") from error
        if not 1900 <= day.year <= 2200:
            raise _error(definition, "the date must lie between 1900 and 2200.")
        return day.isoformat()
    if kind == "choice":
        return _option(definition, raw)
    if kind == "multi_choice":
        items = raw if isinstance(raw, (list, tuple, set)) else list(str(raw).split(";"))
        picked = {_option(definition, item) for item in items if not is_empty(item)}
        return [option for option in definition.choices if option in picked] or None
    if kind == "checkbox":
        if isinstance(raw, bool):
            return raw
        text = "" if raw is None else str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise _error(definition, f"{raw!r} is not yes or no.")
    if kind == "url":
        text = str(raw).strip()
        try:
            URLValidator(schemes=["http", "https"])(text)
        except ValidationError as error:
            raise _error(definition, f"{text!r} is not a web address (https://...).") from error
        return text
    if kind == "email":
        text = str(raw).strip()
        try:
            EmailValidator()(text)
        except ValidationError as error:
            raise _error(definition, f"{text!r} is not an e-mail address.") from error
        return text.lower()
    raise _error(definition, f"unknown field kind {kind!r}.")


def _option(definition: FieldDefinition, raw: Any) -> str:
    text = str(raw).strip()
    for option in definition.choices:
        if option.casefold() == text.casefold():
            return option
    allowed = ", ".join(definition.choices)
    raise _error(definition, f"{text!r} is not one of the options ({allowed}).")


def values_clean(
    definitions: Iterable[FieldDefinition],
    raw_values: dict[str, Any],
    *,
    current: dict[str, Any] | None = None,
    check_required: bool = True,
) -> dict[str, Any]:
    """The record's new JSON document: ``current`` with ``raw_values`` applied (only the keys given).

    Refuses a key no field has, a value of the wrong form, and, with ``check_required``, a required field
    left empty (absent from both).
    """
    by_key = {definition.key: definition for definition in definitions}
    unknown = sorted(set(raw_values) - set(by_key))
    if unknown:
        raise ApplicationError(f"There is no custom field {unknown[0]!r} here.", field=f"custom.{unknown[0]}")
    # Values of fields not offered here (retired, or another pipeline's) stay as they are: nothing stored is lost.
    document = dict(current or {})
    for key, raw in raw_values.items():
        value = value_clean(by_key[key], raw)
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    if check_required:
        for definition in by_key.values():
            # A required checkbox must be ticked (an agreement); any other required field must be filled.
            if definition.is_required and document.get(definition.key) in (None, False):
                raise _error(definition, "this field is required.")
    return document


def value_text(definition: FieldDefinition, value: Any) -> str:
    """A stored value as plain text for exports, events and CSV: round-trips through value_clean."""
    if value is None:
        return ""
    if definition.kind == "money":
        return str(from_minor(int(value), definition.currency or "EUR"))
    if definition.kind == "multi_choice":
        return "; ".join(value)
    if definition.kind == "checkbox":
        return "yes" if value else "no"
    return str(value)


KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
