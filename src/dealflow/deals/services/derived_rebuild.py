"""Rebuild every derived analytics table in SQL from the deals, events and spells (after a bulk load, in
migrations): the same rules as deals.services.derived_cells, written as INSERT ... SELECT for PostgreSQL and
SQLite. A test builds one history both ways and compares every row (deals/tests/test_bulk.py,
metrics/tests/test_derived.py).
"""

from __future__ import annotations

from django.db import connections, transaction

from dealflow.deals.models import (
    DealFact,
    DealGroupTotals,
    DealMonthlyTotals,
    DealStatus,
    Lead,
    LeadMonthlyTotals,
    StayFact,
)
from dealflow.deals.services.derived_cells import (
    CELL,
    COHORT,
    DONE_STAY,
    ENTRY,
    EVERY_OWNER,
    EXIT,
    FACT_FIELDS,
    GROUP_KEY,
    GROUP_VALUES,
    LEAD_CELL,
    LIVE,
    NO_DAY,
    OPEN_STAY,
    TOTALS,
    WON_STAY,
)


def _sql_month(column: str, vendor: str) -> str:
    if vendor == "postgresql":
        return f"CAST(date_trunc('month', {column}) AS date)"
    return f"(substr({column}, 1, 7) || '-01')"


def _sql_days(start: str, end: str, vendor: str) -> str:
    if vendor == "postgresql":
        return f"({end} - {start})"
    return f"CAST(julianday({end}) - julianday({start}) AS INTEGER)"


