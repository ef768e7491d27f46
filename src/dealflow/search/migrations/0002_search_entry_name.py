"""An index on (kind, name) so "organisations and persons whose name starts with the first word" reads only
those rows (search/selectors.py), on each engine in the form its LIKE or range comparison can use."""

from django.db import migrations

POSTGRESQL = "CREATE INDEX IF NOT EXISTS search_entry_name ON search_searchentry (kind, lower(title) text_pattern_ops)"
SQLITE = "CREATE INDEX IF NOT EXISTS search_entry_name ON search_searchentry (kind, title COLLATE NOCASE)"


def name_index(apps, schema_editor):
    schema_editor.execute(POSTGRESQL if schema_editor.connection.vendor == "postgresql" else SQLITE)


def name_index_drop(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS search_entry_name")


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial")]

    operations = [migrations.RunPython(name_index, name_index_drop)]
