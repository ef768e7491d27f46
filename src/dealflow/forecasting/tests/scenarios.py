"""Company histories of different shapes, for the scenario benchmark and its small versions in the tests.

Each is a seeded synthetic pipeline (``synthetic.generate``) over three years; the backtest forecasts
from every Monday of the last ``scored_months`` full months (after ``warmup_months`` of Mondays whose
errors only feed the calibration), fitted on older data only, and scores every method after calibration.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dealflow.forecasting import calculations as calc
from dealflow.forecasting import calibration
from dealflow.forecasting.tests import synthetic as syn

SEASON = (1.0, 0.8, 1.3, 0.7, 0.5, 0.9, 0.5, 0.4, 1.2, 1.3, 1.9, 1.5)  # strong: 0.4x to 1.9x the mean
START = dt.date(2023, 1, 1)
NOW_DAY = dt.date(2026, 1, 1)  # the backtest scores 2025's months


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    deals_per_day: float
    dated: bool = True
    never_close: float = 0.0
    season: tuple[float, ...] | None = None
    walk: float = 0.0  # monthly SD of the random walk of the win rates (0: fixed rates)
    owners: int = 4
    start: dt.date = START
    scored_months: int = 12


SCENARIOS = (
    Scenario("demo", "demo shape: slipping close dates, fixed rates", 6.0),
    Scenario("no_close_dates", "no deal has an expected close date", 6.0, dated=False),
    Scenario("never_closing", "20 % of deals stall and never close", 6.0, never_close=0.2),
    Scenario("seasonal", "arrivals 0.4x-1.9x the mean by month", 6.0, season=SEASON),
    Scenario("drifting", "win rates drift month to month (random walk)", 6.0, walk=0.08),
    # 30 deals a quarter make a month's bookings a handful of deals: 12 scored months would measure a
    # bias only to about +-9 %, so this one has five years of history and scores the last 24 months.
    Scenario(
        "small_team",
        "2 reps, 30 deals a quarter",
        30 / 91,
        owners=2,
        start=dt.date(2021, 1, 1),
        scored_months=24,
    ),
)


def scenario_get(name: str) -> Scenario:
    return next(scenario for scenario in SCENARIOS if scenario.name == name)


HISTORY_BEFORE_WARMUP = 12  # months of history before the first warm-up forecast (a year: last year's month)


def longest_months(scenario: Scenario, *, warmup_months: int = 6) -> int:
    """The most months the history allows to score: from the first month that has a year of history
    before its 6 warm-up months (a year, so that last year's month exists for the baseline, and 18 months
    at the first scored forecast, what the month-of-year factor needs) to the last full month. 18 for the
    three-year scenarios (July 2024 - December 2025), 42 for the small team's five years (July 2022 on)."""
    first = (scenario.start.year * 12 + scenario.start.month - 1) + HISTORY_BEFORE_WARMUP + warmup_months
    last = NOW_DAY.year * 12 + NOW_DAY.month - 1
    return last - first


def history_for(scenario: Scenario, *, scale: float = 1.0, seed: int = 1, now: int | None = None):
    """The generated deals and the History seen at ``now`` (default NOW_DAY)."""
    days = (NOW_DAY - scenario.start).days
    per_day = scenario.deals_per_day * scale
    if scenario.walk:
        deals = syn.generate_drifting(
            seed=seed,
            start=scenario.start,
            months=days // 30 + 1,
            deals_per_day=per_day,
            drift=scenario.walk,
            walk=True,
        )
    else:
        deals = syn.generate(
            seed=seed,
            start=scenario.start,
            days=days,
            deals_per_day=per_day,
            owners=scenario.owners,
            dated=scenario.dated,
            never_close=scenario.never_close,
            season=scenario.season,
        )
    moment = now if now is not None else syn.epoch(NOW_DAY)
    return deals, syn.to_history(deals, now=moment)