def _rebuild_statements(vendor: str, *, live_only: bool = True) -> list[str]:
    deal_columns = ", ".join(FACT_FIELDS)
    fact = DealFact._meta.db_table
    stay = StayFact._meta.db_table
    totals = DealMonthlyTotals._meta.db_table
    cell_group = ", ".join(CELL)
    sums = ", ".join(f"SUM({name})" for name in TOTALS)

    def totals_select(
        month: str, owner: str, team: str, source: str, values: dict[str, str], where: str
    ) -> str:
        columns = ", ".join(values.get(name, "0") + f" AS {name}" for name in TOTALS)
        return (
            f"SELECT {_sql_month(month, vendor)} AS month, pipeline_id, {owner} AS owner_id, "  # noqa: S608
            f"COALESCE({team}, 0) AS team_id, COALESCE({source}, 0) AS source_id, {columns} "
            f"FROM {fact} WHERE {where}"
        )

    won = "CASE WHEN status = 'won' THEN 1 ELSE 0 END"
    lost = "CASE WHEN status = 'lost' THEN 1 ELSE 0 END"
    parts = [
        totals_select("created_on", "owner_id", "team_id", "source_id", {"created": "1"}, "1 = 1"),
        totals_select(
            "closed_on",
            "owner_id",
            "team_id",
            "source_id",
            {
                "won": won,
                "won_amount_base_minor": "CASE WHEN status = 'won' THEN COALESCE(amount_base_minor, 0) ELSE 0 END",
                "won_cycle_days": "CASE WHEN status = 'won' THEN COALESCE(cycle_days, 0) ELSE 0 END",
                "won_lead_cycle_days": "CASE WHEN status = 'won' THEN COALESCE(lead_cycle_days, 0) ELSE 0 END",
                "won_from_lead": "CASE WHEN status = 'won' AND lead_cycle_days IS NOT NULL THEN 1 ELSE 0 END",
                "lost": lost,
                "lost_amount_base_minor": "CASE WHEN status = 'lost' THEN COALESCE(amount_base_minor, 0) ELSE 0 END",
            },
            "status IN ('won', 'lost') AND closed_on IS NOT NULL",
        ),
        totals_select(
            "lead_created_on",
            "lead_owner_id",
            "lead_team_id",
            "lead_source_id",
            {"lead_deals": "1", "lead_won": won},
            "lead_created_on IS NOT NULL",
        ),
    ]
    # The furthest stage a deal reached: the stage of its spells with the highest (order, id).
    if vendor == "postgresql":
        furthest_join = (
            "LEFT JOIN (SELECT deal_id, stage_id FROM (SELECT s.deal_id, s.stage_id, ROW_NUMBER() OVER ("
            'PARTITION BY s.deal_id ORDER BY st."order" DESC, st.id DESC) AS position '
            "FROM deals_stagespell s JOIN deals_stage st ON st.id = s.stage_id) ranked WHERE position = 1) f "
            "ON f.deal_id = d.id "
        )
        furthest = "f.stage_id"
    else:
        # SQLite sorted every spell for the window, kept the ranks and indexed them to join: one look-up
        # of the deal's own spells costs less (0.45 -> 0.29 s of CPU at 100,000 deals, the same rows;
        # docs/benchmarks.md "branch imp14f").
        furthest_join = ""
        furthest = (
            "(SELECT s.stage_id FROM deals_stagespell s JOIN deals_stage st ON st.id = s.stage_id "
            'WHERE s.deal_id = d.id ORDER BY st."order" DESC, st.id DESC LIMIT 1)'
        )
    pushes = (
        "SELECT deal_id, COUNT(*) AS pushes, MAX(occurred_at) AS last_pushed_at FROM deals_dealevent "
        "WHERE kind = 'close_date_changed' AND from_value <> '' AND to_value <> '' AND to_value > from_value "
        "GROUP BY deal_id"
    )
    prefixed = ", ".join(f"d.{name}" for name in FACT_FIELDS)
    live = " WHERE d.deleted_at IS NULL" if live_only else ""  # the trash is out of the metrics
    return [
        f"INSERT INTO {fact} (deal_id, {deal_columns}, furthest_stage_id, lead_created_on, lead_owner_id, "  # noqa: S608
        "lead_team_id, lead_source_id, close_date_pushes, last_pushed_at) "
        f"SELECT d.id, {prefixed}, COALESCE({furthest}, d.stage_id), l.created_on, l.owner_id, l.team_id, "
        "l.source_id, COALESCE(p.pushes, 0), p.last_pushed_at FROM deals_deal d "
        f"{furthest_join}"
        "LEFT JOIN deals_lead l ON l.id = d.lead_id "
        f"LEFT JOIN ({pushes}) p ON p.deal_id = d.id{live}",
        f"INSERT INTO {stay} (spell_id, deal_id, pipeline_id, stage_id, next_stage_id, owner_id, team_id, "  # noqa: S608
        "source_id, deal_status, entry_kind, entered_on, exited_on, days, exit_kind) "
        "SELECT s.id, s.deal_id, s.pipeline_id, s.stage_id, s.next_stage_id, d.owner_id, d.team_id, "
        "d.source_id, d.status, CASE WHEN s.previous_exit IS NULL OR s.previous_exit = '' THEN 'created' "
        "WHEN s.previous_exit IN ('won', 'lost') THEN 'reopened' ELSE s.previous_exit END, "
        f"s.entered_on, s.exited_on, CASE WHEN s.exited_on IS NULL THEN NULL ELSE "
        f"{_sql_days('s.entered_on', 's.exited_on', vendor)} END, s.exit_kind "
        # Only the columns used: the window's rows are materialized, and spell.* copied every column
        # (0.50 -> 0.25 s of CPU at 100,000 deals on SQLite, docs/benchmarks.md "branch imp14e").
        "FROM (SELECT spell.id, spell.deal_id, spell.pipeline_id, spell.stage_id, spell.next_stage_id, "
        "spell.entered_on, spell.exited_on, spell.exit_kind, LAG(spell.exit_kind) OVER (PARTITION BY "
        "spell.deal_id ORDER BY spell.entered_at, spell.id) AS previous_exit FROM deals_stagespell spell) s "
        f"JOIN deals_deal d ON d.id = s.deal_id{live}",
        f"INSERT INTO {totals} ({cell_group}, {', '.join(TOTALS)}) "  # noqa: S608
        f"SELECT {cell_group}, {sums} FROM ({' UNION ALL '.join(parts)}) cells GROUP BY {cell_group}",
    ]


