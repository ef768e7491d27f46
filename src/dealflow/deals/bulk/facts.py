"""The derived analytics rows of replayed deals (``BulkWriter(derived_rows=True)``): DealFact, StayFact and
the DealMonthlyTotals, DealGroupTotals and LeadMonthlyTotals cells, by the rules of deals.services.derived_cells (derived_rebuild()
in SQL), in memory."""

from __future__ import annotations

import sqlite3
from typing import Any

from dealflow.deals import lifecycle
from dealflow.deals.bulk.replay import DealReplay
from dealflow.deals.bulk.tables import identity, sqlite_date
from dealflow.deals.choices import EventKind, SpellExit
from dealflow.deals.models import DealGroupTotals, LeadMonthlyTotals
from dealflow.deals.services.derived_cells import (
    GROUP_KEY,
    GROUP_VALUES,
    LEAD_CELL,
    fact_group_cells,
    lead_cell,
    stay_group_cells,
)

CLOSE_DATE_CHANGED = EventKind.CLOSE_DATE_CHANGED.value
CLOSED_EXITS = (SpellExit.WON.value, SpellExit.LOST.value)


def deal_facts_add(
    replay: DealReplay,
    spell_ids: list[int],
    deal_facts: list[Any],
    stay_facts: list[Any],
    totals: dict[tuple[Any, ...], list[int]],
    lead_facts: dict[int, tuple[Any, ...]],
    groups: dict[tuple[Any, ...], list[int]],
) -> None:
    """Append the deal's DealFact row and its spells' StayFact rows, and add its DealMonthlyTotals and
    DealGroupTotals cells; the rules of derived_rebuild(), for the deal as it stands after its history."""
    writer, deal, state = replay.writer, replay.deal, replay.state
    day, stages = writer.day, writer.stages
    deal_id, pipeline_id, status = deal.id, deal.pipeline_id, state.status
    owner_id, team_id, source_id = state.owner_id, state.team_id, state.source_id
    # The open stage of highest (order, id) the deal entered; its current stage if it has no spell.
    furthest: lifecycle.StageInfo | None = None
    for spell in replay.spells:
        stage = stages[spell[0]]
        if furthest is None or (stage.order, stage.pk) > (furthest.order, furthest.pk):
            furthest = stage
    furthest = furthest or state.stage
    pushes, last_pushed_at = 0, None
    events = replay.events
    for index in range(replay.first_event, replay.last_event):
        event = events[index]
        # A push moves the expected close date later (ISO dates compare as text).
        if event[1] == CLOSE_DATE_CHANGED and event[3] and event[4] and event[4] > event[3]:
            pushes += 1
            if last_pushed_at is None or event[12] > last_pushed_at:
                last_pushed_at = event[12]
    lead = deal.lead
    lead_created_on, lead_owner_id, lead_team_id, lead_source_id = (
        lead_facts.get(lead.id, (None,) * 4) if lead is not None and lead.id is not None else (None,) * 4
    )
    deal_facts.append(
        (
            deal_id,
            pipeline_id,
            state.stage.pk,
            owner_id,
            team_id,
            source_id,
            status,
            day(state.created_on),
            day(state.closed_on),
            day(state.expected_close_on),
            state.cycle_days,
            state.lead_cycle_days,
            state.amount_minor,
            state.currency,
            state.amount_base_minor,
            furthest.pk,
            day(lead_created_on),
            lead_owner_id,
            lead_team_id,
            lead_source_id,
            pushes,
            last_pushed_at,
        )
    )
    fact_group_cells(
        groups,
        {
            "pipeline_id": pipeline_id,
            "owner_id": owner_id,
            "stage_id": state.stage.pk,
            "furthest_stage_id": furthest.pk,
            "status": status,
            "created_on": state.created_on,
            "currency": state.currency,
            "amount_minor": state.amount_minor,
            "amount_base_minor": state.amount_base_minor,
        },
        1,
    )
    # Stays in the order they were entered (then by id), each knowing how the one before it ended.
    first = replay.first_spell
    spells = replay.spells
    order = sorted(range(len(spells)), key=lambda index: spells[index][2])
    previous_exit = ""
    for index in order:
        stage_id, _owner, _entered_at, entered_on, _exited_at, exited_on, exit_kind, next_id, _days = spells[
            index
        ]
        if not previous_exit:
            entry_kind = "created"
        elif previous_exit in CLOSED_EXITS:
            entry_kind = "reopened"
        else:
            entry_kind = previous_exit
        stay_facts.append(
            (
                spell_ids[first + index],
                deal_id,
                pipeline_id,
                stage_id,
                next_id,
                owner_id,
                team_id,
                source_id,
                status,
                entry_kind,
                day(entered_on),
                day(exited_on),
                None if exited_on is None else (exited_on - entered_on).days,
                exit_kind,
            )
        )
        previous_exit = exit_kind
        stay_group_cells(
            groups,
            {
                "pipeline_id": pipeline_id,
                "owner_id": owner_id,
                "stage_id": stage_id,
                "next_stage_id": next_id,
                "deal_status": status,
                "entry_kind": entry_kind,
                "entered_on": entered_on,
                "exited_on": exited_on,
                "days": None if exited_on is None else (exited_on - entered_on).days,
                "exit_kind": exit_kind,
            },
            1,
        )
    # DealMonthlyTotals: created by the creation month, won / lost by the closing month (current owner),
    # lead_deals / lead_won by the lead's month under the lead's owner and source.
    team_key, source_key = team_id or 0, source_id or 0
    cell = totals.setdefault(
        (state.created_on.replace(day=1), pipeline_id, owner_id, team_key, source_key), [0] * 10
    )
    cell[0] += 1
    is_won = status == lifecycle.WON
    if status in (lifecycle.WON, lifecycle.LOST) and state.closed_on is not None:
        cell = totals.setdefault(
            (state.closed_on.replace(day=1), pipeline_id, owner_id, team_key, source_key), [0] * 10
        )
        if is_won:
            cell[1] += 1
            cell[2] += state.amount_base_minor or 0
            cell[3] += state.cycle_days or 0
            if state.lead_cycle_days is not None:
                cell[4] += state.lead_cycle_days
                cell[5] += 1
        else:
            cell[6] += 1
            cell[7] += state.amount_base_minor or 0
    if lead_created_on is not None:
        cell = totals.setdefault(
            (
                lead_created_on.replace(day=1),
                pipeline_id,
                lead_owner_id,
                lead_team_id or 0,
                lead_source_id or 0,
            ),
            [0] * 10,
        )
        cell[8] += 1
        cell[9] += int(is_won)


