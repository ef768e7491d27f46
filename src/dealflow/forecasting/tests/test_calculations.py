"""The maths on a seeded synthetic pipeline with known conversion and slipping (tests/synthetic.py)."""

from __future__ import annotations

import datetime as dt
import math
from functools import cache

import numpy as np
import pytest

from dealflow.forecasting import calculations as calc
from dealflow.forecasting.tests import synthetic as syn

NOW = syn.epoch(dt.date(2025, 12, 20))
CALENDAR_START = dt.date(2021, 1, 1)


@cache
def world(days: int = 4 * 365, per_day: float = 4.0, now: int = NOW):
    deals = syn.generate(seed=7, start=dt.date(2022, 1, 1), days=days, deals_per_day=per_day)
    history = syn.to_history(deals, now=now)
    calendar = syn.month_calendar(CALENDAR_START, 72)
    points = calc.weekly_points(int(history.deal_created.min()), now, anchor=syn.epoch(dt.date(2022, 1, 3)))
    panel = calc.build_panel(history, calendar, points, horizons=2)
    return deals, history, calendar, panel


# ------------------------------------------------------------------------------------- Monte Carlo
def test_monte_carlo_mean_within_three_standard_errors_of_sum_p_times_amount():
    rng = np.random.default_rng(3)
    amounts = rng.lognormal(9, 1, 2000)
    p_period = rng.dirichlet([1, 1, 1, 1, 6], size=2000)[:, :4]
    revenue = calc.simulate(
        amounts=amounts,
        p_period=p_period,
        leaf=np.zeros(2000, dtype=np.int64),
        leaves=1,
        draws=10_000,
        seed=11,
    )
    for horizon in range(4):
        expected, variance = calc.expected_and_variance(amounts, p_period[:, horizon])
        draws = revenue[0, horizon]
        standard_error = draws.std(ddof=1) / math.sqrt(len(draws))
        assert abs(draws.mean() - expected) < 3 * standard_error
        # and the spread matches the normal approximation's variance within 5 %
        assert draws.var() == pytest.approx(variance, rel=0.05)


def test_monte_carlo_mean_with_the_drift_factor_stays_sum_p_times_amount_and_widens_the_spread():
    """With a factor F of mean 1 and relative SD s: mean m, variance (1 + s^2)(v + m^2) - m^2."""
    rng = np.random.default_rng(3)
    amounts = rng.lognormal(9, 1, 2000)
    p_period = rng.dirichlet([1, 1, 1, 1, 6], size=2000)[:, :4]
    drift = np.array([0.1, 0.2, 0.0, 0.05])
    revenue = calc.simulate(
        amounts=amounts,
        p_period=p_period,
        leaf=np.arange(2000) % 3,
        leaves=3,
        draws=10_000,
        seed=11,
        drift=drift,
    )
    for horizon in range(4):
        expected, variance = calc.expected_and_variance(amounts, p_period[:, horizon])
        draws = revenue[:, horizon].sum(axis=0)
        standard_error = draws.std(ddof=1) / math.sqrt(len(draws))
        assert abs(draws.mean() - expected) < 3 * standard_error
        widened = (1 + drift[horizon] ** 2) * (variance + expected**2) - expected**2
        assert draws.var() == pytest.approx(widened, rel=0.06)


def test_drift_factor_has_mean_one_its_sd_and_is_shared_by_leaves():
    factors = calc.drift_factors(np.array([0.0, 0.2]), 20_000, seed=4)
    assert factors.shape == (2, 20_000)
    assert np.all(factors[0] == 1.0)  # no drift, no factor
    assert factors[1].mean() == pytest.approx(1.0, abs=1e-12)  # scaled to mean 1 exactly
    assert factors[1].std() == pytest.approx(0.2, rel=0.03)
    assert factors[1].min() > 0
    # one certain 100 in each of two leaves: every draw is 100 x the same factor in both leaves
    revenue = calc.simulate(
        amounts=np.array([100.0, 100.0]),
        p_period=np.array([[1.0], [1.0]]),
        leaf=np.array([0, 1]),
        leaves=2,
        draws=20_000,
        seed=4,
        drift=np.array([0.2]),
    )
    assert np.allclose(revenue[0, 0], 100 * factors[1])
    assert np.array_equal(revenue[0, 0], revenue[1, 0])
    assert revenue[0, 0].mean() == pytest.approx(100.0, abs=1e-9)


