"""What a deal holds besides its own columns: line items, custom field values and tags.

Each write records DealEvents in the same transaction: lines change the amount through ``deal_update``
(one AMOUNT_CHANGED event, like any amount change) plus a FIELD_CHANGED ``lines`` event; every custom field
whose value changes writes FIELD_CHANGED ``custom.<key>``; a change of tags writes FIELD_CHANGED ``tags``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction

from dealflow.accounts.models import User
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.core.money import from_minor, normalize_currency, number_text, to_minor
from dealflow.customfields.models import Entity
from dealflow.customfields.services import custom_values_set
from dealflow.customfields.validation import value_text
from dealflow.deals import lifecycle
from dealflow.deals.models import Deal, Lead
from dealflow.deals.rates import exchange_rate_on
from dealflow.deals.services.deals import deal_update
from dealflow.deals.services.history import change_apply, deal_save_versioned, deal_state, local_date
from dealflow.products.calculations import LinePrice, convert_minor, line_totals
from dealflow.products.models import DealLine, Product
from dealflow.products.selectors import product_get_by_code, product_unit_price_minor
from dealflow.products.services import billing_parse, percent_parse
from dealflow.tags.selectors import tag_names_of
from dealflow.tags.services import tag_links_set, tag_names_parse

MAX_LINES = 200


def _contents_changed(
    deal: Deal, *, by: User | None, at: dt.datetime, origin: str, field: str, before: str, after: str
) -> None:
    """The lifecycle's FIELD_CHANGED event for a change of lines, tags or a custom value, written."""
    change = lifecycle.contents_changed(
        deal_state(deal),
        field=field,
        from_value=before,
        to_value=after,
        at=at,
        by_id=by.pk if by is not None else None,
        origin=origin,
    )
    change_apply(deal=deal, change=change)


def deal_value_basis() -> str:
    """What a recurring line adds to the deal amount: "tcv" or "arr" (settings.DEALFLOW)."""
    basis = str(settings.DEALFLOW.get("DEAL_VALUE_BASIS", "tcv")).lower()
    return basis if basis in ("tcv", "arr") else "tcv"


@dataclass
class _Line:
    product: Product | None
    description: str
    price: LinePrice
    rate: Decimal


def _line_error(index: int, name: str, message: str) -> ApplicationError:
    return ApplicationError(f"Line {index + 1}: {message}", field=f"lines.{index}.{name}")


def _quantity(index: int, value: Any) -> Decimal:
    try:
        quantity = Decimal(number_text(value if value not in (None, "") else "1"))
    except (InvalidOperation, ValueError) as error:
        raise _line_error(index, "quantity", f"quantity {value!r} is not a number.") from error
    if not quantity.is_finite() or quantity <= 0 or quantity >= Decimal("1e9"):
        raise _line_error(index, "quantity", "the quantity must be above 0 and below a billion.")
    if quantity != quantity.quantize(Decimal("0.001")):
        raise _line_error(index, "quantity", "the quantity has at most three decimals.")
    return quantity.quantize(Decimal("0.001"))


def _rate_to(currency: str, deal_currency: str, day: dt.date) -> Decimal:
    """Deal-currency units per unit of ``currency`` on ``day``, through the base currency."""
    if currency == deal_currency:
        return Decimal(1)
    return (
        exchange_rate_on(currency=currency, day=day) / exchange_rate_on(currency=deal_currency, day=day)
    ).quantize(Decimal("0.00000001"))


