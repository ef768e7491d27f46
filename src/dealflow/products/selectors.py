"""Catalogue reads: everybody signed in reads the catalogue; admins change it."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from dealflow.accounts.models import User
from dealflow.accounts.selectors import user_is_admin
from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.products.models import DealLine, Product, ProductPrice


def product_check_admin(*, user: User) -> None:
    """The catalogue is an admin setting."""
    if not user_is_admin(user=user):
        raise PermissionDeniedError("Only an admin may change the product catalogue.", field="user")


def product_list(*, include_inactive: bool = False, search: str = "") -> QuerySet[Product]:
    """Products by name with their prices."""
    products = Product.objects.prefetch_related(Prefetch("prices", ProductPrice.objects.order_by("currency")))
    if not include_inactive:
        products = products.filter(is_active=True)
    if search:
        products = products.filter(Q(name__icontains=search) | Q(code__icontains=search))
    return products.order_by("name", "id")


def product_choices() -> list[tuple[int, str]]:
    """(id, "Name (CODE)") of the active products, for a picker: one query, no prices."""
    rows = Product.objects.filter(is_active=True).order_by("name", "id").values_list("pk", "name", "code")
    return [(pk, f"{name} ({code})") for pk, name, code in rows]


def product_get(*, product_id: int) -> Product:
    """One product (404 when there is none)."""
    product = product_list(include_inactive=True).filter(pk=product_id).first()
    if product is None:
        raise Http404("No such product.")
    return product


def product_get_by_code(*, code: str, field: str = "product") -> Product:
    """The product with this code (any case), for imports and the CLI; an error naming the field if none."""
    product = product_list(include_inactive=True).filter(code__iexact=str(code or "").strip()).first()
    if product is None:
        raise ApplicationError(f"There is no product with the code {code!r}.", field=field)
    return product


def product_unit_price_minor(*, product: Product, currency: str) -> int | None:
    """The catalogue's unit price of ``product`` in ``currency`` (None when it has no price there)."""
    for price in product.prices.all():
        if price.currency == currency:
            return price.unit_price_minor
    return None


def deal_line_list(*, deal_id: int) -> QuerySet[DealLine]:
    """A deal's lines in order (the caller has already passed the deal's access gate)."""
    return DealLine.objects.filter(deal_id=deal_id).select_related("product").order_by("position", "id")
