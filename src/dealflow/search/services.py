"""Writes to the search index. The domain services call these in the same transaction as their own write,
so the index is as current as the records (contacts/search.py and deals/services/search.py say what text
each record contributes); ``directory.services.search_rebuild`` refills it after a bulk load."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from dealflow.core import clock
from dealflow.core.bulkload import indexes_create, secondary_indexes_drop
from dealflow.search.models import SearchEntry
from dealflow.search.text import text_words


@dataclass(frozen=True)
class SearchDocument:
    """What one record contributes to the index: who may see it (owner) and the words it is found by."""

    kind: str
    object_id: int
    owner_id: int | None
    title: str
    subtitle: str = ""
    text: str = ""


def search_text_clean(value: str, length: int) -> str:
    return " ".join(str(value or "").split())[:length]


def search_text_words(text: str) -> str:
    """The words an entry is indexed by (search/text.py), as one string."""
    return " ".join(text_words(text))[:4000]


def search_index_put(*, document: SearchDocument) -> None:
    """Add or refresh one record's entry (its words, title and owner)."""
    search_index_put_many(documents=[document])


@transaction.atomic
def search_index_put_many(*, documents: Iterable[SearchDocument]) -> int:
    """Add or refresh many entries; returns how many were written.

    A refreshed entry is written anew (delete, then insert) so that it gets a new id: the search lists the
    most recently changed first in id order, which both engines' indexes read without sorting (selectors.py).
    """
    now = clock.now()
    latest = {(document.kind, document.object_id): document for document in documents}
    by_kind: dict[str, list[int]] = {}
    for kind, object_id in latest:
        by_kind.setdefault(kind, []).append(object_id)
    for kind, object_ids in by_kind.items():
        for start in range(0, len(object_ids), 500):
            SearchEntry.objects.filter(kind=kind, object_id__in=object_ids[start : start + 500]).delete()
    SearchEntry.objects.bulk_create(
        [
            SearchEntry(
                kind=document.kind,
                object_id=document.object_id,
                owner_id=document.owner_id,
                title=search_text_clean(document.title, 300),
                subtitle=search_text_clean(document.subtitle, 300),
                text=search_text_words(document.text or document.title),
                updated_at=now,
            )
            for document in latest.values()
        ]
    )
    return len(latest)


def search_index_remove(*, kind: str, object_ids: Iterable[int]) -> int:
    """Drop records from the index (deleted, erased or merged away); returns how many entries went."""
    deleted, _ = SearchEntry.objects.filter(kind=kind, object_id__in=list(object_ids)).delete()
    return deleted


def search_index_add_many(
    *, documents: Iterable[SearchDocument], batch_size: int = 5000, indexes_after: bool = False
) -> int:
    """Index records that have no entry yet (a bulk load), in batches; returns how many were written.

    Rows go in with COPY (PostgreSQL) or one ``INSERT ... SELECT`` from a temporary table (SQLite) per
    batch: ``bulk_create`` spent most of a big import's indexing time building model instances and SQL
    (docs/benchmarks.md, "Import"). The database's triggers fill the full-text columns as they do for every
    insert. ``indexes_after`` (a big load into an idle database: nobody searches yet) builds the entries'
    secondary indexes and SQLite's full-text index once after the rows instead (``_indexes_set_aside``).
    """
    now = clock.now()
    batch: list[tuple[Any, ...]] = []
    count = 0
    with _indexes_set_aside() if indexes_after else nullcontext():
        for document in documents:
            batch.append(
                (
                    document.kind,
                    document.object_id,
                    document.owner_id,
                    search_text_clean(document.title, 300),
                    search_text_clean(document.subtitle, 300),
                    search_text_words(document.text or document.title),
                    now,
                )
            )
            if len(batch) >= batch_size:
                count += _entries_insert(batch)
                batch = []
        return count + _entries_insert(batch)


# SQLite's full-text index follows the entries through this trigger (search migration 0001).
_FTS = "search_entry_fts"
_FTS_INSERT_TRIGGER = "search_entry_fts_insert"


@contextmanager
def _indexes_set_aside() -> Iterator[None]:
    """While a big load writes entries: no secondary index of the entries kept up to date row by row (the
    name and owner indexes; PostgreSQL's full-text GIN index), and on SQLite no full-text trigger. After
    it: the indexes built once, and the new entries added to the full-text index in one statement. A load
    that fails rolls this block back, and the indexes and the trigger with it.

    Into a database of 378,080 imported deals, their entries took 5.7 instead of 7.7 s: the
    ``(kind, title)`` index cost 1.6 s row by row and 0.5 s built after, the trigger 0.8 s more than one
    ``INSERT ... SELECT`` (docs/benchmarks.md, "Import speed, 2026-12-07 afternoon").
    """
    table = SearchEntry._meta.db_table
    is_postgres = connection.vendor == "postgresql"
    with transaction.atomic(), connection.cursor() as cursor:
        trigger, last = None, 0
        if not is_postgres:
            cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # noqa: S608 (the model's table)
            last = cursor.fetchone()[0]
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s", [_FTS_INSERT_TRIGGER]
            )
            row = cursor.fetchone()
            if row is not None:
                trigger = row[0]
                cursor.execute(f'DROP TRIGGER "{_FTS_INSERT_TRIGGER}"')
        statements = secondary_indexes_drop(cursor, is_postgres=is_postgres, tables=[table])
        yield
        indexes_create(cursor, is_postgres=is_postgres, statements=statements)
        if trigger is not None:
            # The entries' ids only grow (AUTOINCREMENT): the new ones are those above the last.
            cursor.execute(
                f'INSERT INTO "{_FTS}"(rowid, text) SELECT id, text FROM "{table}" WHERE id > %s ORDER BY id',  # noqa: S608
                [last],
            )
            cursor.execute(trigger)


_ENTRY_COLUMNS = ("kind", "object_id", "owner_id", "title", "subtitle", "text", "updated_at")
# SQLite: a batch is staged here, then copied into the index in one statement (_entries_insert says why).
_SQLITE_STAGING = "search_entry_load"


def _entries_insert(rows: list[tuple[Any, ...]]) -> int:
    if not rows:
        return 0
    table = SearchEntry._meta.db_table
    columns = ", ".join(f'"{column}"' for column in _ENTRY_COLUMNS)
    field = SearchEntry._meta.get_field("updated_at")
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f'COPY "{table}" ({columns}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            # Not ``executemany`` into the table: each of its rows is a statement of its own, and at the end
            # of each statement FTS5 flushes what the full-text trigger gave it into a new segment, which
            # then has to be merged: 37 us a row, six times the row's insert (docs/benchmarks.md, "Import
            # speed, 2026-12-06 evening"). Staged in a temporary table and copied with one INSERT ...
            # SELECT, the trigger still fires for every row but FTS5 flushes once per batch.
            placeholders = ", ".join(["%s"] * len(_ENTRY_COLUMNS))
            moment = field.get_db_prep_value(rows[0][-1], connection)  # one time for the whole batch
            cursor.execute(f'CREATE TEMP TABLE IF NOT EXISTS "{_SQLITE_STAGING}" ({columns})')
            cursor.executemany(
                f'INSERT INTO temp."{_SQLITE_STAGING}" ({columns}) VALUES ({placeholders})',  # noqa: S608 (names from the model)
                [(*row[:-1], moment) for row in rows],
            )
            cursor.execute(
                f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM temp."{_SQLITE_STAGING}" ORDER BY rowid'  # noqa: S608
            )
            cursor.execute(f'DELETE FROM temp."{_SQLITE_STAGING}"')  # noqa: S608
    return len(rows)
