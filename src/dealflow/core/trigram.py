"""Trigram indexes (pg_trgm) for substring searches, on PostgreSQL only.

The lists' searches are ``icontains``: ``UPPER(column::text) LIKE UPPER('%...%')``, which a GIN index over
the same expression with ``gin_trgm_ops`` answers for three characters or more. SQLite has no such index;
there the search reads the rows. Migrations call ``trigram_indexes_operation(indexes=...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import migrations


def trigram_indexes_operation(*, indexes: Sequence[tuple[str, str, str]]) -> migrations.RunPython:
    """Create (and on reverse drop) one index per ``(name, table, column)``; nothing on other engines."""

    def create(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, table, column in indexes:
            schema_editor.execute(
                f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING gin (UPPER("{column}"::text) gin_trgm_ops)'
            )

    def drop(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for name, _table, _column in indexes:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')

    return migrations.RunPython(create, drop)