def _group_statements(vendor: str) -> list[str]:
    """DealGroupTotals from DealFact and StayFact: the per-owner cells, then every owner's (owner 0)."""
    fact = DealFact._meta.db_table
    stay = StayFact._meta.db_table
    groups = DealGroupTotals._meta.db_table
    no_day = f"CAST('{NO_DAY.isoformat()}' AS date)" if vendor == "postgresql" else f"'{NO_DAY.isoformat()}'"
    key = ", ".join(GROUP_KEY)
    columns = f"{key}, {', '.join(GROUP_VALUES)}"
    empty = "''"

    def part(
        measure: str,
        day: str,
        stage: str,
        other: str,
        label: str,
        currency: str,
        days: str,
        source: str,
        amounts: tuple[str, str] = ("0", "0"),
    ) -> str:
        """One measure's INSERT ... GROUP BY. The key parts that are the same for every row of the measure
        (the measure's name, "no other stage", no label, ...) are written in the outer SELECT and left out
        of the GROUP BY: SQLite sorted them with every row (1.5 -> 1.1 s of CPU for the seven at 100,000
        deals, the same rows; docs/benchmarks.md "branch imp14e")."""
        parts = {
            "measure": f"'{measure}'",
            "pipeline_id": "pipeline_id",
            "owner_id": "owner_id",
            "day": day,
            "stage_id": stage,
            "other_id": other,
            "label": label,
            "currency": currency,
            "days": days,
        }
        assert tuple(parts) == tuple(GROUP_KEY)
        fixed = {name for name, sql in parts.items() if sql in (f"'{measure}'", "0", "-1", empty, no_day)}
        varying = [name for name in parts if name not in fixed]
        inner = ", ".join(f"{parts[name]} AS {name}" for name in varying)
        outer = ", ".join(parts[name] if name in fixed else name for name in parts)
        # Each row counts one; a measure without amounts writes 0 instead of summing a column of zeros
        # (the same integers; 1.7-2.6 -> 1.65-2.3 s of CPU for the seven at 100,000 deals on SQLite).
        inner += "".join(f", {sql} AS {name}" for name, sql in zip("ab", amounts, strict=True) if sql != "0")
        sums = ", ".join(
            f"SUM({name})" if sql != "0" else "0" for name, sql in zip("ab", amounts, strict=True)
        )
        return (
            f"INSERT INTO {groups} ({columns}) SELECT {outer}, COUNT(*), {sums} "  # noqa: S608
            f"FROM (SELECT {inner} {source}) cells GROUP BY {', '.join(varying)}"
        )

    entered, exited = _sql_month("entered_on", vendor), _sql_month("exited_on", vendor)
    # One INSERT ... GROUP BY per measure: the measure leads the key, so no group spans two of them, and
    # seven small sorts cost less than one over the union of every cell (2.0 -> 1.6 s of CPU at 100,000
    # deals on SQLite, docs/benchmarks.md "branch imp14c").
    stays = f"FROM {stay}"
    cells = [
        part(
            COHORT,
            _sql_month("created_on", vendor),
            "furthest_stage_id",
            "0",
            "status",
            "currency",
            "-1",
            f"FROM {fact}",
            ("amount_minor", "COALESCE(amount_base_minor, 0)"),
        ),
        part(
            LIVE,
            no_day,
            "stage_id",
            "0",
            empty,
            "currency",
            "-1",
            f"FROM {fact} WHERE status = '{DealStatus.OPEN.value}'",
            ("amount_minor", "0"),
        ),
        part(ENTRY, entered, "stage_id", "0", "entry_kind", empty, "-1", stays),
        part(
            OPEN_STAY,
            "entered_on",
            "stage_id",
            "0",
            empty,
            empty,
            "-1",
            f"{stays} WHERE exited_on IS NULL",
        ),
        part(
            DONE_STAY,
            entered,
            "stage_id",
            "0",
            empty,
            empty,
            "days",
            f"{stays} WHERE exited_on IS NOT NULL",
        ),
        part(
            EXIT,
            exited,
            "stage_id",
            "COALESCE(next_stage_id, 0)",
            "exit_kind",
            empty,
            "-1",
            f"{stays} WHERE exited_on IS NOT NULL",
        ),
        part(
            WON_STAY,
            exited,
            "stage_id",
            "0",
            empty,
            empty,
            "days",
            f"{stays} WHERE exited_on IS NOT NULL AND deal_status = '{DealStatus.WON.value}'",
        ),
    ]
    every = ", ".join(name if name != "owner_id" else f"{EVERY_OWNER} AS owner_id" for name in GROUP_KEY)
    group_but_owner = ", ".join(name for name in GROUP_KEY if name != "owner_id")
    return [
        *cells,
        f"INSERT INTO {groups} ({columns}) SELECT {every}, SUM(count), SUM(amount_minor), "  # noqa: S608
        f"SUM(amount_base_minor) FROM {groups} WHERE owner_id <> {EVERY_OWNER} GROUP BY {group_but_owner}",
    ]


