"""The tables the bulk writer fills: their columns, how values reach each engine, and the fast inserts."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import models
from django.utils import timezone

from dealflow.deals.models import DealMonthlyTotals

_UTC = dt.UTC
_NAIVE_EPOCH, _UTC_EPOCH = dt.datetime(1970, 1, 1), dt.datetime(1970, 1, 1, tzinfo=_UTC)

# fmt: off
LEAD_COLUMNS = [
    "id", "created_at", "updated_at", "title", "source_id", "status", "owner_id", "team_id",
    "organization_id", "person_id", "has_budget", "has_authority", "has_need", "has_timeline",
    "qualification_notes", "disqualified_reason", "qualified_at", "closed_at", "created_on",
    "external_source", "external_id",
]
DEAL_COLUMNS = [
    "id", "created_at", "updated_at", "title", "organization_id", "person_id", "owner_id", "team_id",
    "pipeline_id", "stage_id", "status", "amount_minor", "currency", "expected_close_on",
    "probability_override", "forecast_category_override", "source_id", "lead_id", "lead_created_at",
    "parent_id", "lost_reason_id", "lost_note", "next_step", "next_step_on", "stage_entered_at", "won_at",
    "lost_at", "last_activity_at", "version", "created_on", "closed_on", "cycle_days", "lead_cycle_days",
    "amount_base_minor", "external_source", "external_id",
]
EVENT_COLUMNS = [
    "deal_id", "kind", "field", "from_value", "to_value", "from_stage_id", "to_stage_id", "amount_minor",
    "currency", "actor_id", "origin", "note", "occurred_at", "recorded_at",
]
SPELL_COLUMNS = [
    "deal_id", "stage_id", "pipeline_id", "owner_id", "entered_at", "entered_on", "exited_at", "exited_on",
    "exit_kind", "next_stage_id", "duration_days",
]
DEAL_FACT_COLUMNS = [
    "deal_id", "pipeline_id", "stage_id", "owner_id", "team_id", "source_id", "status", "created_on",
    "closed_on", "expected_close_on", "cycle_days", "lead_cycle_days", "amount_minor", "currency",
    "amount_base_minor", "furthest_stage_id", "lead_created_on", "lead_owner_id", "lead_team_id",
    "lead_source_id", "close_date_pushes", "last_pushed_at",
]
STAY_FACT_COLUMNS = [
    "spell_id", "deal_id", "pipeline_id", "stage_id", "next_stage_id", "owner_id", "team_id", "source_id",
    "deal_status", "entry_kind", "entered_on", "exited_on", "days", "exit_kind",
]
TOTALS_CELL = ["month", "pipeline_id", "owner_id", "team_id", "source_id"]
TOTALS_VALUES = [
    "created", "won", "won_amount_base_minor", "won_cycle_days", "won_lead_cycle_days", "won_from_lead",
    "lost", "lost_amount_base_minor", "lead_deals", "lead_won",
]
ACTIVITY_COLUMNS = [
    "created_at", "updated_at", "kind", "subject", "notes", "due_at", "done_at", "owner_id", "deal_id",
    "lead_id", "person_id", "origin", "external_source", "external_id",
]
# fmt: on


@dataclass
class Table:
    """Columns the writer fills, plus every other concrete column with its default (so new fields do not break it)."""

    name: str
    columns: list[str]
    extra_columns: list[str]
    extra_values: tuple[Any, ...]

    @classmethod
    def for_model(cls, model: type[models.Model], columns: list[str], connection: Any) -> Table:
        known = set(columns)
        extra_columns: list[str] = []
        extra_values: list[Any] = []
        for model_field in model._meta.concrete_fields:
            if model_field.column in known or model_field.primary_key:
                continue
            extra_columns.append(str(model_field.column))
            default = model_field.get_default()
            extra_values.append(model_field.get_db_prep_save(default, connection))
        return cls(model._meta.db_table, columns, extra_columns, tuple(extra_values))


def identity(value: Any) -> Any:
    return value


def sqlite_datetime(value: dt.datetime | None) -> str | None:
    """Naive UTC text, as Django's SQLite adapter writes it ('2026-03-02 09:00:00[.ffffff]')."""
    if value is None:
        return None
    if value.tzinfo is _UTC:
        # The same moment as a naive datetime (epoch arithmetic), whose text has no "+00:00" to drop: half
        # the cost of formatting the aware one, for every distinct moment of a bulk load.
        return (value - _UTC_EPOCH + _NAIVE_EPOCH).isoformat(" ")
    if value.tzinfo is None:
        value = timezone.make_aware(value)
    return value.astimezone(_UTC).isoformat(" ")[:-6]


