"""Tags: one shared vocabulary of labels put on deals, organisations and persons."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.functions import Lower

from dealflow.core.models import BaseModel


class Tag(BaseModel):
    name = models.CharField(max_length=40)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="tag_name_unique_any_case")]

    def __str__(self) -> str:
        return self.name


class DealTag(models.Model):
    deal = models.ForeignKey("deals.Deal", on_delete=models.CASCADE, related_name="tag_links")
    tag = models.ForeignKey("tags.Tag", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["deal", "tag"], name="deal_tag_once")]
        indexes = [models.Index(fields=["tag", "deal"], name="deal_tag_by_tag")]

    def __str__(self) -> str:
        return f"{self.deal_id}:{self.tag_id}"


class OrganizationTag(models.Model):
    organization = models.ForeignKey(
        "contacts.Organization", on_delete=models.CASCADE, related_name="tag_links"
    )
    tag = models.ForeignKey("tags.Tag", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "tag"], name="organization_tag_once")]
        indexes = [models.Index(fields=["tag", "organization"], name="organization_tag_by_tag")]

    def __str__(self) -> str:
        return f"{self.organization_id}:{self.tag_id}"


class PersonTag(models.Model):
    person = models.ForeignKey("contacts.Person", on_delete=models.CASCADE, related_name="tag_links")
    tag = models.ForeignKey("tags.Tag", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person", "tag"], name="person_tag_once")]
        indexes = [models.Index(fields=["tag", "person"], name="person_tag_by_tag")]

    def __str__(self) -> str:
        return f"{self.person_id}:{self.tag_id}"


# entity -> (link model, the link's column naming the record)
LINKS: dict[str, tuple[Any, str]] = {
    "deal": (DealTag, "deal_id"),
    "organization": (OrganizationTag, "organization_id"),
    "person": (PersonTag, "person_id"),
}
