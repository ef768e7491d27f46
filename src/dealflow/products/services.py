"""Catalogue writes (admins): products and their prices per currency."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from dealflow.accounts.models import User
from dealflow.accounts.services import audit_record
from dealflow.core.errors import ApplicationError
from dealflow.core.money import normalize_currency, number_text, to_minor
from dealflow.products.models import Billing, Product, ProductPrice

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")


def percent_parse(value: Any, *, field: str, label: str) -> Decimal:
    """A percentage from 0 to 100 with at most two decimals ("21", "21.5", "21,5")."""
    if value is None or value == "":
        return Decimal(0)
    try:
        number = Decimal(number_text(value))
    except (InvalidOperation, ValueError) as error:
        raise ApplicationError(f"{label} {value!r} is not a number.", field=field) from error
    if not number.is_finite() or not 0 <= number <= 100:
        raise ApplicationError(f"{label} must be from 0 to 100.", field=field)
    if number != number.quantize(Decimal("0.01")):
        raise ApplicationError(f"{label} has at most two decimals.", field=field)
    return number.quantize(Decimal("0.01"))


def billing_parse(billing: Any, term_months: Any) -> tuple[str, int | None]:
    """Billing (one_off, monthly, yearly) and the term in months a recurring product or line needs."""
    billing = str(billing or Billing.ONE_OFF).strip().lower().replace("-", "_")
    if billing not in Billing.values:
        raise ApplicationError("Billing must be one_off, monthly or yearly.", field="billing")
    if billing == Billing.ONE_OFF:
        if term_months not in (None, ""):
            raise ApplicationError("Only a recurring product has a term.", field="term_months")
        return billing, None
    if term_months in (None, ""):
        raise ApplicationError("A recurring product needs its term in months.", field="term_months")
    try:
        term = int(str(term_months).strip())
    except ValueError as error:
        raise ApplicationError("The term is a whole number of months.", field="term_months") from error
    if not 1 <= term <= 600:
        raise ApplicationError("The term is from 1 to 600 months.", field="term_months")
    if billing == Billing.YEARLY and term % 12:
        raise ApplicationError(
            "A yearly product's term is a whole number of years (12, 24, ...).", field="term_months"
        )
    return billing, term


def _name(value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        raise ApplicationError("A product needs a name.", field="name")
    if len(text) > 200:
        raise ApplicationError("A product name has at most 200 characters.", field="name")
    return text


def _code(value: Any, *, exclude: int | None = None) -> str:
    text = str(value or "").strip()
    if not _CODE.match(text):
        raise ApplicationError(
            "A product code is 1-40 letters, digits, dots, dashes or underscores.", field="code"
        )
    clash = Product.objects.filter(code__iexact=text)
    if exclude:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise ApplicationError(f"Another product has the code {text!r}.", field="code")
    return text


def _prices(prices: Any) -> dict[str, int]:
    """{currency: unit price} as given (Decimal or text) -> {currency: minor units}."""
    result: dict[str, int] = {}
    for currency, amount in dict(prices or {}).items():
        code = normalize_currency(currency, field="prices")
        if code in result:
            raise ApplicationError(f"The price in {code} is given twice.", field="prices")
        result[code] = to_minor(number_text(amount), code, field="prices")
    return result


def _audit(by: User | None, action: str, product: Product) -> None:
    audit_record(actor=by, action=action, target=f"product:{product.pk}", detail={"code": product.code})


@transaction.atomic
def product_create(
    *,
    name: str,
    code: str,
    prices: dict[str, Any] | None = None,
    unit: str = "",
    description: str = "",
    tax_rate: Any = 0,
    billing: str = Billing.ONE_OFF,
    term_months: Any = None,
    is_active: bool = True,
    by: User | None = None,
) -> Product:
    """Add a product to the catalogue with its unit price in each currency it is sold in."""
    billing, term = billing_parse(billing, term_months)
    product = Product.objects.create(
        name=_name(name),
        code=_code(code),
        unit=str(unit or "").strip()[:40],
        description=str(description or ""),
        tax_rate=percent_parse(tax_rate, field="tax_rate", label="Tax rate"),
        billing=billing,
        term_months=term,
        is_active=bool(is_active),
    )
    for currency, amount_minor in _prices(prices).items():
        ProductPrice.objects.create(product=product, currency=currency, unit_price_minor=amount_minor)
    _audit(by, "settings.product_created", product)
    return product


_EDITABLE = {
    "name",
    "code",
    "unit",
    "description",
    "tax_rate",
    "billing",
    "term_months",
    "is_active",
    "prices",
}


@transaction.atomic
def product_update(*, product: Product, data: dict[str, Any], by: User | None = None) -> Product:
    """Change a product; lines already on deals keep the price and terms they were written with."""
    unknown = set(data) - _EDITABLE
    if unknown:
        name = sorted(unknown)[0]
        raise ApplicationError(f"Field {name!r} cannot be changed here.", field=name)
    if "name" in data:
        product.name = _name(data["name"])
    if "code" in data:
        product.code = _code(data["code"], exclude=product.pk)
    if "unit" in data:
        product.unit = str(data["unit"] or "").strip()[:40]
    if "description" in data:
        product.description = str(data["description"] or "")
    if "tax_rate" in data:
        product.tax_rate = percent_parse(data["tax_rate"], field="tax_rate", label="Tax rate")
    if "billing" in data or "term_months" in data:
        product.billing, product.term_months = billing_parse(
            data.get("billing", product.billing), data.get("term_months", product.term_months)
        )
    if "is_active" in data:
        product.is_active = bool(data["is_active"])
    product.save()
    if "prices" in data:
        prices = _prices(data["prices"])
        product.prices.exclude(currency__in=list(prices)).delete()
        for currency, amount_minor in prices.items():
            ProductPrice.objects.update_or_create(
                product=product, currency=currency, defaults={"unit_price_minor": amount_minor}
            )
    _audit(by, "settings.product_updated", product)
    return product


@transaction.atomic
def product_upsert(*, code: str, data: dict[str, Any], by: User | None = None) -> tuple[Product, bool]:
    """Create the product with this code, or change the one that has it (any case); True when created."""
    product = Product.objects.filter(code__iexact=str(code or "").strip()).first()
    if product is None:
        return product_create(code=code, **{"name": "", **data}, by=by), True
    return product_update(product=product, data=data, by=by), False