def test_drift_from_residuals_hand_worked():
    # Three past weeks expected 100 each; they brought 110, 90 and 100.
    expected, realized = np.array([100.0, 100.0, 100.0]), np.array([110.0, 90.0, 100.0])
    # Without deal-level variance: s^2 = (100 + 100 + 0) / (3 x 100^2) = 1 / 150.
    assert calc.drift_from_residuals(expected, realized, np.zeros(3)) == pytest.approx(math.sqrt(1 / 150))
    # Independent deal outcomes explain 50 of each week's squared error: (200 - 150) / 30,000.
    assert calc.drift_from_residuals(expected, realized, np.full(3, 50.0)) == pytest.approx(
        math.sqrt(50 / 30_000)
    )
    # They explain more than all of it: no drift (never a negative variance).
    assert calc.drift_from_residuals(expected, realized, np.full(3, 100.0)) == 0.0
    assert calc.drift_from_residuals(np.zeros(2), np.array([5.0, 0.0]), np.zeros(2)) == 0.0


def test_drift_is_measured_from_older_weeks_and_falls_back_to_the_default_when_history_is_thin():
    _, history, calendar, panel = world()
    fit = calc.fit(history, calendar, panel, NOW, horizons=2)
    assert all(points >= calc.DRIFT_MIN_POINTS for row in fit.drift_points for points in row)
    assert all(0 <= value < 0.5 for row in fit.drift for value in row)
    assert fit.drift != [[calc.DRIFT_DEFAULT] * calc.COARSE_PHASES] * 2
    without_panel = calc.fit(history, calendar, None, NOW, horizons=2)
    assert without_panel.drift == [[calc.DRIFT_DEFAULT] * calc.COARSE_PHASES] * 2
    assert without_panel.drift_points == [[0] * calc.COARSE_PHASES] * 2
    early = calc.fit(history, calendar, panel, syn.epoch(dt.date(2022, 2, 15)), horizons=2)
    assert early.drift_points[0] == [0] * calc.COARSE_PHASES  # 5 weeks (January) with an outcome yet
    assert early.drift[0] == [calc.DRIFT_DEFAULT] * calc.COARSE_PHASES


def test_a_fine_phase_without_rows_takes_the_rate_of_its_quarter():
    shape = (calc.PHASES, 1, len(calc.AGE_BUCKETS), 2)
    wins, count = np.zeros(shape), np.zeros(shape)
    count[0, 0, 0, 1], wins[0, 0, 0, 1] = 1000, 800  # fine phase 0 of the first quarter: 80 %
    count[1, 0, 0, 1], wins[1, 0, 0, 1] = 1000, 400  # fine phase 1: 40 %
    shrunk = calc._shrink_within(wins, count)
    # The quarter's cell pools 1,200 / 2,000 = 60 % (its own shrinkage toward coarser levels is
    # negligible at 2,000 rows); phases 2 and 3 of the quarter have no rows and take it.
    quarter = shrunk[2, 0, 0, 1]
    assert quarter == pytest.approx(0.6, abs=0.01)
    assert shrunk[3, 0, 0, 1] == quarter
    # A phase with rows is shrunk toward its quarter with pseudo-count 10: (800 + 10 x 0.6) / 1010.
    assert shrunk[0, 0, 0, 1] == pytest.approx((800 + 10 * quarter) / 1010)
    assert shrunk[1, 0, 0, 1] == pytest.approx((400 + 10 * quarter) / 1010)


