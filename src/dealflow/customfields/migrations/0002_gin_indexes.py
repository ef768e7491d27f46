"""GIN indexes (jsonb_path_ops) on the values documents, on PostgreSQL only: custom-field filters are
containment queries (``data @> '{"key": value}'``) that these indexes answer. SQLite has no GIN; there the
filters read json_extract row by row."""

from django.db import migrations

TABLES = [
    "customfields_dealfieldvalues",
    "customfields_organizationfieldvalues",
    "customfields_personfieldvalues",
    "customfields_leadfieldvalues",
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f'CREATE INDEX "{table}_data_gin" ON "{table}" USING gin ("data" jsonb_path_ops)')


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{table}_data_gin"')


class Migration(migrations.Migration):
    dependencies = [("customfields", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
