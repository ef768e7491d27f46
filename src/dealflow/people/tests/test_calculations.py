"""Survey maths, with numbers worked out by hand."""

import datetime as dt

import pytest

from dealflow.people.calculations import (
    enps_from_counts,
    enps_from_scores,
    group_is_reportable,
    latest_run_date,
    mean_from_counts,
    response_rate,
    run_date,
    subgroup_is_reportable,
)


def test_enps_six_promoters_three_passives_one_detractor_is_plus_fifty():
    enps = enps_from_scores([9, 10, 9, 10, 9, 10, 7, 8, 7, 3])
    assert (enps.promoters, enps.passives, enps.detractors) == (6, 3, 1)
    assert (enps.promoter_share, enps.passive_share, enps.detractor_share) == (60.0, 30.0, 10.0)
    assert enps.score == 50.0  # 60 % - 10 %


def test_enps_more_detractors_is_negative():
    # 2 promoters, 3 passives, 5 detractors of 10: 20 % - 50 % = -30.
    assert enps_from_scores([10, 9, 8, 8, 7, 6, 5, 4, 0, 2]).score == -30.0


def test_enps_seven_answers_rounds_to_one_decimal():
    # 10, 9 promote; 8, 7 are passive; 6, 5, 0 detract: (2 - 3) / 7 = -14.2857 %.
    enps = enps_from_scores([10, 9, 8, 7, 6, 5, 0])
    assert enps.score == -14.3
    assert (enps.promoter_share, enps.passive_share, enps.detractor_share) == (28.6, 28.6, 42.9)


def test_enps_band_edges():
    # 9 is the lowest promoter, 7 the lowest passive, 6 the highest detractor.
    enps = enps_from_scores([9, 7, 6])
    assert (enps.promoters, enps.passives, enps.detractors) == (1, 1, 1)
    assert enps.score == 0.0


def test_enps_extremes_and_empty():
    assert enps_from_scores([10] * 5).score == 100.0
    assert enps_from_scores([0, 6, 3]).score == -100.0
    assert enps_from_scores([7, 8]).score == 0.0
    assert enps_from_scores([]).score is None


def test_enps_from_counts_matches_scores():
    # {10: 3, 8: 1, 2: 1}: 3 promoters, 1 passive, 1 detractor of 5 -> 60 % - 20 % = +40.
    assert enps_from_counts({10: 3, 8: 1, 2: 1}).score == 40.0


def test_enps_refuses_out_of_range():
    with pytest.raises(ValueError):
        enps_from_scores([11])


def test_mean_and_response_rate():
    assert mean_from_counts({1: 1, 4: 2, 5: 1}) == 3.5  # (1 + 8 + 5) / 4
    assert mean_from_counts({}) is None
    assert response_rate(answered=5, invited=6) == 83.3
    assert response_rate(answered=0, invited=0) is None


def test_threshold_never_below_three():
    assert not group_is_reportable(count=2, threshold=2)
    assert group_is_reportable(count=3, threshold=2)
    assert not group_is_reportable(count=4, threshold=5)
    assert group_is_reportable(count=5, threshold=5)


def test_subgroup_needs_the_rest_large_enough_too():
    # 5 of 6: the sixth would be exposed by subtracting the team from the whole.
    assert not subgroup_is_reportable(count=5, total=6, threshold=5)
    assert subgroup_is_reportable(count=5, total=5, threshold=5)
    assert subgroup_is_reportable(count=5, total=10, threshold=5)
    assert not subgroup_is_reportable(count=4, total=10, threshold=5)


def test_run_dates_per_cadence():
    start = dt.date(2026, 1, 31)
    assert run_date(starts_on=start, cadence="weekly", number=2) == dt.date(2026, 2, 14)
    assert run_date(starts_on=start, cadence="monthly", number=1) == dt.date(2026, 2, 28)
    assert run_date(starts_on=start, cadence="monthly", number=2) == dt.date(2026, 3, 31)
    assert run_date(starts_on=start, cadence="quarterly", number=1) == dt.date(2026, 4, 30)
    assert run_date(starts_on=start, cadence="once", number=5) == start


def test_latest_run_date():
    start = dt.date(2026, 1, 31)
    assert latest_run_date(starts_on=start, cadence="monthly", today=dt.date(2026, 1, 30)) is None
    assert latest_run_date(starts_on=start, cadence="monthly", today=dt.date(2026, 2, 27)) == start
    assert latest_run_date(starts_on=start, cadence="monthly", today=dt.date(2026, 2, 28)) == dt.date(
        2026, 2, 28
    )
    assert latest_run_date(starts_on=start, cadence="monthly", today=dt.date(2026, 3, 30)) == dt.date(
        2026, 2, 28
    )
    assert latest_run_date(starts_on=start, cadence="weekly", today=dt.date(2026, 2, 13)) == dt.date(
        2026, 2, 7
    )
    assert latest_run_date(starts_on=start, cadence="quarterly", today=dt.date(2026, 7, 29)) == dt.date(
        2026, 4, 30
    )
    assert latest_run_date(starts_on=start, cadence="once", today=dt.date(2027, 1, 1)) == start
