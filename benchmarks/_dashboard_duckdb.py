"""DuckDB, the limit to aim at: the dashboard's numbers from a copy of the plain tables (deals, spells,
leads, close-date events, stages) without any of Dealflow's derived tables."""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from decimal import Decimal
from fractions import Fraction
from typing import Any

from benchmarks import common

TABLES = {
    "deal": (
        "deals_deal",
        "id BIGINT, pipeline_id BIGINT, stage_id BIGINT, owner_id BIGINT, team_id BIGINT, source_id BIGINT, "
        "lead_id BIGINT, status VARCHAR, created_on DATE, closed_on DATE, expected_close_on DATE, cycle_days INTEGER, "
        "lead_cycle_days INTEGER, amount_minor BIGINT, currency VARCHAR, amount_base_minor BIGINT, "
        "last_activity_at TIMESTAMP, stage_entered_at TIMESTAMP",
        "",
    ),
    "spell": (
        "deals_stagespell",
        "id BIGINT, deal_id BIGINT, stage_id BIGINT, pipeline_id BIGINT, entered_at TIMESTAMP, entered_on DATE, "
        "exited_on DATE, exit_kind VARCHAR, next_stage_id BIGINT",
        "",
    ),
    "lead": (
        "deals_lead",
        "id BIGINT, created_on DATE, owner_id BIGINT, team_id BIGINT, source_id BIGINT",
        "",
    ),
    "push": (
        "deals_dealevent",
        "deal_id BIGINT, from_value VARCHAR, to_value VARCHAR, occurred_at TIMESTAMP",
        " WHERE kind = 'close_date_changed'",
    ),
    "stage": (
        "deals_stage",
        'id BIGINT, pipeline_id BIGINT, name VARCHAR, "order" INTEGER, kind VARCHAR, is_active BOOLEAN, '
        "rotting_days INTEGER",
        "",
    ),
    "rate": ("deals_exchangerate", "currency VARCHAR, valid_from DATE, rate VARCHAR", ""),
    "pipeline": (
        "deals_pipeline",
        'id BIGINT, name VARCHAR, is_active BOOLEAN, is_default BOOLEAN, "order" INTEGER',
        "",
    ),
}


def _columns(definition: str) -> list[str]:
    return [part.strip().split(" ")[0] for part in definition.split(",")]


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
        return value.isoformat(sep=" ")
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def duckdb_load(connection, name: str) -> Any:
    """The plain tables copied into var/<name>-<engine>.duckdb (rebuilt when the source data changed)."""
    import duckdb

    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), MAX(id) FROM deals_deal")
        key = "-".join(str(value) for value in cursor.fetchone()) + f"-{connection.vendor}"
    path = common.VAR / f"{name}-{connection.vendor}.duckdb"  # one copy per engine: runs alternate
    marker = common.VAR / f"{name}-{connection.vendor}.duckdb.key"
    if path.exists() and marker.exists() and marker.read_text() == key:
        return duckdb.connect(str(path), read_only=True)
    path.unlink(missing_ok=True)
    database = duckdb.connect(str(path))
    folder = common.VAR / f"{name}-csv"
    folder.mkdir(exist_ok=True)
    for name, (table, definition, where) in TABLES.items():
        columns = _columns(definition)
        file = folder / f"{name}.csv"
        select = f"SELECT {', '.join(columns)} FROM {table}{where}"
        with connection.cursor() as cursor, open(file, "w", newline="") as handle:
            writer = csv.writer(handle)
            cursor.execute(select)
            while batch := cursor.fetchmany(50_000):
                writer.writerows([_cell(value) for value in row] for row in batch)
        types = {
            column.strip('"'): kind
            for column, kind in (part.strip().split(" ", 1) for part in definition.split(","))
        }
        database.execute(
            f"CREATE TABLE {name} AS SELECT * FROM read_csv(?, header = false, columns = ?, nullstr = '')",
            [str(file), types],
        )
        file.unlink()
    database.close()
    marker.write_text(key)
    return duckdb.connect(str(path), read_only=True)


def _median(value: Any) -> Fraction | None:
    return None if value is None else Fraction(value).limit_denominator(2)


