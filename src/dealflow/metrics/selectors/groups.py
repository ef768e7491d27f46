"""Reading DealGroupTotals: the groups a metric needs instead of the facts of every deal.

The table counts DealFact and StayFact rows per group, per owner and for every owner together (owner 0;
deals.services.derived keeps it). It answers a scope without a team or source filter: the company-wide
rows for someone who sees everything, the rows of the owners a user may see otherwise. With a team or
source filter (which the table does not key on) ``group_owner_q`` returns None and the selectors read the
fact tables as before; both paths give the same numbers (metrics/tests/test_groups.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, Sum

from dealflow.accounts.selectors import owner_visibility_q, user_access_scope
from dealflow.core.periods import Period
from dealflow.deals.models import DealGroupTotals
from dealflow.deals.services.derived_cells import EVERY_OWNER, GROUP_VALUES
from dealflow.metrics.selectors.scope import MetricScope
from dealflow.metrics.selectors.sql import plain_rows


def is_whole_months(*periods: Period) -> bool:
    return all(period.start.day == 1 and period.end.day == 1 for period in periods)


def group_owner_q(scope: MetricScope) -> Q | None:
    """The DealGroupTotals rows that stand for the scope's deals, or None when only the facts can answer."""
    filters = scope.filters
    if filters.team_id or scope.source_id is not None:
        return None
    if filters.owner_id:
        return owner_visibility_q(user=scope.user) & Q(owner_id=filters.owner_id)
    if user_access_scope(user=scope.user).sees_everything:
        return Q(owner_id=EVERY_OWNER)
    return owner_visibility_q(user=scope.user)


def group_rows(
    scope: MetricScope,
    owners: Q,
    measure: str | tuple[str, ...],
    columns: tuple[str, ...],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    extra: Q | None = None,
) -> list[tuple[Any, ...]]:
    """The measure's (or measures') rows of the funnel's pipeline for ``owners``, days in [start, end), as
    plain tuples."""
    measures = (measure,) if isinstance(measure, str) else measure
    rows = DealGroupTotals.objects.filter(owners, measure__in=measures, pipeline_id=scope.pipeline_id)
    if start is not None:
        rows = rows.filter(day__gte=start)
    if end is not None:
        rows = rows.filter(day__lt=end)
    if extra is not None:
        rows = rows.filter(extra)
    rows = rows.exclude(count=0)  # groups the services brought back to zero
    # Summed over the owners in the database: a manager's team reads one row per group, as an admin does.
    keys = [column for column in columns if column not in GROUP_VALUES]
    sums = {f"sum_{column}": Sum(column) for column in columns if column in GROUP_VALUES}
    assert list(columns) == keys + [name.removeprefix("sum_") for name in sums], "group columns, then values"
    width = len(keys)
    # PostgreSQL sums bigints as numeric (Decimal through the plain cursor): back to int.
    return [
        (*row[:width], *(int(value) for value in row[width:]))
        for row in plain_rows(rows.values(*keys).annotate(**sums).order_by())
    ]