def _lead_statements(vendor: str) -> list[str]:
    """LeadMonthlyTotals from the leads outside the trash (derived_cells.lead_cell in SQL)."""
    month = _sql_month("created_on", vendor)
    return [
        f"INSERT INTO {LeadMonthlyTotals._meta.db_table} ({', '.join(LEAD_CELL)}, count) "  # noqa: S608
        f"SELECT month, owner_id, team_id, source_id, COUNT(*) FROM (SELECT {month} AS month, owner_id, "
        f"COALESCE(team_id, 0) AS team_id, source_id FROM {Lead._meta.db_table} WHERE deleted_at IS NULL) "
        "leads GROUP BY month, owner_id, team_id, source_id"
    ]


def derived_rebuild(
    *, using: str = "default", rebuild_indexes: bool = True, groups: bool = True, leads: bool = True
) -> None:
    """Rebuild every derived analytics table from the deals, events and spells (after a bulk load).

    The indexes are dropped for the load and built again afterwards, which is several times faster than
    maintaining them row by row at a million deals. Migrations pass ``rebuild_indexes=False``: the indexes
    of that point in the migration history are not necessarily the models' current ones; those before
    DealGroupTotals existed pass ``groups=False``, those before LeadMonthlyTotals ``leads=False``.
    """
    connection = connections[using]
    vendor = connection.vendor
    models = [
        *([LeadMonthlyTotals] if leads else []),
        *([DealGroupTotals] if groups else []),
        DealMonthlyTotals,
        StayFact,
        DealFact,
    ]
    editor = connection.schema_editor(collect_sql=True)  # only renders index DDL; never entered
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses pending deferred FK checks
            cursor.execute("TRUNCATE " + ", ".join(model._meta.db_table for model in models))
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # back to Django's INITIALLY DEFERRED foreign keys
        else:
            for model in models:
                cursor.execute(f"DELETE FROM {model._meta.db_table}")  # noqa: S608 - our table
        indexes = (
            [(model, index) for model in models for index in model._meta.indexes] if rebuild_indexes else []
        )
        for _model, index in indexes:
            cursor.execute(f"DROP INDEX IF EXISTS {connection.ops.quote_name(index.name)}")
        # A migration older than the trash rebuilds before deals_deal has deleted_at.
        columns = {
            column.name for column in connection.introspection.get_table_description(cursor, "deals_deal")
        }
        for statement in [
            *_rebuild_statements(vendor, live_only="deleted_at" in columns),
            *(_group_statements(vendor) if groups else []),
            *(_lead_statements(vendor) if leads else []),
        ]:
            cursor.execute(statement)
        if vendor == "postgresql":  # CREATE INDEX refuses tables with the inserts' FK checks pending
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        for model, index in indexes:
            cursor.execute(str(index.create_sql(model, editor)))
        for model in models:
            cursor.execute(f"ANALYZE {model._meta.db_table}")


def derived_groups_rebuild(*, using: str = "default") -> None:
    """Count DealGroupTotals again from DealFact and StayFact (a migration; derived_rebuild() does it too)."""
    connection = connections[using]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {DealGroupTotals._meta.db_table}")  # noqa: S608 - our table
        for statement in _group_statements(connection.vendor):
            cursor.execute(statement)
        cursor.execute(f"ANALYZE {DealGroupTotals._meta.db_table}")


def derived_leads_rebuild(*, using: str = "default") -> None:
    """Count LeadMonthlyTotals again from the leads (a migration; derived_rebuild() does it too)."""
    connection = connections[using]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {LeadMonthlyTotals._meta.db_table}")  # noqa: S608 - our table
        for statement in _lead_statements(connection.vendor):
            cursor.execute(statement)
        cursor.execute(f"ANALYZE {LeadMonthlyTotals._meta.db_table}")
