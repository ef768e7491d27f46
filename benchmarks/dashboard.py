"""The whole dashboard for one quarter at a million deals, against the best hand-written SQL for the same
numbers in the same run, on PostgreSQL and SQLite; and DuckDB over a copy of the data as the limit.

    python -m benchmarks dashboard                      both engines (PostgreSQL if it answers), 1,000,000 deals
    python -m benchmarks dashboard --deals 100000 --engine sqlite --repeat 3
    python -m benchmarks dashboard --rebuild            drop and rebuild the benchmark databases

The databases (var/bench_dashboard.sqlite3 and PostgreSQL database bench_dashboard) are built once with the
demo generator (`dealflow demo`: ~1.25 leads and ~4.5 events per deal) and reused while they hold the
asked number of deals; a PostgreSQL one gets VACUUM ANALYZE so index-only scans work, as autovacuum would
do in production. Timed, each as the median of --repeat runs after a warm-up:

- dashboard: dealflow.metrics.selectors.dashboard_for_user for an admin (all six metrics but forecast
  accuracy, 24-month trends, funnel, time in stage, bottlenecks, flow, stale and slipped deals, breakdown
  by owner) - the ORM and Python that every front door runs;
- hand SQL: hand-written statements for the same numbers on the same schema, finished with the same maths;
- page: the whole GET /dashboard/ through Django's test client (middleware, template, charts); per persona
  also "lists", the GET /dashboard/attention/ the page makes after it (the stale and slipped deals);
- DuckDB: the same numbers from the plain tables (deals, spells, leads, events - no derived tables)
  copied into DuckDB.

The three computations are compared number by number; the run fails if they disagree.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections import defaultdict
from decimal import Decimal
from fractions import Fraction
from typing import Any

from benchmarks import common

DATABASE = "bench_dashboard"
TODAY = dt.date(2026, 11, 26)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks dashboard")
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--engine", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--period", help="default: the last whole quarter before the data's today")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--no-duckdb", action="store_true")
    parser.add_argument(
        "--database", default=DATABASE, help="database / var file name (default: %(default)s)"
    )
    parser.add_argument("--json-out")
    parser.add_argument(
        "--personas",
        default="admin,manager,rep",
        help="demo users whose dashboard, API answer and parts are timed too (default: %(default)s; '' for none)",
    )
    options = parser.parse_args(argv)
    if options.engine == "both":
        engines = ["sqlite"] + (["postgres"] if common.postgres_available() else [])
        passed = [argument for argument in argv if argument not in ("--engine", "both")]
        results = common.run_children("dashboard", engines, passed)
        _print_summary(results)
        return 0 if all("error" not in result and result["agree"] for result in results) else 1
    result = run_engine(options)
    if options.json_out:
        with open(options.json_out, "w") as handle:
            json.dump(result, handle, indent=2)
    return 0 if result["agree"] else 1


# ---------------------------------------------------------------------------------------------- build


def _build(options) -> dict[str, Any]:
    url = common.database_url(options.engine, options.database)
    if options.engine == "postgres":
        common.postgres_create_database(url)
    elif options.rebuild:
        for suffix in ("", "-wal", "-shm"):
            (common.VAR / f"{options.database}.sqlite3{suffix}").unlink(missing_ok=True)
    common.setup_django(url)
    from django.db import connection

    common.migrate()
    from dealflow.deals.models import Deal

    built = {"seconds": None}
    have = Deal.objects.count()
    if options.rebuild or have < options.deals * 0.99:
        if have:
            print(f"  the database holds {have:,} deals; rebuilding it", flush=True)
            _empty(connection)
        from dealflow.demo.generate import demo_generate

        print(f"  generating {options.deals:,} deals with the demo generator ...", flush=True)
        started = time.perf_counter()
        summary = demo_generate(
            deals=options.deals, seed=42, today=TODAY, progress=False, optional_steps=False, stdout=sys.stderr
        )
        built = {"seconds": round(time.perf_counter() - started, 1), "timings": summary.timings}
        print(f"  built in {built['seconds']} s", flush=True)
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        with connection.cursor() as cursor:  # autocommit: VACUUM cannot run in a transaction
            cursor.execute("VACUUM ANALYZE")
    return built


def _empty(connection) -> None:
    """Drop every table so migrate and the demo start from nothing (bench database only)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        else:
            tables = [
                name for (name,) in cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            cursor.execute("PRAGMA foreign_keys = OFF")
            for table in tables:
                if not table.startswith("sqlite_"):
                    cursor.execute(f'DROP TABLE "{table}"')
    common.migrate()


# ------------------------------------------------------------------------------------------ the run


def run_engine(options) -> dict[str, Any]:
    built = _build(options)
    import time_machine
    from django.db import connection
    from django.test import Client

    from dealflow.accounts.models import User
    from dealflow.core.periods import parse_period, period_containing
    from dealflow.deals.models import Deal, DealEvent, Lead, StageSpell
    from dealflow.metrics.selectors import MetricFilters, dashboard_for_user

    counts = {
        "deals": Deal.objects.count(),
        "events": DealEvent.objects.count(),
        "spells": StageSpell.objects.count(),
        "leads": Lead.objects.count(),
    }
    print("  " + ", ".join(f"{value:,} {name}" for name, value in counts.items()), flush=True)
    period = (
        parse_period(options.period)
        if options.period
        else period_containing(TODAY, kind="quarter").previous()
    )
    admin = User.objects.filter(is_superuser=True).order_by("id").first()
    assert admin is not None
    filters = MetricFilters(period=period)
    result: dict[str, Any] = {
        "engine": connection.vendor,
        "period": period.key,
        "counts": counts,
        "built": built,
    }
    with time_machine.travel(dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.UTC), tick=False):
        # Interleaved, so a busy machine slows both sides alike.
        (ormed, orm_times, board), (handed, hand_times, hand) = common.timed_together(
            lambda: dashboard_for_user(user=admin, filters=filters),
            lambda: hand_written(connection, period),
            repeat=options.repeat,
        )
        client = Client()
        client.force_login(admin)
        url = f"/dashboard/?period={period.key}"
        paged, _page_times, response = common.timed(
            lambda: client.get(url), repeat=max(1, options.repeat // 2)
        )
        assert response.status_code == 200
        orm_numbers = numbers_of(board)
        differences = _differences(orm_numbers, hand)
        result.update(
            dashboard_s=round(ormed, 4),
            dashboard_runs=[round(value, 4) for value in orm_times],
            hand_sql_s=round(handed, 4),
            hand_sql_runs=[round(value, 4) for value in hand_times],
            ratio=round(ormed / handed, 2),
            page_s=round(paged, 4),
            agree=not differences,
            differences=differences[:10],
        )
        print(
            f"  dashboard (ORM) {ormed:.3f} s, hand-written SQL {handed:.3f} s: {ormed / handed:.2f}x; "
            f"page {paged:.3f} s",
            flush=True,
        )
        if not options.no_duckdb:
            result.update(
                duckdb_run(
                    connection, period, repeat=options.repeat, expected=orm_numbers, name=options.database
                )
            )
            print(f"  DuckDB {result['duckdb_s']:.3f} s (load {result['duckdb_load_s']:.1f} s)", flush=True)
            result["agree"] = result["agree"] and result["duckdb_agree"]
        personas = [name for name in options.personas.split(",") if name]
        if personas:
            result["personas"] = personas_run(personas, filters, period, repeat=options.repeat)
    if differences:
        print("  DIFFERENCES (ORM vs hand SQL):", differences[:10], flush=True)
    return result


PARTS = ("summary", "trends", "funnel", "stages", "flow", "attention", "breakdown")


def personas_run(usernames: list[str], filters, period, *, repeat: int) -> dict[str, Any]:
    """Per demo persona: the dashboard's numbers, the API's metrics dashboard and the page (server time
    through the test client), and each part of the numbers alone (ms, medians of ``repeat`` runs)."""
    from django.test import Client

    from dealflow.accounts.models import User
    from dealflow.metrics import selectors
    from dealflow.metrics.selectors import pipeline, stages
    from dealflow.metrics.selectors.attention import deal_attention
    from dealflow.metrics.selectors.funnel import funnel

    parts = {
        "summary": pipeline.metric_summary,
        "trends": pipeline.metric_trends,
        "funnel": funnel,
        "stages": stages.stage_times,
        "flow": stages.stage_flow,
        "attention": deal_attention,
        "breakdown": pipeline.metric_breakdown,
    }
    result: dict[str, Any] = {}
    print(
        f"  {'persona':<9}{'numbers':>9}{'API':>9}{'page':>9}{'lists':>9}  "
        + "".join(f"{name:>11}" for name in PARTS)
    )
    for username in usernames:
        user = User.objects.get(username=username)
        client = Client()
        client.force_login(user)
        numbers, _times, _board = common.timed(
            lambda user=user: selectors.dashboard_for_user(user=user, filters=filters), repeat=repeat
        )
        api, _times, response = common.timed(
            lambda client=client: client.get(f"/api/v1/metrics/dashboard?period={period.key}"), repeat=repeat
        )
        assert response.status_code == 200, response.content[:300]
        page, _times, response = common.timed(
            lambda client=client: client.get(f"/dashboard/?period={period.key}"), repeat=repeat
        )
        assert response.status_code == 200
        # The page loads its stale and slipped deals after the numbers, in a request of their own.
        lists, _times, response = common.timed(
            lambda client=client: client.get(f"/dashboard/attention/?period={period.key}"), repeat=repeat
        )
        assert response.status_code == 200
        each = {}
        for name, function in parts.items():
            # A fresh scope per call: nothing cached from another part.
            each[name], _times, _value = common.timed(
                lambda function=function, user=user: function(
                    scope=selectors.metric_scope_for_user(user=user, filters=filters)
                ),
                repeat=repeat,
            )
        result[username] = {
            "numbers_s": round(numbers, 4),
            "api_s": round(api, 4),
            "page_s": round(page, 4),
            "lists_s": round(lists, 4),
            "parts_ms": {name: round(value * 1000, 1) for name, value in each.items()},
            "load": os.getloadavg(),
        }
        print(
            f"  {username:<9}{numbers * 1000:>7.0f}ms{api * 1000:>7.0f}ms{page * 1000:>7.0f}ms"
            f"{lists * 1000:>7.0f}ms  "
            + "".join(f"{each[name] * 1000:>9.0f}ms" for name in PARTS)
            + f"   load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    return result


def _print_summary(results: list[dict]) -> None:
    print("\nDashboard for one quarter (median of the runs):")
    print(
        f"{'engine':<11}{'deals':>11}{'dashboard':>11}{'hand SQL':>10}{'ratio':>7}{'page':>8}{'DuckDB':>8}  agree"
    )
    for result in results:
        if "error" in result:
            print(f"{result['engine']:<11} failed: {result['error']}")
            continue
        print(
            f"{result['engine']:<11}{result['counts']['deals']:>11,}{result['dashboard_s']:>10.3f}s"
            f"{result['hand_sql_s']:>9.3f}s{result['ratio']:>6.2f}x{result['page_s']:>7.3f}s"
            f"{result.get('duckdb_s', float('nan')):>7.3f}s  {result['agree']}"
        )


# ----------------------------------------------------------------------- the numbers that must agree


def numbers_of(board) -> dict[str, Any]:
    """The dashboard's numbers as plain values, for comparing the three computations."""
    now, before = board.summary.current, board.summary.previous
    return {
        "won": now.win_rate.won,
        "lost": now.win_rate.lost,
        "won_value": str(now.win_rate.won_value),
        "lost_value": str(now.win_rate.lost_value),
        "size_median": str(now.deal_size.median),
        "cycle_mean": str(now.cycle.mean_days),
        "cycle_median": str(now.cycle.median_days),
        "lead_cycle_median": str(now.cycle.from_lead_median_days),
        "leads": now.lead_conversion.leads,
        "lead_converted": now.lead_conversion.converted,
        "lead_won": now.lead_conversion.won,
        "open": now.velocity.open_deals,
        "velocity": str(now.velocity.per_day),
        "previous": [
            before.win_rate.won,
            before.win_rate.lost,
            before.velocity.open_deals,
            before.lead_conversion.leads,
        ],
        "funnel": [(step.label, step.count, str(step.amount)) for step in board.funnel.steps],
        "stages": [
            (
                row.name,
                row.entered,
                row.median_days,
                row.p80_days,
                row.previous_median_days,
                row.won_median_days,
                row.won_p80_days,
                row.open_now,
            )
            for row in board.stages
        ],
        "flow": sorted(
            (board.flow.nodes[link.source].key, board.flow.nodes[link.target].key, link.kind, link.count)
            for link in board.flow.links
        ),
        "attention": [
            board.attention.stale,
            board.attention.slipped,
            board.attention.overdue,
            board.attention.pushed,
        ],
        "breakdown": sorted(
            (row.key, row.won, row.lost, row.leads, row.open_deals) for row in board.breakdown
        ),
        "trends": [
            (point.month, point.won, point.lost, point.leads, point.open_deals) for point in board.trends
        ],
    }


def _differences(expected: dict, actual: dict) -> list[str]:
    return [
        f"{name}: {expected[name]!r} != {actual.get(name)!r}"
        for name in expected
        if expected[name] != actual.get(name)
    ]


# --------------------------------------------------------------------------- hand-written SQL baseline


def _sql(vendor: str) -> dict[str, str]:
    return {
        "pipeline": 'SELECT id, name FROM deals_pipeline WHERE is_active ORDER BY is_default DESC, "order", id LIMIT 1',
        "stages": 'SELECT id, name, "order", kind, is_active, forecast_category, rotting_days FROM deals_stage WHERE pipeline_id = %s ORDER BY "order", id',
        "sources": 'SELECT id, key FROM deals_leadsource ORDER BY "order", name',
        "rates": "SELECT currency, valid_from, rate FROM deals_exchangerate ORDER BY currency, valid_from",
        "monthly": (
            "SELECT source_id, month, SUM(created), SUM(won), SUM(won_amount_base_minor), SUM(won_cycle_days), "
            "SUM(won_lead_cycle_days), SUM(won_from_lead), SUM(lost), SUM(lost_amount_base_minor), SUM(lead_deals), "
            "SUM(lead_won) FROM deals_dealmonthlytotals WHERE month < %s GROUP BY source_id, month"
        ),
        "monthly_owner": (
            "SELECT owner_id, month, SUM(created), SUM(won), SUM(won_amount_base_minor), SUM(won_cycle_days), "
            "SUM(lost), SUM(lost_amount_base_minor), SUM(lead_deals), SUM(lead_won) FROM deals_dealmonthlytotals "
            "WHERE month < %s GROUP BY owner_id, month"
        ),
        "leads": "SELECT created_on, source_id, COUNT(*) FROM deals_lead WHERE created_on >= %s AND created_on < %s GROUP BY 1, 2",
        "leads_owner": "SELECT owner_id, COUNT(*) FROM deals_lead WHERE created_on >= %s AND created_on < %s GROUP BY owner_id",
        "median": "SELECT {column} FROM deals_dealfact WHERE closed_on >= %s AND closed_on < %s AND status = 'won' AND {column} IS NOT NULL ORDER BY {column} LIMIT %s OFFSET %s",
        "reach": (
            "SELECT created_on, furthest_stage_id, status, currency, COUNT(*), SUM(amount_minor), "
            "SUM(amount_base_minor) FROM deals_dealfact WHERE pipeline_id = %s AND created_on >= %s "
            "AND created_on < %s GROUP BY 1, 2, 3, 4"
        ),
        "survival": (
            "SELECT entered_on, stage_id, days, COUNT(*) FROM deals_stayfact WHERE pipeline_id = %s "
            "AND entered_on >= %s AND entered_on < %s GROUP BY 1, 2, 3"
        ),
        "benchmark": (
            "SELECT exited_on, stage_id, days, COUNT(*) FROM deals_stayfact WHERE pipeline_id = %s "
            "AND exited_on >= %s AND exited_on < %s AND deal_status = 'won' AND days IS NOT NULL GROUP BY 1, 2, 3"
        ),
        "open": "SELECT stage_id, currency, COUNT(*), SUM(amount_minor) FROM deals_dealfact WHERE status = 'open' AND pipeline_id = %s GROUP BY 1, 2",
        "exits": (
            "SELECT exited_on, stage_id, next_stage_id, exit_kind, COUNT(*) FROM deals_stayfact WHERE pipeline_id = %s "
            "AND exited_on >= %s AND exited_on < %s GROUP BY 1, 2, 3, 4"
        ),
        "entries": (
            "SELECT entered_on, stage_id, days, entry_kind, COUNT(*) FROM deals_stayfact WHERE pipeline_id = %s "
            "AND entered_on >= %s AND entered_on < %s AND entry_kind IN ('created', 'reopened') GROUP BY 1, 2, 3, 4"
        ),
        "stale": "SELECT stage_id, currency, COUNT(*), SUM(amount_minor) FROM deals_deal WHERE status = 'open' AND ({stale}) GROUP BY 1, 2",
        "stale_list": (
            "SELECT d.id, d.title, u.first_name, u.last_name, s.name, d.amount_minor, d.currency, d.last_activity_at "
            "FROM deals_deal d JOIN accounts_user u ON u.id = d.owner_id JOIN deals_stage s ON s.id = d.stage_id "
            "WHERE d.status = 'open' AND ({stale_d}) ORDER BY d.last_activity_at, d.id LIMIT 10"
        ),
        "slipped": (
            "SELECT currency, COUNT(*), SUM(CASE WHEN expected_close_on < %s THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN last_pushed_at >= %s AND last_pushed_at < %s THEN 1 ELSE 0 END), SUM(amount_minor) "
            "FROM deals_dealfact WHERE status = 'open' AND (expected_close_on < %s OR (last_pushed_at >= %s AND last_pushed_at < %s)) GROUP BY 1"
        ),
        "slipped_list": (
            "SELECT d.id, d.title, u.first_name, u.last_name, s.name, d.amount_minor, d.currency, d.expected_close_on, "
            "f.close_date_pushes FROM (SELECT deal_id, close_date_pushes, amount_minor FROM deals_dealfact "
            "WHERE status = 'open' AND (expected_close_on < %s OR (last_pushed_at >= %s AND last_pushed_at < %s)) "
            "ORDER BY amount_minor DESC, deal_id DESC LIMIT 10) f JOIN deals_deal d ON d.id = f.deal_id "
            "JOIN accounts_user u ON u.id = d.owner_id JOIN deals_stage s ON s.id = d.stage_id "
            "ORDER BY f.amount_minor DESC, f.deal_id DESC"
        ),
        "users": "SELECT id, first_name, last_name, username FROM accounts_user WHERE id IN ({ids})",
        "stale_stages": "SELECT id, rotting_days FROM deals_stage WHERE kind = 'open' AND rotting_days > 0",
    }


def hand_written(connection, period) -> dict[str, Any]:
    """The dashboard's numbers with hand-written SQL on the same tables, finished with the same maths."""
    from django.utils import timezone

    from dealflow.core import clock
    from dealflow.core.money import RateTable
    from dealflow.metrics import calculations as calc

    sql = _sql(connection.vendor)
    today, now = clock.today(), clock.now()
    previous = period.previous()
    trend_until = period.end
    window_start = _months_back(trend_until, 24)
    with connection.cursor() as cursor:

        def rows(statement: str, params: list | tuple = ()) -> list[tuple]:
            cursor.execute(statement, params)
            return cursor.fetchall()

        pipeline_id, _name = rows(sql["pipeline"])[0]
        stages = rows(sql["stages"], [pipeline_id])
        rates = RateTable(
            "EUR",
            [
                (currency, _date(valid_from), Decimal(str(rate)))
                for currency, valid_from, rate in rows(sql["rates"])
            ],
        )
        monthly = rows(sql["monthly"], [trend_until])
        leads = rows(sql["leads"], [min(window_start, previous.start), trend_until])
        # Period totals, open deals at the ends, trends.
        per_month: dict[dt.date, list[int]] = defaultdict(lambda: [0] * 10)
        for _source_id, month, *values in monthly:
            cells = per_month[_date(month)]
            for index, value in enumerate(values):
                cells[index] += int(value or 0)
        leads_month: dict[dt.date, int] = defaultdict(int)
        for day, _source, count in leads:
            leads_month[_date(day).replace(day=1)] += count

        def totals(start: dt.date, end: dt.date) -> list[int]:
            summed = [0] * 10
            for month, cells in per_month.items():
                if start <= month < end:
                    summed = [a + b for a, b in zip(summed, cells, strict=True)]
            return summed

        def open_at(end: dt.date) -> int:
            return sum(cells[0] - cells[1] - cells[6] for month, cells in per_month.items() if month < end)

        now_totals, before_totals = totals(period.start, period.end), totals(previous.start, previous.end)
        (
            created,
            won,
            won_amount,
            won_cycle,
            _won_lead_cycle,
            won_from_lead,
            lost,
            lost_amount,
            lead_deals,
            lead_won,
        ) = now_totals
        middle = {}
        for name, column, count in (
            ("amount", "amount_base_minor", won),
            ("cycle", "cycle_days", won),
            ("lead", "lead_cycle_days", won_from_lead),
        ):
            values = (
                rows(
                    sql["median"].format(column=column),
                    [period.start, period.end, 2 - count % 2, max(0, (count - 1) // 2)],
                )
                if count
                else []
            )
            middle[name] = calc.median_of_middle([int(value) for (value,) in values])
        open_now = open_at(period.end)
        velocity = calc.velocity(
            open_deals=open_now,
            win_rate=calc.ratio(won, won + lost),
            average_size=calc.ratio(won_amount, won),
            cycle_days=calc.ratio(won_cycle, won),
        )
        # Funnel, time in stage, flow.
        by_id = {stage[0]: stage for stage in stages}
        active = [stage for stage in stages if stage[3] == "open" and stage[4]]
        reach = {1: defaultdict(int), 0: defaultdict(int)}
        reach_amount: dict[int, int] = defaultdict(int)
        won_count = {1: 0, 0: 0}
        won_amount_funnel = 0
        cohort: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
        for day, furthest, status, currency, count, amount, base in rows(
            sql["reach"], [pipeline_id, previous.start, period.end]
        ):
            group = cohort[(int(_date(day) >= period.start), furthest, status, currency)]
            group[0] += count
            group[1] += int(amount or 0)
            group[2] += int(base or 0)
        for (is_current, furthest, status, currency), (count, amount, base) in cohort.items():
            value = (rates.to_base_minor_or_none(amount, currency, today) or 0) if status == "open" else base
            stage = by_id.get(furthest)
            order = None if status == "won" else (stage[2] if stage and stage[3] == "open" else active[0][2])
            if status == "won":
                won_count[is_current] += count
                won_amount_funnel += value if is_current else 0
            for candidate in active:
                if order is None or order >= candidate[2]:
                    reach[is_current][candidate[0]] += count
                    if is_current:
                        reach_amount[candidate[0]] += value
        funnel = [
            (
                "Leads",
                sum(leads_month[month] for month in leads_month if period.start <= month < period.end),
                "None",
            ),
            ("Converted to a deal", lead_deals, "None"),
        ]
        funnel += [
            (stage[1], reach[1][stage[0]], str(rates.money(reach_amount[stage[0]]))) for stage in active
        ]
        funnel.append(("Won", won_count[1], str(rates.money(won_amount_funnel))))
        survival: dict[tuple, tuple[dict, dict]] = defaultdict(lambda: (defaultdict(int), defaultdict(int)))
        for day, stage_id, days, count in rows(sql["survival"], [pipeline_id, previous.start, period.end]):
            entered_on = _date(day)
            finished, still_open = survival[(int(entered_on >= period.start), stage_id)]
            if days is not None:
                finished[days] += count
            else:
                still_open[max(0, (today - entered_on).days)] += count
        benchmark: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        for _day, stage_id, days, count in rows(
            sql["benchmark"], [pipeline_id, period.end - dt.timedelta(days=365), period.end]
        ):
            benchmark[stage_id][days] += count
        waiting = dict.fromkeys(by_id, 0)
        for stage_id, _currency, count, _amount in rows(sql["open"], [pipeline_id]):
            waiting[stage_id] = waiting.get(stage_id, 0) + count
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
        keys = {stage[0]: f"stage-{stage[0]}" for stage in stages}
        flows: dict[tuple, int] = defaultdict(int)
        for _day, stage_id, _days, kind, count in rows(
            sql["entries"], [pipeline_id, period.start, period.end]
        ):
            flows[(kind, keys[stage_id], kind)] += count
        for _day, stage_id, next_id, kind, count in rows(
            sql["exits"], [pipeline_id, period.start, period.end]
        ):
            target = kind if kind in ("won", "lost") else keys.get(next_id)
            flows[(keys[stage_id], target, kind)] += count
        flow = [(*key, count) for key, count in flows.items()]
        # Attention.
        stale_terms, stale_params = [], []
        moment = connection.ops.adapt_datetimefield_value
        for stage_id, rotting in rows(sql["stale_stages"]):
            threshold = moment(now - dt.timedelta(days=rotting))
            stale_terms.append(
                "(stage_id = %s AND (last_activity_at < %s OR (last_activity_at IS NULL AND stage_entered_at < %s)))"
            )
            stale_params += [stage_id, threshold, threshold]
        stale_where = " OR ".join(stale_terms) or "1 = 0"
        stale = sum(
            count
            for _stage, _currency, count, _amount in rows(
                sql["stale"].format(stale=stale_where), stale_params
            )
        )
        rows(
            sql["stale_list"].format(
                stale_d=stale_where.replace("stage_id", "d.stage_id")
                .replace("last_activity_at", "d.last_activity_at")
                .replace("stage_entered_at", "d.stage_entered_at")
            ),
            stale_params,
        )
        start_at = moment(timezone.make_aware(dt.datetime.combine(period.start, dt.time.min)))
        end_at = moment(timezone.make_aware(dt.datetime.combine(period.end, dt.time.min)))
        slipped = overdue = pushed = 0
        for _currency, count, late, moved, _amount in rows(
            sql["slipped"], [today, start_at, end_at, today, start_at, end_at]
        ):
            slipped, overdue, pushed = slipped + count, overdue + (late or 0), pushed + (moved or 0)
        rows(sql["slipped_list"], [today, start_at, end_at])
        # Breakdown by owner.
        owners: dict[int, list[int]] = defaultdict(lambda: [0] * 5)  # won, lost, leads, open, lead deals
        for (
            owner_id,
            month,
            created_o,
            won_o,
            _amount,
            _cycle,
            lost_o,
            _lost_amount,
            lead_deals_o,
            _lead_won,
        ) in rows(sql["monthly_owner"], [period.end]):
            month = _date(month)
            if period.start <= month < period.end:
                owners[owner_id][0] += int(won_o or 0)
                owners[owner_id][1] += int(lost_o or 0)
                owners[owner_id][4] += int(lead_deals_o or 0)
            owners[owner_id][3] += int(created_o or 0) - int(won_o or 0) - int(lost_o or 0)
        for owner_id, count in rows(sql["leads_owner"], [period.start, period.end]):
            owners[owner_id][2] += count
        if owners:
            rows(sql["users"].format(ids=", ".join(str(int(key)) for key in owners)))
        breakdown = sorted((key, *values[:4]) for key, values in owners.items() if any(values))
    # Trends.
    trends = []
    opened = 0
    months = [_months_back(trend_until, 24 - index) for index in range(24)]
    for month in sorted(set(per_month) | set(months)):
        cells = per_month.get(month, [0] * 10)
        opened += cells[0] - cells[1] - cells[6]
        if month in months:
            trends.append((f"{month:%Y-%m}", cells[1], cells[6], leads_month.get(month, 0), opened))
    return {
        "won": won,
        "lost": lost,
        "won_value": str(rates.money(won_amount)),
        "lost_value": str(rates.money(lost_amount)),
        "size_median": str(_money(middle["amount"], rates)),
        "cycle_mean": str(calc.as_decimal(calc.ratio(won_cycle, won), 1)),
        "cycle_median": str(calc.as_decimal(middle["cycle"], 1)),
        "lead_cycle_median": str(calc.as_decimal(middle["lead"], 1)),
        "leads": sum(leads_month[month] for month in leads_month if period.start <= month < period.end),
        "lead_converted": lead_deals,
        "lead_won": lead_won,
        "open": open_now,
        "velocity": str(_money(velocity, rates)),
        "previous": [
            before_totals[1],
            before_totals[6],
            open_at(previous.end),
            sum(leads_month[month] for month in leads_month if previous.start <= month < previous.end),
        ],
        "funnel": funnel,
        "stages": stage_rows,
        "flow": sorted(flow),
        "attention": [stale, slipped, overdue, pushed],
        "breakdown": breakdown,
        "trends": trends,
        "_created": created,
    }


def _money(minor: Fraction | None, rates) -> Any:
    from dealflow.metrics import calculations as calc

    return None if minor is None else calc.as_decimal(minor / 100, 2)


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _months_back(first_of_month: dt.date, months: int) -> dt.date:
    index = first_of_month.year * 12 + first_of_month.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


# ----------------------------------------------------------------------------------------------- DuckDB


def duckdb_run(connection, period, *, repeat: int, expected: dict, name: str) -> dict[str, Any]:
    """Copy the plain tables into DuckDB and compute the same numbers there (no derived tables)."""
    from benchmarks._dashboard_duckdb import duckdb_load, duckdb_numbers

    started = time.perf_counter()
    database = duckdb_load(connection, name)
    loaded = time.perf_counter() - started
    seconds, _times, numbers = common.timed(lambda: duckdb_numbers(database, period), repeat=repeat)
    differences = _differences({name: expected[name] for name in numbers}, numbers)
    if differences:
        print("  DIFFERENCES (ORM vs DuckDB):", differences[:10], flush=True)
    return {
        "duckdb_s": round(seconds, 4),
        "duckdb_load_s": round(loaded, 1),
        "duckdb_agree": not differences,
        "duckdb_differences": differences[:10],
        "duckdb_compared": sorted(numbers),
    }
