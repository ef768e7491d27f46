"""SQL building blocks that must give the same numbers on SQLite and PostgreSQL, and run fast on both.

No date functions: Django evaluates them on SQLite in Python, row by row (GUIDE.md). Selectors group by
the stored date itself (the leading column of the index, so SQLite streams the groups) and bucket days
into months in Python.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connections
from django.db.models import Case, F, IntegerField, Q, QuerySet, Sum, Value, When

from dealflow.metrics.calculations import median_of_middle


def count_if(condition: Q) -> Sum:
    """COUNT of the rows matching ``condition`` without reading a column (Count("*") takes no filter, and
    counting a column outside the covering index sends SQLite back to the table: 2-4x slower)."""
    return Sum(Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField()))


def medians(querysets: dict[str, tuple[QuerySet[Any], str, int | None]]) -> dict[str, Any]:
    """Exact medians of several columns in one query: {name: (queryset, column, count)} -> {name: Fraction|None}.

    Each part sorts the non-null values and keeps the one or two middle rows with LIMIT/OFFSET. ``count``
    is the number of non-null values when the caller already knows it (from the totals), which spares two
    counting scans; None counts them in the same statement. Either way the query count never depends on
    the data.
    """
    parts: list[str] = []
    params: list[Any] = []
    names = list(querysets)
    using = "default"
    for index, name in enumerate(names):
        queryset, column, count = querysets[name]
        values = queryset.filter(**{f"{column}__isnull": False}).order_by().annotate(value=F(column))
        sql, inner_params = values.values_list("value").query.sql_with_params()
        using = values.db
        if count is None:
            limit = f"2 - (SELECT COUNT(*) FROM ({sql}) c) %% 2"  # noqa: S608 - compiled by the ORM
            offset = f"((SELECT COUNT(*) FROM ({sql}) c) - 1) / 2"  # noqa: S608
            params.extend([*inner_params, *inner_params, *inner_params])
        else:
            limit, offset = str(2 - count % 2), str(max(0, (count - 1) // 2))
            params.extend(inner_params)
        parts.append(
            f"SELECT {index} AS part, value FROM (SELECT value FROM ({sql}) v ORDER BY value "  # noqa: S608
            f"LIMIT {limit} OFFSET {offset}) middle_{index}"
        )
    if not parts:
        return {}
    middles: dict[int, list[int]] = {index: [] for index in range(len(names))}
    with connections[using].cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        for index, value in cursor.fetchall():
            middles[int(index)].append(int(value))
    return {name: median_of_middle(middles[index]) for index, name in enumerate(names)}


def plain_rows(queryset: QuerySet[Any]) -> list[tuple[Any, ...]]:
    """The rows of a ``values(...).annotate(...)`` queryset as plain tuples (its fields, then annotations).

    Built by the ORM, fetched by the cursor: Django's per-row work (a dict per row, a converter per date
    on SQLite) cost more than the query itself for the tens of thousands of day-level groups a period has.
    Dates come back as ISO text on SQLite and as dates on PostgreSQL; ``as_day`` reads both.
    """
    sql, params = queryset.query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows


def as_day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
