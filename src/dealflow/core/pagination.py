"""Pages of long lists without counting every row (issue #19).

Counting a million visible deals for "Page 1 of 20,000" read the whole table on every page view (0.3-1 s at
1M deals), longer than finding the page itself. Like Pipedrive, a list counts up to ``COUNT_CAP`` rows and
past that says "more than 10,000": ``SELECT COUNT(*) FROM (SELECT id ... LIMIT 10001)`` stops at the cap.
Pages beyond the cap stay reachable; whether there is a next one comes from reading one row more than a page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db.models import QuerySet

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
