"""What a bulk load into idle tables sets aside while its rows go in, and builds again once after.

Building an index once over loaded rows sorts its keys; keeping it up to date row by row costs a B-tree
insert per row and index (three times slower inserts at a million deals). The bulk writer sets aside the
secondary indexes of the deal tables this way, and the search index those of its entries.
"""

from __future__ import annotations

from typing import Any


def secondary_indexes_drop(cursor: Any, *, is_postgres: bool, tables: list[str]) -> list[str]:
    """Drop the secondary (non-unique) indexes of ``tables``; the statements that create them again, in order.

    Unique indexes stay: they are what refuses a duplicate row during the load.
    """
    if is_postgres:
        cursor.execute(
            "SELECT indexname, indexdef, tablename FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = ANY(%s) AND indexdef NOT LIKE %s ORDER BY indexname",
            [tables, "CREATE UNIQUE%"],
        )
    else:
        cursor.execute(
            "SELECT name, sql, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "AND sql NOT LIKE %s ORDER BY name",
            ["CREATE UNIQUE%"],
        )
    statements: list[str] = []
    for name, definition, table in cursor.fetchall():
        if table not in tables:
            continue
        cursor.execute(f'DROP INDEX "{name}"')
        statements.append(definition)
    return statements


def indexes_create(cursor: Any, *, is_postgres: bool, statements: list[str]) -> None:
    """Run the statements ``secondary_indexes_drop`` returned, each removed from the list once it ran (a
    failure leaves the rest to run), with a sort in memory on PostgreSQL (SQLite's sorter uses the load's
    page cache and a second core)."""
    if not statements:
        return
    if is_postgres:
        cursor.execute("SET maintenance_work_mem = '256MB'")
    while statements:
        cursor.execute(statements[0])
        statements.pop(0)
    if is_postgres:
        cursor.execute("RESET maintenance_work_mem")
