"""The product catalogue (admins write it) and the line items of deals with their totals."""

from __future__ import annotations

from decimal import Decimal

from ninja import Query, Router, Schema, Status

from dealflow.api.base import ApiRequest
from dealflow.api.schemas import Id, Version, decimal_text, money_text
from dealflow.core.parameters import text_parameter
from dealflow.deals.selectors import deal_get_for_user
from dealflow.deals.selectors_contents import DealContents, deal_contents_of
from dealflow.deals.services import deal_lines_set
from dealflow.products.models import Product
from dealflow.products.selectors import product_check_admin, product_get, product_list
from dealflow.products.services import product_create, product_update

router = Router(tags=["Products"])


class ProductOut(Schema):
    id: int
    name: str
    code: str
    description: str
    unit: str
    tax_rate: str
    billing: str
    term_months: int | None
    is_active: bool
    prices: dict[str, str]

    @staticmethod
    def resolve_tax_rate(product: Product) -> str | None:
        return decimal_text(product.tax_rate)

    @staticmethod
    def resolve_prices(product: Product) -> dict[str, str]:
        return {
            price.currency: money_text(price.unit_price_minor, price.currency) or ""
            for price in product.prices.all()
        }


class ProductIn(Schema):
    name: str
    code: str
    prices: dict[str, Decimal] = {}
    unit: str = ""
    description: str = ""
    tax_rate: Decimal = Decimal(0)
    billing: str = "one_off"
    term_months: int | None = None
    is_active: bool = True


class ProductUpdateIn(Schema):
    name: str | None = None
    code: str | None = None
    prices: dict[str, Decimal] | None = None
    unit: str | None = None
    description: str | None = None
    tax_rate: Decimal | None = None
    billing: str | None = None
    term_months: int | None = None
    is_active: bool | None = None


class ProductQuery(Schema):
    q: str = ""
    include_inactive: bool = False


@router.get("/products", response=list[ProductOut])
def list_products(request: ApiRequest, query: Query[ProductQuery]):
    """The catalogue by name (active products unless `include_inactive`), searched by name or code."""
    # Checked here (a NUL byte is a 400 naming `q`) and read here: a lazy list would meet the database's
    # refusal only while the answer is written, past the API's error handlers (a 500).
    search = text_parameter({"q": query.q}, "q") or ""
    return list(product_list(include_inactive=query.include_inactive, search=search))


@router.post("/products", response={201: ProductOut})
def create_product(request: ApiRequest, payload: ProductIn):
    """Add a product with its unit price per currency (admins)."""
    product_check_admin(user=request.user)
    product = product_create(**payload.dict(), by=request.user)
    return Status(201, product_get(product_id=product.pk))


@router.get("/products/{product_id}", response=ProductOut)
def get_product(request: ApiRequest, product_id: Id):
    return product_get(product_id=product_id)


@router.patch("/products/{product_id}", response=ProductOut)
def update_product(request: ApiRequest, product_id: Id, payload: ProductUpdateIn):
    """Change a product (admins); `prices` replaces the whole price list. Lines on deals keep their prices."""
    product_check_admin(user=request.user)
    product = product_get(product_id=product_id)
    product_update(product=product, data=payload.dict(exclude_unset=True), by=request.user)
    return product_get(product_id=product_id)


class LineOut(Schema):
    id: int
    position: int
    product_id: int | None
    product_code: str | None
    description: str
    quantity: str
    unit_price: str
    currency: str
    discount_percent: str
    tax_rate: str
    billing: str
    term_months: int | None
    net: str
    tax: str
    mrr: str
    arr: str
    tcv: str
    value_in_deal_currency: str


class TotalsOut(Schema):
    currency: str
    basis: str  # what a recurring line adds to the deal amount: tcv or arr
    net: str
    tax: str
    gross: str
    one_off: str
    mrr: str
    arr: str
    tcv: str
    amount: str  # the deal amount: the sum of the lines' values under the basis