def _line_clean(
    index: int,
    raw: dict[str, Any],
    *,
    deal_currency: str,
    day: dt.date,
    kept: frozenset[int] | set[int] = frozenset(),
) -> _Line:
    product = raw.get("product")
    if product is None and raw.get("product_code"):
        try:
            product = product_get_by_code(code=raw["product_code"])
        except ApplicationError as error:
            raise _line_error(index, "product", error.message) from error
    if product is not None and not isinstance(product, Product):
        raise _line_error(index, "product", "pick a product from the catalogue.")
    if product is not None and not product.is_active and product.pk not in kept:
        # A deal keeps the retired products it has; a new line takes an active one.
        raise _line_error(index, "product", f"{product.name} is retired; pick an active product.")
    currency_text = raw.get("currency") or deal_currency
    try:
        currency = normalize_currency(currency_text)
    except ApplicationError as error:
        raise _line_error(index, "currency", error.message) from error
    description = str(raw.get("description") or (product.name if product else "")).strip()
    if not description:
        raise _line_error(index, "description", "a line without a product needs a description.")
    if len(description) > 200:
        raise _line_error(index, "description", "a description has at most 200 characters.")
    if raw.get("unit_price") in (None, ""):
        if product is None:
            raise _line_error(index, "unit_price", "a line without a product needs a unit price.")
        unit_price_minor = product_unit_price_minor(product=product, currency=currency)
        if unit_price_minor is None:
            raise _line_error(
                index, "unit_price", f"{product.name} has no price in {currency}; enter a unit price."
            )
    else:
        try:
            unit_price_minor = to_minor(number_text(raw["unit_price"]), currency)
        except ApplicationError as error:
            raise _line_error(index, "unit_price", error.message) from error
    try:
        discount = percent_parse(raw.get("discount_percent"), field="discount_percent", label="Discount")
        tax_value = raw.get("tax_rate")
        tax_rate = (
            product.tax_rate
            if tax_value in (None, "") and product is not None
            else percent_parse(tax_value, field="tax_rate", label="Tax rate")
        )
        billing_value = raw.get("billing") or (product.billing if product else "one_off")
        term_value = raw.get("term_months")
        if term_value in (None, "") and product is not None and billing_value == product.billing:
            term_value = product.term_months
        billing, term = billing_parse(billing_value, term_value)
    except ApplicationError as error:
        raise _line_error(index, error.field or "line", error.message) from error
    try:
        rate = _rate_to(currency, deal_currency, day)
    except ApplicationError as error:
        raise _line_error(index, "currency", error.message) from error
    price = LinePrice(
        quantity=_quantity(index, raw.get("quantity")),
        unit_price_minor=unit_price_minor,
        currency=currency,
        discount_percent=discount,
        tax_rate=Decimal(tax_rate),
        billing=billing,
        term_months=term,
    )
    return _Line(product=product, description=description, price=price, rate=rate)


def _lines_summary(lines: list[DealLine] | list[_Line]) -> str:
    parts = []
    for line in lines:
        quantity = line.price.quantity if isinstance(line, _Line) else line.quantity
        parts.append(f"{quantity.normalize():f} x {line.description}")
    return "; ".join(parts)[:200]


