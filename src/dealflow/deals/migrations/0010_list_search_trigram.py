"""Trigram indexes (pg_trgm) on the titles of deals and leads, on PostgreSQL only: the deals list's and the
leads inbox's search is ``UPPER(title::text) LIKE UPPER('%...%')`` (``deals.selectors.text_search_q``),
which a GIN index over the same expression answers; without it every search read all deals (1.4 s at 1M).
SQLite has no such index; there the search reads the rows.
"""

from django.db import migrations

INDEXES = [
    ("deals_deal_title_trgm", "deals_deal", "title"),
    ("deals_lead_title_trgm", "deals_lead", "title"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING gin (UPPER("{column}"::text) gin_trgm_ops)'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("deals", "0009_lead_monthly_totals")]
    operations = [migrations.RunPython(create, drop)]