def groups_add(cursor: Any, *, is_postgres: bool, groups: dict[tuple[Any, ...], list[int]]) -> None:
    """Add the cells to DealGroupTotals (an upsert, the same SQL on PostgreSQL and SQLite)."""
    rows = [key_values for key_values in sorted(groups.items()) if any(key_values[1])]
    if not rows:
        return
    table = DealGroupTotals._meta.db_table
    columns = [*GROUP_KEY, *GROUP_VALUES]
    updates = ", ".join(f'"{name}" = "{table}"."{name}" + excluded."{name}"' for name in GROUP_VALUES)
    placeholder = "%s" if is_postgres else "?"
    sql = (
        f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({", ".join([placeholder] * len(columns))}) '  # noqa: S608
        f"ON CONFLICT ({', '.join(GROUP_KEY)}) DO UPDATE SET {updates}"
    )
    day = identity if is_postgres else sqlite_date
    values = [(*key[:3], day(key[3]), *key[4:], *cell) for key, cell in rows]
    if is_postgres:
        cursor.executemany(sql, values)
    else:
        sqlite3.Cursor.executemany(cursor.cursor, sql, values)


def lead_counts_add(cursor: Any, *, is_postgres: bool, leads: list[tuple[Any, int, int | None, int]]) -> None:
    """Add the leads written, as (created_on, owner_id, team_id, source_id), to LeadMonthlyTotals (an
    upsert, the same SQL on PostgreSQL and SQLite)."""
    counts: dict[tuple[Any, ...], int] = {}
    for created_on, owner_id, team_id, source_id in leads:
        key = lead_cell(created_on=created_on, owner_id=owner_id, team_id=team_id, source_id=source_id)
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return
    table = LeadMonthlyTotals._meta.db_table
    placeholder = "%s" if is_postgres else "?"
    sql = (
        f'INSERT INTO "{table}" ({", ".join(LEAD_CELL)}, count) '  # noqa: S608 - our names
        f"VALUES ({', '.join([placeholder] * (len(LEAD_CELL) + 1))}) "
        f'ON CONFLICT ({", ".join(LEAD_CELL)}) DO UPDATE SET count = "{table}".count + excluded.count'
    )
    day = identity if is_postgres else sqlite_date
    values = [(day(key[0]), *key[1:], count) for key, count in sorted(counts.items())]
    if is_postgres:
        cursor.executemany(sql, values)
    else:
        sqlite3.Cursor.executemany(cursor.cursor, sql, values)
