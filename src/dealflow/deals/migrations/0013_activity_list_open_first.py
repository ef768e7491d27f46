"""The activity list puts open activities (no done_at) first on every engine (deals.selectors.
activity_list_for_user orders by done_at ASC NULLS FIRST). SQLite's ascending order already puts NULLs
first and it refuses NULLS FIRST in an index, so its index stays as the model declares it; PostgreSQL's
index is rebuilt in the list's order so that the first page is still read from it and not sorted."""

from django.db import migrations

INDEX = "activity_list_order"
TABLE = "deals_activity"


def rebuild(columns: str):
    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(f'DROP INDEX IF EXISTS "{INDEX}"')
        schema_editor.execute(
            f'CREATE INDEX "{INDEX}" ON "{TABLE}" ({columns}, "due_at", "id") WHERE "deleted_at" IS NULL'
        )

    return forwards


class Migration(migrations.Migration):
    dependencies = [("deals", "0012_dashboard_read_indexes")]

    operations = [
        migrations.RunPython(
            rebuild('"done_at" ASC NULLS FIRST'), reverse_code=rebuild('"done_at"'), elidable=False
        ),
    ]
