"""SearchEntry.owner had two identical indexes: the foreign key's own (search_searchentry_owner_id_491354c0)
and Meta's search_entry_owner. The foreign key's goes; Meta's stays.

The field changes in the state only: on SQLite an AlterField remakes the table, which would drop the
full-text triggers of 0001 and the hand-written search_entry_name index of 0002 with it.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

INDEX = "search_searchentry_owner_id_491354c0"


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0002_search_entry_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="searchentry",
                    name="owner",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {INDEX}",
                    reverse_sql=f"CREATE INDEX IF NOT EXISTS {INDEX} ON search_searchentry (owner_id)",
                ),
            ],
        ),
    ]
