"""Conversion to the base currency at the rate valid on a day."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from dealflow.core.errors import ApplicationError
from dealflow.core.money import minor_digits
from dealflow.deals.models import ExchangeRate


def base_currency() -> str:
    return str(settings.DEALFLOW["BASE_CURRENCY"])


def exchange_rate_on(*, currency: str, day: dt.date) -> Decimal:
    """The rate valid on ``day`` (latest ``valid_from`` on or before it; the earliest known if none)."""
    if currency == base_currency():
        return Decimal(1)
    rate = (
        ExchangeRate.objects.filter(currency=currency, valid_from__lte=day)
        .order_by("-valid_from")
        .values_list("rate", flat=True)
        .first()
    )
    if rate is None:
        rate = (
            ExchangeRate.objects.filter(currency=currency)
            .order_by("valid_from")
            .values_list("rate", flat=True)
            .first()
        )
    if rate is None:
        raise ApplicationError(
            f"There is no exchange rate for {currency}; add one under Settings > Exchange rates.",
            field="currency",
        )
    return rate


def convert_minor_to_base(*, amount_minor: int, currency: str, day: dt.date) -> int:
    rate = exchange_rate_on(currency=currency, day=day)
    scale = Decimal(10) ** (minor_digits(base_currency()) - minor_digits(currency))
    return int((Decimal(amount_minor) * rate * scale).quantize(Decimal(1), rounding=ROUND_HALF_UP))
