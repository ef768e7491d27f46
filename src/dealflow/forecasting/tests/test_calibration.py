"""Calibration of backtest forecasts: bias correction, ranges, the default method, no look-ahead."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from functools import cache

import numpy as np
import pytest

from dealflow.forecasting import calculations as calc
from dealflow.forecasting import calibration as cal
from dealflow.forecasting.tests import scenarios
from dealflow.forecasting.tests import synthetic as syn

DAY = calc.DAY


def test_bias_ratio_moves_towards_one_by_one_standard_error_hand_worked():
    # Two periods: U = 100 each, A - C = 130 and 110. R = 240 / 200 = 1.2; per-period ratios 1.3 and 1.1,
    # SD 0.1414, SE = 0.1414 / sqrt(2) = 0.1; r = 1 + (0.2 - 0.1) = 1.1. Two ratios: uncalibrated, +-50 %.
    correction = cal.correction_from([(1, 100.0, 130.0), (2, 100.0, 110.0)])
    assert correction.ratio == pytest.approx(1.1)
    assert not correction.calibrated
    assert (correction.low, correction.high) == (pytest.approx(0.55), pytest.approx(1.65))


def test_range_from_interpolated_ranks_and_a_bias_within_noise_is_left_alone_hand_worked():
    # Twelve next-period ratios 0.5, 0.6, ..., 1.6 in a shuffled order. n = 12: ranks 0.1 x 13 = 1.3 and
    # 0.9 x 13 = 11.7, interpolated: 0.5 + 0.3 x 0.1 = 0.53 and 1.5 + 0.7 x 0.1 = 1.57. Bias: the level of
    # ratios that only scatter is their mean with one period at 1, (1 + 12.6) / 13 = 1.046, within one
    # standard error of 1 (this period's window: R = 1.05, SE = 0.3606 / sqrt(12) = 0.104): no correction.
    order = [1.0, 0.5, 1.4, 0.7, 1.6, 0.9, 1.2, 0.6, 1.5, 0.8, 1.3, 1.1]
    past = [(end, 100.0, 100.0 * value) for end, value in enumerate(order)]
    correction = cal.correction_from(past, horizon=1)
    assert correction.calibrated and correction.points == 12
    assert correction.ratio == 1.0
    assert (correction.low, correction.high) == (pytest.approx(0.53), pytest.approx(1.57))
    assert cal.apply_correction(1000.0, 200.0, correction)[1:4:2] == (
        pytest.approx(1106.0),
        pytest.approx(1314.0),
    )
    # This period (and later periods before 2026-12-06 evening): the whole ranks floor(1.3) = 1st and
    # ceil(11.7) = 12th, 0.5 and 1.6, a range that holds 11 / 13 = 84.6 % of the time rather than 80 %.
    for this_period in (cal.correction_from(past), cal.correction_from(past, horizon=1, settings=cal.BEFORE)):
        assert (this_period.low, this_period.high) == (pytest.approx(0.5), pytest.approx(1.6))


def test_interpolated_ranks_hold_80_percent_of_new_draws_where_whole_ranks_hold_85():
    """The reason for the interpolated ranks: 12 past ratios from a distribution, the 13th from the same
    one. Over 20,000 such trials the whole-rank range held 84.6 % (11 / 13), the interpolated one 81.4 %
    (interpolating between two ratios of a skewed distribution is not exactly its quantile)."""
    generator = np.random.default_rng(7)
    held = {"now": 0, "before": 0}
    trials = 20_000
    for _ in range(trials):
        ratios = generator.lognormal(0.0, 0.3, 13)
        past = [(end, 100.0, 100.0 * value) for end, value in enumerate(ratios[:12])]
        for name, settings in (("now", cal.CURRENT), ("before", cal.BEFORE)):
            correction = cal.correction_from(past, horizon=1, settings=settings)
            held[name] += correction.low <= ratios[12] <= correction.high
    assert 0.79 <= held["now"] / trials <= 0.83
    assert held["before"] / trials == pytest.approx(11 / 13, abs=0.012)


def test_later_periods_bias_level_follows_a_drift_and_averages_a_scatter_hand_worked():
    # No drift (lambda = 0), two periods at 1.2: the level starts at 1 with the weight of one period:
    # step 1: gain 1 / 2, level 1.1, variance 0.5; step 2: gain 0.5 / 1.5, level 1.1 + 0.1 / 3 = 1.1333
    # = (1 + 1.2 + 1.2) / 3. With lambda = 1: after step 1 the variance is 0.5 + 1 = 1.5, gain 0.6, level
    # 1.1 + 0.6 x 0.1 = 1.16: a level that may wander trusts the latest period more.
    assert cal._level_path(np.array([1.2, 1.2]), 0.0)[0] == pytest.approx(3.4 / 3)
    assert cal._level_path(np.array([1.2, 1.2]), 1.0)[0] == pytest.approx(1.16)
    # Ratios sliding 0.1 a period (1.0, 0.9, ..., 0.4): the likeliest drift is the largest tried
    # (lambda = 1): level 0.4616, its variance P = 0.618 and the noise s^2 = (sum of innovation^2 / F) / 7
    # = 0.05003 / 7 = 0.00715, so SE = sqrt(0.618 x 0.00715) = 0.0665 and r = 1 - (0.5384 - 0.0665) =
    # 0.528. The window (sum / sum less one SE of the 7 ratios, 0.2160 / sqrt(7) = 0.0816) lags at 0.782.
    sliding = np.array([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    hundreds = np.full(7, 100.0)
    ratio = {"scale": "ratio"}  # the level on the ratios themselves (before 2026-12-07; the log scale below)
    assert cal._bias_level(hundreds, 100.0 * sliding, threshold=False, **ratio) == pytest.approx(
        0.4616, abs=1e-4
    )
    assert cal._bias_level(hundreds, 100.0 * sliding, **ratio) == pytest.approx(0.5281, abs=1e-4)
    assert cal._bias_ratio(np.arange(7), hundreds, 100.0 * sliding) == pytest.approx(0.7816, abs=1e-4)
    # Ratios that only scatter around 1.1 (1.4, 0.8, ...): lambda = 0, the level is their mean with one
    # period at 1, (1 + 8.8) / 9 = 1.0889, P = 1 / 9, s^2 = 0.7289 / 8 = 0.0911, SE = 0.1006 > 0.0889:
    # left alone, r = 1.
    scatter = np.array([1.4, 0.8, 1.4, 0.8, 1.4, 0.8, 1.4, 0.8])
    assert cal._bias_level(np.full(8, 100.0), 100.0 * scatter, threshold=False, **ratio) == pytest.approx(
        9.8 / 9
    )
    assert cal._bias_level(np.full(8, 100.0), 100.0 * scatter, **ratio) == 1.0


def test_later_periods_bias_level_follows_the_log_of_the_ratios_when_every_month_brought_something():
    """Since 2026-12-07 the level runs on log ratios (from log 1 = 0) whenever every period's ratio is
    above 0. The slide 1.0, 0.9, ..., 0.4 in logs is 0, -0.105, -0.223, -0.357, -0.511, -0.693, -0.916:
    the likeliest drift is again lambda = 1, with level L = -0.7917, P = 0.618 and noise s^2 = 0.01675,
    so SE = sqrt(0.618 x 0.01675) = 0.1017 and r = exp(-0.7917 + 0.1017) = 0.5016 (0.4531 without the
    threshold), closer to the last months than the 0.5281 of the ratios themselves. The scatter 1.4, 0.8,
    ... has a geometric level exp(L) = 1.0517 (its ratio level 1.0889), within one SE of 1: r = 1."""
    sliding = np.array([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    hundreds = np.full(7, 100.0)
    level, variance, _, scaled = cal._level_path(np.log(sliding), 1.0, start=0.0)
    assert (level, variance, scaled / 7) == (
        pytest.approx(-0.7917, abs=1e-4),
        pytest.approx(0.618, abs=1e-3),
        pytest.approx(0.01675, abs=1e-5),
    )
    assert cal._bias_level(hundreds, 100.0 * sliding, threshold=False) == pytest.approx(0.4531, abs=1e-4)
    assert cal._bias_level(hundreds, 100.0 * sliding) == pytest.approx(0.5016, abs=1e-4)
    scatter = np.array([1.4, 0.8, 1.4, 0.8, 1.4, 0.8, 1.4, 0.8])
    assert cal._bias_level(np.full(8, 100.0), 100.0 * scatter, threshold=False) == pytest.approx(
        1.0517, abs=1e-4
    )
    assert cal._bias_level(np.full(8, 100.0), 100.0 * scatter) == 1.0
    # A period where nothing came in has no log: the ratios themselves are used, as before.
    with_nothing = np.array([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.0])
    assert cal._bias_level(hundreds, 100.0 * with_nothing) == cal._bias_level(
        hundreds, 100.0 * with_nothing, scale="ratio"
    )


def test_a_later_month_with_nothing_in_does_not_change_the_scale_of_earlier_corrections():
    """The log scale is chosen from the periods known at the forecast's as-of time only: a target that
    ends after t and brings nothing (which would switch the level to the ratios) changes no forecast made
    at or before t, and does change those made after it had ended (so the test can fail)."""
    rows = [
        _row(day, "dealflow", 100.0, 100.0 * (0.6 + 0.4 * math.cos(day / 40))) for day in range(0, 400, 7)
    ]
    moment = 210 * DAY
    emptied = [
        replace(row, actual=0.0) if moment < row.target_end <= moment + 7 * DAY else row for row in rows
    ]
    assert emptied != rows
    before = {item.row.as_of: item for item in cal.calibrate(rows)}
    after = {item.row.as_of: item for item in cal.calibrate(emptied) if item.row.method == "dealflow"}
    for as_of, item in before.items():
        if item.row.method == "dealflow" and as_of <= moment:
            assert (item.forecast, item.p10, item.p90) == (
                after[as_of].forecast,
                after[as_of].p10,
                after[as_of].p90,
            )
    assert any(before[as_of].forecast != after[as_of].forecast for as_of in after if as_of > moment + 7 * DAY)


def test_later_periods_range_holds_the_ratios_recentred_on_todays_correction_hand_worked():
    """Twelve past next-period ratios 0.5, 0.6, ..., 1.6 (in a scattered order, each forecast corrected
    by 1): the exact ranks give 0.53 .. 1.57. Today's correction is 0.8: the same ratios re-centred on it
    (e_i x 0.8 / 1) run 0.4 .. 1.28, their ranks 0.424 .. 1.256, and the range is the wider of the two,
    0.424 .. 1.57. The scatter shows no drift, so nothing is stretched; the rule before kept 0.53."""
    order = [0.5, 1.6, 0.6, 1.5, 0.7, 1.4, 0.8, 1.3, 0.9, 1.2, 1.0, 1.1]
    past = [(end, 100.0, 100.0 * ratio, 1.0) for end, ratio in enumerate(order)]
    low, high = cal._drift_range(past, past, 0.8, (0.53, 1.57), 1, True)
    assert (low, high) == (pytest.approx(0.424), pytest.approx(1.57))
    assert cal._level_spread(np.full(12, 100.0), 100.0 * np.array(order), lead=2) == 1.0


def test_later_periods_range_widens_when_the_level_moved_more_than_its_scatter_says_hand_worked():
    """Seven periods at 1.0, then 0.6. Without drift (lambda = 0) the level has variance P0 = 1 / 9 after
    8 periods and the noise is s0^2 = (0.4^2 / 1.125) / 8 = 0.01778 (the only surprise, the last, with
    F = 1 / 8 + 1), so the next ratio would spread by 0.01778 x (1 / 9 + 1) = 0.01975. Under the
    likeliest drift (lambda = 1: P = 0.618, s^2 = 0.00764) two periods ahead it spreads by
    0.00764 x (0.618 + 2 + 1) = 0.02764: the range's distances from the correction are stretched by
    sqrt(0.02764 / 0.01975) = 1.183. Ratios that slide steadily (1.0, 0.9, ..., 0.4) are no surprise to a
    scatter of their own size (lambda = 0 spreads them by 0.0577, lambda = 1 by 0.0259): 1."""
    jump = np.array([1.0] * 7 + [0.6])
    assert cal._level_spread(np.full(8, 100.0), 100.0 * jump, lead=2) == pytest.approx(1.1829, abs=1e-4)
    sliding = np.array([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    assert cal._level_spread(np.full(7, 100.0), 100.0 * sliding, lead=2) == 1.0
    past = [(end, 100.0, 100.0 * ratio, 1.0) for end, ratio in enumerate(jump)]
    low, high = cal._drift_range(past, past, 0.9, (0.8, 1.0), 1, True)
    # re-centred: 0.9 x (1.0 .. 0.6) = 0.54 .. 0.9 (with 8 ratios the exact ranks are the extremes);
    # the wider range 0.54 .. 1.0, its distances from 0.9 stretched by 1.183: 0.474 .. 1.118.
    assert (low, high) == (
        pytest.approx(0.9 - 1.1829 * 0.36, abs=1e-3),
        pytest.approx(0.9 + 1.1829 * 0.1, abs=1e-3),
    )


def _row(as_of_day: int, method: str, forecast: float, actual: float, *, closed: float = 0.0) -> cal.Row:
    """A next-period forecast made on day ``as_of_day``; its target ends 30 days later."""
    return cal.Row(
        as_of=as_of_day * DAY,
        horizon=1,
        phase=0,
        target_end=(as_of_day + 30) * DAY,
        method=method,
        closed=closed,
        forecast=forecast,
        p10=None,
        p90=None,
        actual=actual,
    )


def test_a_forecast_never_sees_an_actual_that_was_not_known_at_its_as_of_time():
    """Changing the actual of a target that ends after t changes no forecast made at or before t."""
    rows = [_row(day, method, 100.0, 100.0 + day % 7) for day in range(0, 120, 7) for method in ("a", "b")]
    moment = 63 * DAY
    late = [row for row in rows if row.target_end > moment]
    changed = [replace(row, actual=10 * row.actual) if row in late else row for row in rows]
    before = {(item.row.as_of, item.row.method): item for item in cal.calibrate(rows)}
    after = {(item.row.as_of, item.row.method): item for item in cal.calibrate(changed)}
    for key, item in before.items():
        if key[0] <= moment:
            assert (item.forecast, item.p10, item.p90) == (
                after[key].forecast,
                after[key].p10,
                after[key].p90,
            )
    # ... while forecasts made once those targets had ended do move: the test can fail.
    assert any(before[key].forecast != after[key].forecast for key in before if key[0] > moment + 30 * DAY)


def test_the_default_is_the_lowest_error_even_when_it_is_a_baseline():
    # run_rate is right every time, dealflow 30 % high: the backtest must not claim dealflow.
    rows = []
    for day in range(0, 400, 7):
        rows.append(_row(day, "run_rate", 100.0, 100.0))
        rows.append(_row(day, "dealflow", 130.0, 100.0))
    items = cal.calibrate(rows)
    choice = cal.choose_default(items)["1"]
    assert choice["default"] in {"run_rate", "blend"}
    assert choice["scores"]["run_rate"]["wape"] == 0.0
    assert choice["scores"]["dealflow"]["wape"] > 0  # corrected, but only once its errors are known


def test_next_period_is_corrected_and_ranged_from_next_periods_own_errors_hand_worked():
    """This period's forecasts of 100 are right every time; next period's forecasts of 100 come in at 80
    every time. Next period learns r = 0.82 from its own past ratios (its level starts at 1 with the
    weight of one period, and what the first periods' distance from 1 suggests as noise, one standard
    error of the level, is left uncorrected) and the range 0.8 .. 0.8 from its own 12+ past ratios,
    stretched to hold the mean; this period keeps r = 1. Pooled across horizons, both would have been
    about 0.9. Since 2026-12-06 night the range also holds the same ratios re-centred on today's
    correction: the first forecasts were corrected by 1 and came in 20 % short of it, so "20 % short of
    today's 0.82" (0.656) enters the range, which then runs from about 0.67 (the interpolated rank 1.3
    between 0.656 and 0.8) to 0.82; the rule before kept 0.8 .. 0.82. Since 2026-12-07 midday each end
    also adapts to its own record (``_adaptive_stretch``; each forecast here has its own target, so each
    is one period): while every 0.8 fell inside, the low end moved in by 0.04 of its distance a time.
    Since 2026-12-07 afternoon it stops at half its distance (ADAPT_FLOOR): about 0.82 - 0.5 x 0.15 =
    0.74, where every 0.8 stays inside. Without that floor it moved up to the forecast itself; the 0.8s
    then fell below it and, known only 30 days later, pushed it out again past 0.65: at the last
    forecast it was at about 0.55."""
    rows = []
    for day in range(0, 400, 7):
        rows.append(replace(_row(day, "dealflow", 100.0, 100.0), horizon=0))
        rows.append(_row(day, "dealflow", 100.0, 80.0))
    items = {
        (item.row.horizon, item.row.as_of): item
        for item in cal.calibrate(rows)
        if item.row.method == "dealflow"
    }
    late = 399 // 7 * 7 * DAY
    late_item = items[(1, late)]
    assert 80.0 < late_item.forecast < 83.0
    assert late_item.p90 == pytest.approx(late_item.forecast)
    assert late_item.calibrated and items[(0, late)].forecast == pytest.approx(100.0)
    unfloored = {
        (item.row.horizon, item.row.as_of): item
        for item in cal.calibrate(rows, settings=cal.UNFLOORED)
        if item.row.method == "dealflow"
    }[(1, late)]
    assert 50.0 < unfloored.p10 < 65.0
    not_adapted = {
        (item.row.horizon, item.row.as_of): item
        for item in cal.calibrate(rows, settings=cal.LOG_LEVEL)
        if item.row.method == "dealflow"
    }[(1, late)]
    assert not_adapted.forecast == pytest.approx(late_item.forecast)
    assert 65.6 < not_adapted.p10 < 70.0
    # the floor: half the distance of the range before adapting, and the 0.8s inside it
    assert late_item.p10 == pytest.approx(late_item.forecast - 0.5 * (not_adapted.forecast - not_adapted.p10))
    assert late_item.p10 < 80.0
    before = {
        (item.row.horizon, item.row.as_of): item
        for item in cal.calibrate(rows, settings=cal.PREVIOUS)
        if item.row.method == "dealflow"
    }[(1, late)]
    assert (before.p10, before.p90) == (pytest.approx(80.0), pytest.approx(before.forecast))
    table = cal.current_corrections(rows, now=500 * DAY)["corrections"]
    assert 0.8 < table["1"]["dealflow"][0]["ratio"] < 0.83
    assert table["0"]["dealflow"][0]["ratio"] == pytest.approx(1.0)


def test_adaptive_stretch_widens_an_end_that_missed_and_narrows_one_that_held_hand_worked():
    """Five ended months of 4 forecasts each, every range 0.8 .. 1.2: in the first month all 4 came in
    below their low end, in the other four all 4 inside. Below: shares 1, 0, 0, 0, 0, so the low end's
    distance from the forecast is stretched by 1 + 0.4 x ((1 - 0.1) + 4 x (0 - 0.1)) = 1.2; above: 0
    every month, the high end's by 1 + 0.4 x 5 x (0 - 0.1) = 0.8. A forecast whose range was
    uncalibrated does not count. "Nothing more came in" on a low end at "nothing more" predicted 4 times
    in 10 counts 0.1 / 0.4 = 0.25 of a miss below: 1 + 0.4 x 0.15 = 1.06."""
    items: list[tuple[float, ...]] = [
        (float(month), 100.0, 70.0 if month == 0 else 100.0, 1.0, 0.8, 1.2, 0.0)
        for month in range(5)
        for _ in range(4)
    ]
    items.append((0.0, 100.0, 500.0, 1.0, math.nan, math.nan, 0.0))
    low, high = cal._adaptive_stretch(items)
    assert (low, high) == (pytest.approx(1.2), pytest.approx(0.8))
    on_floor = [(1.0, 100.0, 0.0, 1.0, 0.0, 1.5, 0.4)]
    assert cal._adaptive_stretch(on_floor) == (pytest.approx(1.06), pytest.approx(0.96))
    assert cal._adaptive_stretch([]) == (1.0, 1.0)
    recent = [(1.0, 100.0, 100.0 + index, 1.0) for index in range(12)]
    stretched = cal.correction_from(recent, [*recent, *items], horizon=1)
    plain = cal.correction_from(recent, [*recent, *items], horizon=1, settings=cal.LOG_LEVEL)
    assert stretched.ratio == pytest.approx(plain.ratio)
    assert stretched.ratio - stretched.low == pytest.approx(1.2 * (plain.ratio - plain.low))
    assert stretched.high - stretched.ratio == pytest.approx(0.8 * (plain.high - plain.ratio))
    # Twenty months all inside: 1 + 0.4 x 20 x (0 - 0.1) = 0.2 on both ends, used as 0.5 (ADAPT_FLOOR).
    held = [(float(month), 100.0, 100.0, 1.0, 0.8, 1.2, 0.0) for month in range(20)]
    assert cal._adaptive_stretch(held) == (pytest.approx(0.2), pytest.approx(0.2))
    floored = cal.correction_from(recent, [*recent, *held], horizon=1)
    unfloored = cal.correction_from(recent, [*recent, *held], horizon=1, settings=cal.UNFLOORED)
    plain = cal.correction_from(recent, [*recent, *held], horizon=1, settings=cal.LOG_LEVEL)
    assert floored.ratio - floored.low == pytest.approx(0.5 * (plain.ratio - plain.low))
    assert floored.high - floored.ratio == pytest.approx(0.5 * (plain.high - plain.ratio))
    assert unfloored.high - unfloored.ratio == pytest.approx(0.2 * (plain.high - plain.ratio))


def test_adapted_ranges_made_at_t_use_only_ranges_whose_targets_had_ended_by_t():
    """The adaptive stretch counts the misses of past forecasts whose targets had ended by t: making
    every later actual ten times larger (each a miss above) changes no range made at or before t, while
    ranges made once those targets had ended widen on top (so the test can fail)."""
    rows = [_row(day, "dealflow", 100.0, 60.0 + (day * 37) % 80) for day in range(0, 400, 7)]
    moment = 250 * DAY
    changed = [replace(row, actual=10 * row.actual) if row.target_end > moment else row for row in rows]
    before = {item.row.as_of: item for item in cal.calibrate(rows) if item.row.method == "dealflow"}
    after = {item.row.as_of: item for item in cal.calibrate(changed) if item.row.method == "dealflow"}
    plain = {
        item.row.as_of: item
        for item in cal.calibrate(rows, settings=cal.LOG_LEVEL)
        if item.row.method == "dealflow"
    }
    made_then = [key for key in before if key <= moment]
    for key in made_then:
        assert (before[key].p10, before[key].p90) == (after[key].p10, after[key].p90)
    assert any(before[key].calibrated and before[key].p10 != plain[key].p10 for key in made_then)
    late = max(before)
    assert after[late].p90 - after[late].forecast > before[late].p90 - before[late].forecast


# --------------------------------------------------------------------------- the backtest, no look-ahead
@cache
def _world():
    deals = syn.generate(seed=21, start=dt.date(2022, 1, 1), days=3 * 365, deals_per_day=2.0)
    return deals, syn.month_calendar(dt.date(2021, 1, 1), 72)


def _calibrated_backtest(deals, calendar, now: int) -> dict:
    history = syn.to_history(deals, now=now)
    points = calc.weekly_points(int(history.deal_created.min()), now, anchor=syn.epoch(dt.date(2022, 1, 3)))
    panel = calc.build_panel(history, calendar, points, horizons=2)
    start = syn.epoch(dt.date(2024, 3, 1))
    chosen = [index for index, moment in enumerate(panel.times.tolist()) if moment >= start]
    rows = calc.backtest(history, calendar, panel, points=chosen, now=now, horizons=2, draws=300)
    items = cal.calibrate([calc._calibration_row(row) for row in rows])
    return {(item.row.as_of, item.row.horizon, item.row.method): item for item in items}


def test_calibrated_backtest_made_at_t_is_the_same_with_or_without_the_data_after_t():
    """The whole backtest rerun on the database as it was at t (nothing after t exists) gives every
    forecast made up to t the same calibrated figures as the backtest run today."""
    deals, calendar = _world()
    then = syn.epoch(dt.date(2025, 1, 1))
    today = syn.epoch(dt.date(2025, 12, 20))
    seen_then = _calibrated_backtest(deals, calendar, then)
    seen_today = _calibrated_backtest(deals, calendar, today)
    assert len(seen_then) > 100 and len(seen_today) > len(seen_then)
    for key, item in seen_then.items():
        later = seen_today[key]
        assert (item.forecast, item.p10, item.p90) == (later.forecast, later.p10, later.p90)


# ------------------------------------------------------------------------------------- the scenarios
@cache
def _half_size(name: str) -> dict:
    return scenarios.scenario_run(scenarios.scenario_get(name), scale=0.5, draws=300)


def test_small_scenarios_next_month_ranges_are_calibrated_from_next_month_and_hold_on_average():
    """Next month: every scored forecast of the half-size scenarios is calibrated (12 or more past
    next-month ratios), and the default's P10-P90 coverage, pooled over the four, is within 75-85 %. Per
    scenario it moves in steps of one month (11 outcomes, about 9 points), so only the pool is asserted
    (2026-12-06: demo, no close dates and seasonal 83.0 %, drifting 70.2 %; pooled 79.8 %. Late evening,
    with the exact ranks and the drift-following level for next month: 78.7, 80.9, 83.0 and 59.6 %,
    pooled 75.6 %: the drifting ranges are too narrow while its rates slide, docs/forecasting.md. Since
    2026-12-06 night, with the re-centred ratios and the drift's stretch: 78.7, 80.9, 85.1 and 78.7 %,
    pooled 80.9 %)."""
    coverages = []
    for name in ("demo", "no_close_dates", "seasonal", "drifting"):
        entry = _half_size(name)["by_horizon"]["1"]
        default = entry["scores"][entry["default"]]
        assert default["calibrated"] == default["count"] == 47
        coverages.append(default["coverage"])
    assert 0.75 <= sum(coverages) / len(coverages) <= 0.85


@pytest.mark.parametrize("name", ["demo", "no_close_dates", "seasonal", "drifting"])
def test_small_scenarios_choose_a_default_that_beats_the_baselines_with_ranges_that_hold(name):
    """Half-size versions (3 deals a day) of the benchmark's scenarios: the model (alone or blended) beats
    every baseline this month, |bias| <= 5 % and P10-P90 coverage in 70-90 % (2026-12-06, with the
    recent-exit trend: demo 11.6 % WAPE, +0.2 %, 87 %; no close dates 11.4 %, +0.3 %, 87 %; seasonal
    11.0 %, -2.2 %, 88 %; drifting 9.5 %, +2.8 %, 73 %)."""
    table = _half_size(name)
    entry = table["by_horizon"]["0"]
    assert entry["default"] in {"dealflow", "blend"}
    assert entry["margin"] > 0
    assert scenarios.targets_met(entry) == {"wape": True, "bias": True, "coverage": True}


@pytest.mark.parametrize("name", ["demo", "no_close_dates"])
def test_small_scenarios_next_month_default_beats_the_baselines_with_a_range_that_holds(name):
    """Next month on the half-size demo-shaped histories: Dealflow's method is the default and beats
    every baseline, |bias| <= 5 % and coverage within 70-90 % (2026-12-06 evening: demo 16.6 % WAPE
    against the run-rate's 25.0 %, -3.0 %, 78.7 %; no close dates 16.0 %, -2.8 %, 80.9 %; with the whole
    ranks both held 83.0 %). The drifting, seasonal, never-closing and small-team histories are not
    asserted one by one: their next-month bias has a standard error of 6-17 % (``score``'s ``bias_se``),
    so a forecast with no bias misses +-5 % on many single histories (docs/forecasting.md)."""
    entry = _half_size(name)["by_horizon"]["1"]
    assert entry["default"] == "dealflow" and entry["margin"] > 0
    assert scenarios.targets_met(entry) == {"wape": True, "bias": True, "coverage": True}


def test_noise_figures_of_a_score_hand_worked():
    """Two target periods, forecasts F against actuals A: period 1 errors +10 and +20 (A = 100 each),
    period 2 errors -30 (A = 100). Bias = 0 / 300; per-period sums +30 and -30, SD 42.43, SE = 42.43 x
    sqrt(2) / 300 = 0.2; the chance that |bias| <= 5 % for a forecast with no bias and that spread is
    erf(0.05 / 0.2 / sqrt(2)) = 0.197. Over 2 periods a range holds 0, 50 or 100 % of them, never
    70-90 %: the chance is 0."""

    def item(end: int, forecast: float) -> cal.Calibrated:
        row = replace(_row(0, "dealflow", forecast, 100.0), target_end=end)
        return cal.Calibrated(row, forecast, forecast - 50, forecast + 50, True, True)

    result = cal.score([item(1, 110.0), item(1, 120.0), item(2, 70.0)])
    assert result["bias"] == pytest.approx(0.0)
    assert result["periods"] == 2
    assert result["bias_se"] == pytest.approx(0.2)
    assert result["bias_chance"] == pytest.approx(0.1974, abs=1e-4)
    assert result["coverage_chance"] == 0.0
    # 11 periods: 8 or 9 inside, binomial(11, 0.8): 0.2215 + 0.2953 = 0.5167.
    assert cal.band_chance(11) == pytest.approx(0.5167, abs=1e-4)


def test_small_team_range_counts_a_month_with_nothing_more_closed_by_its_share_of_the_band():
    """The small team (full size: 612 deals, 24 scored months) ends many months with nothing more closed,
    an outcome that sits exactly on P10. Counted as inside every time, the range "held" 94 %; counted by
    the part of its predicted chance inside the 10-90 band (``inside_share``) it holds 80 %, and the
    three targets are met (when written: 32.5 % WAPE against 41.2 % for the weighted pipeline, -4.5 %).
    Since 2026-12-07 midday the ends adapt to their own record, counting such an outcome the same way
    (``_adaptive_stretch``), and the plain count is 89.5 %: it is asserted on the ranges before that."""
    tables = scenarios.scenario_tables(
        scenarios.scenario_get("small_team"), {"now": cal.CURRENT, "before": cal.LOG_LEVEL}
    )
    before = tables["before"]["by_horizon"]["0"]
    assert before["scores"][before["default"]]["coverage_plain"] > 0.9
    assert scenarios.targets_met(before) == {"wape": True, "bias": True, "coverage": True}
    entry = tables["now"]["by_horizon"]["0"]
    assert scenarios.targets_met(entry) == {"wape": True, "bias": True, "coverage": True}


def test_inside_share_of_an_outcome_on_the_lower_end_hand_worked():
    row = replace(_row(0, "dealflow", 150.0, 100.0, closed=100.0), horizon=0)
    # Nothing more came in (A = C = P10) and that had a 40 % chance: (0.4 - 0.1) / 0.4 = 0.75 of it lies
    # inside the 10-90 band.
    on_floor = cal.Calibrated(row, 130.0, 100.0, 180.0, True, True, 0.4)
    assert cal.inside_share(on_floor) == pytest.approx(0.75)
    # A 95 % chance of nothing more: the band holds (0.9 - 0.1) / 0.95 of it.
    assert cal.inside_share(replace(on_floor, floor=0.95)) == pytest.approx(0.8 / 0.95)
    # Strictly inside, or on an end that is not "nothing more": inside; below or above: outside.
    assert cal.inside_share(replace(on_floor, row=replace(row, actual=150.0))) == 1.0
    assert cal.inside_share(replace(on_floor, p10=90.0)) == 1.0
    assert cal.inside_share(replace(on_floor, row=replace(row, actual=181.0))) == 0.0
    assert cal.inside_share(replace(on_floor, p10=101.0)) == 0.0
    # The floor share is measured from the past ratios: 3 of 12 at zero.
    past = [(end, 100.0, 0.0 if end < 3 else 50.0 + 10 * end) for end in range(12)]
    assert cal.correction_from(past).floor == pytest.approx(0.25)


def test_recent_stage_exits_scale_a_stage_and_the_ones_before_it_hand_worked():
    """Stage 5 (the last open one): 40 deals left it 300 days ago (24 won, 16 lost) and 10 in the last
    six weeks (3 won, 7 lost). Long run 27 / 50 = 0.54; recent, shrunk with 30 pseudo-exits at 0.54:
    (3 + 16.2) / (10 + 30) = 0.48; factor 0.48 / 0.54. Every earlier stage was always left forward (its
    own factor 1), so a deal in stage 1 to 5 still has to pass stage 5: the same factor for all."""
    now = syn.epoch(dt.date(2025, 6, 1))
    deals = []
    for index in range(50):
        recent = index >= 40
        end = now - (10 if recent else 300) * DAY
        won = (index < 24) if not recent else (index < 43)
        deal = syn.SyntheticDeal(owner=1, created=end - 50 * DAY, amount=1000.0, close_on=calc.NO_DATE)
        deal.steps = [(end - (40 - 10 * stage) * DAY, "move", stage) for stage in range(1, 5)]
        deal.steps.append((end, "won" if won else "lost", -1))
        deals.append(deal)
    history = syn.to_history(deals, now=now)
    trend = calc.stage_trend(history, now)
    assert trend[:5] == pytest.approx([0.48 / 0.54] * 5)
    assert trend[5:].tolist() == [1.0, 1.0]
    assert calc.stage_trend(history, now - 100 * DAY)[:5] == pytest.approx([1.0] * 5)


def test_a_deal_not_created_yet_gets_the_trend_of_the_stage_deals_start_in_hand_worked():
    """New deals start in stage 1 (index 0), except one that started in stage 3 (index 2), as a second
    pipeline's first stage would. Factors 0.8 for index 0 and 0.5 for index 2: the three deals created in
    the trailing 24 months give (0.8 + 0.8 + 0.5) / 3 = 0.7; the one created 900 days ago does not count."""
    now = syn.epoch(dt.date(2025, 6, 1))
    deals = [
        syn.SyntheticDeal(owner=1, created=now - days * DAY, amount=1000.0, close_on=calc.NO_DATE)
        for days in (100, 50, 10, 900)
    ]
    history = syn.to_history(deals, now=now)
    history.stage_stage[history.stage_deal == 2] = syn.OPEN_STAGE_IDS[
        2
    ]  # the third deal (created 10 days ago)
    history._cache.clear()
    trend = np.array([0.8, 1.0, 0.5, 1.0, 1.0, 1.0, 1.0])
    assert calc.new_deal_trend(history, now, trend) == pytest.approx(0.7)
    assert calc.new_deal_trend(history, now - 60 * DAY, trend) == pytest.approx(0.8)  # one in the window then
    assert calc.new_deal_trend(history, now - 2000 * DAY, trend) == 1.0  # no deal yet: no trend


def test_the_new_deal_trend_at_t_is_the_same_without_the_data_after_t():
    """Fitted at t on the history as it was at t, or on today's history (which holds later stage exits
    and later deals), the factor for deals not created yet is the same: it sees nothing after t."""
    deals = syn.generate_drifting(
        seed=3, start=dt.date(2023, 1, 1), months=30, deals_per_day=3.0, drift=0.08, walk=True
    )
    then = syn.epoch(dt.date(2024, 9, 16))
    seen_then = syn.to_history(deals, now=then)
    seen_today = syn.to_history(deals, now=syn.epoch(dt.date(2025, 6, 1)))
    value = calc.new_deal_trend(seen_then, then, calc.stage_trend(seen_then, then))
    assert value == calc.new_deal_trend(seen_today, then, calc.stage_trend(seen_today, then))
    assert value != 1.0  # the rates drift: there is a trend to see
    # ... and a later date does see more: the test can fail.
    later = syn.epoch(dt.date(2025, 3, 3))
    assert calc.new_deal_trend(seen_today, later, calc.stage_trend(seen_today, later)) != value


def test_dealflow_scales_the_bookings_of_deals_not_created_yet_by_the_new_deal_trend():
    now = syn.epoch(dt.date(2025, 6, 2))
    history = syn.to_history(syn.generate(seed=2, start=dt.date(2023, 1, 1), days=880), now=now)
    calendar = syn.month_calendar(dt.date(2022, 1, 1), 48)
    points = calc.weekly_points(int(history.deal_created.min()), now, anchor=syn.epoch(dt.date(2023, 1, 2)))
    panel = calc.build_panel(history, calendar, points, horizons=2)
    fitted = calc.fit(history, calendar, panel, now, horizons=2)
    states = calc.states_as_of(history, [now])
    owners = np.unique(states.owner)

    def new_mean(factor: float) -> float:
        prediction, _ = calc.forecast_draws(
            replace(fitted, new_deal_trend=factor),
            states,
            calendar,
            now,
            method="dealflow",
            horizons=2,
            leaf=np.zeros(len(states), dtype=np.int64),
            leaf_owners=[owners],
            draws=200,
            seed=1,
        )
        return prediction.new_mean

    assert new_mean(1.0) > 0
    assert new_mean(0.6) == pytest.approx(0.6 * new_mean(1.0))


# ---------------------------------------------------------------- deals without a date, deals that age
def test_ageing_halves_the_probability_for_every_usual_stay_beyond_two_hand_worked():
    # Usual stay (P90 of won deals' stays) 20 days: 1 up to 40 days, then 0.5 ** ((age - 40) / 20).
    factor = calc.ageing_factor(
        np.array([10.0, 40.0, 60.0, 100.0, 500.0]), np.array([20.0, 20.0, 20.0, 20.0, 0.0])
    )
    assert factor.tolist() == [1.0, 1.0, 0.5, 0.125, 1.0]  # a stage without enough won spells: no decay


def test_a_deal_without_a_close_date_is_spread_over_the_periods_by_its_stage_timing_hand_worked():
    # 10 days from stage entry to win on average; 21 days left in January, February has 28:
    # January 1 - e^-2.1 = 0.877544, February e^-2.1 - e^-4.9 = 0.115009.
    calendar = syn.month_calendar(dt.date(2025, 1, 1), 6)
    moment = syn.epoch(dt.date(2025, 1, 11))
    shares = calc.closing_shares(np.array([10.0, 0.0]), calendar, moment, 2)
    assert shares[0].tolist() == [pytest.approx(0.877544, abs=1e-6), pytest.approx(0.115009, abs=1e-6)]
    assert shares[1].tolist() == [0.0, 0.0]  # no won deal to learn the stage's timing from


def test_learned_counts_undated_deals_by_timing_instead_of_nowhere():
    deals = syn.generate(seed=5, start=dt.date(2023, 1, 1), days=730, deals_per_day=2.0, dated=False)
    now = syn.epoch(dt.date(2024, 12, 16))
    history = syn.to_history(deals, now=now)
    calendar = syn.month_calendar(dt.date(2022, 1, 1), 48)
    fit = calc.fit(history, calendar, None, now, horizons=2)
    states = calc.states_as_of(history, [now])
    prediction = calc.predict(fit, states, calendar, now, method="learned", horizons=2)
    assert prediction.level == "L2" and np.all(states.close_on == calc.NO_DATE)
    assert prediction.p_period[:, 0].sum() > 0.2 * prediction.p_win.sum()
    assert np.all(prediction.p_period.sum(axis=1) <= prediction.p_win + 1e-9)


def test_a_deal_reason_names_the_recent_trend_when_it_moves_the_probability():
    from django.utils import translation

    from dealflow.forecasting.selectors.explanations import deal_reason

    now = syn.epoch(dt.date(2025, 6, 1))
    history = syn.to_history(syn.generate(seed=2, start=dt.date(2024, 1, 1), days=400), now=now)
    fitted = calc.fit(history, syn.month_calendar(dt.date(2024, 1, 1), 24), None, now, horizons=2)
    common = {
        "fit_result": fitted,
        "stage": 2,
        "stage_name": "S3",
        "age_days": 3.0,
        "level": "L2",
        "overridden": float("nan"),
        "p_period": 0.2,
        "in_period": True,
        "period_key": "2025-06",
    }
    with translation.override("en"):
        assert "recent trend" not in deal_reason(**common, trend=1.03)
        assert "Times 0.80 for the recent trend" in deal_reason(**common, trend=0.8)
    with translation.override("nl"):
        assert "Maal 0,80 voor de recente trend" in deal_reason(**common, trend=0.8)
