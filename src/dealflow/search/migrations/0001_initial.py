from django.db import migrations, models

POSTGRESQL = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "ALTER TABLE search_searchentry ADD COLUMN document tsvector",
    "CREATE INDEX search_entry_document ON search_searchentry USING GIN (document)",
    """CREATE FUNCTION search_entry_document() RETURNS trigger AS $$
    BEGIN
        NEW.document := to_tsvector('simple', unaccent(coalesce(NEW.text, '')));
        RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER search_entry_document BEFORE INSERT OR UPDATE OF text ON search_searchentry
    FOR EACH ROW EXECUTE FUNCTION search_entry_document()""",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS search_entry_document ON search_searchentry",
    "DROP FUNCTION IF EXISTS search_entry_document()",
]
SQLITE = [
    """CREATE VIRTUAL TABLE search_entry_fts USING fts5(
        text, content='search_searchentry', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
    )""",
    """CREATE TRIGGER search_entry_fts_insert AFTER INSERT ON search_searchentry BEGIN
        INSERT INTO search_entry_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    """CREATE TRIGGER search_entry_fts_delete AFTER DELETE ON search_searchentry BEGIN
        INSERT INTO search_entry_fts(search_entry_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END""",
    """CREATE TRIGGER search_entry_fts_update AFTER UPDATE OF text ON search_searchentry BEGIN
        INSERT INTO search_entry_fts(search_entry_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO search_entry_fts(rowid, text) VALUES (new.id, new.text);
    END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS search_entry_fts_insert",
    "DROP TRIGGER IF EXISTS search_entry_fts_delete",
    "DROP TRIGGER IF EXISTS search_entry_fts_update",
    "DROP TABLE IF EXISTS search_entry_fts",
]


def full_text_index(apps, schema_editor):
    """The engine's own full-text index beside the entries (models.py says which)."""
    statements = POSTGRESQL if schema_editor.connection.vendor == "postgresql" else SQLITE
    for statement in statements:
        schema_editor.execute(statement)


def full_text_index_drop(apps, schema_editor):
    statements = POSTGRESQL_REVERSE if schema_editor.connection.vendor == "postgresql" else SQLITE_REVERSE
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    initial = True

    dependencies = [("accounts", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="SearchEntry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("deal", "Deal"),
                            ("organization", "Organization"),
                            ("person", "Person"),
                            ("lead", "Lead"),
                            ("activity", "Activity"),
                        ],
                        max_length=12,
                    ),
                ),
                ("object_id", models.BigIntegerField()),
                ("title", models.CharField(max_length=300)),
                ("subtitle", models.CharField(blank=True, default="", max_length=300)),
                ("text", models.TextField(blank=True, default="")),
                ("updated_at", models.DateTimeField()),
                (
                    "owner",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=models.deletion.DO_NOTHING,
                        related_name="+",
                        to="accounts.user",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["owner"], name="search_entry_owner")],
                "constraints": [models.UniqueConstraint(fields=("kind", "object_id"), name="search_entry_once")],
            },
        ),
        migrations.RunPython(full_text_index, full_text_index_drop),
    ]
