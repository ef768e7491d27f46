"""Custom fields admins define for deals, organisations, persons and leads, and the values records hold.

Values live in one JSON document per record (``<Entity>FieldValues.data``, key -> value), in a table of
this app beside the record. On PostgreSQL a GIN index (jsonb_path_ops) serves equality filters
(``data @> {"key": value}``); on SQLite the same filters read ``json_extract`` (docs/custom-fields.md).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from dealflow.core.models import BaseModel


class Entity(models.TextChoices):
    DEAL = "deal", _("Deal")
    ORGANIZATION = "organization", _("Organisation")
    PERSON = "person", _("Person")
    LEAD = "lead", _("Lead")


class FieldKind(models.TextChoices):
    TEXT = "text", _("Text")
    LONG_TEXT = "long_text", _("Long text")
    NUMBER = "number", _("Number")
    MONEY = "money", _("Money")
    DATE = "date", _("Date")
    CHOICE = "choice", _("Single choice")
    MULTI_CHOICE = "multi_choice", _("Multiple choice")
    CHECKBOX = "checkbox", _("Checkbox")
    URL = "url", _("URL")
    EMAIL = "email", _("E-mail")


class CustomField(BaseModel):
    entity = models.CharField(max_length=12, choices=Entity.choices)
    key = models.SlugField(max_length=40)  # the name in the API, exports and import mappings
    label = models.CharField(max_length=80)
    kind = models.CharField(max_length=12, choices=FieldKind.choices)
    is_required = models.BooleanField(default=False)
    choices = models.JSONField(default=list, blank=True)  # the options of a (multiple) choice field
    currency = models.CharField(max_length=3, blank=True, default="")  # a money field's currency
    # A deal field may belong to one pipeline (shown and required only there); none means every pipeline.
    pipeline = models.ForeignKey(
        "deals.Pipeline", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    help_text = models.CharField(max_length=200, blank=True, default="")
    order = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["entity", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["entity", "key"], name="custom_field_key_unique_per_entity")
        ]

    def __str__(self) -> str:
        return f"{self.entity}.{self.key}"


class FieldValues(models.Model):
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True


class DealFieldValues(FieldValues):
    deal = models.OneToOneField(
        "deals.Deal", primary_key=True, on_delete=models.CASCADE, related_name="custom_values"
    )

    def __str__(self) -> str:
        return f"custom values of deal {self.deal_id}"


class OrganizationFieldValues(FieldValues):
    organization = models.OneToOneField(
        "contacts.Organization", primary_key=True, on_delete=models.CASCADE, related_name="custom_values"
    )

    def __str__(self) -> str:
        return f"custom values of organisation {self.organization_id}"


class PersonFieldValues(FieldValues):
    person = models.OneToOneField(
        "contacts.Person", primary_key=True, on_delete=models.CASCADE, related_name="custom_values"
    )

    def __str__(self) -> str:
        return f"custom values of person {self.person_id}"


class LeadFieldValues(FieldValues):
    lead = models.OneToOneField(
        "deals.Lead", primary_key=True, on_delete=models.CASCADE, related_name="custom_values"
    )

    def __str__(self) -> str:
        return f"custom values of lead {self.lead_id}"


VALUE_MODELS: dict[str, Any] = {
    Entity.DEAL: DealFieldValues,
    Entity.ORGANIZATION: OrganizationFieldValues,
    Entity.PERSON: PersonFieldValues,
    Entity.LEAD: LeadFieldValues,
}
# The column of each value table that points at its record.
OWNER_COLUMN: dict[str, str] = {
    Entity.DEAL: "deal_id",
    Entity.ORGANIZATION: "organization_id",
    Entity.PERSON: "person_id",
    Entity.LEAD: "lead_id",
}
