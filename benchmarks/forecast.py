"""Forecast benchmarks: `python -m benchmarks forecast [--quick] [--page N] [--backtest-db N] [--keep]`,
and `python -m benchmarks forecast --scenarios [--scale X] [--only name,name] [--seeds 1,2,3] [--longest]
[--detail] [--cache DIR]`.

``--scenarios``: six synthetic company histories of different shapes (forecasting/tests/scenarios.py:
the demo's shape, no expected close dates, 20 % never closing, strong seasonality, win rates drifting
month to month, a small team with 30 deals a quarter). For each, the calibrated backtest of its last
12 full months (24 for the small team) after 6 months of warm-up, and per horizon the WAPE, bias and
P10-P90 coverage of the default method and of every other method, baselines included, with the
targets (default WAPE <= best baseline's, |bias| <= 5 %, coverage 70-90 %) checked, each backtest
calibrated the way it was until 2026-12-07 midday and now (same raw forecasts). ``--longest``: score the
most months each history allows (``scenarios.longest_months``: 18, and 42 for the small team) instead of
12 (24): more outcomes per history, the same scenarios and targets. ``--seeds 1,2,3,4``:
a row per seed, then each scenario with its seeds pooled (more scored months per scenario, so the
coverage is no longer decided by one or two months of one history); both are printed. Each row also
gives the bias's standard error and the chance that a forecast with no bias and a range that holds
exactly 80 % would meet the bias and the coverage target on that history's number of months.
``--cache DIR``: keep each history's raw backtest (before any calibration) in DIR, keyed by scenario,
seed, scale, months and a hash of the code that produces it (forecasting/calculations, the synthetic
generator and the scenario catalogue); a later run with the same code only re-calibrates and re-scores,
so a change to forecasting/calibration.py is measured over 12 seeds in seconds instead of many minutes.

Every figure is printed as wall time and CPU time of this process (the 2-core machine is often shared:
at load 10 a wall second holds about a quarter of a CPU second), with the load average.

1. Monte Carlo: 10,000 open deals x 10,000 draws x 4 periods, 100 owners, with ``calc.simulate``; the
   previous kernel (a float32 matrix-vector product per horizon through OpenBLAS) on the same input; and
   the plain-Python loop baseline, timed on a 500-deal x 1,000-draw slice (one loop iteration per deal
   and draw: the full size would take minutes) and scaled linearly. The vectorised code is timed on the
   slice too, so both ratios are printed.
2. The page's computation at 10,000 open deals without a database: prediction, simulation per owner,
   roll-ups to 10 teams and the company, quantiles for 4 periods.
3. Backtest without a database: a synthetic history of ~100,000 deals over 3 years; 2 years of weekly
   as-of points (104), each refitted on older data only, 3 model methods with 2,000 draws + 2 baselines.
4. ``--page N``: a database with N demo deals (`dealflow demo` generator; SQLite file
   var/bench_forecast.sqlite3, or PostgreSQL database bench_forecast with DATABASE_URL), then the whole
   page (Django test client GET of web:forecast, template included) as an admin (company) and as a team
   manager, and ``forecast_for_user`` alone. The first request of the day computes the day's fit
   (measured separately); later ones read it. ``--keep`` keeps the database for the next run.
5. ``--backtest-db N``: a database with N demo deals over 36 months (var/bench_backtest.sqlite3 or
   bench_backtest), then ``backtest_execute`` over the last 24 months of weekly points (history loaded
   from the event log, panel, fits, draws), as `dealflow forecast backtest` runs it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import itertools
import os
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEALFLOW_TESTING", "1")


class Timing:
    def __init__(self, wall: float, cpu: float) -> None:
        self.wall, self.cpu = wall, cpu

    def __str__(self) -> str:
        return f"{self.wall:.3f} s wall, {self.cpu:.3f} s CPU"


def _timed(function, *args, repeat: int = 1, **kwargs) -> tuple[Timing, object]:
    """Best wall and best CPU time over ``repeat`` runs, and the last result."""
    wall = cpu = float("inf")
    result = None
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = function(*args, **kwargs)
        wall = min(wall, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - started_cpu)
    return Timing(wall, cpu), result


def _load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def simulate_blas_gemv(*, amounts, p_period, leaf, leaves, draws, seed, chunk=256) -> np.ndarray:
    """The previous kernel (until 2026-11-26), kept here for the comparison: per chunk of deals and per
    horizon, ``weights @ (uniform < threshold).astype(float32)``, a matrix-vector product through BLAS."""
    horizons = p_period.shape[1]
    result = np.zeros((leaves, horizons, draws))
    rng = np.random.default_rng(seed)
    order = np.argsort(leaf, kind="stable")
    amounts32 = amounts[order].astype(np.float32)
    cumulative = np.cumsum(np.clip(p_period[order], 0, 1), axis=1)
    thresholds = np.minimum(np.round(cumulative * 65536), 65536).astype(np.uint32)
    sorted_leaf = leaf[order]
    boundaries = np.r_[0, np.nonzero(np.diff(sorted_leaf))[0] + 1, len(order)]
    for first, last in itertools.pairwise(boundaries):
        target = result[sorted_leaf[first]]
        for start in range(first, last, chunk):
            stop = min(start + chunk, last)
            block, weights = thresholds[start:stop], amounts32[start:stop]
            uniform = rng.integers(0, 65536, size=(len(block), draws), dtype=np.uint16)
            previous: np.ndarray = np.zeros(draws)
            for horizon in range(horizons):
                revenue = weights @ (uniform < block[:, horizon : horizon + 1]).astype(np.float32)
                target[horizon] += revenue - previous
                previous = revenue
    return result


def monte_carlo(quick: bool) -> float:
    """Returns the plain-Python seconds per deal and draw (for the page's ratio)."""
    from dealflow.forecasting import calculations as calc

    rng = np.random.default_rng(1)
    deals, draws, horizons = (2_000, 2_000, 4) if quick else (10_000, 10_000, 4)
    amounts = rng.lognormal(np.log(20_000_00), 0.8, deals)
    p_period = rng.dirichlet([0.6, 0.4, 0.3, 0.2, 2.5], size=deals)[:, :horizons]
    leaf = rng.integers(0, 100, deals)
    common = {
        "amounts": amounts,
        "p_period": p_period,
        "leaf": leaf,
        "leaves": 100,
        "draws": draws,
        "seed": 1,
    }
    timing, revenue = _timed(calc.simulate, **common, repeat=3)
    expected = (amounts[:, None] * p_period).sum(axis=0)
    error = np.abs(revenue.sum(axis=0).mean(axis=1) - expected) / expected
    print(f"Monte Carlo, {deals:,} deals x {draws:,} draws x {horizons} periods, 100 owners ({_load()})")
    print(f"  calc.simulate (no BLAS, 64-deal chunks): {timing}")
    print(f"  mean vs sum(p x A): largest relative gap {error.max():.5f}")
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    previous, _ = _timed(simulate_blas_gemv, **common)
    print(
        f"  previous kernel (BLAS matrix-vector product, OPENBLAS_NUM_THREADS={threads}): {previous}; "
        f"{previous.wall / timing.wall:.1f}x the wall time, {previous.cpu / timing.cpu:.1f}x the CPU"
    )
    slice_deals, slice_draws = 500, 1_000
    baseline, _ = _timed(
        calc.simulate_plain_python,
        amounts[:slice_deals].tolist(),
        p_period[:slice_deals].tolist(),
        slice_draws,
        1,
    )
    sliced = {
        "amounts": amounts[:slice_deals],
        "p_period": p_period[:slice_deals],
        "leaf": np.zeros(slice_deals, dtype=np.int64),
        "leaves": 1,
        "draws": slice_draws,
        "seed": 1,
    }
    slice_vector, _ = _timed(calc.simulate, **sliced, repeat=5)
    print(
        f"  plain-Python loop, {slice_deals} x {slice_draws:,} slice: {baseline}; vectorised on the slice: "
        f"{slice_vector}; ratio {baseline.wall / slice_vector.wall:.0f}x wall, {baseline.cpu / slice_vector.cpu:.0f}x CPU"
    )
    scale = (deals * draws) / (slice_deals * slice_draws)
    print(
        f"  plain-Python loop scaled to the full size: ~{baseline.wall * scale:.0f} s wall, ~{baseline.cpu * scale:.0f} s CPU; "
        f"ratio {baseline.wall * scale / timing.wall:.0f}x wall, {baseline.cpu * scale / timing.cpu:.0f}x CPU"
    )
    return baseline.cpu / (slice_deals * slice_draws)


def page_compute(quick: bool) -> None:
    from dealflow.forecasting import calculations as calc
    from dealflow.forecasting.tests import synthetic as syn

    now = syn.epoch(dt.date(2025, 12, 20))
    deals = syn.generate(seed=3, start=dt.date(2023, 1, 1), days=3 * 365, deals_per_day=20 if quick else 90)
    history = syn.to_history(deals, now=now)
    calendar = syn.month_calendar(dt.date(2022, 1, 1), 60)
    points = calc.weekly_points(int(history.deal_created.min()), now, anchor=syn.epoch(dt.date(2023, 1, 2)))
    panel = calc.build_panel(history, calendar, points, horizons=4)
    fit_timing, fit = _timed(calc.fit, history, calendar, panel, now, horizons=4)
    states = calc.states_as_of(history, [now])
    target = 2_000 if quick else 10_000
    states = states.subset(np.resize(np.arange(len(states)), target))
    owners = np.arange(1, 101)
    states.owner = owners[np.arange(target) % 100]

    def compute():
        _, revenue = calc.forecast_draws(
            fit,
            states,
            calendar,
            now,
            method="dealflow",
            horizons=4,
            leaf=states.owner - 1,
            leaf_owners=[np.array([owner]) for owner in owners],
            draws=10_000,
            seed=1,
        )
        team_of = (owners - 1) // 10
        for horizon in range(4):
            calc.summarise(revenue[:, horizon].sum(axis=0), quota=1e9)
            for team in range(10):
                calc.summarise(revenue[team_of == team, horizon].sum(axis=0), quota=1e8)
        return revenue

    timing, _ = _timed(compute, repeat=3)
    print(
        f"Page computation (no database), {target:,} open deals, 100 owners in 10 teams, 10,000 draws, 4 periods ({_load()})"
    )
    print(f"  prediction + simulation + roll-ups + quantiles: {timing}")
    print(
        f"  (the day's fit from {len(history.deal_ids):,} deals' history, cached once a day: {fit_timing}; level {fit.level})"
    )


def backtest(quick: bool) -> None:
    from dealflow.forecasting import calculations as calc
    from dealflow.forecasting.tests import synthetic as syn

    now = syn.epoch(dt.date(2025, 12, 31))
    generated, deals = _timed(
        syn.generate, seed=5, start=dt.date(2023, 1, 1), days=3 * 365, deals_per_day=9 if quick else 91
    )
    history = syn.to_history(deals, now=now)
    calendar = syn.month_calendar(dt.date(2022, 1, 1), 60)
    points = calc.weekly_points(int(history.deal_created.min()), now, anchor=syn.epoch(dt.date(2023, 1, 2)))
    panel_timing, panel = _timed(calc.build_panel, history, calendar, points, horizons=2)
    start = syn.epoch(dt.date(2024, 1, 1))
    chosen = [index for index, moment in enumerate(panel.times) if moment >= start]
    timing, rows = _timed(
        calc.backtest, history, calendar, panel, points=chosen, now=now, horizons=2, draws=2000
    )
    table = calc.backtest_table(rows)
    print(
        f"Backtest (no database): {len(history.deal_ids):,} deals, {len(history.stage_deal):,} stage events, "
        f"{len(chosen)} weekly as-of points x 2 periods x 5 methods ({_load()})"
    )
    print(f"  backtest: {timing}; weekly panel {panel_timing}; (generating the history: {generated})")
    _print_table(table)


def _print_table(table: dict) -> None:
    """This period's figures per method (what picks the default), then the next period's."""
    next_period = {row["method"]: row for row in table["rows"] if row["lead"] == "next period"}
    for method, row in table["overall"].items():
        line = f"  {method:<11} {_figures(row)}"
        if method in next_period:
            line += f"  | next period {_figures(next_period[method])}"
        print(line)
    print(f"  default method: {table['default_method']}")


def _figures(row: dict) -> str:
    coverage = "-" if row["coverage"] is None else f"{100 * row['coverage']:.0f}%"
    if row["wape"] is None:
        return "no actuals"
    return f"WAPE {100 * row['wape']:5.1f}%  bias {100 * row['bias']:+5.1f}%  P10-P90 coverage {coverage:>4}"


_TEST_ENVIRONMENT: list[bool] = []


def _database(name: str, deals: int, months: int, keep: bool, *, optional_steps: bool = True):
    """Create (or reuse with --keep) a test database named ``name`` holding ``deals`` demo deals."""
    import django
    from django.conf import settings

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    database = settings.DATABASES["default"]
    sqlite = database["ENGINE"].endswith("sqlite3")
    database.setdefault("TEST", {})["NAME"] = str(ROOT / "var" / f"{name}.sqlite3") if sqlite else name
    if not _TEST_ENVIRONMENT:
        setup_test_environment()
        settings.ALLOWED_HOSTS = ["*"]
        _TEST_ENVIRONMENT.append(True)
    test_name = connection.creation.create_test_db(verbosity=0, keepdb=keep)
    from dealflow.deals.models import Deal
    from dealflow.demo.generate import demo_generate

    engine = "SQLite" if sqlite else "PostgreSQL"
    if not Deal.objects.exists():
        timing, _ = _timed(
            demo_generate, deals=deals, seed=1, months=months, progress=False, optional_steps=optional_steps
        )
        extra = (
            " with quotas, calls, 8 months of weekly snapshots, reviews and surveys" if optional_steps else ""
        )
        print(
            f"  {engine}: demo with {deals:,} deals over {months} months{extra} loaded in {timing.wall:.0f} s"
        )
    return engine, test_name


def page_database(deals: int, keep: bool, python_seconds_per_draw: float) -> None:
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    engine, test_name = _database("bench_forecast", deals, 24, keep)
    try:
        from dealflow.accounts.models import Membership, Role, User
        from dealflow.deals.models import Deal
        from dealflow.forecasting import selectors
        from dealflow.forecasting.models import ForecastFit

        open_count = Deal.objects.filter(status="open").count()
        admin = User.objects.filter(is_superuser=True).first()
        manager = Membership.objects.filter(role=Role.MANAGER).order_by("team_id").first().user
        team_open = selectors.forecast_for_user(user=manager).open_deals
        print(
            f"Forecast page end to end, {engine}: {Deal.objects.count():,} deals, {open_count:,} open ({_load()})"
        )
        client = Client()
        client.force_login(admin)
        ForecastFit.objects.all().delete()
        first, response = _timed(client.get, reverse("web:forecast"))
        assert response.status_code == 200
        print(f"  first request of the day (computes and stores the day's fit): {first}")
        for user, label in (
            (admin, f"admin, company, {open_count:,} open deals"),
            (manager, f"manager, team, {team_open:,} open deals"),
        ):
            client.force_login(user)
            page, response = _timed(client.get, reverse("web:forecast"), repeat=5)
            assert response.status_code == 200
            alone, view = _timed(selectors.forecast_for_user, user=user, repeat=5)
            plain = python_seconds_per_draw * view.open_deals * view.draws
            print(
                f"  GET web:forecast as {label}: {page}; forecast_for_user alone: {alone}; plain-Python "
                f"Monte Carlo alone for these deals ~{plain:.0f} s CPU: page {plain / page.cpu:.0f}x less CPU"
            )
    finally:
        if not keep:
            connection.creation.destroy_test_db(test_name, verbosity=0)


def backtest_database(deals: int, keep: bool) -> None:
    from django.db import connection

    engine, test_name = _database("bench_backtest", deals, 36, keep, optional_steps=False)
    try:
        from dealflow.core import clock
        from dealflow.core.periods import period_containing
        from dealflow.deals.models import Deal, DealEvent
        from dealflow.forecasting import services

        last = period_containing(clock.today(), kind="month")
        first = last
        for _ in range(24):
            first = first.previous()
        run = services.backtest_create(by=None, period_from=first.key, period_to=last.key)
        timing, run = _timed(services.backtest_execute, run=run)
        print(
            f"Backtest through the database, {engine}: {Deal.objects.count():,} deals, {DealEvent.objects.count():,} "
            f"events, {first.key}..{last.key}: {run.result['points']} weekly points x 2 periods x 5 methods, "
            f"{run.result['draws']:,} draws ({_load()})"
        )
        print(f"  backtest_execute (history load, panel, a fit per week, draws, scoring): {timing}")
        _print_table(run.result)
    finally:
        if not keep:
            connection.creation.destroy_test_db(test_name, verbosity=0)


def page_existing(name: str, engine_name: str, repeat: int) -> None:
    """``--page-db NAME [--engine postgres|sqlite] [--repeat N]``: on a demo database built by
    ``python -m benchmarks pages --database NAME`` (every optional step; the benchmark writes kept
    forecasts, so use a copy), the Forecast page and the forecast API per persona:

    - computed: the first request with nothing kept (the whole computation, what every request cost before
      the forecast was kept; now the first request of the day per scope, or one with no worker running);
    - changed: the first request after a deal changed, for a scope of VIEW_STALE_MIN_OPEN open deals or
      more (the kept forecast, marked, while the worker recomputes it; the refresh itself is not timed);
    - kept: the median of ``repeat`` requests after it (server time through the test client), with the size
      of the answer and its query count;

    against DuckDB computing the same page's expected values from a copy of the deals table: per owner and
    period, sum amount x the day's fit's in-period probability (stage, age bucket, close date in the period),
    plus closed-to-date per owner (median of ``repeat``; the copy is not timed), and the ratio of each kept
    page to that scan."""
    import statistics

    from benchmarks import common

    common.setup_django(common.database_url(engine_name, name))
    common.migrate()  # the database may predate this branch's migrations
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from dealflow.accounts.models import User
    from dealflow.deals.models import Deal

    try:
        from dealflow.forecasting.models import KeptForecast
        from dealflow.forecasting.selectors import forecast as forecast_module
    except ImportError:  # the code before the kept forecast (a baseline run)
        KeptForecast = None

    def forget() -> None:
        cache.clear()
        if KeptForecast is not None:
            KeptForecast.objects.all().delete()

    def timed(client, url) -> tuple[float, object]:
        started = time.perf_counter()
        response = client.get(url)
        return time.perf_counter() - started, response

    deals = Deal.objects.count()
    open_count = Deal.objects.filter(status="open").count()
    print(f"Forecast page on {engine_name} database {name}: {deals:,} deals, {open_count:,} open ({_load()})")
    kept_times: dict[tuple[str, str], float] = {}
    for persona in ("admin", "manager", "rep"):
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(User.objects.get(username=persona))
        for label, url in (("page", "/forecast/"), ("API", "/api/v1/forecast/")):
            client.get(url)  # the day's fit, the calibration table: computed once a day, not per view
            forget()
            computed, response = timed(client, url)
            assert response.status_code == 200, (url, response.status_code)
            changed_text = "-"
            if KeptForecast is not None:
                kept = KeptForecast.objects.order_by("-computed_at").first()
                if kept is not None and kept.open_deals >= forecast_module.VIEW_STALE_MIN_OPEN:
                    # As after a deal change: the kept forecast no longer matches the data version.
                    KeptForecast.objects.filter(pk=kept.pk).update(
                        version="changed", refresh_requested_at=None
                    )
                    refresh = forecast_module._refresh_request
                    forecast_module._refresh_request = lambda *args, **kwargs: None  # the worker's job
                    try:
                        changed, response = timed(client, url)
                    finally:
                        forecast_module._refresh_request = refresh
                    assert response.status_code == 200, (url, response.status_code)
                    if label == "API":  # JSON with or without spaces after the colon
                        assert response.json()["changed_since"] is True, url
                    else:
                        assert b"data-changed-since" in response.content, url
                    changed_text = f"{1000 * changed:5.0f} ms"
                    forget()
                    client.get(url)  # kept again, fresh
            times = []
            for _ in range(repeat):
                elapsed, response = timed(client, url)
                times.append(elapsed)
            with CaptureQueriesContext(connection) as captured:
                client.get(url)
            kept_times[(persona, label)] = statistics.median(times)
            print(
                f"  {persona:<8}{label:<5} computed {1000 * computed:7.0f} ms, changed {changed_text:>8}, "
                f"kept {1000 * statistics.median(times):6.0f} ms (median of {repeat}), "
                f"{len(response.content) / 1024:.0f} KB, {len(captured.captured_queries)} queries"
            )
    scan = _duckdb_forecast_scan(repeat)
    print(
        f"  DuckDB scan of the deals for the same expected values: {1000 * scan:.0f} ms (median of {repeat}; "
        f"{_load()})"
    )
    for (persona, label), seconds in kept_times.items():
        print(f"  {persona:<8}{label:<5} kept / DuckDB scan: {seconds / scan:.2f}x")


def _duckdb_forecast_scan(repeat: int) -> float:
    """Median seconds of DuckDB computing expected open value per owner and period (4 months) and
    closed-to-date per owner from a copy of deals_deal, with the day's fit's in-period probabilities."""
    import statistics

    import duckdb
    from django.db import connection

    from dealflow.core import clock
    from dealflow.forecasting import calculations as calc
    from dealflow.forecasting import engine

    fit = engine.fit_for_today(kind="month", allow_stale=True)
    stage_ids, *_ = engine.stages_arrays()
    periods = engine.periods_ahead(kind="month", day=clock.today())
    calendar = engine.calendar_build(kind="month", first=periods[0].start, last=periods[-1].start)
    now = engine.moment_of(clock.now())
    phase = calendar.phase_of(now)
    database = duckdb.connect()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, owner_id, stage_id, status, amount_base_minor, expected_close_on, stage_entered_at, "
            "closed_on FROM deals_deal"
        )
        rows = cursor.fetchall()
    import csv
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".csv", newline="", delete=False) as handle:
        csv.writer(handle).writerows(
            [
                "" if value is None else (value.isoformat() if hasattr(value, "isoformat") else value)
                for value in row
            ]
            for row in rows
        )
    database.execute(
        "CREATE TABLE deal AS SELECT * FROM read_csv(?, header = false, nullstr = '', columns = {'id': 'BIGINT', "
        "'owner_id': 'BIGINT', 'stage_id': 'BIGINT', 'status': 'VARCHAR', 'amount': 'BIGINT', 'close': 'DATE', "
        "'entered': 'TIMESTAMPTZ', 'closed_on': 'DATE'})",
        [handle.name],
    )
    Path(handle.name).unlink()
    within = np.asarray(fit.within) if fit.within is not None else None
    probability = []
    for stage_index in range(len(stage_ids)):
        for bucket in range(len(calc.AGE_BUCKETS)):
            for flag in (0, 1):
                for horizon in range(len(periods)):
                    if within is not None:
                        value = float(within[horizon, phase, stage_index, bucket, flag])
                    else:
                        value = float(fit.aged[stage_index][bucket]) * flag
                    probability.append((int(stage_ids[stage_index]), bucket, flag, horizon, value))
    database.execute("CREATE TABLE p (stage_id BIGINT, bucket INT, flag INT, horizon INT, p DOUBLE)")
    database.executemany("INSERT INTO p VALUES (?, ?, ?, ?, ?)", probability)
    bounds = [(index, period.start, period.end) for index, period in enumerate(periods)]
    database.execute("CREATE TABLE period (horizon INT, first DATE, after DATE)")
    database.executemany("INSERT INTO period VALUES (?, ?, ?)", bounds)
    query = """
        WITH open AS (
            SELECT owner_id, stage_id, amount, close,
                   CASE WHEN age < 7 THEN 0 WHEN age < 14 THEN 1 WHEN age < 30 THEN 2 WHEN age < 60 THEN 3
                        ELSE 4 END AS bucket
            FROM (SELECT *, date_diff('second', entered, to_timestamp(?)) / 86400.0 AS age FROM deal
                  WHERE status = 'open')
        ),
        flagged AS (
            SELECT o.owner_id, o.stage_id, o.amount, o.bucket, period.horizon,
                   CASE WHEN o.close IS NULL THEN 0
                        WHEN period.horizon = 0 AND o.close < period.after THEN 1
                        WHEN o.close >= period.first AND o.close < period.after THEN 1 ELSE 0 END AS flag
            FROM open o CROSS JOIN period
        )
        SELECT owner_id, horizon, SUM(amount * p.p) AS expected FROM flagged
        JOIN p USING (stage_id, bucket, flag, horizon) GROUP BY owner_id, horizon
        UNION ALL
        SELECT owner_id, -1, SUM(amount) FROM deal
        WHERE status = 'won' AND closed_on >= ? AND closed_on <= ? GROUP BY owner_id
    """
    arguments = [now, periods[0].start, clock.today()]
    times = []
    for _ in range(max(repeat, 1)):
        started = time.perf_counter()
        database.execute(query, arguments).fetchall()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _variants():
    from dealflow.forecasting import calibration

    return (
        (
            "before",
            "calibration until 2026-12-07 midday (ranges not adapted to how often they missed)",
            calibration.LOG_LEVEL,
        ),
        (
            "now",
            "now (each end of every range stretched or narrowed by how often past ranges missed on that "
            "side: adaptive conformal)",
            calibration.CURRENT,
        ),
    )


