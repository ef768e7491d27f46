"""The run-rate's period-of-year factors: hand-worked maths, no look-ahead, and how the samples use them."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pytest

from dealflow.forecasting import calculations as calc
from dealflow.forecasting.tests import scenarios
from dealflow.forecasting.tests import synthetic as syn


def test_season_factors_keep_a_clear_season_and_shrink_it_by_the_noise_hand_worked():
    """Quarters of the year, two years alike: created 150, 50, 100, 100 each year. Mean 100, so raw =
    1.5, 0.5, 1, 1 (already averaging 1). Both years alike: pooled variance 0; the deals' own noise is
    mean Q / 100^2 = 200 / 10,000 = 0.02, so e = 0.02 / 2 = 0.01 per quarter. Variance of raw across the
    year (0.25 + 0.25) / 3 = 0.16667; tau^2 = 0.16667 - 0.01 = 0.15667; shrink 0.15667 / 0.16667 = 0.94:
    f = 1 + 0.5 x 0.94 = 1.47, 1 - 0.47 = 0.53, 1, 1."""
    totals = np.array([150.0, 50.0, 100.0, 100.0] * 2)
    squares = np.full(8, 200.0)
    seasons = np.array([0, 1, 2, 3] * 2)
    factors = calc.season_factors(totals, squares, seasons, 4)
    assert factors == pytest.approx([1.47, 0.53, 1.0, 1.0])


def test_season_factors_are_one_without_a_season_or_without_two_years():
    seasons = np.array([0, 1, 2, 3] * 2)
    # Every quarter alike: nothing to correct.
    assert calc.season_factors(np.full(8, 100.0), np.full(8, 200.0), seasons, 4).tolist() == [1.0] * 4
    # A single year: the same swing could be a one-off, so no factor.
    one_year = calc.season_factors(np.array([150.0, 50.0, 100.0, 100.0]), np.full(4, 200.0), seasons[:4], 4)
    assert one_year.tolist() == [1.0] * 4
    # Few deals (each quarter's total is one or two deals: Q = B^2): the swing is within their noise.
    totals = np.array([150.0, 50.0, 100.0, 100.0] * 2)
    assert calc.season_factors(totals, totals**2, seasons, 4).tolist() == [1.0] * 4


def test_run_rate_factors_mix_the_target_period_and_the_one_before_hand_worked():
    """Arrivals 1.5, 0.5, 1, 1; 75 % of the run-rate created in the period it is won in, 25 % the period
    before: f_0 = 0.75 x 1.5 + 0.25 x 1 (the last quarter comes before the first) = 1.375, f_1 = 0.75 x
    0.5 + 0.25 x 1.5 = 0.75, f_2 = 0.75 + 0.25 x 0.5 = 0.875, f_3 = 1."""
    factors = calc.run_rate_factors(np.array([1.5, 0.5, 1.0, 1.0]), np.array([0.75, 0.25]))
    assert factors == pytest.approx([1.375, 0.75, 0.875, 1.0])


def test_the_period_of_the_year_comes_from_the_period_start_whatever_the_first_period():
    late = syn.month_calendar(dt.date(2022, 11, 1), 24)
    early = syn.month_calendar(dt.date(2020, 1, 1), 60)
    assert [late.season_of(index) for index in (0, 1, 2, 14)] == [10, 11, 0, 0]
    march = int(early.index_of(syn.epoch(dt.date(2023, 3, 15))))
    assert early.season_of(march) == late.season_of(int(late.index_of(syn.epoch(dt.date(2023, 3, 15))))) == 2


def test_season_factors_at_t_are_the_same_without_the_data_after_t():
    """Fitted at t on the history as it was at t, or on today's (later deals, later wins), the run-rate's
    factors are the same: they count only periods that ended by t and wins up to t."""
    scenario = scenarios.scenario_get("seasonal")
    calendar = syn.month_calendar(dt.date(2020, 1, 1), 96)
    then = syn.epoch(dt.date(2025, 3, 10))
    deals, seen_today = scenarios.history_for(scenario, scale=0.5, seed=2)
    seen_then = syn.to_history(deals, now=then)
    factors = calc.season_run_rate(seen_then, calendar, then, 2)
    assert factors == calc.season_run_rate(seen_today, calendar, then, 2)
    # The arrivals swing 0.4x-1.9x by month: the factors see it (November high, August low).
    assert factors[0][10] > 1.5 and factors[0][7] < 0.6
    assert factors[1][11] > 1.5
    # ... and a later date does see more: the test can fail.
    later = syn.epoch(dt.date(2025, 9, 1))
    assert calc.season_run_rate(seen_today, calendar, later, 2) != factors


def test_season_factors_stay_near_one_on_a_history_without_a_season():
    scenario = scenarios.scenario_get("demo")
    _, history = scenarios.history_for(scenario, scale=0.5, seed=2)
    calendar = syn.month_calendar(dt.date(2020, 1, 1), 96)
    factors = np.array(calc.season_run_rate(history, calendar, syn.epoch(dt.date(2025, 6, 2)), 2))
    assert np.abs(factors - 1).max() < 0.1


def test_run_rate_samples_are_moved_from_their_own_month_into_the_target_month():
    """Four past weeks (4 are needed), two that targeted January (season 0) with 100 each and two that
    targeted February (season 1) with 50 each; factors 2.0 for January and 1.0 for February. For a
    February target a January sample counts 100 x 1.0 / 2.0 = 50, so every sample is 50; for a January
    target a February sample counts 50 x 2.0 / 1.0 = 100. Without factors the samples stay as they were."""
    points = [
        {"phase": 0, "by_owner": {"7": amount}, "season": season}
        for amount, season in ((100.0, 0), (100.0, 0), (50.0, 1), (50.0, 1))
    ]
    base = calc.Fit(
        as_of=0,
        level="L1",
        closed_count=0,
        stage_ids=[],
        configured=[],
        stage_wins=[],
        stage_count=[],
        learned=[],
        aged=[],
        aged_count=[],
        within=None,
        within_count=None,
        l3_points=0,
        new_points=[points],
        bookings=[],
        last_year=[],
        drift=[[0.0] * 4],
        drift_points=[[0] * 4],
    )
    owners = np.array([7])
    seasonal = replace(base, new_season=[[2.0] + [1.0] * 11])
    february = calc.new_bookings_samples(seasonal, owners, 0, 1, 1.0, season=1)[0]
    assert february[:, 0].tolist() == [50.0, 50.0, 50.0, 50.0]
    january = calc.new_bookings_samples(seasonal, owners, 0, 1, 1.0, season=0)[0]
    assert january[:, 0].tolist() == [100.0, 100.0, 100.0, 100.0]
    assert calc.new_bookings_samples(base, owners, 0, 1, 1.0, season=1)[0][:, 0].tolist() == [
        100.0,
        100.0,
        50.0,
        50.0,
    ]
    # Horizon h targets season + h; without ``season`` the fit's own as-of season is used.
    assert (
        calc.new_bookings_samples(replace(seasonal, season=1), owners, 0, 1, 1.0)[0][:, 0].tolist()
        == [50.0] * 4
    )
