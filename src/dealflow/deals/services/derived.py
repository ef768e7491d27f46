"""Derived analytics tables kept in step with the deals, events and spells (docs/decisions/0002).

Three tables serve the metrics (dealflow.metrics) so that a dashboard at a million deals reads narrow,
covering indexes instead of joining deals to their history per request:

- ``DealFact``: one row per deal with the columns metrics filter and sum on, its furthest stage and how
  often its expected close date was pushed later;
- ``StayFact``: one row per stage spell with the deal's *current* owner, team, source and status, how the
  deal entered the stage (created / forward / back / reopened) and the stay's length in calendar days;
- ``DealMonthlyTotals``: additive monthly totals per pipeline, owner, team and source (the trends).

The services keep them in step inside their own transaction through the hooks below, which
``deals.services.history`` calls. Bulk loaders (the demo generator, big imports) write deals, events and
spells directly and then call ``derived_rebuild()``, which recomputes all three in SQL with the same
rules; a test checks that both paths give identical rows.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from django.db import connections, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest

from dealflow.deals.models import (
    Deal,
    DealFact,
    DealMonthlyTotals,
    DealStatus,
    SpellExit,
    Stage,
    StageSpell,
    StayFact,
)

# Deal fields DealFact mirrors; a save touching none of them leaves the facts alone.
_FACT_FIELDS = (
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
_LEAD_FIELDS = ("lead_created_on", "lead_owner_id", "lead_team_id", "lead_source_id")
_STAY_FIELDS = ("owner_id", "team_id", "source_id", "status")
_SAVED_NAMES = {name.removesuffix("_id") for name in _FACT_FIELDS} | set(_FACT_FIELDS)
_TOTALS = (
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
_CELL = ("month", "pipeline_id", "owner_id", "team_id", "source_id")


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _fact_values(deal: Deal) -> dict[str, Any]:
    return {name: getattr(deal, name) for name in _FACT_FIELDS}


def monthly_cells(fact: dict[str, Any]) -> dict[tuple[Any, ...], Counter[Any]]:
    """What one deal adds to DealMonthlyTotals, by cell (the rule derived_rebuild() applies in SQL)."""
    cells: dict[tuple[Any, ...], Counter[Any]] = defaultdict(Counter[Any])
    pipeline_id = fact["pipeline_id"]
    created = cells[
        (
            _month(fact["created_on"]),
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
                _month(fact["closed_on"]),
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
                _month(fact["lead_created_on"]),
                pipeline_id,
                fact["lead_owner_id"],
                fact["lead_team_id"] or 0,
                fact["lead_source_id"] or 0,
            )
        ]
        lead["lead_deals"] += 1
        lead["lead_won"] += int(is_won)
    return cells


def _totals_add(
    *, cells: dict[tuple[Any, ...], Counter[Any]], sign: int, into: dict[tuple[Any, ...], Counter[Any]]
) -> None:
    for key, values in cells.items():
        for name, value in values.items():
            into[key][name] += sign * value


def _totals_apply(delta: dict[tuple[Any, ...], Counter[Any]], *, using: str) -> None:
    """Add ``delta`` to DealMonthlyTotals in one upsert (same SQL on PostgreSQL and SQLite)."""
    rows = [
        (key, values)
        for key, values in sorted(delta.items(), key=lambda item: str(item[0]))
        if any(values.values())
    ]
    if not rows:
        return
    table = DealMonthlyTotals._meta.db_table
    columns = [*_CELL, *_TOTALS]
    placeholders = ", ".join("(" + ", ".join(["%s"] * len(columns)) + ")" for _ in rows)
    updates = ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in _TOTALS)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES {placeholders} "  # noqa: S608 - our names
        f"ON CONFLICT ({', '.join(_CELL)}) DO UPDATE SET {updates}"
    )
    params: list[Any] = []
    for key, values in rows:
        params.extend(key)
        params.extend(values.get(name, 0) for name in _TOTALS)
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)


def _lead_values(deal: Deal) -> dict[str, Any]:
    if not deal.lead_id:
        return dict.fromkeys(_LEAD_FIELDS)
    from dealflow.deals.models import Lead

    lead = (
        Lead.objects.filter(pk=deal.lead_id).values("created_on", "owner_id", "team_id", "source_id").first()
    )
    if lead is None:
        return dict.fromkeys(_LEAD_FIELDS)
    return {
        "lead_created_on": lead["created_on"],
        "lead_owner_id": lead["owner_id"],
        "lead_team_id": lead["team_id"],
        "lead_source_id": lead["source_id"],
    }


def derived_deal_sync(*, deal: Deal, fields: list[str] | None = None) -> None:
    """Bring the deal's DealFact, its StayFacts' deal columns and the monthly totals in step with ``deal``.

    Called after every write of the deal row, in the same transaction (which holds the deal's row lock,
    so two writers of one deal update its facts one after the other). ``fields`` names what was saved;
    a save that touches no mirrored field costs nothing.
    """
    if fields is not None and not _SAVED_NAMES.intersection(fields):
        return
    new = _fact_values(deal)
    old = (
        DealFact.objects.filter(deal_id=deal.pk)
        .values(*_FACT_FIELDS, *_LEAD_FIELDS, "furthest_stage_id")
        .first()
    )
    delta: dict[tuple[Any, ...], Counter[Any]] = defaultdict(Counter[Any])
    if old is None:
        lead = _lead_values(deal)
        DealFact.objects.create(deal_id=deal.pk, furthest_stage_id=deal.stage_id, **new, **lead)
        _totals_add(cells=monthly_cells({**new, **lead}), sign=1, into=delta)
    else:
        changed = {name: value for name, value in new.items() if old[name] != value}
        if not changed:
            return
        DealFact.objects.filter(deal_id=deal.pk).update(**changed)
        lead = {name: old[name] for name in _LEAD_FIELDS}
        _totals_add(cells=monthly_cells(old), sign=-1, into=delta)
        _totals_add(cells=monthly_cells({**new, **lead}), sign=1, into=delta)
        if any(name in changed for name in _STAY_FIELDS):
            StayFact.objects.filter(deal_id=deal.pk).update(
                owner_id=deal.owner_id,
                team_id=deal.team_id,
                source_id=deal.source_id,
                deal_status=deal.status,
            )
    _totals_apply(delta, using=DealFact.objects.db)


def _entry_kind(previous_exit: str | None) -> str:
    if not previous_exit:
        return "created"
    if previous_exit in (SpellExit.WON, SpellExit.LOST):
        return "reopened"
    return previous_exit  # forward or back


def derived_stay_open(*, spell: StageSpell, deal: Deal, stage: Stage) -> None:
    """Record a new stay and move the deal's furthest stage on when this stage lies beyond it."""
    previous_exit = (
        StageSpell.objects.filter(deal_id=deal.pk)
        .exclude(pk=spell.pk)
        .order_by("-entered_at", "-id")
        .values_list("exit_kind", flat=True)
        .first()
    )
    StayFact.objects.create(
        spell_id=spell.pk,
        deal_id=deal.pk,
        pipeline_id=spell.pipeline_id,
        stage_id=stage.pk,
        owner_id=deal.owner_id,
        team_id=deal.team_id,
        source_id=deal.source_id,
        deal_status=deal.status,
        entry_kind=_entry_kind(previous_exit),
        entered_on=spell.entered_on,
    )
    DealFact.objects.filter(deal_id=deal.pk).filter(
        Q(furthest_stage__order__lt=stage.order)
        | Q(furthest_stage__order=stage.order, furthest_stage_id__lt=stage.pk)
    ).update(furthest_stage_id=stage.pk)