def scenarios(options: argparse.Namespace) -> int:
    """Every scenario and seed: one raw backtest, calibrated before and now (``_variants``); per horizon
    and variant a Markdown table with a row per (scenario, seed): the default, its WAPE against the best
    baseline's, its bias with the bias's standard error, its coverage, and the chance that a forecast
    with no bias (and that spread) and a range that holds exactly 80 % would meet the bias and coverage
    targets on that many months (``calibration.score``); then how many rows meet every target, and with
    several seeds each scenario's seeds pooled (``_print_pooled``). ``--detail``: every method's scores."""
    from dealflow.forecasting.tests import scenarios as catalogue

    scale, only, seeds, cache = options.scale, options.only, options.seeds, options.cache
    unknown = sorted(set(only or ()) - {scenario.name for scenario in catalogue.SCENARIOS})
    if unknown:
        names = ", ".join(scenario.name for scenario in catalogue.SCENARIOS)
        print(f"--only: no scenario named {', '.join(unknown)} (scenarios: {names})", file=sys.stderr)
        return 2
    variants = _variants()
    settings = {key: chosen for key, _, chosen in variants}
    pooled: dict[tuple[str, str, str], list[dict]] = {}  # (variant, horizon, scenario) -> entry per seed
    rows: dict[tuple[str, str], list[str]] = {}
    counts: dict[tuple[str, str], dict[str, int]] = {}
    started, started_cpu = time.perf_counter(), time.process_time()
    print(f"Forecast scenarios: calibrated backtests, 1,000 draws, scale {scale}, seeds {seeds} ({_load()})")
    for seed, scenario in itertools.product(seeds, catalogue.SCENARIOS):
        if only and scenario.name not in only:
            continue
        months = catalogue.longest_months(scenario) if options.longest else scenario.scored_months
        timing, (raw, scored_from, deals) = _timed(
            _raw_backtest, catalogue, scenario, scale=scale, seed=seed, months=months, cache=cache
        )
        tables = catalogue.tables_from_rows(raw, settings, scored_from=scored_from, deals=deals)
        print(
            f"  {scenario.name} (seed {seed}): {scenario.description}; {tables['now']['deals']:,} deals, last "
            f"{months} months scored ({timing}, {_load()})",
            flush=True,
        )
        for key, _, _ in variants:
            for horizon in ("0", "1"):
                entry = tables[key]["by_horizon"][horizon]
                rows.setdefault((key, horizon), []).append(_summary_row(scenario.name, seed, entry))
                pooled.setdefault((key, horizon, scenario.name), []).append(entry)
                tally = counts.setdefault(
                    (key, horizon), {"rows": 0, "all": 0, "wape": 0, "bias": 0, "coverage": 0}
                )
                met = catalogue.targets_met(entry)
                tally["rows"] += 1
                tally["all"] += all(met.values())
                for target, value in met.items():
                    tally[target] += value
        if options.detail:
            _print_detail(tables["now"])
    header = (
        "| scenario | seed | default | WAPE | best baseline | bias (SE) | coverage | chance: bias, coverage "
        "| targets |\n|---|---|---|---|---|---|---|---|---|"
    )
    for horizon, period in (("0", "this month"), ("1", "next month")):
        for key, label, _ in variants:
            tally = counts.get((key, horizon), {"rows": 0, "all": 0, "wape": 0, "bias": 0, "coverage": 0})
            print(
                f"\n{label[0].upper()}{label[1:]}; {period}: every target met on {tally['all']} of "
                f"{tally['rows']} (WAPE {tally['wape']}, bias {tally['bias']}, coverage {tally['coverage']}):"
                f"\n{header}"
            )
            print("\n".join(rows.get((key, horizon), [])))
    if len(seeds) > 1:
        _print_pooled(pooled, variants, seeds)
    print(
        f"\nTotal {time.perf_counter() - started:.1f} s wall, {time.process_time() - started_cpu:.1f} s CPU "
        f"({_load()} at the end)"
    )
    return 0


