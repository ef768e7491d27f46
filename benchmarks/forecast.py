"""Forecast benchmarks: `python -m benchmarks forecast [--quick] [--page N]`.

1. Monte Carlo: 10,000 open deals x 10,000 draws x 4 periods with the vectorised simulation, against the
   plain-Python loop baseline in the same run. The baseline is timed on a 500-deal x 1,000-draw slice and
   scaled linearly (it is one loop iteration per deal and draw; the full run would take minutes), and the
   vectorised code is timed on the same slice too, so both ratios are printed.
2. The page's computation at 10,000 open deals: prediction, simulation for every owner, roll-ups to
   teams and company, quantiles for 4 periods (no database).
3. Backtest: a synthetic history of ~100,000 deals over 3 years; 2 years of weekly as-of points (104),
   each refitted on older data only, every method, 2,000 draws; history arrays built once.
4. With --page N: an in-memory SQLite database with N demo deals, then `forecast_for_user` end to end
   (queries included; the day's fit is computed once first and cached, as on a server).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time

import numpy as np

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEALFLOW_TESTING", "1")


def _timed(function, *args, repeat: int = 1, **kwargs):
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function(*args, **kwargs)
        best = min(best, time.perf_counter() - started)
    return best, result


def monte_carlo(quick: bool) -> None:
    from dealflow.forecasting import calculations as calc

    rng = np.random.default_rng(1)
    deals, draws, horizons = (2_000, 2_000, 4) if quick else (10_000, 10_000, 4)
    amounts = rng.lognormal(np.log(20_000_00), 0.8, deals)
    p_period = rng.dirichlet([0.6, 0.4, 0.3, 0.2, 2.5], size=deals)[:, :horizons]
    leaf = rng.integers(0, 100, deals)
    seconds, revenue = _timed(
        calc.simulate,
        amounts=amounts,
        p_period=p_period,
        leaf=leaf,
        leaves=100,
        draws=draws,
        seed=1,
        repeat=3,
    )
    expected = (amounts[:, None] * p_period).sum(axis=0)
    error = np.abs(revenue.sum(axis=0).mean(axis=1) - expected) / expected
    print(
        f"monte carlo vectorised: {deals:,} deals x {draws:,} draws x {horizons} periods, 100 owners: {seconds:.3f} s"
    )
    print(f"  mean vs sum(p x A): largest relative gap {error.max():.5f}")
    slice_deals, slice_draws = 500, 1_000
    baseline_seconds, _ = _timed(
        calc.simulate_plain_python,
        amounts[:slice_deals].tolist(),
        p_period[:slice_deals].tolist(),
        slice_draws,
        1,
    )
    slice_vector, _ = _timed(
        calc.simulate, amounts=amounts[:slice_deals], p_period=p_period[:slice_deals],
        leaf=np.zeros(slice_deals, dtype=np.int64), leaves=1, draws=slice_draws, seed=1, repeat=3,
    )  # fmt: skip
    scaled = baseline_seconds * (deals * draws) / (slice_deals * slice_draws)
    print(
        f"  plain-Python loop, {slice_deals} x {slice_draws:,}: {baseline_seconds:.3f} s; vectorised: {slice_vector:.4f} s; ratio {baseline_seconds / slice_vector:.0f}x"
    )
    print(f"  plain-Python loop scaled to the full size: ~{scaled:.0f} s; ratio {scaled / seconds:.0f}x")


def page_compute(quick: bool) -> None:
    from dealflow.forecasting import calculations as calc
    from dealflow.forecasting.tests import synthetic as syn

    now = syn.epoch(dt.date(2025, 12, 20))
    deals = syn.generate(seed=3, start=dt.date(2023, 1, 1), days=3 * 365, deals_per_day=20 if quick else 90)
    history = syn.to_history(deals, now=now)
    calendar = syn.month_calendar(dt.date(2022, 1, 1), 60)
    points = calc.weekly_points(int(history.deal_created.min()), now, anchor=syn.epoch(dt.date(2023, 1, 2)))
    panel = calc.build_panel(history, calendar, points, horizons=4)
    fit_seconds, fit = _timed(calc.fit, history, calendar, panel, now, horizons=4)
    states = calc.states_as_of(history, [now])
    target = 2_000 if quick else 10_000
    pick = np.arange(len(states)) % len(states) if len(states) else np.zeros(0, dtype=np.int64)
    pick = np.resize(pick, target)
    states = states.subset(pick)
    owners = np.arange(1, 101)
    states.owner = owners[np.arange(target) % 100]

    def compute():
        leaf = states.owner - 1
        _, revenue = calc.forecast_draws(
            fit, states, calendar, now, method="dealflow", horizons=4, leaf=leaf,
            leaf_owners=[np.array([owner]) for owner in owners], draws=10_000, seed=1,
        )  # fmt: skip
        team_of = (owners - 1) // 10
        for horizon in range(4):
            calc.summarise(revenue[:, horizon].sum(axis=0), quota=1e9)
            for team in range(10):
                calc.summarise(revenue[team_of == team, horizon].sum(axis=0), quota=1e8)
        return revenue

    seconds, _ = _timed(compute, repeat=2)
    print(
        f"page computation: {target:,} open deals, 100 owners in 10 teams, 10,000 draws, 4 periods: {seconds:.3f} s"
    )
    print(
        f"  (fit from {len(history.deal_ids):,} deals' history, done once a day and cached: {fit_seconds:.2f} s; level {fit.level})"
    )


def backtest(quick: bool) -> None:
    from dealflow.forecasting import calculations as calc
    from dealflow.forecasting.tests import synthetic as syn

    now = syn.epoch(dt.date(2025, 12, 31))
    started = time.perf_counter()
    per_day = 9 if quick else 91
    deals = syn.generate(seed=5, start=dt.date(2023, 1, 1), days=3 * 365, deals_per_day=per_day)
    history = syn.to_history(deals, now=now)
    generated = time.perf_counter() - started
    calendar = syn.month_calendar(dt.date(2022, 1, 1), 60)
    started = time.perf_counter()
    points = calc.weekly_points(int(history.deal_created.min()), now, anchor=syn.epoch(dt.date(2023, 1, 2)))
    panel = calc.build_panel(history, calendar, points, horizons=2)
    panel_seconds = time.perf_counter() - started
    start = syn.epoch(dt.date(2024, 1, 1))
    chosen = [index for index, moment in enumerate(panel.times) if moment >= start]
    seconds, rows = _timed(
        calc.backtest, history, calendar, panel, points=chosen, now=now, horizons=2, draws=2000
    )
    table = calc.backtest_table(rows)
    print(
        f"backtest: {len(history.deal_ids):,} deals, {len(history.stage_deal):,} stage events, {len(chosen)} weekly "
        f"as-of points x 2 periods x 5 methods: {seconds:.1f} s (+ panel {panel_seconds:.1f} s; generating the "
        f"synthetic history {generated:.1f} s)"
    )
    for method, row in table["overall"].items():
        coverage = "-" if row["coverage"] is None else f"{100 * row['coverage']:.0f}%"
        print(
            f"  {method:<11} WAPE {100 * row['wape']:5.1f}%  bias {100 * row['bias']:+5.1f}%  P10-P90 coverage {coverage}"
        )
    print(f"  default method: {table['default_method']}")


def page_database(deals: int) -> None:
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    from dealflow.accounts.models import User
    from dealflow.deals.models import Deal
    from dealflow.demo.generate import demo_generate
    from dealflow.forecasting import selectors

    setup_test_environment()
    name = connection.creation.create_test_db(verbosity=0, keepdb=False)
    try:
        started = time.perf_counter()
        import dealflow.demo.generate as generate_module

        generate_module.OPTIONAL_STEPS = []
        demo_generate(deals=deals, seed=1, progress=False)
        loaded = time.perf_counter() - started
        admin = User.objects.filter(is_superuser=True).first() or User.objects.create(
            username="bench", is_superuser=True
        )
        open_count = Deal.objects.filter(status="open").count()
        first, _ = _timed(selectors.forecast_for_user, user=admin)
        seconds, _view = _timed(selectors.forecast_for_user, user=admin, repeat=3)
        print(
            f"page end to end (forecast_for_user, SQLite): {deals:,} demo deals, {open_count:,} open: {seconds:.3f} s "
            f"(first call, computing the day's fit: {first:.2f} s; demo load {loaded:.0f} s)"
        )
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    sys.path.insert(0, "src")
    monte_carlo(quick)
    page_compute(quick)
    backtest(quick)
    if "--page" in argv:
        page_database(int(argv[argv.index("--page") + 1]))
    return 0
