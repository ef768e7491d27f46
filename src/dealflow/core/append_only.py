"""The one append-only guard: triggers that refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) of a table.

Migrations call ``append_only_operation(tables=..., function=...)``; the model side is
``core.models.AppendOnlyModel``. The statements are exactly those the first guards (DealEvent, forecast
and review snapshots) were written with, so existing databases and new ones hold the same triggers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import migrations


def sqlite_guard(table: str) -> list[str]:
    return [
        f"""CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
            BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;""",
        f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
            BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;""",
    ]


def sqlite_unguard(table: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {table}_no_update;", f"DROP TRIGGER IF EXISTS {table}_no_delete;"]


def postgres_function(function: str) -> str:
    """The trigger function: '<table> is append-only (UPDATE refused)'."""
    return f"""CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION '%% is append-only (%% refused)', TG_TABLE_NAME, TG_OP; END;
    $$ LANGUAGE plpgsql;"""


def postgres_guard(table: str, function: str) -> list[str]:
    return [
        f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION {function}();""",
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION {function}();""",
    ]


def postgres_unguard(table: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};",
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};",
    ]


def append_only_operation(*, tables: Sequence[str], function: str) -> migrations.RunPython:
    """A migration operation that guards ``tables`` (``function`` names the PostgreSQL trigger function)."""

    def guard(apps: Any, schema_editor: Any) -> None:
        postgres = schema_editor.connection.vendor == "postgresql"
        if postgres:
            schema_editor.execute(postgres_function(function))
        for table in tables:
            for statement in postgres_guard(table, function) if postgres else sqlite_guard(table):
                schema_editor.execute(statement)

    def unguard(apps: Any, schema_editor: Any) -> None:
        postgres = schema_editor.connection.vendor == "postgresql"
        for table in tables:
            for statement in postgres_unguard(table) if postgres else sqlite_unguard(table):
                schema_editor.execute(statement)
        if postgres:
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}();")

    return migrations.RunPython(guard, unguard)