def test_stage_mass_scale_makes_each_stage_add_up_to_its_wins_hand_worked():
    """Stage 0 in the first quarter: 100 rows at fine phase 0 shrunk to 0.1 and 100 at phase 1 shrunk to
    0.2 expect 10 + 20 = 30 wins where 36 happened: factor 1.2 for every cell of stage 0 in that quarter.
    Stage 1 has no rows (nothing expected): 1; the other quarters: 1."""
    shape = (calc.PHASES, 2, len(calc.AGE_BUCKETS), 2)
    wins, count, shrunk = np.zeros(shape), np.zeros(shape), np.full(shape, 0.5)
    count[0, 0, 0, 0], shrunk[0, 0, 0, 0], wins[0, 0, 0, 0] = 100, 0.1, 20
    count[1, 0, 2, 1], shrunk[1, 0, 2, 1], wins[1, 0, 2, 1] = 100, 0.2, 16
    scale = np.broadcast_to(calc.stage_mass_scale(wins, count, shrunk), shape)
    assert scale[0:4, 0] == pytest.approx(np.full((4, len(calc.AGE_BUCKETS), 2), 1.2))
    assert np.all(scale[0:4, 1] == 1.0) and np.all(scale[4:] == 1.0)


def test_shrunk_cells_of_a_stage_add_up_to_its_wins_on_the_training_rows():
    """A late stage with few, mostly won rows next to a busy early stage with few wins: shrinking towards
    the pooled rate pulls the late stage down; rescaled per stage, each stage's expected wins over its
    own rows equal its wins again (and the plain shrink does not)."""
    shape = (calc.PHASES, 2, len(calc.AGE_BUCKETS), 2)
    wins, count = np.zeros(shape), np.zeros(shape)
    count[0, 0, 0, 0], wins[0, 0, 0, 0] = 2000, 100  # early stage: 5 %
    count[0, 1, 0, 1], wins[0, 1, 0, 1] = 12, 9  # late stage: 75 % from 12 rows
    count[1, 1, 3, 1], wins[1, 1, 3, 1] = 8, 6
    for stage_mass, equal in ((True, True), (False, False)):
        shrunk = calc._shrink_within(wins, count, stage_mass=stage_mass)
        expected = (count * shrunk)[0:4].sum(axis=(0, 2, 3))
        assert (expected == pytest.approx(wins[0:4].sum(axis=(0, 2, 3)))) is equal


def test_monte_carlo_is_seeded_and_splits_by_leaf():
    amounts = np.array([100.0, 200.0, 300.0])
    p_period = np.array([[0.5, 0.2], [1.0, 0.0], [0.0, 0.0]])
    leaf = np.array([0, 1, 1])
    first = calc.simulate(amounts=amounts, p_period=p_period, leaf=leaf, leaves=2, draws=1000, seed=5)
    second = calc.simulate(amounts=amounts, p_period=p_period, leaf=leaf, leaves=2, draws=1000, seed=5)
    assert np.array_equal(first, second)
    assert np.all(first[1, 0] == 200.0)  # a certain win in period 1, in leaf 1
    assert np.all(first[1, 1] == 0.0)
    assert set(np.unique(first[0, 0])) <= {0.0, 100.0}
    assert np.all(first[0, 0] + first[0, 1] <= 100.0)  # a deal wins in one period at most


def test_plain_python_baseline_agrees_with_the_vectorised_simulation():
    amounts = [1000.0, 500.0, 250.0]
    p_period = [[0.3, 0.2], [0.5, 0.1], [0.1, 0.1]]
    plain = calc.simulate_plain_python(amounts, p_period, draws=20_000, seed=1)
    assert np.mean(plain[0]) == pytest.approx(1000 * 0.3 + 500 * 0.5 + 250 * 0.1, rel=0.03)
    assert np.mean(plain[1]) == pytest.approx(1000 * 0.2 + 500 * 0.1 + 250 * 0.1, rel=0.05)


def test_summary_quantiles_and_quota_probability():
    draws = np.arange(1, 11, dtype=float)  # 1..10
    summary = calc.summarise(draws, closed=100.0, quota=108.0)
    assert summary.mean == 105.5
    assert summary.p50 == 105.5
    assert summary.p10 == pytest.approx(101.9)
    assert summary.p90 == pytest.approx(109.1)
    assert summary.p_quota == 0.3  # 108, 109, 110


# ------------------------------------------------------------------------------ learned probabilities
def test_learned_reached_stage_rates_recover_the_true_rates():
    """Tolerance: 3 binomial standard errors plus the most the Beta prior can pull, n0/(N+n0) x |p0 - p|."""
    _, history, calendar, panel = world()
    fit = calc.fit(history, calendar, panel, NOW, horizons=2)
    assert fit.level == "L3"
    for stage in range(5):
        true = syn.true_reached_rate(stage)
        count = fit.stage_count[stage]
        tolerance = 3 * math.sqrt(true * (1 - true) / count) + calc.PRIOR_STRENGTH / (
            count + calc.PRIOR_STRENGTH
        ) * abs(syn.CONFIGURED[stage] - true)
        assert abs(fit.learned[stage] - true) <= tolerance, (stage, fit.learned[stage], true, tolerance)