def _raw_backtest(catalogue, scenario, *, scale: float, seed: int, months: int, cache: Path | None):
    """(raw backtest rows, first scored as-of time, deals) of one history (``scenarios.scenario_rows``),
    from ``cache`` when the same code has computed it before (``_code_hash``), else computed (and kept)."""
    if cache is None:
        return catalogue.scenario_rows(scenario, scale=scale, seed=seed, scored_months=months)
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{scenario.name}-seed{seed}-scale{scale:g}-months{months}-{_code_hash()}.pickle"
    if path.exists():
        return pickle.loads(path.read_bytes())  # our own file, written below
    result = catalogue.scenario_rows(scenario, scale=scale, seed=seed, scored_months=months)
    path.write_bytes(pickle.dumps(result))
    return result


def _code_hash() -> str:
    """A hash of the code a raw backtest depends on (not the calibration, which is re-run every time)."""
    package = ROOT / "src" / "dealflow" / "forecasting"
    files = sorted((package / "calculations").glob("*.py"))
    files += [package / "tests" / "synthetic.py", package / "tests" / "scenarios.py"]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _print_detail(table: dict) -> None:
    for horizon, entry in table["by_horizon"].items():
        label = "this month" if horizon == "0" else "next month"
        for method, score in sorted(entry["scores"].items(), key=lambda item: item[1]["wape"] or 9):
            role = "default" if method == entry["default"] else ""
            print(
                f"    {label:<12}{method:<12}{_percent(score['wape']):>7}{_percent(score['bias'], sign=True):>8}"
                f"{_percent(score['coverage']):>8}  {role}"
            )


