"""A review's frozen snapshot is immutable: triggers refuse UPDATE and DELETE on both engines (like DealEvent)."""

from django.db import migrations

TABLES = ["reviews_reviewsnapshot", "reviews_reviewdeal"]


def sqlite_guard(table):
    return [
        f"""CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
            BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;""",
        f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
            BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;""",
    ]


def sqlite_unguard(table):
    return [f"DROP TRIGGER IF EXISTS {table}_no_update;", f"DROP TRIGGER IF EXISTS {table}_no_delete;"]


POSTGRES_FUNCTION = """CREATE OR REPLACE FUNCTION reviews_refuse_change() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION '%% is append-only (%% refused)', TG_TABLE_NAME, TG_OP; END;
    $$ LANGUAGE plpgsql;"""


def postgres_guard(table):
    return [
        f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION reviews_refuse_change();""",
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION reviews_refuse_change();""",
    ]


def postgres_unguard(table):
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};",
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};",
    ]


def guard(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    if postgres:
        schema_editor.execute(POSTGRES_FUNCTION)
    for table in TABLES:
        for statement in postgres_guard(table) if postgres else sqlite_guard(table):
            schema_editor.execute(statement)


def unguard(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    for table in TABLES:
        for statement in postgres_unguard(table) if postgres else sqlite_unguard(table):
            schema_editor.execute(statement)
    if postgres:
        schema_editor.execute("DROP FUNCTION IF EXISTS reviews_refuse_change();")


class Migration(migrations.Migration):
    dependencies = [("reviews", "0001_initial")]

    operations = [migrations.RunPython(guard, unguard)]
