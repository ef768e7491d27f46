"""Constants written into the SQL: only keys and integers, and SQLite's partial indexes serve them."""

from __future__ import annotations

import pytest
from django.db import connection

from dealflow.core.literals import Literal, literal_in


@pytest.mark.parametrize("value", ["new'; DROP TABLE deals_lead; --", "a b", "", "x" * 65, 1.5, None, True])
def test_only_keys_and_integers_become_sql(value):
    with pytest.raises((TypeError, ValueError)):
        Literal(value)


@pytest.mark.django_db
def test_the_values_are_in_the_sql_text_and_the_rows_are_the_same(rep):
    from dealflow.deals.models import Lead
    from dealflow.deals.tests.factories import LeadFactory

    kept = LeadFactory(owner=rep, title="Kept")
    LeadFactory(owner=rep, title="Gone")
    Lead.objects.filter(title="Gone").update(status="disqualified")
    leads = Lead.objects.filter(literal_in("status", ["new", "working"]))
    sql, params = leads.query.sql_with_params()
    assert "IN ('new', 'working')" in sql and "new" not in params
    assert Literal(42).as_sql(None, connection) == ("42", ())
    assert list(leads) == [kept]


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="a SQLite planner check")
def test_sqlite_reads_the_inbox_s_partial_index(rep):
    """Issue #19: with the statuses bound as parameters SQLite sorted every lead of a source (0.74 s at 1M
    deals); written into the SQL, a source's newest inbox leads come from lead_inbox_by_source."""
    from dealflow.deals.selectors import lead_list_for_user

    leads = lead_list_for_user(user=rep, status="new,working,qualified").filter(source_id=1)
    sql, params = leads.order_by("-created_at", "-id").values_list("pk")[:26].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row[3]) for row in cursor.fetchall())
    assert "lead_inbox_by_source" in plan, plan
