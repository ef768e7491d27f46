"""After a migration adds an index, SQLite gets its statistics (issue #19)."""

from __future__ import annotations

import pytest
from django.db import connection

from dealflow.core.statistics import analyse_new_indexes, unanalysed_indexes

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite keeps statistics per index"),
]


def _stat(index: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT stat FROM sqlite_stat1 WHERE idx = %s", [index])
        return cursor.fetchall()


def test_a_new_index_of_an_analysed_database_is_analysed(rep):
    from dealflow.deals.tests.factories import LeadFactory

    for number in range(3):
        LeadFactory(owner=rep, title=f"Lead {number}")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute('CREATE INDEX "lead_title_probe" ON "deals_lead" ("title")')
        cursor.execute(
            'CREATE INDEX "tag_name_probe" ON "tags_tag" ("name")'
        )  # an empty table: no rows to count
    assert "lead_title_probe" in unanalysed_indexes(connection) and _stat("lead_title_probe") == []
    assert "lead_title_probe" in analyse_new_indexes()
    assert _stat("lead_title_probe") == [("3 1",)]
    # What remains has no entries to count: the empty table's index, the partial index of the trash.
    left = analyse_new_indexes()
    assert "lead_title_probe" not in left and {"tag_name_probe", "lead_in_trash"} <= set(left)


def test_a_database_never_analysed_is_left_alone(rep):
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS sqlite_stat1")
    assert unanalysed_indexes(connection) == [] and analyse_new_indexes() == []
