"""Quotes: numbered, versioned offers made from a deal's lines. A sent quote never changes."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from dealflow.core.models import BaseModel


class QuoteStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SENT = "sent", _("Sent")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    SUPERSEDED = "superseded", _("Superseded")


class Quote(BaseModel):
    deal = models.ForeignKey("deals.Deal", on_delete=models.CASCADE, related_name="quotes")
    number = models.CharField(max_length=20)  # Q-2026-0007, the same for every version
    version = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=10, choices=QuoteStatus.choices, default=QuoteStatus.DRAFT)
    language = models.CharField(max_length=5, default="en")  # the customer's: en or nl
    currency = models.CharField(max_length=3)
    valid_until = models.DateField()
    terms = models.TextField(blank=True, default="")
    customer_name = models.CharField(max_length=200, blank=True, default="")
    recipient_email = models.EmailField(blank=True, default="")
    net_minor = models.BigIntegerField(default=0)
    tax_minor = models.BigIntegerField(default=0)
    one_off_minor = models.BigIntegerField(default=0)
    mrr_minor = models.BigIntegerField(default=0)
    tcv_minor = models.BigIntegerField(default=0)
    created_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    sent_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["deal_id", "number", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["number", "version"], name="quote_number_version_unique"),
            models.CheckConstraint(condition=Q(language__in=["en", "nl"]), name="quote_language_en_nl"),
        ]

    def __str__(self) -> str:
        return f"{self.number} v{self.version}"

    @property
    def gross_minor(self) -> int:
        return self.net_minor + self.tax_minor

    @property
    def is_frozen(self) -> bool:
        return self.status != QuoteStatus.DRAFT


class QuoteLine(models.Model):
    quote = models.ForeignKey("quotes.Quote", on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    product_code = models.CharField(max_length=40, blank=True, default="")
    description = models.CharField(max_length=200)
    unit = models.CharField(max_length=40, blank=True, default="")
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    unit_price_minor = models.BigIntegerField()
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    billing = models.CharField(max_length=8, default="one_off")
    term_months = models.PositiveIntegerField(null=True, blank=True)
    net_minor = models.BigIntegerField()
    tax_minor = models.BigIntegerField()
    tcv_minor = models.BigIntegerField()

    class Meta:
        ordering = ["quote_id", "position", "id"]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.description}"

    @property
    def quantity_places(self) -> int:
        """Decimals the quantity needs when shown: 2.000 shows as 2, 1.500 as 1.5."""
        return max(0, -int(self.quantity.normalize().as_tuple().exponent))


class AcceptAction(models.TextChoices):
    NOTHING = "nothing", _("Leave the deal where it is")
    MOVE = "move", _("Move the deal to a stage")
    WIN = "win", _("Mark the deal won")


class DeclineAction(models.TextChoices):
    NOTHING = "nothing", _("Leave the deal where it is")
    LOSE = "lose", _("Mark the deal lost")


class QuoteRule(BaseModel):
    """What accepting or declining a quote does to the deal, per pipeline (no rule: nothing)."""

    pipeline = models.OneToOneField("deals.Pipeline", on_delete=models.CASCADE, related_name="quote_rule")
    on_accept = models.CharField(max_length=8, choices=AcceptAction.choices, default=AcceptAction.NOTHING)
    accept_stage = models.ForeignKey(
        "deals.Stage", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    on_decline = models.CharField(max_length=8, choices=DeclineAction.choices, default=DeclineAction.NOTHING)
    decline_reason = models.ForeignKey(
        "deals.LostReason", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"quote rule of pipeline {self.pipeline_id}"
