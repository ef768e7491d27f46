"""Merges of duplicate organizations and persons, kept for an admin to review (what went where, by whom)."""

from __future__ import annotations

from django.db import models


class ContactMerge(models.Model):
    kind = models.CharField(max_length=12)  # organization or person
    survivor_id = models.BigIntegerField()
    survivor_name = models.CharField(max_length=200)
    merged_id = models.BigIntegerField()
    merged_name = models.CharField(max_length=200)
    merged_data = models.JSONField(default=dict)  # the merged record's fields as they were
    moved = models.JSONField(default=dict)  # {"deals": [ids], "leads": [...], "persons": [...], ...}
    by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.merged_name} -> {self.survivor_name}"


class SavedView(models.Model):
    """A named deals-list query (filters and sort, as the list's query string) a user saved; shared ones
    are offered to the members of ``team``."""

    owner = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=2000, blank=True, default="")
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="saved_view_name_once")]

    def __str__(self) -> str:
        return self.name