def test_beta_prior_formula():
    # (W + n0 p0) / (N + n0) with W=3, N=10, n0=10, p0=0.5 -> 8/20
    assert calc.beta_mean(np.array([3.0]), np.array([10.0]), np.array([0.5]), 10.0)[0] == 0.4


# ------------------------------------------------------------------------------------------ fallback
def _fit_with_closed(closed_wanted: int):
    """A history cut so that exactly ``closed_wanted`` deals have closed by the fit time."""
    deals, _history, calendar, _ = world()
    close_times = np.sort(
        [next(moment for moment, kind, _ in deal.steps if kind in ("won", "lost")) for deal in deals]
    )
    moment = int(close_times[closed_wanted - 1]) if closed_wanted else int(close_times[0]) - 1
    cut = syn.to_history(deals, now=moment)
    points = calc.weekly_points(int(cut.deal_created.min()), moment, anchor=syn.epoch(dt.date(2022, 1, 3)))
    panel = calc.build_panel(cut, calendar, points, horizons=2)
    return calc.fit(cut, calendar, panel, moment, horizons=2)


@pytest.mark.parametrize(
    ("closed", "level"),
    [
        (0, "L0"),
        (calc.L1_MIN_CLOSED - 1, "L0"),
        (calc.L1_MIN_CLOSED, "L1"),
        (calc.L2_MIN_CLOSED - 1, "L1"),
        (calc.L2_MIN_CLOSED, "L2"),
    ],
)
def test_fallback_levels_at_the_documented_closed_deal_thresholds(closed, level):
    fit = _fit_with_closed(closed)
    assert fit.closed_count == closed
    assert fit.level == level


def test_l3_needs_enough_weekly_points_with_finished_outcomes():
    _, history, calendar, panel = world()
    levels = []
    for day in range(0, 150, 3):
        moment = syn.epoch(dt.date(2022, 2, 1) + dt.timedelta(days=day))
        fit = calc.fit(history, calendar, panel, moment, horizons=2)
        rows = int(np.asarray(fit.within_count[0]).sum())
        enough = fit.closed_count >= calc.L2_MIN_CLOSED and fit.l3_points >= calc.L3_MIN_POINTS
        enough = enough and rows >= calc.L3_MIN_ROWS
        assert (fit.level == "L3") == enough, (day, fit.level, fit.closed_count, fit.l3_points, rows)
        levels.append((fit.level, fit.l3_points))
    assert any(level == "L2" and points < calc.L3_MIN_POINTS for level, points in levels)
    assert any(level == "L3" for level, _ in levels)


def test_predictions_follow_the_level():
    _, history, calendar, panel = world()
    fit = calc.fit(history, calendar, panel, NOW, horizons=2)
    states = calc.states_as_of(history, [NOW])
    configured = calc.predict(fit, states, calendar, NOW, method="configured", horizons=2)
    assert configured.level == "L0"
    assert np.allclose(configured.p_win, np.array(syn.CONFIGURED)[states.stage])
    dated = calc.in_period_flags(states.close_on, calendar, np.full(len(states), calendar.index_of(NOW)), 0)
    assert np.allclose(configured.p_period[:, 0], configured.p_win * dated)
    dealflow = calc.predict(fit, states, calendar, NOW, method="dealflow", horizons=2)
    assert dealflow.level == "L3"
    assert np.all(dealflow.p_period.sum(axis=1) <= 1 + 1e-9)
    assert np.all(dealflow.p_period[:, 0] <= dealflow.p_win + 1e-9)


