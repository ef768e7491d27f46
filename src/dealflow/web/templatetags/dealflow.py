"""Display helpers for every page: `{% load dealflow %}`.

Filters (plain spaces, so tests can compare text; amounts sit in `.nowrap`/`.num` cells): ``money`` (``{{ deal.amount_minor|money:deal.currency }}`` -> nl ``€ 1.234,56``, en ``€1,234.56``),
``money_whole`` (same, rounded to whole units, for totals), ``number`` (localised, grouped),
``percent`` (a fraction: ``0.256|percent:1`` -> ``25.6%``), ``day`` (nl ``26-11-2026``, en ``26 Nov 2026``),
``month_label`` (``Nov 2026`` / ``nov 2026``) and ``initials`` (a user or a name -> ``RR``).
They only format; the numbers come prepared from selectors.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils import formats, timezone, translation
from django.utils.dateformat import format as date_format

from dealflow.core.money import from_minor, minor_digits

register = template.Library()

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹", "CNY": "¥", "KRW": "₩"}


def _is_dutch() -> bool:
    return (translation.get_language() or "en").split("-")[0] == "nl"


def format_money(amount_minor: int | None, currency: str, *, whole: bool = False) -> str:
    """Format integer minor units of `currency` for the active language (the one place that does it)."""
    if amount_minor is None:
        return ""
    code = (currency or "").upper()
    value = from_minor(int(amount_minor), code)
    digits = 0 if whole else minor_digits(code)
    if whole:
        value = value.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    negative = value < 0
    number = formats.number_format(abs(value), digits, use_l10n=True, force_grouping=True)
    symbol = CURRENCY_SYMBOLS.get(code, code)
    sign = "-" if negative else ""
    if _is_dutch():
        return f"{symbol} {sign}{number}"
    if len(symbol) > 1:
        return f"{sign}{symbol} {number}"
    return f"{sign}{symbol}{number}"


@register.filter
def money(amount_minor: Any, currency: str = "") -> str:
    """``{{ amount_minor|money:currency }}``; also accepts an object with amount_minor and currency."""
    if hasattr(amount_minor, "amount_minor"):
        return format_money(amount_minor.amount_minor, currency or amount_minor.currency)
    return format_money(amount_minor, currency)


@register.filter
def money_whole(amount_minor: Any, currency: str = "") -> str:
    if hasattr(amount_minor, "amount_minor"):
        return format_money(amount_minor.amount_minor, currency or amount_minor.currency, whole=True)
    return format_money(amount_minor, currency, whole=True)


@register.filter
def number(value: Any, decimals: int = 0) -> str:
    if value is None or value == "":
        return ""
    try:
        decimal_value = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return formats.number_format(decimal_value, int(decimals), use_l10n=True, force_grouping=True)


@register.filter
def percent(fraction: Any, decimals: int = 0) -> str:
    """A fraction (0.256) as a percentage for the active language: ``25.6%`` / ``25,6%``."""
    if fraction is None or fraction == "":
        return ""
    try:
        value = Decimal(str(fraction)) * 100
    except InvalidOperation:
        return ""
    return f"{formats.number_format(value, int(decimals), use_l10n=True)}%"


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.date()
    if isinstance(value, dt.date):
        return value
    return None


@register.filter
def day(value: Any) -> str:
    """A date (or datetime, in local time) in the language's short date format: ``26-11-2026``."""
    date = _as_date(value)
    if date is None:
        return ""
    return date_format(date, formats.get_format("SHORT_DATE_FORMAT"))


@register.filter
def month_label(value: Any) -> str:
    """``Nov 2026`` (en) / ``nov 2026`` (nl) for a date, or for a ``YYYY-MM`` month key."""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(f"{value}-01")
        except ValueError:
            return value
    date = _as_date(value)
    if date is None:
        return ""
    return date_format(date, "M Y")


@register.filter
def initials(value: Any) -> str:
    """A user's initials (``Rita Rep`` -> ``RR``), or the initials of a plain name."""
    if value is None:
        return ""
    if hasattr(value, "initials"):
        return value.initials
    parts = str(value).split()
    return "".join(part[:1].upper() for part in parts[:3])
