"""Display filters of the dashboard and funnel pages (metrics hand over money as Decimal major units)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from dealflow.core.money import to_minor
from dealflow.web.templatetags.dealflow import format_money, number, percent

register = template.Library()


@register.filter
def money_major(value: Any, currency: str) -> str:
    """A Decimal amount in major units, formatted like every other amount; "—" for no data."""
    if value is None or value == "":
        return "—"
    amount = Decimal(str(value))
    sign = "-" if amount < 0 else ""
    return sign + format_money(to_minor(abs(amount), currency), currency, whole=abs(amount) >= 1000)


@register.filter
def rate(value: Any, decimals: int = 0) -> str:
    """A share as a percentage; "—" for no data (never 0 % for 0/0)."""
    return "—" if value is None else percent(value, decimals)


@register.filter
def days(value: Any, decimals: int = 0) -> str:
    return "—" if value is None else number(value, decimals)


@register.filter
def points(value: Any) -> str:
    """A change of a share in percentage points, signed: +25 pp."""
    if value is None:
        return ""
    scaled = Decimal(str(value)) * 100
    return f"{'+' if scaled > 0 else ''}{number(scaled, 1 if abs(scaled) < 10 else 0)} pp"


@register.filter
def signed_percent(value: Any) -> str:
    """A relative change, signed: +79.8 %."""
    if value is None:
        return ""
    return f"{'+' if value > 0 else ''}{percent(value, 1)}"


@register.filter
def signed_days(value: Any) -> str:
    if value is None:
        return ""
    return f"{'+' if value > 0 else ''}{number(value, 1)} d"
