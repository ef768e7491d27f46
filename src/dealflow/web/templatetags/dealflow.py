"""Display helpers for every page: `{% load dealflow %}`.

Filters (plain spaces, so tests can compare text; amounts sit in `.nowrap`/`.num` cells): ``money`` (``{{ deal.amount_minor|money:deal.currency }}`` -> nl ``€ 1.234,56``, en ``€1,234.56``),
``money_whole`` (same, rounded to whole units, for totals), ``number`` (localised, grouped),
``percent`` (a fraction: ``0.256|percent:1`` -> ``25.6%``), ``day`` (nl ``26-11-2026``, en ``26 Nov 2026``),
``month_label`` (``Nov 2026`` / ``nov 2026``), ``custom_value`` (a custom field's value by its kind) and ``initials`` (a user or a name -> ``RR``).
They only format; the numbers come prepared from selectors.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.template.defaultfilters import linebreaksbr
from django.utils import formats, timezone
from django.utils.dateformat import format as date_format
from django.utils.html import conditional_escape, format_html

from dealflow.core.formatting import CURRENCY_SYMBOLS, format_money, format_number, format_percent

register = template.Library()

__all__ = ["CURRENCY_SYMBOLS", "format_money"]


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
    return format_number(value, decimals)


@register.filter
def percent(fraction: Any, decimals: int = 0) -> str:
    """A fraction (0.256) as a percentage for the active language: ``25.6%`` / ``25,6%``."""
    return format_percent(fraction, decimals)


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


@register.filter
def method_label(value: Any) -> str:
    """A forecast method's key (``run_rate``) as its translated label (``Run-rate``)."""
    from dealflow.forecasting.models import Method

    try:
        return str(Method(value).label)
    except ValueError:
        return str(value)


@register.filter
def custom_value(value: Any, definition: Any) -> str:
    """A custom field's value for display by its kind: ``{{ value|custom_value:definition }}``.

    One filter instead of a template included per cell: the deals list shows up to 500 cells a page, and
    an include each was a third of its rendering (issue #19)."""
    if value is None:
        return "—"
    kind = definition.kind
    if kind == "money":
        return money(value, definition.currency)
    if kind == "number":
        return number(value, 2)
    if kind == "date":
        return day(value)
    if kind == "checkbox":
        return "✓" if value else "✗"
    if kind == "multi_choice":
        return conditional_escape(", ".join(str(item) for item in value))
    if kind == "url":
        return format_html('<a href="{}" rel="noopener nofollow">{}</a>', value, value)
    if kind == "long_text":
        return linebreaksbr(value, autoescape=True)
    return conditional_escape(value)