def derived_stay_close(*, spell: StageSpell) -> None:
    """Store how and when a stay ended, and its length in calendar days."""
    assert spell.exited_on is not None
    StayFact.objects.filter(spell_id=spell.pk).update(
        exited_on=spell.exited_on,
        days=(spell.exited_on - spell.entered_on).days,
        exit_kind=spell.exit_kind,
        next_stage_id=spell.next_stage_id,
    )


def is_close_date_push(from_value: str, to_value: str) -> bool:
    """A push moves an expected close date later (ISO dates compare as text, as in derived_rebuild())."""
    return bool(from_value) and bool(to_value) and to_value > from_value


def derived_close_date_changed(*, deal: Deal, from_value: str, to_value: str, at: dt.datetime) -> None:
    """Count a pushed expected close date on the deal's facts (slipped deals)."""
    if not is_close_date_push(from_value, to_value):
        return
    DealFact.objects.filter(deal_id=deal.pk).update(
        close_date_pushes=F("close_date_pushes") + 1,
        last_pushed_at=Greatest(Coalesce("last_pushed_at", at), at),
    )


# ------------------------------------------------------------------------------------------- rebuild


def _sql_month(column: str, vendor: str) -> str:
    if vendor == "postgresql":
        return f"CAST(date_trunc('month', {column}) AS date)"
    return f"(substr({column}, 1, 7) || '-01')"


