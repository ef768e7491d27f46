"""One row per searchable record (deal, organization, person, lead, activity), written by the services.

The row carries what a result shows (title, subtitle) and who may see it (owner; no owner = the
company's, for contacts). The full-text index lives beside it: on PostgreSQL a tsvector column
``document`` with a GIN index (``to_tsvector('simple', unaccent(text))``); on SQLite an FTS5 table
``search_entry_fts`` whose rowid is the entry's id. Migrations create whichever the engine has.
"""

from __future__ import annotations

from django.db import models


class SearchKind(models.TextChoices):
    DEAL = "deal", "Deal"
    ORGANIZATION = "organization", "Organization"
    PERSON = "person", "Person"
    LEAD = "lead", "Lead"
    ACTIVITY = "activity", "Activity"


class SearchEntry(models.Model):
    kind = models.CharField(max_length=12, choices=SearchKind.choices)
    object_id = models.BigIntegerField()
    owner = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # Meta's search_entry_owner is the index (two identical indexes were kept until 0003)
        related_name="+",
    )
    title = models.CharField(max_length=300)
    subtitle = models.CharField(max_length=300, blank=True, default="")
    text = models.TextField(
        blank=True, default=""
    )  # what the index reads (accents kept; the index drops them)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "object_id"], name="search_entry_once")]
        indexes = [models.Index(fields=["owner"], name="search_entry_owner")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.object_id}"