@transaction.atomic
def deal_lines_set(
    *,
    deal: Deal,
    lines: list[dict[str, Any]],
    by: User | None,
    expected_version: int | None = None,
    at: dt.datetime | None = None,
    origin: str = "",
) -> Deal:
    """Replace a deal's line items; the deal amount becomes the sum of their values (kept when none left).

    A line is {product | product_code, description, quantity, unit_price, currency, discount_percent,
    tax_rate, billing, term_months}; what it omits comes from the catalogue. Errors name the line.
    """
    if len(lines) > MAX_LINES:
        raise ApplicationError(f"A deal holds at most {MAX_LINES} lines.", field="lines")
    if expected_version is not None:
        # The caller's version must still be the deal's; the lines are a change of the deal (version + 1).
        deal_save_versioned(deal=deal, fields=[], expected_version=expected_version)
    moment = at or clock.now()
    day = local_date(moment)
    kept = set(DealLine.objects.filter(deal=deal, product__isnull=False).values_list("product_id", flat=True))
    cleaned = [
        _line_clean(index, raw, deal_currency=deal.currency, day=day, kept=kept)
        for index, raw in enumerate(lines)
    ]
    basis = deal_value_basis()
    before = list(DealLine.objects.filter(deal=deal).order_by("position", "id"))
    DealLine.objects.filter(deal=deal).delete()
    total = 0
    for position, line in enumerate(cleaned):
        totals = line_totals(line.price)
        value = totals.value_minor(basis)
        deal_value = convert_minor(
            value, rate=line.rate, from_currency=line.price.currency, to_currency=deal.currency
        )
        total += deal_value
        DealLine.objects.create(
            deal=deal,
            product=line.product,
            position=position,
            description=line.description,
            quantity=line.price.quantity,
            unit_price_minor=line.price.unit_price_minor,
            currency=line.price.currency,
            discount_percent=line.price.discount_percent,
            tax_rate=line.price.tax_rate,
            billing=line.price.billing,
            term_months=line.price.term_months,
            net_minor=totals.net_minor,
            tax_minor=totals.tax_minor,
            value_minor=value,
            mrr_minor=totals.mrr_minor,
            rate_to_deal=line.rate,
            deal_value_minor=deal_value,
            created_at=moment,
        )
    before_summary, after_summary = _lines_summary(before), _lines_summary(cleaned)
    if cleaned and total != deal.amount_minor:
        deal_update(
            deal=deal,
            by=by,
            data={"amount": from_minor(total, deal.currency)},
            at=moment,
            origin=origin,
            note="from the deal's lines",
            from_lines=True,
        )
    if before_summary != after_summary or len(before) != len(cleaned):
        _contents_changed(
            deal, by=by, at=moment, origin=origin, field="lines", before=before_summary, after=after_summary
        )
    return deal


@transaction.atomic
def deal_custom_values_set(
    *,
    deal: Deal,
    values: dict[str, Any],
    by: User | None,
    at: dt.datetime | None = None,
    origin: str = "",
    check_required: bool = True,
) -> dict[str, Any]:
    """Set custom field values of a deal (only the keys given); one event per value that changed."""
    change = custom_values_set(
        entity=Entity.DEAL,
        object_id=deal.pk,
        values=values,
        pipeline_id=deal.pipeline_id,
        check_required=check_required,
    )
    moment = at or clock.now()
    for definition, old, new in change.changed():
        _contents_changed(
            deal,
            by=by,
            at=moment,
            origin=origin,
            field=f"custom.{definition.key}",
            before=value_text(definition, old),
            after=value_text(definition, new),
        )
    return change.after


@transaction.atomic
def lead_custom_values_set(*, lead: Lead, values: dict[str, Any], by: User | None = None) -> dict[str, Any]:
    """Set custom field values of a lead (only the keys given)."""
    return custom_values_set(entity=Entity.LEAD, object_id=lead.pk, values=values).after


@transaction.atomic
def deal_tags_set(
    *, deal: Deal, tags: Any, by: User | None, at: dt.datetime | None = None, origin: str = ""
) -> list[str]:
    """Make the deal's tags exactly ``tags`` (names, new ones created); one event when they change."""

    before = tag_names_of(entity="deal", object_id=deal.pk)
    added, removed = tag_links_set(entity="deal", object_id=deal.pk, names=tag_names_parse(tags))
    after = tag_names_of(entity="deal", object_id=deal.pk)
    if added or removed:
        _contents_changed(
            deal,
            by=by,
            at=at or clock.now(),
            origin=origin,
            field="tags",
            before=", ".join(before),
            after=", ".join(after),
        )
    return after


@transaction.atomic
def deal_tags_add_bulk(*, deals: list[Deal], tags: Any, by: User | None, origin: str = "") -> int:
    """Add ``tags`` to each deal (bulk tagging); returns how many deals changed, each with its event."""

    names = tag_names_parse(tags)
    if not names:
        raise ApplicationError("Name at least one tag.", field="tags")
    changed = 0
    for deal in deals:
        current = tag_names_of(entity="deal", object_id=deal.pk)
        if all(any(name.casefold() == have.casefold() for have in current) for name in names):
            continue
        deal_tags_set(deal=deal, tags=[*current, *names], by=by, origin=origin)
        changed += 1
    return changed