def _sql_days(start: str, end: str, vendor: str) -> str:
    if vendor == "postgresql":
        return f"({end} - {start})"
    return f"CAST(julianday({end}) - julianday({start}) AS INTEGER)"


def _rebuild_statements(vendor: str, *, live_only: bool = True) -> list[str]:
    deal_columns = ", ".join(_FACT_FIELDS)
    fact = DealFact._meta.db_table
    stay = StayFact._meta.db_table
    totals = DealMonthlyTotals._meta.db_table
    cell_group = ", ".join(_CELL)
    sums = ", ".join(f"SUM({name})" for name in _TOTALS)

    def totals_select(
        month: str, owner: str, team: str, source: str, values: dict[str, str], where: str
    ) -> str:
        columns = ", ".join(values.get(name, "0") + f" AS {name}" for name in _TOTALS)
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
    furthest = (
        "SELECT deal_id, stage_id FROM (SELECT s.deal_id, s.stage_id, ROW_NUMBER() OVER ("
        'PARTITION BY s.deal_id ORDER BY st."order" DESC, st.id DESC) AS position '
        "FROM deals_stagespell s JOIN deals_stage st ON st.id = s.stage_id) ranked WHERE position = 1"
    )
    pushes = (
        "SELECT deal_id, COUNT(*) AS pushes, MAX(occurred_at) AS last_pushed_at FROM deals_dealevent "
        "WHERE kind = 'close_date_changed' AND from_value <> '' AND to_value <> '' AND to_value > from_value "
        "GROUP BY deal_id"
    )
    prefixed = ", ".join(f"d.{name}" for name in _FACT_FIELDS)
    live = " WHERE d.deleted_at IS NULL" if live_only else ""  # the trash is out of the metrics
    return [
        f"INSERT INTO {fact} (deal_id, {deal_columns}, furthest_stage_id, lead_created_on, lead_owner_id, "  # noqa: S608
        "lead_team_id, lead_source_id, close_date_pushes, last_pushed_at) "
        f"SELECT d.id, {prefixed}, COALESCE(f.stage_id, d.stage_id), l.created_on, l.owner_id, l.team_id, "
        "l.source_id, COALESCE(p.pushes, 0), p.last_pushed_at FROM deals_deal d "
        f"LEFT JOIN ({furthest}) f ON f.deal_id = d.id "
        "LEFT JOIN deals_lead l ON l.id = d.lead_id "
        f"LEFT JOIN ({pushes}) p ON p.deal_id = d.id{live}",
        f"INSERT INTO {stay} (spell_id, deal_id, pipeline_id, stage_id, next_stage_id, owner_id, team_id, "  # noqa: S608
        "source_id, deal_status, entry_kind, entered_on, exited_on, days, exit_kind) "
        "SELECT s.id, s.deal_id, s.pipeline_id, s.stage_id, s.next_stage_id, d.owner_id, d.team_id, "
        "d.source_id, d.status, CASE WHEN s.previous_exit IS NULL OR s.previous_exit = '' THEN 'created' "
        "WHEN s.previous_exit IN ('won', 'lost') THEN 'reopened' ELSE s.previous_exit END, "
        f"s.entered_on, s.exited_on, CASE WHEN s.exited_on IS NULL THEN NULL ELSE "
        f"{_sql_days('s.entered_on', 's.exited_on', vendor)} END, s.exit_kind "
        "FROM (SELECT spell.*, LAG(spell.exit_kind) OVER (PARTITION BY spell.deal_id "
        "ORDER BY spell.entered_at, spell.id) AS previous_exit FROM deals_stagespell spell) s "
        f"JOIN deals_deal d ON d.id = s.deal_id{live}",
        f"INSERT INTO {totals} ({cell_group}, {', '.join(_TOTALS)}) "  # noqa: S608
        f"SELECT {cell_group}, {sums} FROM ({' UNION ALL '.join(parts)}) cells GROUP BY {cell_group}",
    ]


