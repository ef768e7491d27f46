"""The product catalogue and the line items of deals.

A line keeps a copy of everything it was priced with (unit price, currency, tax rate, billing, term), so a
later change to the catalogue never changes a deal's history. Its money columns are write-time derived:
only ``dealflow.deals.services.lines`` writes lines, through ``products.calculations``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from dealflow.core.models import BaseModel
from dealflow.products.calculations import LinePrice


class Billing(models.TextChoices):
    ONE_OFF = "one_off", _("One-off")
    MONTHLY = "monthly", _("Monthly")
    YEARLY = "yearly", _("Yearly")


class Product(BaseModel):
    name = models.CharField(max_length=200)
    code = models.CharField(max_length=40, unique=True)
    description = models.TextField(blank=True, default="")
    unit = models.CharField(max_length=40, blank=True, default="")  # "seat", "hour", "licence"
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, default=0)  # percent, e.g. 21.00
    billing = models.CharField(max_length=8, choices=Billing.choices, default=Billing.ONE_OFF)
    term_months = models.PositiveIntegerField(null=True, blank=True)  # recurring products only
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(tax_rate__gte=0) & Q(tax_rate__lte=100), name="product_tax_rate_0_100"
            ),
            models.CheckConstraint(
                condition=Q(billing="one_off", term_months__isnull=True)
                | (~Q(billing="one_off") & Q(term_months__gte=1)),
                name="product_term_only_when_recurring",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def is_recurring(self) -> bool:
        return self.billing != Billing.ONE_OFF


class ProductPrice(BaseModel):
    """The unit price of a product in one currency (per billing period for a recurring product)."""

    product = models.ForeignKey("products.Product", on_delete=models.CASCADE, related_name="prices")
    currency = models.CharField(max_length=3)
    unit_price_minor = models.BigIntegerField()

    class Meta:
        ordering = ["product_id", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["product", "currency"], name="product_price_one_per_currency"),
            models.CheckConstraint(condition=Q(unit_price_minor__gte=0), name="product_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} {self.currency} {self.unit_price_minor}"


class DealLine(BaseModel):
    """One line item of a deal, priced and totalled when it was written."""

    deal = models.ForeignKey("deals.Deal", on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        "products.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="deal_lines"
    )
    position = models.PositiveIntegerField(default=0)
    description = models.CharField(max_length=200)
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    unit_price_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    billing = models.CharField(max_length=8, choices=Billing.choices, default=Billing.ONE_OFF)
    term_months = models.PositiveIntegerField(null=True, blank=True)
    # Write-time derived, in the line's currency (products.calculations, rounding half up per line):
    net_minor = models.BigIntegerField()  # one period after discount, before tax
    tax_minor = models.BigIntegerField()  # tax on net_minor
    value_minor = models.BigIntegerField()  # what the line adds to the deal: one-off net, or its TCV
    mrr_minor = models.BigIntegerField(default=0)
    rate_to_deal = models.DecimalField(max_digits=18, decimal_places=8, default=1)  # deal currency per unit
    # value_minor in the deal's currency (converted when the line's currency differs): the deal amount is
    # the sum of this column.
    deal_value_minor = models.BigIntegerField()

    class Meta:
        ordering = ["deal_id", "position", "id"]
        indexes = [models.Index(fields=["product", "deal"], name="deal_line_by_product")]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="deal_line_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price_minor__gte=0), name="deal_line_price_not_negative"),
            models.CheckConstraint(
                condition=Q(discount_percent__gte=0) & Q(discount_percent__lte=100),
                name="deal_line_discount_0_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.description}"

    @property
    def quantity_places(self) -> int:
        """Decimals the quantity needs when shown: 2.000 shows as 2, 1.500 as 1.5."""
        return max(0, -int(self.quantity.normalize().as_tuple().exponent))

    @property
    def price(self) -> LinePrice:
        """What the line was priced with, for products.calculations.line_totals."""
        return LinePrice(
            quantity=self.quantity,
            unit_price_minor=self.unit_price_minor,
            currency=self.currency,
            discount_percent=self.discount_percent,
            tax_rate=self.tax_rate,
            billing=self.billing,
            term_months=self.term_months,
        )
