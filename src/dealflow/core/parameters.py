"""The one parsing layer for query parameters (web pages and API endpoints alike).

Every reader takes a QueryDict (or any mapping with ``.get``) and the parameter's name, and answers the
parsed value, or None / the default when the parameter is missing or empty. Anything else a user can type
raises ``ApplicationError(field=name)`` with a message naming the parameter: the API answers it as
``400 {"detail", "field"}``, a web page as a styled 400 page (``web.middleware.ApplicationErrorMiddleware``)
or as a form error. Nothing reaches the database that it would refuse (a NUL byte, a number past 64 bits, a
year Python cannot step past), so no parameter can cause a 500.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _

from dealflow.core.errors import ApplicationError
from dealflow.core.periods import FIRST_YEAR, LAST_YEAR, Period, parse_period

# The database's integer keys are 64-bit; a bigger number matches nothing and PostgreSQL refuses it.
MAX_INTEGER = 2**63 - 1
MAX_TEXT_LENGTH = 200
_ASCII_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def is_number(text: str) -> bool:
    """Whether typed text is a whole number ``int()`` takes and a 64-bit id holds: the digits 0-9 only.
    ``str.isdigit()`` is true of "²", which ``int()`` refuses (a 500 where a form or a filter read it)."""
    return text.isascii() and text.isdigit() and len(text) <= 18


def _raw(data: Any, name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def text_parameter(data: Any, name: str, *, max_length: int = MAX_TEXT_LENGTH) -> str | None:
    """Free text (a search): None when missing or blank; refused when it holds control characters (NUL)."""
    text = _raw(data, name)
    if text is None:
        return None
    if _CONTROL_CHARACTERS.search(text):
        raise ApplicationError(_("%(name)s may not contain control characters.") % {"name": name}, field=name)
    if len(text) > max_length:
        raise ApplicationError(
            _("%(name)s is too long (at most %(count)s characters).") % {"name": name, "count": max_length},
            field=name,
        )
    return text


def integer_parameter(
    data: Any, name: str, *, minimum: int | None = None, maximum: int = MAX_INTEGER
) -> int | None:
    """A whole number written with the digits 0-9 (not ², not Arabic-Indic digits), within the bounds."""
    text = _raw(data, name)
    if text is None:
        return None
    if not _ASCII_INTEGER.fullmatch(text):
        raise ApplicationError(_("%(name)s must be a whole number.") % {"name": name}, field=name)
    number = int(text)
    lowest = -MAX_INTEGER if minimum is None else minimum
    if number < lowest or number > maximum:
        raise ApplicationError(
            _("%(name)s must be between %(minimum)s and %(maximum)s.")
            % {"name": name, "minimum": lowest, "maximum": maximum},
            field=name,
        )
    return number


def id_parameter(data: Any, name: str) -> int | None:
    """The id of a record: a positive whole number of at most 64 bits."""
    return integer_parameter(data, name, minimum=1)


def choice_parameter(
    data: Any, name: str, choices: Iterable[str], *, default: str | None = None
) -> str | None:
    """One of ``choices``; ``default`` when missing or empty."""
    text = _raw(data, name)
    if text is None:
        return default
    allowed = list(choices)
    if text not in allowed:
        raise ApplicationError(
            _("%(name)s must be one of: %(choices)s.") % {"name": name, "choices": ", ".join(allowed)},
            field=name,
        )
    return text


def boolean_parameter(data: Any, name: str) -> bool:
    """1/true/yes/on is true, 0/false/no/off or missing is false; anything else is refused."""
    text = _raw(data, name)
    if text is None:
        return False
    lowered = text.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ApplicationError(_("%(name)s must be 1 or 0.") % {"name": name}, field=name)


def date_parameter(data: Any, name: str) -> dt.date | None:
    """A date written YYYY-MM-DD in the years the application handles."""
    value = data.get(name)
    day: dt.date | None = None
    if isinstance(value, dt.date):
        day = value
    else:
        text = _raw(data, name)
        if text is None:
            return None
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            try:
                day = dt.date.fromisoformat(text)
            except ValueError:
                day = None
        if day is None:
            raise ApplicationError(
                _("%(name)s must be a date written YYYY-MM-DD.") % {"name": name}, field=name
            )
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ApplicationError(_year_message(name), field=name)
    return day


def period_parameter(data: Any, name: str = "period") -> Period | None:
    """A period ('2026-11', '2026-Q3', '2026', '2026-01-01..2026-03-31'); None when missing or empty."""
    text = text_parameter(data, name)
    if text is None:
        return None
    return parse_period(text, field=name)


def _year_message(name: str) -> str:
    return _("%(name)s must lie between the years %(first)s and %(last)s.") % {
        "name": name,
        "first": FIRST_YEAR,
        "last": LAST_YEAR,
    }
