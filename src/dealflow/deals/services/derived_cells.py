"""The rules of the derived analytics tables (docs/decisions/0002), one place for both ways of keeping them:
which deal columns DealFact mirrors, what one deal adds to DealMonthlyTotals and what one DealFact or
StayFact row counts in DealGroupTotals, where one lead counts in LeadMonthlyTotals, and the upserts that add such cells. The per-change hooks
(deals.services.derived) and the bulk writer's in-memory rows (deals.bulk.facts) apply them; the SQL
rebuild (deals.services.derived_rebuild) is their twin in SQL, and tests compare the two.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from django.db import connections

from dealflow.deals.models import DealGroupTotals, DealMonthlyTotals, DealStatus, LeadMonthlyTotals

# Deal fields DealFact mirrors; a save touching none of them leaves the facts alone.
FACT_FIELDS = (
    "pipeline_id",
    "stage_id",
    "owner_id",
    "team_id",
    "source_id",
    "status",
    "created_on",
    "closed_on",
    "expected_close_on",
    "cycle_days",
    "lead_cycle_days",
    "amount_minor",
    "currency",
    "amount_base_minor",
)
LEAD_FIELDS = ("lead_created_on", "lead_owner_id", "lead_team_id", "lead_source_id")
STAY_FIELDS = ("owner_id", "team_id", "source_id", "status")
SAVED_NAMES = {name.removesuffix("_id") for name in FACT_FIELDS} | set(FACT_FIELDS)
TOTALS = (
    "created",
    "won",
    "won_amount_base_minor",
    "won_cycle_days",
    "won_lead_cycle_days",
    "won_from_lead",
    "lost",
    "lost_amount_base_minor",
    "lead_deals",
    "lead_won",
)
CELL = ("month", "pipeline_id", "owner_id", "team_id", "source_id")


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def monthly_cells(fact: dict[str, Any]) -> dict[tuple[Any, ...], Counter[Any]]:
    """What one deal adds to DealMonthlyTotals, by cell (the rule derived_rebuild() applies in SQL)."""
    cells: dict[tuple[Any, ...], Counter[Any]] = defaultdict(Counter[Any])
    pipeline_id = fact["pipeline_id"]
    created = cells[
        (
            month_start(fact["created_on"]),
            pipeline_id,
            fact["owner_id"],
            fact["team_id"] or 0,
            fact["source_id"] or 0,
        )
    ]
    created["created"] += 1
    is_won = fact["status"] == DealStatus.WON
    if fact["status"] in (DealStatus.WON, DealStatus.LOST) and fact["closed_on"] is not None:
        closed = cells[
            (
                month_start(fact["closed_on"]),
                pipeline_id,
                fact["owner_id"],
                fact["team_id"] or 0,
                fact["source_id"] or 0,
            )
        ]
        if is_won:
            closed["won"] += 1
            closed["won_amount_base_minor"] += fact["amount_base_minor"] or 0
            closed["won_cycle_days"] += fact["cycle_days"] or 0
            if fact["lead_cycle_days"] is not None:
                closed["won_lead_cycle_days"] += fact["lead_cycle_days"]
                closed["won_from_lead"] += 1
        else:
            closed["lost"] += 1
            closed["lost_amount_base_minor"] += fact["amount_base_minor"] or 0
    if fact.get("lead_created_on") is not None:
        lead = cells[
            (
                month_start(fact["lead_created_on"]),
                pipeline_id,
                fact["lead_owner_id"],
                fact["lead_team_id"] or 0,
                fact["lead_source_id"] or 0,
            )
        ]
        lead["lead_deals"] += 1
        lead["lead_won"] += int(is_won)
    return cells


def totals_add(
    *, cells: dict[tuple[Any, ...], Counter[Any]], sign: int, into: dict[tuple[Any, ...], Counter[Any]]
) -> None:
    for key, values in cells.items():
        for name, value in values.items():
            into[key][name] += sign * value


def totals_apply(delta: dict[tuple[Any, ...], Counter[Any]], *, using: str) -> None:
    """Add ``delta`` to DealMonthlyTotals in one upsert (same SQL on PostgreSQL and SQLite)."""
    rows = [
        (key, values)
        for key, values in sorted(delta.items(), key=lambda item: str(item[0]))
        if any(values.values())
    ]
    _add_upsert(
        table=DealMonthlyTotals._meta.db_table,
        key_columns=CELL,
        value_columns=TOTALS,
        rows=[(key, [values.get(name, 0) for name in TOTALS]) for key, values in rows],
        using=using,
    )


def _add_upsert(
    *,
    table: str,
    key_columns: Sequence[str],
    value_columns: Sequence[str],
    rows: Sequence[tuple[Sequence[Any], Sequence[Any]]],
    using: str,
) -> None:
    """Add each row's values to the row with its key, inserting it when missing: one statement, the same SQL
    on PostgreSQL and SQLite (both have ``ON CONFLICT ... DO UPDATE`` with ``excluded``)."""
    if not rows:
        return
    columns = [*key_columns, *value_columns]
    placeholders = ", ".join("(" + ", ".join(["%s"] * len(columns)) + ")" for _ in rows)
    updates = ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in value_columns)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES {placeholders} "  # noqa: S608 - our names
        f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET {updates}"
    )
    params: list[Any] = []
    for key, values in rows:
        params.extend(key)
        params.extend(values)
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)


# --- DealGroupTotals: facts counted per group, per owner and for every owner (owner 0) ----------------
# A key is (measure, pipeline, owner, day, stage, other stage, label, currency, days); its value is
# [count, amount_minor, amount_base_minor]. Every rule below has its SQL twin in
# derived_rebuild._group_statements().
COHORT = "cohort"  # deals by creation month, furthest stage, status and currency (funnel)
LIVE = "live"  # open deals by current stage and currency (waiting work); day is NO_DAY
OPEN_STAY = "open"  # open stays by the day they began (their age is counted at read time)
DONE_STAY = "done"  # finished stays by entry month and length (time in stage)
WON_STAY = "won"  # finished stays of won deals by exit month and length (the won-deal benchmark)
EXIT = "exit"  # finished stays by exit month, next stage and exit kind (flow)
ENTRY = "entry"  # stays by entry month and entry kind (flow)
GROUP_MEASURES = (COHORT, LIVE, OPEN_STAY, DONE_STAY, WON_STAY, EXIT, ENTRY)
EVERY_OWNER = 0
NO_DAY = dt.date(1970, 1, 1)
GROUP_KEY = ("measure", "pipeline_id", "owner_id", "day", "stage_id", "other_id", "label", "currency", "days")
GROUP_VALUES = ("count", "amount_minor", "amount_base_minor")
FACT_GROUP_FIELDS = (
    "pipeline_id",
    "owner_id",
    "stage_id",
    "furthest_stage_id",
    "status",
    "created_on",
    "currency",
    "amount_minor",
    "amount_base_minor",
)
STAY_GROUP_FIELDS = (
    "pipeline_id",
    "owner_id",
    "stage_id",
    "next_stage_id",
    "deal_status",
    "entry_kind",
    "entered_on",
    "exited_on",
    "days",
    "exit_kind",
)


def _group_add(
    into: dict[tuple[Any, ...], list[int]], key: tuple[Any, ...], count: int, amount: int, base: int
) -> None:
    """Add to the owner's cell and to the every-owner cell (key[2] is the owner)."""
    for owner_key in (key, (key[0], key[1], EVERY_OWNER, *key[3:])):
        cell = into.get(owner_key)
        if cell is None:
            into[owner_key] = [count, amount, base]
        else:
            cell[0] += count
            cell[1] += amount
            cell[2] += base