def _print_pooled(pooled: dict, variants, seeds: list[int]) -> None:
    """Per scenario, the scores of all seeds' scored forecasts taken together (each seed's own default):
    12 scored months are only 11 outcomes per history, so one history's coverage moves in steps of about
    9 points and a right 80 % range lands in the 70-90 % band only about half the time; four histories
    pooled give 44 outcomes and 91 %. The per-seed tables above stay the record of each history."""
    header = (
        "| scenario | defaults | WAPE | bias | coverage | coverage by seed | run-rate | last year "
        "| weighted pipeline | targets |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    for horizon, period in (("0", "this month"), ("1", "next month")):
        for key, label, _ in variants:
            rows, met = [], 0
            names = [name for (variant, hz, name) in pooled if variant == key and hz == horizon]
            for name in names:
                row, all_met = _pooled_row(name, pooled[(key, horizon, name)])
                rows.append(row)
                met += all_met
            print(
                f"\nPooled over seeds {','.join(map(str, seeds))}: {label}; {period} "
                f"(every target met, pooled: {met} of {len(names)}):\n{header}"
            )
            print("\n".join(rows))


def _pooled_row(name: str, entries: list[dict]) -> tuple[str, bool]:
    """One Markdown row of pooled scores: WAPE and bias weighted by each seed's total actual (the sums
    of |A - F| and F - A over all seeds' forecasts divided by the sum of A), coverage by each seed's
    number of calibrated forecasts; each seed counts its own default method, as the page would."""

    def pool(scores: list[dict]) -> dict:
        total = sum(score["actual_total"] for score in scores)
        ranged = sum(score["calibrated"] for score in scores)
        return {
            "wape": sum(score["wape"] * score["actual_total"] for score in scores) / total if total else None,
            "bias": sum(score["bias"] * score["actual_total"] for score in scores) / total if total else None,
            "coverage": sum((score["coverage"] or 0.0) * score["calibrated"] for score in scores) / ranged
            if ranged
            else None,
        }

    default = pool([entry["scores"][entry["default"]] for entry in entries])
    baselines = {}
    for method in ("run_rate", "last_year", "configured"):
        scores = [entry["scores"][method] for entry in entries if method in entry["scores"]]
        if scores and all(score["wape"] is not None for score in scores):
            baselines[method] = pool(scores)
    best = min((value["wape"] for value in baselines.values()), default=None)
    met = {
        "wape": best is None or default["wape"] <= best + 1e-12,
        "bias": abs(default["bias"]) <= 0.05,
        "coverage": default["coverage"] is not None and 0.70 <= default["coverage"] <= 0.90,
    }
    by_seed = " / ".join(_percent(entry["scores"][entry["default"]]["coverage"]) for entry in entries)
    defaults = ", ".join(sorted({entry["default"] for entry in entries}))
    columns = [
        _percent(baselines[method]["wape"]) if method in baselines else "-"
        for method in ("run_rate", "last_year", "configured")
    ]
    verdict = ", ".join(f"{key} {'met' if value else 'MISSED'}" for key, value in met.items())
    return (
        f"| {name.replace('_', ' ')} | {defaults} | {_percent(default['wape'])} | "
        f"{_percent(default['bias'], sign=True)} | {_percent(default['coverage'])} | {by_seed} | "
        f"{' | '.join(columns)} | {verdict} |",
        all(met.values()),
    )


def _percent(value: float | None, *, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{100 * value:+.1f}%" if sign else f"{100 * value:.1f}%"


def _summary_row(name: str, seed: int, entry: dict) -> str:
    """One Markdown row: the default's WAPE against the best baseline's, bias (SE), coverage, the chance
    that a forecast with no bias and a range that holds 80 % meet those two targets, and the verdict."""
    from dealflow.forecasting.tests import scenarios as catalogue

    scores = entry["scores"]
    default = scores[entry["default"]]
    baseline = entry["best_baseline"]
    met = catalogue.targets_met(entry)
    missed = [target for target, value in met.items() if not value]
    chance = f"{_percent(default.get('bias_chance'))}, {_percent(default.get('coverage_chance'))}"
    return (
        f"| {name.replace('_', ' ')} | {seed} | `{entry['default']}` | {_percent(default['wape'])} | "
        f"`{baseline}` {_percent(scores[baseline]['wape']) if baseline else '-'} | "
        f"{_percent(default['bias'], sign=True)} ({_percent(default.get('bias_se'))}) | "
        f"{_percent(default['coverage'])} | {chance} | "
        f"{'all met' if not missed else 'MISSED ' + ', '.join(missed)} |"
    )


def _numbers(kind: type) -> Any:
    """An argparse type: a comma-separated list of ``kind`` (``--seeds 1,2,3``)."""

    def parse(text: str) -> list:
        try:
            return [kind(value) for value in text.split(",") if value.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not a comma-separated list of {kind.__name__}: {text!r}"
            ) from None

    return parse


def arguments(argv: list[str]) -> argparse.Namespace:
    """The command line; an unknown option or a bad value stops with a message (exit 2) instead of running
    something else than was asked."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks forecast",
        description="Forecast benchmarks (the module's docstring says what each part measures).",
    )
    parser.add_argument("--quick", action="store_true", help="smaller Monte Carlo, page and backtest sizes")
    parser.add_argument(
        "--page", type=int, metavar="N", help="also the forecast page on a database of N deals"
    )
    parser.add_argument(
        "--backtest-db",
        type=int,
        metavar="N",
        help="also `dealflow forecast backtest` on a database of N deals",
    )
    parser.add_argument("--keep", action="store_true", help="keep the --page / --backtest-db database")
    parser.add_argument("--page-db", metavar="NAME", help="only the page, on an existing database NAME")
    parser.add_argument("--engine", default="postgres", help="engine of --page-db (default postgres)")
    parser.add_argument(
        "--repeat", type=int, default=5, help="requests per figure with --page-db (default 5)"
    )
    scenario = parser.add_argument_group("scenarios (--scenarios)")
    scenario.add_argument("--scenarios", action="store_true", help="the six synthetic histories, calibrated")
    scenario.add_argument("--scale", type=float, default=1.0, help="size of each history (default 1.0)")
    scenario.add_argument("--only", type=_numbers(str), metavar="NAME,NAME", help="only these scenarios")
    scenario.add_argument(
        "--seeds", type=_numbers(int), default=[1], metavar="1,2,3", help="seeds (default 1)"
    )
    scenario.add_argument("--longest", action="store_true", help="score the most months each history allows")
    scenario.add_argument("--detail", action="store_true", help="every method's scores per history")
    scenario.add_argument("--cache", type=Path, metavar="DIR", help="keep and reuse raw backtests in DIR")
    options = parser.parse_args(argv)
    if not options.seeds:
        parser.error("--seeds: at least one seed")
    return options


def main(argv: list[str]) -> int:
    options = arguments(argv)
    if options.page_db:
        page_existing(options.page_db, options.engine, options.repeat)
        return 0
    if options.scenarios:
        sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
        return scenarios(options)
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    seconds_per_draw = monte_carlo(options.quick)
    page_compute(options.quick)
    backtest(options.quick)
    if options.page:
        page_database(options.page, options.keep, seconds_per_draw)
    if options.backtest_db:
        backtest_database(options.backtest_db, options.keep)
    return 0
