"""`dealflow products list|add|update|import`: the product catalogue from a terminal (admins' settings)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from dealflow.cli.base import DealflowCommand, acting_user
from dealflow.core.errors import ApplicationError
from dealflow.core.money import from_minor
from dealflow.importers.contents import products_import
from dealflow.products.selectors import product_check_admin, product_get_by_code, product_list
from dealflow.products.services import product_create, product_update


def _prices(items: list[str]) -> dict[str, str]:
    prices = {}
    for item in items:
        currency, separator, amount = item.partition("=")
        if not separator:
            raise ApplicationError(
                _("--price takes CURRENCY=AMOUNT, got %(value)r.") % {"value": item}, field="price"
            )
        prices[currency.strip().upper()] = amount.strip()
    return prices


class Command(DealflowCommand):
    help = _("List, add, change or import the products deals are built from.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help=_("The catalogue."))
        listing.add_argument("--all", action="store_true", help=_("Retired products too."))
        for name in ("add", "update"):
            command = sub.add_parser(
                name, help=_("Add a product.") if name == "add" else _("Change a product.")
            )
            command.add_argument("code")
            command.add_argument("--name", required=name == "add")
            command.add_argument("--price", action="append", default=[], metavar="CUR=AMOUNT")
            command.add_argument("--unit")
            command.add_argument("--tax", dest="tax_rate", help=_("Tax rate in percent."))
            command.add_argument("--billing", choices=["one_off", "monthly", "yearly"])
            command.add_argument("--term", dest="term_months", help=_("Term in months (recurring products)."))
            command.add_argument("--description")
            if name == "update":
                command.add_argument("--retire", action="store_true")
                command.add_argument("--activate", action="store_true")
            command.add_argument("--user")
        importing = sub.add_parser("import", help=_("Create or update products from a CSV or XLSX file."))
        importing.add_argument("file")
        importing.add_argument("--user")

    def handle(self, *args, action: str, **options):
        if action == "list":
            for product in product_list(include_inactive=options["all"]):
                prices = ", ".join(
                    f"{price.currency} {from_minor(price.unit_price_minor, price.currency)}"
                    for price in product.prices.all()
                )
                term = f" {product.billing} x{product.term_months}" if product.term_months else ""
                retired = "" if product.is_active else f" [{_('retired')}]"
                self.stdout.write(
                    f"{product.code}\t{product.name}\t{prices}\t{product.tax_rate}%{term}{retired}"
                )
            return
        user = acting_user(options.get("user"))
        product_check_admin(user=user)
        if action == "import":
            result = products_import(path=options["file"], by=user)
            self.stdout.write(
                self.style.SUCCESS(
                    _("%(count)s products read, %(created)s new.")
                    % {"count": result.records, "created": result.lines}
                )
            )
            if result.ignored_columns:
                self.stdout.write(
                    _("Columns not imported: %(names)s") % {"names": ", ".join(result.ignored_columns)}
                )
            return
        data = {
            name: options[name]
            for name in ("name", "unit", "tax_rate", "billing", "term_months", "description")
            if options.get(name) is not None
        }
        if options["price"]:
            data["prices"] = _prices(options["price"])
        if action == "add":
            product = product_create(code=options["code"], by=user, **data)
            self.stdout.write(self.style.SUCCESS(_("Added %(code)s.") % {"code": product.code}))
            return
        if options.get("retire") or options.get("activate"):
            data["is_active"] = bool(options.get("activate"))
        product = product_update(
            product=product_get_by_code(code=options["code"], field="code"), data=data, by=user
        )
        self.stdout.write(self.style.SUCCESS(_("Saved %(code)s.") % {"code": product.code}))
