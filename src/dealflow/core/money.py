"""Money as integer minor units plus an ISO 4217 currency (GUIDE.md: exact on both engines)."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from dealflow.core.errors import ApplicationError

# Currencies whose minor unit is not 1/100.
_MINOR_DIGITS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "BHD": 3, "KWD": 3, "OMR": 3, "TND": 3, "JOD": 3}
MAX_AMOUNT = Decimal("1e13")  # ten trillion, far above any deal, far below BigInteger
# 10 ** digits for every minor unit above (an import converts hundreds of thousands of amounts).
_SCALE = {digits: Decimal(10) ** digits for digits in {2, *_MINOR_DIGITS.values()}}
_ONE = Decimal(1)


def minor_digits(currency: str) -> int:
    return _MINOR_DIGITS.get(currency.upper(), 2)


def normalize_currency(currency: str, *, field: str = "currency") -> str:
    code = (currency or "").strip().upper()
    if len(code) != 3 or not code.isalpha() or not code.isascii():
        raise ApplicationError(
            f"Currency must be a three-letter ISO 4217 code, got {currency!r}.", field=field
        )
    return code


def number_text(value: object) -> str:
    """A typed number in either notation as Python reads it: "1.234,56" and "1,234.56" -> "1234.56",
    "12,5" -> "12.5" (a lone comma is the Dutch decimal mark); spaces are dropped. Other values: str()."""
    text = str(value).strip().replace(" ", "").replace("\u00a0", "")
    if not isinstance(value, str) or "," not in text:
        return text
    if "." in text and text.rfind(".") > text.rfind(","):
        return text.replace(",", "")  # 1,234.56
    return text.replace(".", "").replace(",", ".")  # 1.234,56 or 12,5


def to_minor(amount: Decimal | int | str | float, currency: str, *, field: str = "amount") -> int:
    """Convert a decimal amount to integer minor units, refusing negatives and absurd sizes."""
    try:
        value = amount if type(amount) is Decimal else Decimal(str(amount))
    except (InvalidOperation, ValueError) as error:
        raise ApplicationError(f"Amount {amount!r} is not a number.", field=field) from error
    if not value.is_finite():
        raise ApplicationError("Amount must be a finite number.", field=field)
    if value < 0:
        raise ApplicationError("Amount cannot be negative.", field=field)
    if value >= MAX_AMOUNT:
        raise ApplicationError("Amount is too large.", field=field)
    return int((value * _SCALE[minor_digits(currency)]).quantize(_ONE, rounding=ROUND_HALF_UP))


def from_minor(amount_minor: int | None, currency: str) -> Decimal:
    if amount_minor is None:
        return Decimal(0)
    digits = minor_digits(currency)
    return (Decimal(amount_minor) / (Decimal(10) ** digits)).quantize(Decimal(1).scaleb(-digits))


@dataclass(frozen=True)
class Money:
    amount_minor: int
    currency: str

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        code = normalize_currency(currency)
        return cls(to_minor(amount, code), code)

    @property
    def amount(self) -> Decimal:
        return from_minor(self.amount_minor, self.currency)

    def __str__(self) -> str:
        return f"{self.currency} {self.amount:,.{minor_digits(self.currency)}f}"


class RateTable:
    """Exchange rates to the base currency by the day they became valid: the one "rate on the day" rule.

    The rate valid on a day is the one with the latest ``valid_from`` on or before it; a day before the
    first known rate takes the earliest one (docs/metrics.md). The base currency converts at 1. Callers
    load the rows (one currency for a service, every currency for the bulk writer or a metric) and ask.
    """

    __slots__ = ("_cache", "_days", "_rates", "base")

    def __init__(self, base: str, rows: Iterable[tuple[str, dt.date, Decimal]]) -> None:
        self.base = base
        self._days: dict[str, list[dt.date]] = {}
        self._rates: dict[str, list[Decimal]] = {}
        for currency, valid_from, rate in sorted(rows, key=lambda row: (row[0], row[1])):
            self._days.setdefault(currency, []).append(valid_from)
            self._rates.setdefault(currency, []).append(Decimal(rate))
        self._cache: dict[tuple[str, dt.date], Decimal] = {}

    def has(self, currency: str) -> bool:
        return currency == self.base or currency in self._days

    def rate_on(self, currency: str, day: dt.date) -> Decimal:
        """Units of the base currency one unit of ``currency`` was worth on ``day``."""
        if currency == self.base:
            return Decimal(1)
        days = self._days.get(currency)
        if not days:
            raise ApplicationError(
                f"There is no exchange rate for {currency}; add one under Settings > Exchange rates.",
                field="currency",
            )
        index = bisect.bisect_right(days, day) - 1
        return self._rates[currency][max(index, 0)]

    def currencies(self) -> list[str]:
        """The currencies with a rate, besides the base currency."""
        return sorted(self._days)

    def factor(self, currency: str, day: dt.date) -> Decimal:
        """Minor units of the base currency per minor unit of ``currency`` on ``day``."""
        key = (currency, day)
        factor = self._cache.get(key)
        if factor is None:
            rate = self.rate_on(currency, day)
            factor = rate * Decimal(10) ** (minor_digits(self.base) - minor_digits(currency))
            self._cache[key] = factor
        return factor

    def to_base_minor(self, amount_minor: int, currency: str, day: dt.date) -> int:
        """``amount_minor`` of ``currency`` in minor units of the base currency at the rate on ``day``."""
        return int(
            (Decimal(amount_minor) * self.factor(currency, day)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        )

    def to_base_minor_or_none(self, amount_minor: int, currency: str, day: dt.date) -> int | None:
        """Like ``to_base_minor``, but None for a currency without any rate (totals leave it out)."""
        return self.to_base_minor(amount_minor, currency, day) if self.has(currency) else None

    def money(self, amount_minor: int | None) -> Decimal | None:
        """Base-currency minor units as a decimal amount."""
        return None if amount_minor is None else from_minor(amount_minor, self.base)
