"""Trigram indexes (pg_trgm) for the substring searches of the lists, on PostgreSQL only.

The deals list and the leads inbox find rows whose organization name, person's last name or e-mail contains
what was typed (``deals.selectors.text_search_q``); ``icontains`` is ``UPPER(column::text) LIKE UPPER(%s)``,
which a GIN index over the same expression with ``gin_trgm_ops`` answers for three characters or more.
SQLite has no such index; there the search reads the rows (issue #19 measures it).
"""

from django.db import migrations

INDEXES = [
    ("contacts_org_name_trgm", "contacts_organization", "name"),
    ("contacts_person_last_name_trgm", "contacts_person", "last_name"),
    ("contacts_person_email_trgm", "contacts_person", "email"),
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
    dependencies = [("contacts", "0002_trash")]
    operations = [migrations.RunPython(create, drop)]
