"""SQLite's planner statistics for indexes a migration added (issue #19).

SQLite keeps its statistics per index (``sqlite_stat1``). An index created after the last ``ANALYZE`` has
none, and the planner then guesses that it is very selective: after migration deals 0014 added
``lead_owner_created``, a manager's lead lists on the organisation page and in the trash read every lead
of the team through it and sorted them (0.65-0.7 s at 1M deals) instead of using the organisation's or the
trash's own index. After ``migrate``, each index without statistics is analysed, when the database has
statistics at all (a database never analysed plans every index alike). PostgreSQL keeps statistics per
column, which a new index needs none of.
"""

from __future__ import annotations

from typing import Any

from django.db import connections

# Rows ANALYZE samples per index: seconds on a million rows instead of minutes (deals/bulk/writer.py).
ANALYSIS_LIMIT = 1000


def unanalysed_indexes(connection: Any) -> list[str]:
    """The indexes of a SQLite database that has statistics but none for them. An index with no entries (an
    empty table, a partial index nothing matches) stays among them: ANALYZE writes no row for it, and
    analysing it again costs a look at an empty index."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'")
        if cursor.fetchone() is None:
            return []
        cursor.execute(
            "SELECT m.name FROM sqlite_master m WHERE m.type = 'index' "
            "AND m.name NOT LIKE 'sqlite_autoindex%' "
            "AND NOT EXISTS (SELECT 1 FROM sqlite_stat1 s WHERE s.idx = m.name) ORDER BY m.name"
        )
        return [name for (name,) in cursor.fetchall()]


def analyse_new_indexes(*, using: str = "default", **_: Any) -> list[str]:
    """ANALYZE each index that has no statistics yet (SQLite only); the names analysed."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return []
    indexes = unanalysed_indexes(connection)
    if indexes:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT:d}")
            for index in indexes:
                cursor.execute(f'ANALYZE "{index}"')
    return indexes
