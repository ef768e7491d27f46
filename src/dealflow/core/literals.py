"""Constants written into the SQL text instead of bound as parameters (issue #19).

SQLite decides when it prepares a statement whether a partial index may serve it, and a bound parameter
cannot be proven to satisfy the index's WHERE: ``status IN (?, ?, ?)`` never used the leads inbox's index
``WHERE status IN ('new', 'working', 'qualified')`` and sorted a source's leads instead (190 ms a source,
740 ms for the admin's inbox at 1M deals), while ``status IN ('new', 'working', 'qualified')`` read 26
rows of it. PostgreSQL's driver sends values inline already. Only enumeration keys (letters, digits,
underscores) and integers are accepted, so nothing a user typed can reach the SQL text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.db.models import CharField, Expression, IntegerField, Q

_KEY = re.compile(r"[A-Za-z0-9_]{1,64}")


class Literal(Expression):
    """One enumeration key or integer as a SQL literal."""

    def __init__(self, value: str | int) -> None:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise TypeError(f"a SQL literal is a key or an integer, not {value!r}")
        if isinstance(value, str) and not _KEY.fullmatch(value):
            raise ValueError(f"a SQL literal key holds letters, digits and underscores only, not {value!r}")
        super().__init__(output_field=IntegerField() if isinstance(value, int) else CharField())
        self.value = value

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[str | int, ...]]:
        return (str(int(self.value)) if isinstance(self.value, int) else f"'{self.value}'"), ()

    def __repr__(self) -> str:
        return f"Literal({self.value!r})"


def literal_in(field: str, values: Iterable[str | int]) -> Q:
    """``Q(field__in=values)`` with the values written into the SQL (see the module's note)."""
    return Q(**{f"{field}__in": [Literal(value) for value in values]})