def fact_group_cells(into: dict[tuple[Any, ...], list[int]], fact: dict[str, Any], sign: int) -> None:
    """Add ``sign`` times what one DealFact row counts in DealGroupTotals to ``into``."""
    pipeline_id, owner_id = fact["pipeline_id"], fact["owner_id"]
    amount = fact["amount_minor"] or 0
    _group_add(
        into,
        (
            COHORT,
            pipeline_id,
            owner_id,
            month_start(fact["created_on"]),
            fact["furthest_stage_id"],
            0,
            fact["status"],
            fact["currency"],
            -1,
        ),
        sign,
        sign * amount,
        sign * (fact["amount_base_minor"] or 0),
    )
    if fact["status"] == DealStatus.OPEN:
        _group_add(
            into,
            (LIVE, pipeline_id, owner_id, NO_DAY, fact["stage_id"], 0, "", fact["currency"], -1),
            sign,
            sign * amount,
            0,
        )


def stay_group_cells(into: dict[tuple[Any, ...], list[int]], stay: dict[str, Any], sign: int) -> None:
    """Add ``sign`` times what one StayFact row counts in DealGroupTotals to ``into``."""
    pipeline_id, owner_id, stage_id = stay["pipeline_id"], stay["owner_id"], stay["stage_id"]
    entered_on, exited_on, days = stay["entered_on"], stay["exited_on"], stay["days"]
    entered_month = month_start(entered_on)
    _group_add(
        into,
        (ENTRY, pipeline_id, owner_id, entered_month, stage_id, 0, stay["entry_kind"], "", -1),
        sign,
        0,
        0,
    )
    if exited_on is None:
        _group_add(into, (OPEN_STAY, pipeline_id, owner_id, entered_on, stage_id, 0, "", "", -1), sign, 0, 0)
        return
    exited_month = month_start(exited_on)
    _group_add(into, (DONE_STAY, pipeline_id, owner_id, entered_month, stage_id, 0, "", "", days), sign, 0, 0)
    _group_add(
        into,
        (
            EXIT,
            pipeline_id,
            owner_id,
            exited_month,
            stage_id,
            stay["next_stage_id"] or 0,
            stay["exit_kind"],
            "",
            -1,
        ),
        sign,
        0,
        0,
    )
    if stay["deal_status"] == DealStatus.WON:
        _group_add(
            into, (WON_STAY, pipeline_id, owner_id, exited_month, stage_id, 0, "", "", days), sign, 0, 0
        )