_Value = TypeVar("_Value", dt.date, dt.datetime)


def _converted_once(convert: Callable[[_Value], str | None]) -> Callable[[_Value | None], str | None]:
    """``convert`` that converts each value once (None stays None); keyed by value, so equal values must give
    the same text. The writer takes a fresh one for every write, which bounds it."""
    texts: dict[_Value, str | None] = {}
    get = texts.get

    def converted(value: _Value | None) -> str | None:
        if value is None:
            return None
        text = get(value)
        if text is None:
            text = texts[value] = convert(value)
        return text

    return converted


def sqlite_datetime_cached() -> Callable[[dt.datetime | None], str | None]:
    """``sqlite_datetime`` that converts each moment once: a step's time is written again as its event's
    occurred_at, the spell's entered_at or exited_at and the deal's stage_entered_at or last_activity_at.
    Equal moments give the same text (it is UTC)."""
    return _converted_once(sqlite_datetime)


def sqlite_date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def sqlite_date_cached() -> Callable[[dt.date | None], str | None]:
    """``sqlite_date`` that converts each day once: a write's spells and deals name the same few hundred
    days (entered, exited, created, closed) over and over."""
    return _converted_once(sqlite_date)


def reserve_ids(cursor: Any, *, is_postgres: bool, table: str, count: int) -> list[int]:
    """Primary keys for ``count`` new rows of ``table``, taken before the rows are written."""
    if count == 0:
        return []
    if is_postgres:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, count],
        )
        return [row[0] for row in cursor.fetchall()]
    # SQLite: the transaction holds the write lock (BEGIN IMMEDIATE), so nobody takes these ids.
    cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # noqa: S608 - table name from the model
    highest = cursor.fetchone()[0]
    cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
    row = cursor.fetchone()
    start = max(highest, row[0] if row else 0) + 1
    return list(range(start, start + count))


def copy_rows(cursor: Any, *, is_postgres: bool, table: Table, rows: Iterable[tuple[Any, ...]]) -> None:
    """PostgreSQL COPY, or SQLite executemany on the raw cursor."""
    rows = list(rows)
    if not rows:
        return
    columns = table.columns + table.extra_columns
    extra = table.extra_values
    column_sql = ", ".join(f'"{column}"' for column in columns)
    if is_postgres:
        with cursor.copy(f'COPY "{table.name}" ({column_sql}) FROM STDIN') as copy:
            if extra:
                for row in rows:
                    copy.write_row(row + extra)
            else:
                for row in rows:
                    copy.write_row(row)
    else:
        placeholders = ", ".join(["?"] * len(columns))
        if extra:
            rows = [row + extra for row in rows]
        # The raw sqlite3 cursor: Django's wrapper would rewrite the query and tee the rows.
        sqlite3.Cursor.executemany(
            cursor.cursor,
            f'INSERT INTO "{table.name}" ({column_sql}) VALUES ({placeholders})',  # noqa: S608
            rows,
        )


def totals_add(cursor: Any, *, is_postgres: bool, totals: dict[tuple[Any, ...], list[int]]) -> None:
    """Add the cells to DealMonthlyTotals (an upsert, the same SQL on PostgreSQL and SQLite)."""
    if not totals:
        return
    table = DealMonthlyTotals._meta.db_table
    columns = [*TOTALS_CELL, *TOTALS_VALUES]
    updates = ", ".join(f'"{name}" = "{table}"."{name}" + excluded."{name}"' for name in TOTALS_VALUES)
    placeholder = "%s" if is_postgres else "?"
    column_sql = ", ".join(f'"{name}"' for name in columns)
    cell_sql = ", ".join(f'"{name}"' for name in TOTALS_CELL)
    sql = (
        f'INSERT INTO "{table}" ({column_sql}) VALUES ({", ".join([placeholder] * len(columns))}) '  # noqa: S608
        f"ON CONFLICT ({cell_sql}) DO UPDATE SET {updates}"
    )
    day = identity if is_postgres else sqlite_date
    rows = [(day(key[0]), *key[1:], *values) for key, values in sorted(totals.items())]
    if is_postgres:
        cursor.executemany(sql, rows)
    else:
        sqlite3.Cursor.executemany(cursor.cursor, sql, rows)