def duckdb_numbers(database, period) -> dict[str, Any]:
    """The numbers of benchmarks.dashboard.numbers_of, computed in DuckDB from the plain tables."""
    from django.utils import timezone

    from dealflow.core import clock
    from dealflow.metrics import calculations as calc
    from dealflow.metrics.selectors.scope import RateTable

    today = clock.today()
    now = clock.now().astimezone(dt.UTC).replace(tzinfo=None)
    previous = period.previous()
    q0, q1, p0 = period.start, period.end, previous.start

    def rows(sql: str, params: list | None = None) -> list[tuple]:
        return database.execute(sql, params or []).fetchall()

    pipeline_id = rows(
        'SELECT id FROM pipeline WHERE is_active ORDER BY is_default DESC, "order", id LIMIT 1'
    )[0][0]
    stages = rows(
        'SELECT id, name, "order", kind, is_active FROM stage WHERE pipeline_id = ? ORDER BY "order", id',
        [pipeline_id],
    )
    rates = RateTable(
        "EUR",
        [
            (currency, valid_from, Decimal(str(rate)))
            for currency, valid_from, rate in rows("SELECT currency, valid_from, rate FROM rate")
        ],
    )

    def closed(start: dt.date, end: dt.date) -> tuple:
        return rows(
            "SELECT count(*) FILTER (status = 'won'), count(*) FILTER (status = 'lost'), "
            "coalesce(sum(amount_base_minor) FILTER (status = 'won'), 0), coalesce(sum(amount_base_minor) FILTER (status = 'lost'), 0), "
            "coalesce(sum(cycle_days) FILTER (status = 'won'), 0), quantile_cont(amount_base_minor, 0.5) FILTER (status = 'won'), "
            "quantile_cont(cycle_days, 0.5) FILTER (status = 'won'), quantile_cont(lead_cycle_days, 0.5) FILTER (status = 'won') "
            "FROM deal WHERE closed_on >= ? AND closed_on < ? AND status IN ('won', 'lost')",
            [start, end],
        )[0]

    def leads(start: dt.date, end: dt.date) -> tuple:
        return rows(
            "SELECT count(*), count(d.id), count(*) FILTER (d.status = 'won') FROM lead l "
            "LEFT JOIN deal d ON d.lead_id = l.id WHERE l.created_on >= ? AND l.created_on < ?",
            [start, end],
        )[0]

    def open_at(end: dt.date) -> int:
        return rows(
            "SELECT count(*) FILTER (created_on < ?) - count(*) FILTER (status IN ('won', 'lost') AND closed_on < ?) FROM deal",
            [end, end],
        )[0][0]

    won, lost, won_amount, lost_amount, cycle, size_median, cycle_median, lead_median = closed(q0, q1)
    lead_count, converted, lead_won = leads(q0, q1)
    open_now = open_at(q1)
    velocity = calc.velocity(
        open_deals=open_now,
        win_rate=calc.ratio(won, won + lost),
        average_size=calc.ratio(won_amount, won),
        cycle_days=calc.ratio(cycle, won),
    )
    before = closed(p0, q0)

    # Funnel: the furthest stage of each deal, from its spells.
    active = [stage for stage in stages if stage[3] == "open" and stage[4]]
    by_id = {stage[0]: stage for stage in stages}
    reached: dict[int, int] = defaultdict(int)
    amounts: dict[int, int] = defaultdict(int)
    won_funnel = won_funnel_amount = 0
    for status, furthest, currency, count, amount, base in rows(
        "WITH cohort AS (SELECT * FROM deal WHERE pipeline_id = ? AND created_on >= ? AND created_on < ?), "
        'furthest AS (SELECT s.deal_id, arg_max(s.stage_id, st."order" * 1000000 + st.id) AS stage_id FROM spell s '
        "JOIN stage st ON st.id = s.stage_id WHERE s.deal_id IN (SELECT id FROM cohort) GROUP BY s.deal_id) "
        "SELECT c.status, coalesce(f.stage_id, c.stage_id), c.currency, count(*), sum(c.amount_minor), sum(c.amount_base_minor) "
        "FROM cohort c LEFT JOIN furthest f ON f.deal_id = c.id GROUP BY ALL",
        [pipeline_id, q0, q1],
    ):
        value = (
            (rates.to_base_minor(int(amount or 0), currency, today) or 0)
            if status == "open"
            else int(base or 0)
        )
        stage = by_id.get(furthest)
        order = None if status == "won" else (stage[2] if stage and stage[3] == "open" else active[0][2])
        if status == "won":
            won_funnel += count
            won_funnel_amount += value
        for candidate in active:
            if order is None or order >= candidate[2]:
                reached[candidate[0]] += count
                amounts[candidate[0]] += value
    funnel = [("Leads", lead_count, "None"), ("Converted to a deal", converted, "None")]
    funnel += [(stage[1], reached[stage[0]], str(rates.money(amounts[stage[0]]))) for stage in active]
    funnel.append(("Won", won_funnel, str(rates.money(won_funnel_amount))))

    # Time in stage (Kaplan-Meier from spells), the won-deal benchmark, work waiting now.
    survival: dict[tuple, tuple[dict, dict]] = defaultdict(lambda: (defaultdict(int), defaultdict(int)))
    for is_current, stage_id, days, open_since, count in rows(
        "SELECT CASE WHEN entered_on >= ? THEN 1 ELSE 0 END, stage_id, exited_on - entered_on, "
        "CASE WHEN exited_on IS NULL THEN entered_on END, count(*) FROM spell WHERE pipeline_id = ? "
        "AND entered_on >= ? AND entered_on < ? GROUP BY ALL",
        [q0, pipeline_id, p0, q1],
    ):
        finished, still_open = survival[(is_current, stage_id)]
        if days is not None:
            finished[days] += count
        else:
            still_open[max(0, (today - open_since).days)] += count
    benchmark: dict[int, dict[int, int]] = defaultdict(dict)
    for stage_id, days, count in rows(
        "SELECT s.stage_id, s.exited_on - s.entered_on, count(*) FROM spell s JOIN deal d ON d.id = s.deal_id "
        "WHERE d.status = 'won' AND s.exited_on >= ? AND s.exited_on < ? AND s.pipeline_id = ? GROUP BY ALL",
        [q1 - dt.timedelta(days=365), q1, pipeline_id],
    ):
        benchmark[stage_id][days] = count
    waiting = dict(
        rows(
            "SELECT stage_id, count(*) FROM deal WHERE status = 'open' AND pipeline_id = ? GROUP BY 1",
            [pipeline_id],
        )
    )
    stage_rows = []
    for stage in stages:
        if stage[3] != "open":
            continue
        now_curve = calc.kaplan_meier(*survival[(1, stage[0])])
        before_curve = calc.kaplan_meier(*survival[(0, stage[0])])
        if not stage[4] and not now_curve.count and not waiting.get(stage[0]):
            continue
        stage_rows.append(
            (
                stage[1],
                now_curve.count,
                now_curve.median,
                now_curve.p80,
                before_curve.median,
                calc.quantile_of_counts(benchmark[stage[0]], 0.5),
                calc.quantile_of_counts(benchmark[stage[0]], 0.8),
                waiting.get(stage[0], 0),
            )
        )

    # Flow: exits in the period, and entries of new and reopened deals (LAG over each deal's spells).
    keys = {stage[0]: f"stage-{stage[0]}" for stage in stages}
    flow = []
    for kind, stage_id, count in rows(
        "SELECT entry, stage_id, count(*) FROM (SELECT stage_id, entered_on, CASE WHEN previous IS NULL OR previous = '' "
        "THEN 'created' WHEN previous IN ('won', 'lost') THEN 'reopened' ELSE previous END AS entry FROM "
        "(SELECT stage_id, entered_on, lag(exit_kind) OVER (PARTITION BY deal_id ORDER BY entered_at, id) AS previous "
        "FROM spell WHERE pipeline_id = ?)) WHERE entered_on >= ? AND entered_on < ? AND entry IN ('created', 'reopened') GROUP BY ALL",
        [pipeline_id, q0, q1],
    ):
        flow.append((kind, keys[stage_id], kind, count))
    for stage_id, next_id, kind, count in rows(
        "SELECT stage_id, next_stage_id, exit_kind, count(*) FROM spell WHERE pipeline_id = ? AND exited_on >= ? "
        "AND exited_on < ? GROUP BY ALL",
        [pipeline_id, q0, q1],
    ):
        flow.append((keys[stage_id], kind if kind in ("won", "lost") else keys.get(next_id), kind, count))

    # Stale and slipped deals.
    stale = rows(
        "SELECT count(*) FROM deal d JOIN stage s ON s.id = d.stage_id WHERE d.status = 'open' AND s.kind = 'open' "
        "AND s.rotting_days > 0 AND (d.last_activity_at < ? - to_days(s.rotting_days) "
        "OR (d.last_activity_at IS NULL AND d.stage_entered_at < ? - to_days(s.rotting_days)))",
        [now, now],
    )[0][0]
    start_at = (
        timezone.make_aware(dt.datetime.combine(q0, dt.time.min)).astimezone(dt.UTC).replace(tzinfo=None)
    )
    end_at = timezone.make_aware(dt.datetime.combine(q1, dt.time.min)).astimezone(dt.UTC).replace(tzinfo=None)
    slipped, overdue, pushed = rows(
        "WITH pushes AS (SELECT deal_id, max(occurred_at) AS last_pushed_at FROM push WHERE from_value <> '' "
        "AND to_value <> '' AND to_value > from_value GROUP BY deal_id) "
        "SELECT count(*), count(*) FILTER (expected_close_on < ?), count(*) FILTER (p.last_pushed_at >= ? AND p.last_pushed_at < ?) "
        "FROM deal d LEFT JOIN pushes p ON p.deal_id = d.id WHERE d.status = 'open' AND (d.expected_close_on < ? "
        "OR (p.last_pushed_at >= ? AND p.last_pushed_at < ?))",
        [today, start_at, end_at, today, start_at, end_at],
    )[0]

    # Breakdown by owner.
    owners: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])  # won, lost, leads, open, lead deals
    for owner_id, won_o, lost_o, open_o in rows(
        "SELECT owner_id, count(*) FILTER (status = 'won' AND closed_on >= ? AND closed_on < ?), "
        "count(*) FILTER (status = 'lost' AND closed_on >= ? AND closed_on < ?), "
        "count(*) FILTER (created_on < ?) - count(*) FILTER (status IN ('won', 'lost') AND closed_on < ?) FROM deal GROUP BY 1",
        [q0, q1, q0, q1, q1, q1],
    ):
        owners[owner_id][0:2] = [won_o, lost_o]
        owners[owner_id][3] = open_o
    for owner_id, count, deals in rows(
        "SELECT l.owner_id, count(*), count(d.id) FROM lead l LEFT JOIN deal d ON d.lead_id = l.id "
        "WHERE l.created_on >= ? AND l.created_on < ? GROUP BY 1",
        [q0, q1],
    ):
        owners[owner_id][2] = count
        owners[owner_id][4] = deals
    breakdown = sorted(
        (key, values[0], values[1], values[2], values[3]) for key, values in owners.items() if any(values)
    )

    # Trends: 24 months ending with the period's last month.
    months = [_months_back(q1, 24 - index) for index in range(24)]
    monthly = {
        month: (won_m, lost_m)
        for month, won_m, lost_m in rows(
            "SELECT CAST(date_trunc('month', closed_on) AS DATE), count(*) FILTER (status = 'won'), count(*) FILTER (status = 'lost') "
            "FROM deal WHERE closed_on >= ? AND closed_on < ? GROUP BY 1",
            [months[0], q1],
        )
    }
    lead_months = dict(
        rows(
            "SELECT CAST(date_trunc('month', created_on) AS DATE), count(*) FROM lead WHERE created_on >= ? AND created_on < ? GROUP BY 1",
            [months[0], q1],
        )
    )
    opened = dict(
        rows(
            "SELECT m, (SELECT count(*) FROM deal WHERE created_on < m) - (SELECT count(*) FROM deal WHERE status IN ('won', 'lost') "
            "AND closed_on < m) FROM (SELECT unnest(?::DATE[]) AS m)",
            [[_months_back(q1, 23 - index) for index in range(24)]],
        )
    )
    trends = []
    for month in months:
        won_m, lost_m = monthly.get(month, (0, 0))
        end = _months_back(month, -1)
        trends.append((f"{month:%Y-%m}", won_m, lost_m, lead_months.get(month, 0), opened[end]))

    return {
        "won": won,
        "lost": lost,
        "won_value": str(rates.money(int(won_amount))),
        "lost_value": str(rates.money(int(lost_amount))),
        "size_median": str(
            calc.as_decimal(_median(size_median) / 100, 2) if size_median is not None else None
        ),
        "cycle_mean": str(calc.as_decimal(calc.ratio(cycle, won), 1)),
        "cycle_median": str(calc.as_decimal(_median(cycle_median), 1)),
        "lead_cycle_median": str(calc.as_decimal(_median(lead_median), 1)),
        "leads": lead_count,
        "lead_converted": converted,
        "lead_won": lead_won,
        "open": open_now,
        "velocity": str(calc.as_decimal(velocity / 100, 2) if velocity is not None else None),
        "previous": [before[0], before[1], open_at(q0), leads(p0, q0)[0]],
        "funnel": funnel,
        "stages": stage_rows,
        "flow": sorted(flow),
        "attention": [stale, slipped, overdue, pushed],
        "breakdown": breakdown,
        "trends": trends,
    }


def _months_back(first_of_month: dt.date, months: int) -> dt.date:
    index = first_of_month.year * 12 + first_of_month.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)