# ------------------------------------------------------------------------------------------- leakage
def test_events_after_t_never_change_a_forecast_made_at_t():
    deals, history, calendar, _ = world()
    moment = syn.epoch(dt.date(2024, 6, 12))
    seen_then = syn.to_history(deals, now=moment)  # the database as it was at t
    points = calc.weekly_points(
        int(history.deal_created.min()), moment, anchor=syn.epoch(dt.date(2022, 1, 3))
    )

    def forecast(source):
        panel = calc.build_panel(source, calendar, points, horizons=2)
        fit = calc.fit(source, calendar, panel, moment, horizons=2)
        states = calc.states_as_of(source, [moment])
        _, revenue = calc.forecast_draws(
            fit,
            states,
            calendar,
            moment,
            method="dealflow",
            horizons=2,
            leaf=np.zeros(len(states), dtype=np.int64),
            leaf_owners=[np.array([1, 2, 3, 4])],
            draws=2000,
            seed=1,
        )
        return fit, states, revenue

    fit_then, states_then, revenue_then = forecast(seen_then)
    fit_now, states_now, revenue_now = forecast(history)  # 18 months of later events and deals added
    assert len(history.stage_deal) > len(seen_then.stage_deal)
    assert fit_then.as_dict() == fit_now.as_dict()
    assert np.array_equal(states_then.amount, states_now.amount)
    assert np.array_equal(revenue_then, revenue_now)


# ------------------------------------------------------------------------------------------ backtest
@cache
def backtest_rows():
    _, history, calendar, panel = world()
    start = syn.epoch(dt.date(2024, 1, 1))
    points = [index for index, moment in enumerate(panel.times) if moment >= start]
    return calc.backtest(history, calendar, panel, points=points, now=NOW, horizons=2, draws=2000)


def test_backtest_p10_p90_coverage_is_between_70_and_90_percent():
    """Over all forecasts and for this period and the next apart (85 %, 82 % and 88 % when written)."""
    rows = [row for row in backtest_rows() if row.method == "dealflow"]
    assert len(rows) > 150
    for members in (rows, *([row for row in rows if row.horizon == horizon] for horizon in (0, 1))):
        assert len(members) > 90
        value = calc.coverage(
            [row.actual for row in members], [row.p10 for row in members], [row.p90 for row in members]
        )
        assert 0.70 <= value <= 0.90


def test_backtest_coverage_holds_when_rates_drift_month_to_month_and_not_without_the_drift_factor(
    monkeypatch,
):
    """Each month's deals convert at rates scaled by exp(N(0, 0.08)) per stage (synthetic.py): the drift
    factor measured from past weeks keeps P10-P90 coverage in 70-90 % (73 % when written); with the
    factor switched off the same forecasts hold the actual far less often (59 %)."""
    deals = syn.generate_drifting(seed=11, start=dt.date(2022, 1, 1), months=48, deals_per_day=10, drift=0.08)
    history = syn.to_history(deals, now=NOW)
    calendar = syn.month_calendar(CALENDAR_START, 72)
    points = calc.weekly_points(int(history.deal_created.min()), NOW, anchor=syn.epoch(dt.date(2022, 1, 3)))
    panel = calc.build_panel(history, calendar, points, horizons=2)
    start = syn.epoch(dt.date(2024, 1, 1))
    chosen = [index for index, moment in enumerate(panel.times) if moment >= start]

    def dealflow_coverage() -> float:
        rows = calc.backtest(history, calendar, panel, points=chosen, now=NOW, horizons=2, draws=1000)
        rows = [row for row in rows if row.method == "dealflow"]
        assert len(rows) > 150
        value = calc.coverage(
            [row.actual for row in rows], [row.p10 for row in rows], [row.p90 for row in rows]
        )
        assert value is not None
        return value

    with_drift = dealflow_coverage()
    assert 0.70 <= with_drift <= 0.90
    from dealflow.forecasting.calculations import fitting

    monkeypatch.setattr(fitting, "drift_from_residuals", lambda *args: 0.0)
    monkeypatch.setattr(fitting, "DRIFT_DEFAULT", 0.0)
    assert dealflow_coverage() < with_drift - 0.05


