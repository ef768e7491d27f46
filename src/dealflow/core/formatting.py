"""Numbers, percentages, days and amounts for people to read, in the active language (the one helper).

Templates reach it through the ``dealflow`` filters (``number``, ``percent``, ``money``); domain code that
writes a sentence with a number in it (a bottleneck's reason, the forecast method's WAPE) calls it
directly, so a Dutch page reads ``€ 393.819`` and ``27,6 dagen``, never ``393,819`` or ``27.6``. Django's
l10n (``formats.number_format``, the format modules in ``web/formats``) does the work.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils import formats, translation

from dealflow.core.money import from_minor, minor_digits

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹", "CNY": "¥", "KRW": "₩"}


def _is_dutch() -> bool:
    return (translation.get_language() or "en").split("-")[0] == "nl"


def format_number(value: Any, decimals: int = 0) -> str:
    """``1234.5`` -> nl ``1.234,5`` / en ``1,234.5`` (grouped); "" for None."""
    if value is None or value == "":
        return ""
    try:
        decimal_value = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return formats.number_format(decimal_value, int(decimals), use_l10n=True, force_grouping=True)


def format_percent(fraction: Any, decimals: int = 0) -> str:
    """A fraction (0.256) as a percentage: nl ``25,6%`` / en ``25.6%``; "" for None."""
    if fraction is None or fraction == "":
        return ""
    try:
        value = Decimal(str(fraction)) * 100
    except InvalidOperation:
        return ""
    return f"{formats.number_format(value, int(decimals), use_l10n=True)}%"


def format_money(amount_minor: int | None, currency: str, *, whole: bool = False) -> str:
    """Integer minor units of ``currency``: nl ``€ 1.234,56`` / en ``€1,234.56``; "" for None."""
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


def format_money_major(amount: Any, currency: str, *, whole: bool = True) -> str:
    """A Decimal amount in major units (as metrics hand them over), formatted like every other amount."""
    if amount is None or amount == "":
        return ""
    value = Decimal(str(amount))
    digits = minor_digits((currency or "").upper())
    minor = int((value * (Decimal(10) ** digits)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return format_money(minor, currency, whole=whole)
