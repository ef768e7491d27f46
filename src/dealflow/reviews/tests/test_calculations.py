"""Review maths on hand-worked examples (docs/reviews.md works the same numbers)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dealflow.reviews import calculations as calc

D = dt.date
NOV_START, NOV_END = D(2026, 11, 1), D(2026, 12, 1)


# ------------------------------------------------------------------------------------------ waterfall
def deal(deal_id, amount, close, status="open", closed_on=None):
    return calc.WaterfallDeal(deal_id, f"Deal {deal_id}", amount, close, status=status, closed_on=closed_on)


def worked_waterfall() -> calc.Waterfall:
    previous = {
        1: deal(1, 1000, D(2026, 11, 20)),  # A stays in, grows to 1200
        2: deal(2, 2000, D(2026, 11, 25)),  # B pushed to December
        3: deal(3, 500, D(2026, 11, 10)),  # C won
        4: deal(4, 800, D(2026, 11, 15)),  # D lost
        5: deal(5, 3000, D(2026, 12, 15)),  # E pulled into November, shrinks to 2500
        6: deal(6, 400, D(2026, 11, 30)),  # F stays in, shrinks to 300
        7: deal(7, 700, D(2026, 11, 12)),  # G reassigned out of the team
        8: deal(8, 900, D(2026, 12, 20)),  # H dated December, won on 16 November
    }
    current = {
        1: deal(1, 1200, D(2026, 11, 20)),
        2: deal(2, 2000, D(2026, 12, 10)),
        5: deal(5, 2500, D(2026, 11, 28)),
        6: deal(6, 300, D(2026, 11, 30)),
        9: deal(9, 600, D(2026, 11, 29)),  # I: new
        11: deal(11, 50, D(2026, 12, 5)),  # K: new but dated December: not in the waterfall
    }
    since = {
        3: deal(3, 500, D(2026, 11, 10), status="won", closed_on=D(2026, 11, 12)),
        4: deal(4, 800, D(2026, 11, 15), status="lost", closed_on=D(2026, 11, 13)),
        7: deal(7, 700, D(2026, 11, 12), status="gone"),
        8: deal(8, 900, D(2026, 12, 20), status="won", closed_on=D(2026, 11, 16)),
        10: deal(10, 1000, D(2026, 11, 14), status="won", closed_on=D(2026, 11, 14)),  # J: new and won
    }
    return calc.waterfall(
        previous=previous, current=current, since=since, period_start=NOV_START, period_end=NOV_END
    )


def test_waterfall_hand_worked_example_adds_up():
    result = worked_waterfall()
    assert result.totals == {
        "start": 1000 + 2000 + 500 + 800 + 400 + 700,  # 5400
        "new": 600 + 1000,  # I, J
        "pulled_in": 3000 + 900,  # E, H at their amounts then
        "pushed_out": 2000 + 700,  # B, G
        "increased": 200,  # A
        "decreased": 500 + 100,  # E, F
        "won": 500 + 900 + 1000,  # C, H, J
        "lost": 800,  # D
        "end": 1200 + 2500 + 300 + 600,  # 4600
    }
    # 5400 + 1600 + 3900 - 2700 + 200 - 600 - 2400 - 800 = 4600
    assert result.adds_up


def test_waterfall_names_the_deals_behind_each_bar():
    items = worked_waterfall().items
    ids = {bucket: [item["deal_id"] for item in rows] for bucket, rows in items.items()}
    assert ids["start"] == [1, 2, 3, 4, 6, 7]
    assert ids["new"] == [9, 10]
    assert ids["pulled_in"] == [5, 8]
    assert ids["pushed_out"] == [2, 7]
    assert ids["increased"] == [1]
    assert ids["decreased"] == [6, 5]
    assert sorted(ids["won"]) == [3, 8, 10]
    assert ids["lost"] == [4]
    assert ids["end"] == [1, 5, 6, 9]
    pushed = {item["deal_id"]: item for item in items["pushed_out"]}
    assert pushed[2]["to_close_on"] == "2026-12-10" and pushed[2]["left_scope"] is False
    assert pushed[7]["left_scope"] is True


def test_a_waterfall_without_changes_is_flat():
    rows = {1: deal(1, 100, D(2026, 11, 3)), 2: deal(2, 50, None)}
    result = calc.waterfall(previous=rows, current=rows, since={}, period_start=NOV_START, period_end=NOV_END)
    assert result.totals["start"] == result.totals["end"] == 100
    assert sum(value for key, value in result.totals.items() if key not in ("start", "end")) == 0


amounts = st.integers(min_value=0, max_value=10_000)
closes = st.one_of(st.none(), st.dates(min_value=D(2026, 10, 1), max_value=D(2027, 1, 31)))


@settings(max_examples=150, deadline=None)
@given(
    before=st.dictionaries(st.integers(1, 30), st.tuples(amounts, closes), max_size=20),
    after=st.dictionaries(st.integers(1, 40), st.tuples(amounts, closes), max_size=20),
    closed=st.dictionaries(
        st.integers(1, 40),
        st.tuples(amounts, closes, st.sampled_from(["won", "lost", "gone"]), closes),
        max_size=20,
    ),
)
def test_waterfall_identity_holds_for_any_pair_of_snapshots(before, after, closed):
    previous = {key: deal(key, amount, close) for key, (amount, close) in before.items()}
    current = {key: deal(key, amount, close) for key, (amount, close) in after.items()}
    since = {
        key: deal(key, amount, close, status=status, closed_on=closed_on)
        for key, (amount, close, status, closed_on) in closed.items()
        if key not in current
    }
    result = calc.waterfall(
        previous=previous, current=current, since=since, period_start=NOV_START, period_end=NOV_END
    )
    assert result.adds_up
    assert all(value >= 0 for value in result.totals.values())


# ---------------------------------------------------------------------------------------------- flags
THRESHOLD = calc.StageThreshold(stale_days=21, stale_source="stage", stuck_days=28, stuck_source="learned")


def facts(**changes) -> calc.DealFacts:
    values = {
        "as_of_on": D(2026, 11, 16),
        "period_kind": "month",
        "stage_name": "Proposal",
        "days_in_stage": 5.0,
        "days_since_activity": 2.0,
        "expected_close_on": D(2026, 11, 30),
        "close_pushes": [],
        "previous_stage_name": None,
        "amount_minor": 100_000,
        "peak_amount_minor": 100_000,
        "has_next_step": True,
        "p_entry": 0.5,
        "p_model": 0.5,
    }
    values.update(changes)
    return calc.DealFacts(**values)


def codes(**changes) -> list[str]:
    return [flag["code"] for flag in calc.flags_for(facts(**changes), THRESHOLD)]


def test_a_healthy_deal_has_no_flag():
    assert codes() == []


def test_stale_fires_on_the_threshold_day_not_one_day_before():
    assert codes(days_since_activity=20.99) == []
    assert codes(days_since_activity=21.0) == ["stale"]
    flag = calc.flags_for(facts(days_since_activity=21.5), THRESHOLD)[0]
    assert flag == {"code": "stale", "days": 21, "threshold": 21, "source": "stage"}
    assert calc.flag_text(flag) == "stale 21 days (no activity; limit 21)"


def test_stuck_fires_at_the_won_deal_p90_not_one_day_before():
    assert codes(days_in_stage=27.99) == []
    assert codes(days_in_stage=28.0) == ["stuck"]
    text = calc.flag_text(calc.flags_for(facts(days_in_stage=30), THRESHOLD)[0])
    assert text == "30 days in Proposal (9 in 10 won deals left it within 28)"
    fallback = {"code": "stuck", "days": 42, "threshold": 42, "source": "stage", "stage": "Proposal"}
    assert calc.flag_text(fallback) == "42 days in Proposal (limit 42)"


def test_slipped_fires_on_the_second_push_or_a_push_across_a_period():
    inside = (D(2026, 11, 10), D(2026, 11, 20))
    assert codes(close_pushes=[inside]) == []
    assert codes(close_pushes=[inside, (D(2026, 11, 20), D(2026, 11, 25))]) == ["slipped"]
    flags = calc.flags_for(facts(close_pushes=[(D(2026, 11, 20), D(2026, 12, 2))]), THRESHOLD)
    assert [flag["code"] for flag in flags] == ["slipped"]
    assert calc.flag_text(flags[0]) == "close date pushed 1 time (from 2026-11 into 2026-12)"
    two = calc.flags_for(facts(close_pushes=[inside, (D(2026, 11, 20), D(2026, 11, 25))]), THRESHOLD)
    assert calc.flag_text(two[0]) == "close date pushed twice"
    # Quarters: November -> December stays inside Q4
    assert [
        flag["code"]
        for flag in calc.flags_for(
            facts(period_kind="quarter", close_pushes=[(D(2026, 11, 20), D(2026, 12, 2))]), THRESHOLD
        )
    ] == []


def test_overdue_fires_the_day_after_the_close_date():
    assert codes(expected_close_on=D(2026, 11, 16)) == []
    assert codes(expected_close_on=D(2026, 11, 15)) == ["overdue"]
    assert calc.flag_text(calc.flags_for(facts(expected_close_on=D(2026, 11, 13)), THRESHOLD)[0]) == (
        "close date passed 3 days ago"
    )


def test_regressed_when_the_deal_entered_its_stage_by_moving_back():
    flags = calc.flags_for(facts(previous_stage_name="Negotiation"), THRESHOLD)
    assert [flag["code"] for flag in flags] == ["regressed"]
    assert calc.flag_text(flags[0]) == "moved back from Negotiation"


def test_shrinking_fires_at_exactly_twenty_percent_down():
    assert codes(amount_minor=80_001) == []
    assert codes(amount_minor=80_000) == ["shrinking"]
    assert (
        calc.flag_text(calc.flags_for(facts(amount_minor=75_000), THRESHOLD)[0])
        == "amount down 25 % from its peak"
    )


def test_no_next_step():
    assert codes(has_next_step=False) == ["no_next_step"]
    assert calc.flag_text({"code": "no_next_step"}) == "no next step"


def test_model_drop_fires_below_seventy_percent_of_the_entry_probability():
    assert codes(p_entry=0.5, p_model=0.35) == []  # exactly 70 %: not below
    assert codes(p_entry=0.5, p_model=0.3499) == ["model_drop"]
    text = calc.flag_text(calc.flags_for(facts(p_entry=0.5, p_model=0.3), THRESHOLD)[0])
    assert text == "win probability fell from 50 % to 30 %"


# ------------------------------------------------------------------------------------------ thresholds
def test_thresholds_are_learned_from_enough_won_deals_else_the_stage_setting():
    cold = calc.stage_threshold(rotting_days=21, won_stay_days=list(range(1, 10)), won_quiet_days=[1.0] * 29)
    assert cold == calc.StageThreshold(21, "stage", 42, "stage")
    # Ten stays of 1..10 days: P90 = 9 + 0.1 x (10 - 9) = 9.1 -> 10 days (rounded up).
    learned = calc.stage_threshold(
        rotting_days=21, won_stay_days=list(range(1, 11)), won_quiet_days=[float(day) for day in range(1, 31)]
    )
    # Thirty quiet spells of 1..30 days: P90 at position 26.1 -> 27.1 -> 28 days.
    assert learned == calc.StageThreshold(28, "learned", 10, "learned")


def test_quiet_spells_are_the_gaps_between_touches():
    moments = [dt.datetime(2026, 1, day, tzinfo=dt.UTC) for day in (1, 4, 10)]
    assert calc.quiet_spells(moments[::-1]) == [3.0, 6.0]


# ------------------------------------------------------------------------------------- priority values
def test_priority_values_hand_worked():
    priority = calc.priority_values(
        amount_minor=10_000,
        p_win=0.45,
        p_period=0.3,
        p_entry=0.5,
        p_model=0.3,
        expected_close_on=D(2026, 12, 6),
        as_of_on=D(2026, 11, 16),
    )
    # p x A = 4500; p(P) x A = 3000; A x (0.5 - 0.3) = 2000; 4500 / max(7, 20 days) = 225
    assert priority == calc.Priority(
        expected_value=4500, expected_period=3000, value_at_risk=2000, value_per_day=225
    )
    soon = calc.priority_values(
        amount_minor=10_000,
        p_win=0.45,
        p_period=0.3,
        p_entry=0.5,
        p_model=0.6,
        expected_close_on=D(2026, 11, 18),
        as_of_on=D(2026, 11, 16),
    )
    assert soon.value_per_day == round(4500 / 7) and soon.value_at_risk == 0
    undated = calc.priority_values(
        amount_minor=9_000,
        p_win=0.5,
        p_period=0,
        p_entry=0.5,
        p_model=0.5,
        expected_close_on=None,
        as_of_on=D(2026, 11, 16),
    )
    assert undated.value_per_day == 50  # 4500 / 90 days assumed


@dataclass
class Row:
    deal_id: int
    amount_minor: int
    expected_value_minor: int
    expected_period_minor: int
    value_at_risk_minor: int
    flags: list = field(default_factory=list)


def test_close_this_period_ranks_by_expected_value_within_the_period():
    rows = [
        Row(1, 100_000, 45_000, 45_000, 0),  # 100k at 45 %, dated in the period
        Row(2, 300_000, 255_000, 0, 0),  # 300k at 85 %, dated next period: not on this list
        Row(3, 50_000, 42_500, 42_500, 0),  # 50k at 85 %
        Row(4, 200_000, 20_000, 20_000, 0),  # 200k at 10 %
        Row(5, 90_000, 45_000, 45_000, 0),  # ties with 1 on expected value: the bigger amount first
    ]
    assert [row.deal_id for row in calc.rank_close_this_period(rows)] == [1, 5, 3, 4]


def test_rescue_ranks_flagged_deals_by_value_at_risk_then_expected_value():
    rows = [
        Row(1, 100_000, 30_000, 0, 20_000, [{"code": "stale"}]),  # 100k x (0.5 - 0.3)
        Row(2, 400_000, 40_000, 0, 0, [{"code": "no_next_step"}]),  # no ageing risk
        Row(3, 60_000, 6_000, 0, 24_000, [{"code": "model_drop"}]),  # 60k x (0.5 - 0.1)
        Row(4, 900_000, 500_000, 0, 90_000, []),  # no flag: not on this list
        Row(5, 50_000, 45_000, 0, 0, [{"code": "overdue"}]),
    ]
    assert [row.deal_id for row in calc.rank_rescue(rows)] == [3, 1, 5, 2]


# ---------------------------------------------------------------------------------------- data quality
def test_data_quality_per_rep_hand_worked():
    as_of = D(2026, 11, 16)
    rows = [
        calc.QualityRow(7, 0, None, False),  # no amount, no date, no next step
        calc.QualityRow(7, 1000, D(2026, 11, 2), True),  # past its close date
        calc.QualityRow(7, 1000, D(2026, 12, 2), True),  # clean
        calc.QualityRow(7, 500, D(2026, 11, 20), False),  # no next step
        calc.QualityRow(8, 300, D(2026, 11, 16), True),  # clean (due today is not past)
    ]
    first, second = calc.data_quality(rows, as_of_on=as_of)
    assert (first.owner_id, first.open_deals, first.clean) == (7, 4, 1)
    assert first.missing_amount_share == 0.25
    assert first.missing_close_date_share == 0.25
    assert first.missing_next_step_share == 0.5
    assert first.past_close_date_share == 0.25
    assert (second.owner_id, second.clean_share, second.past_close_date_share) == (8, 1.0, 0.0)


# ---------------------------------------------------------------------------------------- bottlenecks
def test_bottleneck_rows_of_a_backdated_snapshot_hand_worked():
    qualification = calc.StageFlow(
        1,
        "Qualification",
        0,
        entered=30,
        advanced=10,
        lost=10,
        back=0,
        finished_days={5: 1, 6: 1, 7: 1},
        open_days={},
        open_deals=3,
        open_value_minor=300,
    )
    proposal = calc.StageFlow(
        2,
        "Proposal",
        1,
        entered=9,
        advanced=8,
        lost=1,
        back=1,
        finished_days={20: 1, 30: 1},
        open_days={40: 1},
        open_deals=9,
        open_value_minor=9000,
        stuck_deals=[42],
        won_days=25,
    )
    first, second = calc.bottleneck_rows([qualification, proposal], window_days=90)
    assert (first["conversion"], first["lost_share"], first["median_days"]) == (0.5, 0.5, 6)
    # 10 of 20 moved on: Wilson 95 % interval 0.2993-0.7007
    assert (first["conversion_low"], first["conversion_high"]) == (0.2993, 0.7007)
    assert first["reasons"] == ["Most deals are lost here."]
    # Kaplan-Meier: S(20) = 2/3, S(30) = 1/3 (the stay still open at 40 days is censored, not dropped)
    assert (second["median_days"], second["p80_days"]) == (30, None)
    assert second["conversion"] == 0.8 and second["little_days"] == 90.0  # 9 open / (9 entered / 90 days)
    assert second["reasons"] == [
        "Deals wait longest here.",
        "Holds the most waiting value.",
        "1 open deal is past the won-deal benchmark.",
    ]
    assert (second["won_days"], second["won_label"], second["source"]) == (25, "P90", "review")


# ----------------------------------------------------------------------------------------------- what-if
ROW = calc.WhatIfRow(
    amount_minor=100_000,
    p_win=0.5,
    p_period=0.4,
    p_period_in=0.4,
    p_period_out=0.05,
    expected_close_on=D(2026, 11, 20),
)


def test_what_if_changes_amount_probability_and_close_date_like_the_forecast():
    window = {"period_start": NOV_START, "period_end": NOV_END, "horizon": 0}
    assert calc.what_if_row(ROW, **window) == (100_000, 0.4)
    assert calc.what_if_row(ROW, amount_minor=50_000, **window) == (50_000, 0.4)
    amount, p_period = calc.what_if_row(ROW, probability=0.75, **window)
    assert amount == 100_000 and p_period == pytest.approx(0.6)  # 0.4 x 0.75 / 0.5
    assert calc.what_if_row(ROW, expected_close_on=D(2026, 12, 3), **window) == (100_000, 0.05)
    assert calc.what_if_row(ROW, expected_close_on=D(2026, 10, 30), **window)[1] == 0.4  # overdue: inside
    unmodelled = calc.WhatIfRow(100_000, 0.0, 0.0, 0.0, 0.0, D(2026, 11, 20))
    assert calc.what_if_row(unmodelled, probability=0.3, **window) == (100_000, 0.3)
    next_month = {"period_start": D(2026, 12, 1), "period_end": D(2027, 1, 1), "horizon": 1}
    assert calc.what_if_row(ROW, expected_close_on=D(2026, 11, 30), **next_month)[1] == 0.05


def test_simulated_rows_reproduce_and_share_random_numbers():
    amounts, probabilities = [100_000, 50_000, 20_000], [0.4, 0.0, 0.9]
    first = calc.simulate_rows(
        amounts=amounts, p_period=probabilities, new_samples=[0, 1000], draws=4000, seed=7
    )
    again = calc.simulate_rows(
        amounts=amounts, p_period=probabilities, new_samples=[0, 1000], draws=4000, seed=7
    )
    assert (first == again).all()
    changed = calc.simulate_rows(
        amounts=amounts, p_period=[0.4, 0.6, 0.9], new_samples=[0, 1000], draws=4000, seed=7
    )
    difference = changed - first
    # Only the changed deal moves: every draw differs by 0 or its whole amount.
    assert set(difference.round().tolist()) <= {0.0, 50_000.0}
    assert abs(difference.mean() - 0.6 * 50_000) < 3 * 50_000 * (0.6 * 0.4 / 4000) ** 0.5


@pytest.mark.parametrize("draws", [7, 1001, 2000])
def test_one_rows_change_equals_running_the_whole_simulation_again(draws):
    """The what-if adds the changed row's part to the frozen draws instead of simulating every row twice
    (issue #19: 0.5-0.6 s for 74,000 frozen deals): the same numbers as the whole run, whatever the row's
    place among the chunks of 64 rows and whatever the number of draws (16-bit numbers read 4 per word)."""
    rng = random.Random(draws)
    amounts = [rng.randrange(10_000, 10_000_000) for _ in range(150)]
    probabilities = [rng.choice([0.0, 0.0, 0.1, 0.5, 0.9, 1.0]) for _ in range(150)]
    frozen = calc.simulate_rows(
        amounts=amounts, p_period=probabilities, new_samples=[0, 1000], draws=draws, seed=11
    )
    for position in (0, 1, 63, 64, 100, 149):
        for after in ((amounts[position], 0.7), (2 * amounts[position], probabilities[position]), (5, 1.0)):
            changed_amounts, changed_probabilities = list(amounts), list(probabilities)
            changed_amounts[position], changed_probabilities[position] = after
            again = calc.simulate_rows(
                amounts=changed_amounts,
                p_period=changed_probabilities,
                new_samples=[0, 1000],
                draws=draws,
                seed=11,
            )
            change = calc.simulate_rows_change(
                position=position,
                before=(amounts[position], probabilities[position]),
                after=after,
                draws=draws,
                seed=11,
            )
            # float32 sums per chunk of 64 rows round differently; a misread number is off by an amount
            assert abs(again - (frozen + change)).max() < 1_000, (position, after)