def test_backtest_finds_that_dated_win_probability_over_forecasts_and_never_claims_a_loser():
    table = calc.backtest_table(backtest_rows())
    raw = table["raw"]  # before calibration
    assert raw["learned"]["bias"] > 0.2  # close dates slip: "will it win" is not "will it win this month"
    assert abs(raw["dealflow"]["bias"]) < 0.05
    overall = table["overall"]
    default = table["default_method"]
    assert default == min(overall, key=lambda method: overall[method]["wape"])
    assert overall[default]["wape"] <= overall[table["best_baseline"]]["wape"]
    assert table["best_baseline"] in {"run_rate", "last_year", "configured"}
    assert abs(overall[default]["bias"]) < 0.05
    assert {row["method"] for row in table["rows"]} == {
        "dealflow",
        "learned",
        "configured",
        "run_rate",
        "last_year",
        "blend",
    }


# ------------------------------------------------------------------------------------------ accuracy
def test_accuracy_metrics_hand_worked():
    # Periods: actual 100, forecast 90; actual 200, forecast 230; actual 50, forecast 50.
    actuals, forecasts = [100.0, 200.0, 50.0], [90.0, 230.0, 50.0]
    assert calc.accuracy(100, 90) == 0.9
    assert calc.accuracy(200, 230) == 0.85
    assert calc.accuracy(0, 10) is None
    assert calc.wape(actuals, forecasts) == 40 / 350  # (10 + 30 + 0) / 350
    assert calc.bias(actuals, forecasts) == 20 / 350  # (-10 + 30 + 0) / 350
    assert calc.coverage(actuals, [80, 210, 40], [120, 260, 60]) == 2 / 3  # 200 is below 210


def test_calibration_hand_worked():
    result = calc.calibration(np.array([0.2, 0.2, 0.8, 0.8]), np.array([0, 1, 1, 1]), bins=10)
    # Brier: (0.04 + 0.64 + 0.04 + 0.04) / 4 = 0.19; base rate 0.75 -> (0.5625 + 3 * 0.0625) / 4 = 0.1875
    assert result.brier == pytest.approx(0.19)
    assert result.base_rate_brier == pytest.approx(0.1875)
    assert result.skill == pytest.approx(1 - 0.19 / 0.1875)
    # bins: 0.2 -> observed 0.5 (gap 0.3), 0.8 -> observed 1.0 (gap 0.2); ECE = 0.5 * 0.3 + 0.5 * 0.2
    assert result.ece == pytest.approx(0.25)


def test_calibration_from_sql_groups_equals_calibration_of_the_rows():
    rng = np.random.default_rng(4)
    predicted = np.round(rng.uniform(0, 1, 5000), 5)
    predicted[:7] = [0.0, 1.0, 0.1, 0.9, 0.99999, 0.5, 0.3]  # bin edges and the top bin
    outcome = (rng.uniform(0, 1, 5000) < predicted).astype(float)
    bins = np.minimum((predicted * 10).astype(int), 9)
    keys = bins * 2 + outcome.astype(int)
    groups = [
        (
            key // 2,
            key % 2,
            (keys == key).sum(),
            predicted[keys == key].sum(),
            (predicted[keys == key] ** 2).sum(),
        )
        for key in np.unique(keys)
    ]
    grouped = calc.calibration_from_groups(*map(np.array, zip(*groups, strict=True)), base_rate=0.4)
    direct = calc.calibration(predicted, outcome, base_rate=0.4)
    for name in ("count", "predicted", "observed", "brier", "base_rate_brier", "skill", "ece"):
        assert getattr(grouped, name) == pytest.approx(getattr(direct, name), rel=1e-9), name
    assert len(grouped.reliability) == len(direct.reliability) == 10
    for mine, theirs in zip(grouped.reliability, direct.reliability, strict=True):
        assert mine == pytest.approx(theirs, rel=1e-9)


def test_monte_carlo_with_no_deal_that_can_win_draws_only_zeros_and_certain_wins_always_win():
    amounts = np.array([100.0, 200.0])
    nothing = calc.simulate(
        amounts=amounts, p_period=np.zeros((2, 4)), leaf=np.array([0, 1]), leaves=2, draws=500, seed=1
    )
    assert nothing.shape == (2, 4, 500) and not nothing.any()
    certain = calc.simulate(
        amounts=amounts,
        p_period=np.array([[0.0, 1.0], [0.0, 0.0]]),
        leaf=np.array([0, 0]),
        leaves=1,
        draws=70_000,
        seed=2,
    )
    assert np.all(certain[0, 1] == 100.0) and not certain[0, 0].any()  # u = 65535 included
