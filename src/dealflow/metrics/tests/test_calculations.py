"""The maths without a database, against values worked out by hand."""

from __future__ import annotations

import math
from fractions import Fraction

from dealflow.metrics import calculations as calc


def test_ratio_is_none_without_a_denominator():
    assert calc.ratio(1, 0) is None
    assert calc.ratio(None, 4) is None
    assert calc.ratio(3, 4) == Fraction(3, 4)


def test_wilson_interval_of_3_in_4():
    """p = 0.75, n = 4, z = 1.96: centre 0.6275, half-width 0.3269."""
    assert calc.wilson_interval(3, 4) == (0.3006, 0.9544)
    assert calc.wilson_interval(0, 0) is None
    assert calc.wilson_interval(0, 10)[0] == 0.0


def test_kaplan_meier_counts_open_stays_as_censored():
    """Ended after 2, 5, 10 days, one still open at 75: S = 3/4, 1/2, 1/4; the median is 5 and 80 % never
    leave within what we have seen. Dropping the open stay would wrongly give a median of 5 and P80 of 10."""
    curve = calc.kaplan_meier({2: 1, 5: 1, 10: 1}, {75: 1})
    assert curve.points == ((2, 0.75), (5, 0.5), (10, 0.25))
    assert (curve.median, curve.p80, curve.count, curve.finished) == (5, None, 4, 3)


def test_kaplan_meier_with_ties_and_early_censoring():
    """Censored at 1 (2 stays), ended at 3 (2 of 4 at risk), censored at 3, ended at 6 (1 of 1 at risk)."""
    curve = calc.kaplan_meier({3: 2, 6: 1}, {1: 2, 3: 1})
    assert curve.points == ((3, 0.5), (6, 0.0))
    assert (curve.median, curve.p80) == (3, 6)


def test_quantile_of_counts():
    assert calc.quantile_of_counts({5: 1, 10: 2, 30: 1}, 0.5) == 10
    assert calc.quantile_of_counts({5: 1, 10: 2, 30: 1}, 0.8) == 30
    assert calc.quantile_of_counts({}, 0.5) is None


def test_median_of_middle():
    assert calc.median_of_middle([6]) == 6
    assert calc.median_of_middle([4, 7]) == Fraction(11, 2)
    assert calc.median_of_middle([]) is None


def test_velocity_counts_a_same_day_cycle_as_one_day():
    assert (
        calc.velocity(
            open_deals=2, win_rate=Fraction(1, 2), average_size=Fraction(100), cycle_days=Fraction(0)
        )
        == 100
    )
    assert (
        calc.velocity(open_deals=2, win_rate=None, average_size=Fraction(100), cycle_days=Fraction(5)) is None
    )


def test_lmdi_contributions_add_up_to_the_change():
    """V = a * b / c from (2, 3, 4) = 1.5 to (4, 3, 2) = 6: the change 4.5 splits as a: L ln 2, c: L ln 2
    with L = 4.5 / ln 4, so each is 2.25 and b contributes nothing."""
    parts = calc.lmdi(
        {"a": Fraction(4), "b": Fraction(3), "c": Fraction(2)},
        {"a": Fraction(2), "b": Fraction(3), "c": Fraction(4)},
        {"a": 1, "b": 1, "c": -1},
    )
    assert parts is not None
    assert math.isclose(parts["a"], 2.25) and math.isclose(parts["c"], 2.25) and parts["b"] == 0
    assert calc.lmdi({"a": Fraction(0)}, {"a": Fraction(1)}, {"a": 1}) is None


def test_changes():
    assert calc.change(Fraction(3, 4), Fraction(1, 2)) == 0.25
    assert calc.relative_change(150, 100) == 0.5
    assert calc.relative_change(1, 0) is None
    assert calc.change(None, 1) is None


def test_stale_is_quiet_past_the_stage_threshold_and_a_zero_threshold_never_rots():
    import datetime as dt

    from dealflow.metrics.calculations import stale_days

    now = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    entered = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)  # 56 days before now
    assert stale_days(now=now, last_activity_at=None, stage_entered_at=entered, rotting_days=14) == 56
    assert stale_days(now=now, last_activity_at=None, stage_entered_at=entered, rotting_days=0) is None
    # A call 10 days ago: quiet for 10 days, under a 14-day threshold.
    called = now - dt.timedelta(days=10)
    assert stale_days(now=now, last_activity_at=called, stage_entered_at=entered, rotting_days=14) is None
    assert stale_days(now=now, last_activity_at=called, stage_entered_at=entered, rotting_days=9) == 10
