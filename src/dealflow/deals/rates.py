"""Exchange rates as stored: the base currency and conversion at the rate on a day (the rule: core.money.RateTable)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings

from dealflow.core.money import RateTable
from dealflow.deals.models import ExchangeRate


def base_currency() -> str:
    return str(settings.DEALFLOW["BASE_CURRENCY"])


def rate_table(*, currencies: Iterable[str] | None = None, using: str = "default") -> RateTable:
    """The stored exchange rates (of ``currencies`` only, when given) as a RateTable."""
    base = base_currency()
    rows = ExchangeRate.objects.using(using)
    if currencies is not None:
        wanted = set(currencies) - {base}
        if not wanted:
            return RateTable(base, [])  # no query for deals in the base currency alone
        rows = rows.filter(currency__in=wanted)
    return RateTable(base, rows.values_list("currency", "valid_from", "rate"))


def exchange_rate_on(*, currency: str, day: dt.date) -> Decimal:
    """The rate valid on ``day`` (latest ``valid_from`` on or before it; the earliest known if none)."""
    return rate_table(currencies=[currency]).rate_on(currency, day)


def convert_minor_to_base(*, amount_minor: int, currency: str, day: dt.date) -> int:
    return rate_table(currencies=[currency]).to_base_minor(amount_minor, currency, day)
