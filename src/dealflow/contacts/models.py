from __future__ import annotations

from django.db import models
from django.db.models import Q

from dealflow.core.models import BaseModel, TrashableModel


class Organization(TrashableModel, BaseModel):
    name = models.CharField(max_length=200, db_index=True)
    website = models.CharField(max_length=200, blank=True, default="")
    industry = models.CharField(max_length=80, blank=True, default="")
    country = models.CharField(max_length=2, blank=True, default="")
    owner = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    external_source = models.CharField(max_length=40, blank=True, default="")
    external_id = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["external_source", "external_id"]),
            models.Index(
                fields=["deleted_at"], condition=Q(deleted_at__isnull=False), name="organization_in_trash"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Person(TrashableModel, BaseModel):
    first_name = models.CharField(max_length=100, blank=True, default="")
    last_name = models.CharField(max_length=100, blank=True, default="")
    email = models.EmailField(blank=True, default="", db_index=True)
    phone = models.CharField(max_length=40, blank=True, default="")
    job_title = models.CharField(max_length=120, blank=True, default="")
    organization = models.ForeignKey(
        "contacts.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="people"
    )
    owner = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    external_source = models.CharField(max_length=40, blank=True, default="")
    external_id = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        ordering = ["last_name", "first_name"]
        indexes = [
            models.Index(fields=["external_source", "external_id"]),
            models.Index(
                fields=["deleted_at"], condition=Q(deleted_at__isnull=False), name="person_in_trash"
            ),
        ]

    @property
    def full_name(self) -> str:
        return person_name_of(self.first_name, self.last_name, self.email)

    def __str__(self) -> str:
        return self.full_name


def person_name_of(first_name: str, last_name: str, email: str) -> str:
    """A person's name as the app shows it (full name, else e-mail), from the columns alone."""
    return f"{first_name} {last_name}".strip() or email
