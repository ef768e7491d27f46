"""Copy a PostgreSQL benchmark database into a SQLite one: `python -m benchmarks sqlite_copy --source perf_1m
--target perf_1m_sqlite` (then `python -m benchmarks pages --engine sqlite --database perf_1m_sqlite ...`).

Building the 1M-deal demo straight into SQLite did not finish in the time a session has on 2 cores (the
generator at 130-290 deals a second while other work ran, then the history, the search index and the
forecasting steps); the PostgreSQL build of the same demo (seed 42) takes about 100 minutes. This copies
that database row for row instead: the SQLite schema comes from the migrations (FTS5 search table and its
triggers included), every table of every installed model is emptied and filled from the PostgreSQL table
of the same name, values converted as Django's SQLite backend stores them, then ANALYZE. Both databases
must be at the same migration (migrate the source first). It prints the rows and seconds per table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from benchmarks import common

BATCH = 20_000
# Stored by SQLite as psycopg returns them (ints, strings, floats).
PLAIN = {
    "AutoField",
    "BigAutoField",
    "SmallAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveBigIntegerField",
    "PositiveSmallIntegerField",
    "CharField",
    "TextField",
    "SlugField",
    "EmailField",
    "URLField",
    "FloatField",
    "GenericIPAddressField",
    "FilePathField",
    "FileField",
}


def _select(field: Any, column: str) -> tuple[str, Callable[[Any], Any] | None]:
    """The SELECT expression that gives ``field``'s value as Django's SQLite backend stores it (the work
    done by PostgreSQL in C, not per value in Python), and a Python conversion where SQL cannot say."""
    kind = field.get_internal_type()
    if kind in ("ForeignKey", "OneToOneField"):
        return _select(field.target_field, column)
    if kind in PLAIN:
        return column, None
    if kind == "DateTimeField":
        # UTC without a zone, microseconds only when there are some: what str(datetime) gives.
        text = f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
        return f"regexp_replace({text}, '\\.000000$', '')", None
    if kind in ("DateField", "TimeField", "DecimalField", "JSONField"):
        return f"{column}::text", None
    if kind == "UUIDField":
        return f"replace({column}::text, '-', '')", None
    if kind == "BooleanField":
        return f"{column}::int", None
    if kind == "DurationField":
        return f"(EXTRACT(EPOCH FROM {column}) * 1000000)::bigint", None
    if kind == "BinaryField":
        return column, bytes
    return column, _by_type


def _by_type(value: Any) -> Any:
    """A column whose field does not say (a custom field over a PostgreSQL type): by the value's type."""
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, dt.datetime):
        return (
            value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")
            if value.tzinfo
            else value.isoformat(" ")
        )
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks sqlite_copy")
    parser.add_argument("--source", required=True, help="PostgreSQL database on the benchmark server")
    parser.add_argument("--target", required=True, help="var/<target>.sqlite3, replaced")
    options = parser.parse_args(argv)
    for suffix in ("", "-wal", "-shm"):
        (common.VAR / f"{options.target}.sqlite3{suffix}").unlink(missing_ok=True)
    common.setup_django(common.database_url("sqlite", options.target))
    started = time.perf_counter()
    common.migrate()
    print(f"  schema from the migrations in {time.perf_counter() - started:.0f} s", flush=True)

    import psycopg
    from django.apps import apps
    from django.db import connection, transaction

    source_url = common.database_url("postgres", options.source).replace("postgres://", "postgresql://")
    models = [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    ]
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA foreign_keys = OFF")
        cursor.execute("PRAGMA synchronous = OFF")
    total_rows = 0
    with psycopg.connect(source_url) as source:
        known = {
            row[0] for row in source.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        for model in sorted(models, key=lambda model: model._meta.db_table):
            table = model._meta.db_table
            print(f"  {table} ...", end="\r", flush=True)
            if table not in known:
                raise SystemExit(f"{options.source} has no table {table}: migrate it to this code first")
            fields = list(model._meta.local_concrete_fields)
            quoted = [connection.ops.quote_name(field.column) for field in fields]
            selects = [_select(field, name) for field, name in zip(fields, quoted, strict=True)]
            convert = [(index, function) for index, (_sql, function) in enumerate(selects) if function]
            insert = (
                f"INSERT INTO {connection.ops.quote_name(table)} ({', '.join(quoted)}) "
                f"VALUES ({', '.join(['?'] * len(fields))})"
            )
            expressions = ", ".join(sql for sql, _function in selects)
            table_started = time.perf_counter()
            rows = 0
            fetch_seconds = 0.0
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")
                raw = connection.connection  # sqlite3's own executemany: no wrapper per query
                # Secondary indexes are built once after the rows (a B-tree insert per row and index
                # otherwise), as the bulk writer does; the FTS5 triggers stay (they fill the search index).
                cursor.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                    "AND sql IS NOT NULL",
                    [table],
                )
                indexes = cursor.fetchall()
                for name, _sql in indexes:
                    cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
                with source.cursor(name=f"copy_{table}") as read:
                    read.itersize = BATCH
                    read.execute(f"SELECT {expressions} FROM {connection.ops.quote_name(table)}")
                    while True:
                        fetch_started = time.perf_counter()
                        batch = read.fetchmany(BATCH)
                        fetch_seconds += time.perf_counter() - fetch_started
                        if not batch:
                            break
                        if convert:
                            converted = []
                            for row in batch:
                                values = list(row)
                                for index, function in convert:
                                    if values[index] is not None:
                                        values[index] = function(values[index])
                                converted.append(values)
                            batch = converted
                        raw.executemany(insert, batch)
                        rows += len(batch)
                for _name, sql in indexes:
                    cursor.execute(sql)
            total_rows += rows
            if rows:
                print(
                    f"  {table}: {rows:,} rows in {time.perf_counter() - table_started:.1f} s "
                    f"(reading {fetch_seconds:.1f} s)",
                    flush=True,
                )
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA foreign_key_check")
        broken = cursor.fetchmany(5)
        if broken:
            raise SystemExit(f"foreign keys that point nowhere after the copy, e.g. {broken}")
        cursor.execute("ANALYZE")
    print(f"  copied {total_rows:,} rows in {time.perf_counter() - started:.0f} s", flush=True)
    return 0