def groups_apply(groups: dict[tuple[Any, ...], list[int]], *, using: str) -> None:
    """Add the cells to DealGroupTotals in one upsert (same SQL on PostgreSQL and SQLite)."""
    rows = sorted((key, values) for key, values in groups.items() if any(values))
    _add_upsert(
        table=DealGroupTotals._meta.db_table,
        key_columns=GROUP_KEY,
        value_columns=GROUP_VALUES,
        rows=rows,
        using=using,
    )


# --- LeadMonthlyTotals: leads outside the trash per month, owner, team and source --------------------
# Its SQL twin is derived_rebuild._lead_statements().
LEAD_CELL = ("month", "owner_id", "team_id", "source_id")


def lead_cell(*, created_on: dt.date, owner_id: int, team_id: int | None, source_id: int) -> tuple[Any, ...]:
    """The LeadMonthlyTotals cell one lead counts in."""
    return (month_start(created_on), owner_id, team_id or 0, source_id)


def leads_apply(counts: dict[tuple[Any, ...], int], *, using: str) -> None:
    """Add {cell: count} to LeadMonthlyTotals in one upsert (same SQL on PostgreSQL and SQLite)."""
    _add_upsert(
        table=LeadMonthlyTotals._meta.db_table,
        key_columns=LEAD_CELL,
        value_columns=("count",),
        rows=[(key, [count]) for key, count in sorted(counts.items()) if count],
        using=using,
    )