def derived_rebuild(*, using: str = "default", rebuild_indexes: bool = True) -> None:
    """Rebuild every derived analytics table from the deals, events and spells (after a bulk load).

    The indexes are dropped for the load and built again afterwards, which is several times faster than
    maintaining them row by row at a million deals. Migrations pass ``rebuild_indexes=False``: the indexes
    of that point in the migration history are not necessarily the models' current ones.
    """
    connection = connections[using]
    vendor = connection.vendor
    models = [DealMonthlyTotals, StayFact, DealFact]
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
        for statement in _rebuild_statements(vendor, live_only="deleted_at" in columns):
            cursor.execute(statement)
        if vendor == "postgresql":  # CREATE INDEX refuses tables with the inserts' FK checks pending
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        for model, index in indexes:
            cursor.execute(str(index.create_sql(model, editor)))
        for model in models:
            cursor.execute(f"ANALYZE {model._meta.db_table}")


# ------------------------------------------------------------------------------ the trash (soft delete)
# A deal in the trash is not in the derived tables at all: derived_rebuild() reads live deals only, and
# these two keep a single deal in step when it goes to the trash or comes back, with the same rules as
# the incremental hooks above (monthly_cells, _entry_kind, is_close_date_push) so that a restored deal's
# rows equal what a rebuild computes (deals/tests/test_trash.py compares them).


def derived_remove_deal(*, deal_id: int) -> None:
    """Take a deal out of DealFact, StayFact and the monthly totals (it went to the trash)."""
    old = DealFact.objects.filter(deal_id=deal_id).values(*_FACT_FIELDS, *_LEAD_FIELDS).first()
    if old is None:
        return
    delta: dict[tuple[Any, ...], Counter[Any]] = defaultdict(Counter[Any])
    _totals_add(cells=monthly_cells(old), sign=-1, into=delta)
    _totals_apply(delta, using=DealFact.objects.db)
    StayFact.objects.filter(deal_id=deal_id).delete()
    DealFact.objects.filter(deal_id=deal_id).delete()


def derived_restore_deal(*, deal: Deal) -> None:
    """Put a deal back into the derived tables from its row, spells and events (it left the trash)."""
    from dealflow.deals.models import DealEvent, EventKind

    if DealFact.objects.filter(deal_id=deal.pk).exists():
        return
    spells = list(
        StageSpell.objects.filter(deal_id=deal.pk).select_related("stage").order_by("entered_at", "id")
    )
    furthest = max(spells, key=lambda spell: (spell.stage.order, spell.stage_id), default=None)
    pushes = [
        occurred_at
        for from_value, to_value, occurred_at in DealEvent.objects.filter(
            deal_id=deal.pk, kind=EventKind.CLOSE_DATE_CHANGED
        ).values_list("from_value", "to_value", "occurred_at")
        if is_close_date_push(from_value, to_value)
    ]
    new = _fact_values(deal)
    lead = _lead_values(deal)
    DealFact.objects.create(
        deal_id=deal.pk,
        furthest_stage_id=furthest.stage_id if furthest is not None else deal.stage_id,
        close_date_pushes=len(pushes),
        last_pushed_at=max(pushes, default=None),
        **new,
        **lead,
    )
    previous_exit: str | None = None
    stays = []
    for spell in spells:
        stays.append(
            StayFact(
                spell_id=spell.pk,
                deal_id=deal.pk,
                pipeline_id=spell.pipeline_id,
                stage_id=spell.stage_id,
                next_stage_id=spell.next_stage_id,
                owner_id=deal.owner_id,
                team_id=deal.team_id,
                source_id=deal.source_id,
                deal_status=deal.status,
                entry_kind=_entry_kind(previous_exit),
                entered_on=spell.entered_on,
                exited_on=spell.exited_on,
                days=(spell.exited_on - spell.entered_on).days if spell.exited_on is not None else None,
                exit_kind=spell.exit_kind,
            )
        )
        previous_exit = spell.exit_kind
    StayFact.objects.bulk_create(stays)
    delta: dict[tuple[Any, ...], Counter[Any]] = defaultdict(Counter[Any])
    _totals_add(cells=monthly_cells({**new, **lead}), sign=1, into=delta)
    _totals_apply(delta, using=DealFact.objects.db)
