"""Pages of long lists without counting every row (issue #19).

Counting a million visible deals for "Page 1 of 20,000" read the whole table on every page view (0.3-1 s at
1M deals), longer than finding the page itself. Like Pipedrive, a list counts up to ``COUNT_CAP`` rows and
past that says "more than 10,000": ``SELECT COUNT(*) FROM (SELECT id ... LIMIT 10001)`` stops at the cap.
Pages beyond the cap stay reachable; whether there is a next one comes from reading one row more than a page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db import connection
from django.db.models import F, OrderBy, QuerySet

COUNT_CAP = 10_000


def count_capped(queryset: QuerySet[Any], *, cap: int | None = None) -> int:
    """The number of rows, counted up to ``cap + 1`` (``COUNT_CAP`` by default): a result above ``cap`` means
    "more than ``cap``"."""
    cap = COUNT_CAP if cap is None else cap
    return queryset.order_by().values("pk")[: cap + 1].count()


class CappedPage(Page[Any]):
    """A page of a list whose total is past the cap: "next" is known from one row read past the page."""

    def __init__(self, object_list: Any, number: int, paginator: CappedPaginator, *, has_more: bool) -> None:
        super().__init__(object_list, number, paginator)
        self.has_more = has_more

    def has_next(self) -> bool:
        return self.has_more

    def end_index(self) -> int:
        return (self.number - 1) * self.paginator.per_page + len(self.object_list)


class CappedPaginator(Paginator[Any]):
    """A Paginator of a QuerySet that counts at most ``cap`` rows (``is_capped`` past it)."""

    def __init__(
        self,
        object_list: QuerySet[Any],
        per_page: int,
        *,
        cap: int | None = None,
        rows: Callable[[int, int], list[Any]] | None = None,
    ) -> None:
        """``rows(offset, limit)``, when given, reads a page's rows in place of slicing ``object_list`` (which
        is then only counted): for a list whose order an index serves better piece by piece."""
        super().__init__(object_list, per_page)
        self.queryset = object_list
        self.cap = COUNT_CAP if cap is None else cap
        self.rows = rows or (lambda offset, limit: list(self.queryset[offset : offset + limit]))

    @cached_property
    def count(self) -> int:
        return count_capped(self.queryset, cap=self.cap)

    @property
    def is_capped(self) -> bool:
        """Whether the list holds more rows than were counted (``count`` is then ``cap + 1``)."""
        return self.count > self.cap

    def validate_number(self, number: Any) -> int:
        if not self.is_capped:
            return super().validate_number(number)
        try:
            value = int(number)
        except (TypeError, ValueError) as error:
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from error
        if value < 1:
            raise EmptyPage(self.error_messages["min_page"])
        return value

    def page(self, number: Any) -> Page[Any]:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        if not self.is_capped:
            top = min(bottom + self.per_page, self.count)
            if top + self.orphans >= self.count:
                top = self.count
            return Page(self.rows(bottom, top - bottom) if top > bottom else [], number, self)
        rows = self.rows(bottom, self.per_page + 1)
        return CappedPage(rows[: self.per_page], number, self, has_more=len(rows) > self.per_page)


# More parts than this and a list is read in one piece: each part is a statement of its own in the UNION.
MERGE_PARTS_LIMIT = 64


def merged_rows(
    queryset: QuerySet[Any],
    *,
    field: str,
    values: Sequence[Any],
    offset: int,
    limit: int,
    grouped: bool = False,
) -> list[Any]:
    """Rows ``offset`` to ``offset + limit`` of ``queryset`` in its own order, read part by part: one part per
    value of ``field`` (each no further than ``offset + limit`` rows along an index that starts with ``field``),
    the parts' ids merged in one UNION ALL, then those rows read with everything ``queryset`` selects.

    For a list filtered to a set of owners and ordered by other columns: SQLite cannot merge the ranges of an
    ``owner IN (...)`` index, so it sorted every row of the team (700,000 activities of a manager at 1M deals,
    3 s, issue #19). ``queryset`` must be filtered to rows whose ``field`` is among ``values`` (the parts cover
    exactly those) and ordered by plain columns ending in a unique one. The parts sit in sub-selects because
    SQLite takes no LIMIT in a part of a compound statement. ``grouped``: the parts one after another in the
    order of ``values`` (the leads inbox, a source at a time), each in the queryset's order.
    """
    columns: list[str] = []
    first = 2 if grouped else 1  # the position of the first order column: after the part's rank, the id
    directions: list[str] = ["1"] if grouped else []
    for term in queryset.query.order_by:
        if isinstance(term, str):
            name, descending, nulls = term.lstrip("-"), term.startswith("-"), ""
        elif isinstance(term, OrderBy) and isinstance(term.expression, F):
            name, descending = term.expression.name, term.descending  # type: ignore[attr-defined]
            nulls = " NULLS FIRST" if term.nulls_first else " NULLS LAST" if term.nulls_last else ""
        else:
            raise TypeError(f"merged_rows orders by plain columns, not {term!r}")
        columns.append(name)
        directions.append(f"{first + len(columns):d} {'DESC' if descending else 'ASC'}{nulls}")
    if not columns:
        raise TypeError("merged_rows needs an ordered queryset")
    parts: list[str] = []
    params: list[Any] = []
    try:
        for number, value in enumerate(values):
            part = queryset.filter(**{field: value}).values_list("pk", *columns)[: offset + limit]
            sql, part_params = part.query.sql_with_params()
            # SQL Django compiled from the queryset; the values stay parameters.
            rank = f"{number:d} AS part_rank, " if grouped else ""
            parts.append(f"SELECT {rank}part{number:d}.* FROM ({sql}) part{number:d}")  # noqa: S608
            params += part_params
    except EmptyResultSet:  # a filter that matches nothing
        return []
    if not parts:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            " UNION ALL ".join(parts) + f" ORDER BY {', '.join(directions)} LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
        page = [row[first - 1] for row in cursor.fetchall()]
    by_id = {row.pk: row for row in queryset.filter(pk__in=page).order_by()}
    return [by_id[row_id] for row_id in page if row_id in by_id]


def rows_by_ids(queryset: QuerySet[Any]) -> Callable[[int, int], list[Any]]:
    """A page reader (``CappedPaginator(rows=...)``) that finds the page's ids on ``queryset`` without its
    ``select_related`` joins, then reads those rows with them.

    With the joins, SQLite started a manager's deals list at the stage table and sorted every deal of every
    stage (0.6-0.8 s at 1M deals, issue #19); on the ids alone it walks the order's index and stops at the
    page. Orders on a joined column keep their join."""

    def rows(offset: int, limit: int) -> list[Any]:
        page = list(queryset.values_list("pk", flat=True)[offset : offset + limit])
        by_id = {row.pk: row for row in queryset.filter(pk__in=page).order_by()}
        return [by_id[row_id] for row_id in page if row_id in by_id]

    return rows
