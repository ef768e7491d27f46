"""Line-item and deal totals in integer minor units, without the ORM.

Rounding (docs/products.md): every figure of a line is rounded once, half up, to the minor unit of the
line's currency; deal totals are sums of rounded line figures, so a deal's total always equals the sum of
the lines it shows. A line in another currency than the deal's is converted per line, half up, to the
deal currency's minor unit.

- net    = quantity x unit price x (100 - discount %) / 100                 (one billing period)
- tax    = net x tax rate / 100
- MRR    = net (monthly) or net / 12 (yearly); 0 for a one-off line
- ARR    = net x 12 (monthly) or net (yearly); 0 for a one-off line
- TCV    = net x term months (monthly) or net x term months / 12 (yearly); for a one-off line its net
- value  = what the line adds to the deal amount: its TCV under the ``tcv`` basis (the default), its
           net for a one-off line and its ARR for a recurring one under the ``arr`` basis
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from dealflow.core.money import minor_digits

ONE_OFF, MONTHLY, YEARLY = "one_off", "monthly", "yearly"
VALUE_BASES = ("tcv", "arr")


def round_minor(value: Decimal) -> int:
    """Half up to a whole minor unit (0.5 cent becomes 1 cent)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class LinePrice:
    quantity: Decimal
    unit_price_minor: int
    currency: str
    discount_percent: Decimal = Decimal(0)
    tax_rate: Decimal = Decimal(0)
    billing: str = ONE_OFF
    term_months: int | None = None


@dataclass(frozen=True)
class LineTotals:
    net_minor: int
    tax_minor: int
    mrr_minor: int
    arr_minor: int
    tcv_minor: int
    one_off_minor: int
    is_recurring: bool = False

    @property
    def gross_minor(self) -> int:
        return self.net_minor + self.tax_minor

    def value_minor(self, basis: str = "tcv") -> int:
        if self.is_recurring and basis == "arr":
            return self.arr_minor
        return self.tcv_minor


def line_totals(price: LinePrice) -> LineTotals:
    """Every figure of one line, each rounded half up to the minor unit."""
    net = round_minor(
        price.quantity * Decimal(price.unit_price_minor) * (Decimal(100) - price.discount_percent) / 100
    )
    tax = round_minor(Decimal(net) * price.tax_rate / 100)
    if price.billing == ONE_OFF:
        return LineTotals(net, tax, 0, 0, net, net)
    term = price.term_months or 12
    if price.billing == MONTHLY:
        return LineTotals(net, tax, net, net * 12, net * term, 0, is_recurring=True)
    return LineTotals(
        net,
        tax,
        round_minor(Decimal(net) / 12),
        net,
        round_minor(Decimal(net) * term / 12),
        0,
        is_recurring=True,
    )


def convert_minor(amount_minor: int, *, rate: Decimal, from_currency: str, to_currency: str) -> int:
    """``amount_minor`` of ``from_currency`` in ``to_currency`` at ``rate`` (to per from), half up."""
    if from_currency == to_currency:
        return amount_minor
    scale = Decimal(10) ** (minor_digits(to_currency) - minor_digits(from_currency))
    return round_minor(Decimal(amount_minor) * rate * scale)


@dataclass(frozen=True)
class DealTotals:
    """A deal's figures in the deal's currency: sums of the converted line figures."""

    currency: str
    net_minor: int = 0
    tax_minor: int = 0
    one_off_minor: int = 0
    mrr_minor: int = 0
    arr_minor: int = 0
    tcv_minor: int = 0
    value_minor: int = 0

    @property
    def gross_minor(self) -> int:
        return self.net_minor + self.tax_minor

    @property
    def is_recurring(self) -> bool:
        return self.mrr_minor > 0


def deal_totals(
    lines: list[tuple[LineTotals, str, Decimal]], *, currency: str, basis: str = "tcv"
) -> DealTotals:
    """Sum lines given as (totals, line currency, rate to the deal currency), converting each figure."""
    sums = dict.fromkeys(("net", "tax", "one_off", "mrr", "arr", "tcv", "value"), 0)
    for totals, line_currency, rate in lines:
        figures = {
            "net": totals.net_minor,
            "tax": totals.tax_minor,
            "one_off": totals.one_off_minor,
            "mrr": totals.mrr_minor,
            "arr": totals.arr_minor,
            "tcv": totals.tcv_minor,
            "value": totals.value_minor(basis),
        }
        for name, amount in figures.items():
            sums[name] += convert_minor(amount, rate=rate, from_currency=line_currency, to_currency=currency)
    return DealTotals(currency=currency, **{f"{name}_minor": amount for name, amount in sums.items()})