def backtest_for(
    history: calc.History,
    *,
    now: int,
    scored_months: int = 12,
    warmup_months: int = 6,
    draws: int = 1000,
    trend: bool = True,
    trend_new_deals: bool = True,
    seasonal: bool = True,
    stage_mass: bool = True,
) -> tuple[list[calc.BacktestRow], dict]:
    """Raw backtest rows and the calibrated table (``calc.backtest_table``) of the last full months.
    ``trend=False``: without the recent-exit factor (the method before 2026-12-06, for comparison);
    ``trend_new_deals=False``: the factor for open deals only (the method until the new-deal trend);
    ``seasonal=False``: no period-of-year factor on the run-rate (the method until 2026-12-06 afternoon);
    ``stage_mass=False``: L3 cells not rescaled per stage (the method until 2026-12-06 evening)."""
    calendar = syn.month_calendar(dt.date(2020, 1, 1), 96)
    points = calc.weekly_points(int(history.deal_created.min()), now, anchor=syn.epoch(dt.date(2023, 1, 2)))
    panel = calc.build_panel(history, calendar, points, horizons=2)
    current = int(calendar.index_of(now))
    scored_from = int(calendar.start_times[current - scored_months])
    warm_from = int(calendar.start_times[current - scored_months - warmup_months])
    chosen = [index for index, moment in enumerate(panel.times.tolist()) if moment >= warm_from]
    rows = calc.backtest(
        history,
        calendar,
        panel,
        points=chosen,
        now=now,
        horizons=2,
        draws=draws,
        trend=trend,
        trend_new_deals=trend_new_deals,
        seasonal=seasonal,
        stage_mass=stage_mass,
    )
    return rows, calc.backtest_table(rows, scored_from=scored_from, now=now)


def scenario_run(
    scenario: Scenario,
    *,
    scale: float = 1.0,
    seed: int = 1,
    draws: int = 1000,
    trend: bool = True,
    trend_new_deals: bool = True,
    seasonal: bool = True,
    stage_mass: bool = True,
) -> dict:
    """Generate the scenario's history and return its calibrated backtest table."""
    now = syn.epoch(NOW_DAY)
    _, history = history_for(scenario, scale=scale, seed=seed, now=now)
    _, table = backtest_for(
        history,
        now=now,
        scored_months=scenario.scored_months,
        draws=draws,
        trend=trend,
        trend_new_deals=trend_new_deals,
        seasonal=seasonal,
        stage_mass=stage_mass,
    )
    table["deals"] = len(history.deal_ids)
    return table


def scenario_rows(
    scenario: Scenario,
    *,
    scale: float = 1.0,
    seed: int = 1,
    draws: int = 1000,
    scored_months: int | None = None,
) -> tuple[list[calc.BacktestRow], int, int]:
    """One raw backtest of the scenario (nothing calibrated yet): its rows, the first scored as-of time
    and the number of deals. ``scored_months``: score that many months instead of the scenario's own
    (``longest_months`` is the most its history allows). The benchmark keeps these (``--cache``) so a
    change to the calibration is re-scored without re-running the backtest."""
    now = syn.epoch(NOW_DAY)
    months = scored_months or scenario.scored_months
    _, history = history_for(scenario, scale=scale, seed=seed, now=now)
    rows, _ = backtest_for(history, now=now, scored_months=months, draws=draws)
    calendar = syn.month_calendar(dt.date(2020, 1, 1), 96)
    scored_from = int(calendar.start_times[int(calendar.index_of(now)) - months])
    return rows, scored_from, len(history.deal_ids)


def tables_from_rows(
    rows: list[calc.BacktestRow],
    settings: dict[str, calibration.Settings],
    *,
    scored_from: int,
    deals: int,
) -> dict[str, dict]:
    """The raw rows calibrated under each of ``settings`` (name -> Settings), scored (``calc.backtest_table``)."""
    now = syn.epoch(NOW_DAY)
    tables = {}
    for name, chosen in settings.items():
        tables[name] = calc.backtest_table(rows, scored_from=scored_from, now=now, settings=chosen)
        tables[name]["deals"] = deals
    return tables


def scenario_tables(
    scenario: Scenario,
    settings: dict[str, calibration.Settings],
    *,
    scale: float = 1.0,
    seed: int = 1,
    draws: int = 1000,
    scored_months: int | None = None,
) -> dict[str, dict]:
    """One raw backtest of the scenario, calibrated under each of ``settings`` (name -> Settings): the
    tables differ only by how past errors became corrections and ranges. ``scored_months``: score that
    many months instead of the scenario's own (``longest_months`` is the most its history allows)."""
    rows, scored_from, deals = scenario_rows(
        scenario, scale=scale, seed=seed, draws=draws, scored_months=scored_months
    )
    return tables_from_rows(rows, settings, scored_from=scored_from, deals=deals)


def targets_met(entry: dict, *, coverage: float | None = None) -> dict[str, bool]:
    """The issue's targets for one horizon of a table: the default's WAPE no worse than the best
    baseline's, |bias| <= 5 %, P10-P90 coverage within 70-90 % (the default's, unless ``coverage``)."""
    default = entry["scores"][entry["default"]]
    baseline = entry["scores"].get(entry["best_baseline"] or "", default)
    coverage = default["coverage"] if coverage is None else coverage
    return {
        "wape": default["wape"] <= baseline["wape"] + 1e-12,
        "bias": abs(default["bias"]) <= 0.05,
        "coverage": coverage is not None and 0.70 <= coverage <= 0.90,
    }