class DealLinesOut(Schema):
    deal_id: int
    version: int
    lines: list[LineOut]
    totals: TotalsOut


def deal_lines_out(contents: DealContents) -> dict:
    """A deal's lines and totals as the API speaks them (money as decimal strings)."""
    deal, totals = contents.deal, contents.totals
    lines = []
    for line, figures in contents.rows:
        code = line.currency
        lines.append(
            {
                "id": line.pk,
                "position": line.position,
                "product_id": line.product_id,
                "product_code": line.product.code if line.product else None,
                "description": line.description,
                "quantity": decimal_text(line.quantity),
                "unit_price": money_text(line.unit_price_minor, code),
                "currency": code,
                "discount_percent": decimal_text(line.discount_percent),
                "tax_rate": decimal_text(line.tax_rate),
                "billing": line.billing,
                "term_months": line.term_months,
                "net": money_text(figures.net_minor, code),
                "tax": money_text(figures.tax_minor, code),
                "mrr": money_text(figures.mrr_minor, code),
                "arr": money_text(figures.arr_minor, code),
                "tcv": money_text(figures.tcv_minor, code),
                "value_in_deal_currency": money_text(line.deal_value_minor, deal.currency),
            }
        )
    code = totals.currency
    return {
        "deal_id": deal.pk,
        "version": deal.version,
        "lines": lines,
        "totals": {
            "currency": code,
            "basis": contents.basis,
            "net": money_text(totals.net_minor, code),
            "tax": money_text(totals.tax_minor, code),
            "gross": money_text(totals.gross_minor, code),
            "one_off": money_text(totals.one_off_minor, code),
            "mrr": money_text(totals.mrr_minor, code),
            "arr": money_text(totals.arr_minor, code),
            "tcv": money_text(totals.tcv_minor, code),
            "amount": money_text(deal.amount_minor, deal.currency),
        },
    }


class LineIn(Schema):
    product_id: Id | None = None
    product_code: str | None = None
    description: str | None = None
    quantity: Decimal = Decimal(1)
    unit_price: Decimal | None = None  # default: the catalogue's price in the line's currency
    currency: str | None = None  # default: the deal's
    discount_percent: Decimal = Decimal(0)
    tax_rate: Decimal | None = None  # default: the product's
    billing: str | None = None
    term_months: int | None = None


class DealLinesIn(Schema):
    lines: list[LineIn]
    version: Version | None = None


@router.get("/deals/{deal_id}/lines", response=DealLinesOut, tags=["Deals"])
def get_deal_lines(request: ApiRequest, deal_id: Id):
    """A deal's line items with one-off, MRR, ARR and TCV per line and in total (in the deal's currency)."""
    return deal_lines_out(deal_contents_of(deal=deal_get_for_user(deal_id=deal_id, user=request.user)))


@router.put("/deals/{deal_id}/lines", response=DealLinesOut, tags=["Deals"])
def set_deal_lines(request: ApiRequest, deal_id: Id, payload: DealLinesIn):
    """Replace the deal's lines; its amount becomes their sum (an amount event, like any amount change)."""
    deal = deal_get_for_user(deal_id=deal_id, user=request.user, for_write=True)
    lines = []
    for index, line in enumerate(payload.lines):
        data = line.dict(exclude_none=True)
        if "product_id" in data:
            data["product"] = _product(data.pop("product_id"), index)
        lines.append(data)
    deal_lines_set(deal=deal, lines=lines, by=request.user, expected_version=payload.version, origin="api")
    return deal_lines_out(deal_contents_of(deal=deal))


def _product(product_id: int, index: int) -> Product:
    from dealflow.core.errors import ApplicationError

    product = product_list(include_inactive=True).filter(pk=product_id).first()
    if product is None:
        raise ApplicationError(f"Line {index + 1}: no such product.", field=f"lines.{index}.product_id")
    return product
