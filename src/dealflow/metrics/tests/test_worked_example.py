"""Every metric of the worked example in docs/metrics.md, worked out by hand (numbers in the docstrings)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dealflow.core.periods import parse_period
from dealflow.metrics.selectors import (
    MetricFilters,
    deal_attention_for_user,
    funnel_deals_for_user,
    funnel_for_user,
    metric_breakdown_for_user,
    metric_summary_for_user,
    metric_trends_for_user,
    stage_flow_for_user,
    stage_times_for_user,
)

pytestmark = pytest.mark.django_db
Q3 = MetricFilters(period=parse_period("2026-Q3"))


def test_lead_conversion(example, manager):
    """Q3 leads L1-L4: L1 and L2 became deals (50 %), only L1's deal A was won (25 %).
    referral: L1, L4 -> 1 won of 2; website: L2, L3 -> 1 deal, none won. Q2: L0 became E, won: 100 %."""
    summary = metric_summary_for_user(user=manager, filters=Q3)
    conversion = summary.current.lead_conversion
    assert (conversion.leads, conversion.converted, conversion.won) == (4, 2, 1)
    assert (conversion.rate, conversion.any_deal_rate) == (0.25, 0.5)
    by_source = {row.source: (row.leads, row.converted, row.won, row.rate) for row in conversion.by_source}
    assert by_source == {"referral": (2, 1, 1, 0.5), "website": (2, 1, 0, 0.0)}
    assert summary.previous.lead_conversion.rate == 1.0
    assert summary.changes["lead_conversion"] == -0.75


def test_win_rate(example, manager):
    """Closed in Q3: A, C, E won, B lost -> 3 / 4 by count; 20,500 / (20,500 + 20,000) by value.
    Q2: G won, F lost -> 1 / 2 and 3,000 / 15,000."""
    summary = metric_summary_for_user(user=manager, filters=Q3)
    rate = summary.current.win_rate
    assert (rate.won, rate.lost, rate.rate) == (3, 1, 0.75)
    assert (rate.won_value, rate.lost_value, rate.value_rate) == (
        Decimal("20500.00"),
        Decimal("20000.00"),
        0.5062,
    )
    assert (summary.previous.win_rate.rate, summary.previous.win_rate.value_rate) == (0.5, 0.2)
    assert summary.changes["win_rate"] == 0.25


def test_deal_size_and_cycle(example, manager):
    """Won in Q3: A 10,000 (30 days; 39 from lead L1), C 4,500 EUR (5,000 USD x 0.9; 70 days),
    E 6,000 (71 days; 80 from lead L0). Mean 6,833.33, median 6,000; cycle mean 57, median 70;
    from lead mean 59.5, median 59.5. Q2: G 3,000 in 30 days."""
    summary = metric_summary_for_user(user=manager, filters=Q3)
    size, cycle = summary.current.deal_size, summary.current.cycle
    assert (size.count, size.total, size.mean, size.median) == (
        3,
        Decimal("20500.00"),
        Decimal("6833.33"),
        Decimal("6000.00"),
    )
    assert (cycle.mean_days, cycle.median_days) == (Decimal("57.0"), Decimal("70.0"))
    assert (cycle.from_lead_count, cycle.from_lead_mean_days, cycle.from_lead_median_days) == (
        2,
        Decimal("59.5"),
        Decimal("59.5"),
    )
    assert summary.previous.deal_size.mean == Decimal("3000.00")
    assert summary.previous.deal_size.median is None  # medians are read for the current period only
    assert summary.changes["deal_size"] == 1.2778  # 6,833.33 / 3,000 - 1
    assert summary.changes["cycle_days"] == 27.0


def test_velocity_and_its_decomposition(example, manager):
    """Open at the end of Q3: A-G created before 1 October, six of them closed -> D, 1 deal.
    V = 1 x 0.75 x 6,833.33 / 57 = 89.91 per day. Q2: open on 1 July = E -> 1 x 0.5 x 3,000 / 30 = 50.00.
    LMDI: L = 39.91 / ln(89.91 / 50) = 68.02; win rate 68.02 x ln 1.5 = 27.58, size 68.02 x ln(6,833.33 /
    3,000) = 55.99, cycle -68.02 x ln(57 / 30) = -43.66, open deals 0; they add up to 39.91."""
    summary = metric_summary_for_user(user=manager, filters=Q3)
    velocity = summary.current.velocity
    assert (velocity.open_deals, velocity.win_rate, velocity.average_size, velocity.cycle_days) == (
        1,
        0.75,
        Decimal("6833.33"),
        Decimal("57.0"),
    )
    assert velocity.per_day == Decimal("89.91")
    assert summary.previous.velocity.per_day == Decimal("50.00")
    assert summary.changes["velocity"] == 0.7982
    parts = velocity.contributions
    assert parts == {
        "open_deals": Decimal("0.00"),
        "win_rate": Decimal("27.58"),
        "average_size": Decimal("55.99"),
        "cycle_days": Decimal("-43.66"),
    }
    assert abs(sum(parts.values()) - Decimal("39.91")) <= Decimal("0.02")


def test_what_a_rep_and_an_admin_count(example, rep, admin_user):
    """rep sees A, B, E, F and leads L0-L2; admin also sees H (won 07-30, 50,000, 25 days)."""
    mine = metric_summary_for_user(user=rep, filters=Q3).current
    assert (mine.win_rate.won, mine.win_rate.lost, mine.lead_conversion.leads) == (2, 1, 2)
    assert mine.deal_size.mean == Decimal("8000.00")
    everything = metric_summary_for_user(user=admin_user, filters=Q3).current
    assert (everything.win_rate.won, everything.deal_size.total) == (4, Decimal("70500.00"))
    assert everything.cycle.mean_days == Decimal("49.0")  # (30 + 70 + 71 + 25) / 4


def test_funnel(example, manager):
    """Q3 deals: A (won), B (furthest Proposal, skipped Needs analysis, lost), C (won), D (Qualification).
    Reached: Qualification 4, Needs analysis 3, Proposal 3, Negotiation 2, Closing 2, Won 2."""
    funnel = funnel_for_user(user=manager, filters=Q3)
    steps = [(step.label, step.count, step.amount, step.conversion, step.drop_off) for step in funnel.steps]
    assert steps == [
        ("Leads", 4, None, 0.5, 2),
        ("Converted to a deal", 2, None, None, None),
        ("Qualification", 4, Decimal("42500.00"), 0.75, 1),
        ("Needs analysis", 3, Decimal("34500.00"), 1.0, 0),
        ("Proposal", 3, Decimal("34500.00"), 0.6667, 1),
        ("Negotiation", 2, Decimal("14500.00"), 1.0, 0),
        ("Closing", 2, Decimal("14500.00"), 1.0, 0),
        ("Won", 2, Decimal("14500.00"), None, None),
    ]
    assert [step.segment for step in funnel.steps] == [
        "top",
        "top",
        "top",
        "middle",
        "bottom",
        "bottom",
        "bottom",
        "bottom",
    ]
    assert (funnel.deals, funnel.won, funnel.lost, funnel.still_open) == (4, 2, 1, 1)
    qualification = funnel.steps[2]
    assert (qualification.conversion_low, qualification.conversion_high) == (0.3006, 0.9544)


def test_funnel_deals_behind_a_step(example, manager):
    proposal = example["A"].spells.order_by("entered_at").last().stage_id
    reached = funnel_deals_for_user(user=manager, filters=Q3, stage_id=proposal)
    assert {deal.pk for deal in reached} == {example["A"].pk, example["B"].pk, example["C"].pk}
    won = funnel_deals_for_user(user=manager, filters=Q3, won=True)
    assert {deal.pk for deal in won} == {example["A"].pk, example["C"].pk}


def test_time_in_stage(example, manager):
    """Q3 stays. Qualification: 5 (A), 2 (B), 10 (C) days and D open for 75 days: KM 0.75, 0.5, 0.25 ->
    median 5, P80 never reached. Needs analysis: 10, 10, 10 -> 10 / 10. Proposal: 15, 29, 10, 30 ->
    median 15, P80 30. Q2: Qualification 10 (E), 90 (F), 30 (G) -> 30; Needs analysis 61 (E).
    Won deals A, C, E, G: Qualification 5, 10, 10, 30 -> median 10, P80 30; Proposal 15, 10, 30 -> 15, 30."""
    rows = {row.name: row for row in stage_times_for_user(user=manager, filters=Q3)}
    qualification, needs, proposal = rows["Qualification"], rows["Needs analysis"], rows["Proposal"]
    assert (qualification.entered, qualification.finished, qualification.still_open) == (4, 3, 1)
    assert (qualification.median_days, qualification.p80_days) == (5, None)
    assert (
        qualification.previous_median_days,
        qualification.won_median_days,
        qualification.won_p80_days,
    ) == (
        30,
        10,
        30,
    )
    assert (needs.median_days, needs.p80_days, needs.previous_median_days) == (10, 10, 61)
    assert (needs.won_median_days, needs.won_p80_days) == (10, 61)
    assert (proposal.median_days, proposal.p80_days, proposal.won_median_days, proposal.won_p80_days) == (
        15,
        30,
        15,
        30,
    )
    assert rows["Negotiation"].median_days is None
    assert (qualification.open_now, qualification.open_value) == (1, Decimal("8000.00"))
    assert [flag.kind for flag in qualification.flags] == ["most_waiting"]
    assert (qualification.conversion, qualification.previous_conversion) == (0.75, 0.6667)


def test_flow(example, manager):
    """Moves in Q3: new deals into Qualification 4; Qualification -> Needs analysis 2 (A, C), -> Proposal 1 (B);
    Needs analysis -> Proposal 3, -> Won 1 (E); Proposal -> Needs analysis 1 (C, back), -> Won 2, -> Lost 1."""
    flow = stage_flow_for_user(user=manager, filters=Q3)
    labels = [node.label for node in flow.nodes]
    links = {(labels[link.source], labels[link.target], link.kind): link.count for link in flow.links}
    assert links == {
        ("New deals", "Qualification", "created"): 4,
        ("Qualification", "Needs analysis", "forward"): 2,
        ("Qualification", "Proposal", "forward"): 1,
        ("Needs analysis", "Proposal", "forward"): 3,
        ("Needs analysis", "Won", "won"): 1,
        ("Proposal", "Needs analysis", "back"): 1,
        ("Proposal", "Won", "won"): 2,
        ("Proposal", "Lost", "lost"): 1,
    }


def test_stale_and_slipped(example, manager):
    """D: idle in Qualification since 08-01 (75 days > 14); close date 09-15 passed, pushed from 08-31 in Q3."""
    attention = deal_attention_for_user(user=manager, filters=Q3)
    assert (attention.stale, attention.stale_value) == (1, Decimal("8000.00"))
    assert [(deal.title, deal.idle_days) for deal in attention.stale_deals] == [("D", 75)]
    assert (attention.slipped, attention.overdue, attention.pushed) == (1, 1, 1)
    assert [(deal.title, deal.close_date_pushes) for deal in attention.slipped_deals] == [("D", 1)]


def test_breakdown_by_owner(example, manager, rep, rep2):
    """rep: leads L1, L2 (A won: 0.5); A, E won, B lost; 16,000; cycle 50.5; nothing open.
    rep2: leads L3, L4; C won (4,500, 70 days); D open -> velocity 1 x 1 x 4,500 / 70 = 64.29."""
    rows = metric_breakdown_for_user(user=manager, filters=Q3, by="owner", order="-won_value")
    assert [(row.label, row.leads, row.lead_conversion, row.won, row.lost, row.win_rate) for row in rows] == [
        (rep.display_name, 2, 0.5, 2, 1, 0.6667),
        (rep2.display_name, 2, 0.0, 1, 0, 1.0),
    ]
    assert [(row.won_value, row.deal_size, row.cycle_days, row.open_deals, row.velocity) for row in rows] == [
        (Decimal("16000.00"), Decimal("8000.00"), Decimal("50.5"), 0, Decimal("0.00")),
        (Decimal("4500.00"), Decimal("4500.00"), Decimal("70.0"), 1, Decimal("64.29")),
    ]
    by_velocity = metric_breakdown_for_user(user=manager, filters=Q3, by="owner", order="-velocity")
    assert [row.label for row in by_velocity] == [rep2.display_name, rep.display_name]
    teams = metric_breakdown_for_user(user=manager, filters=Q3, by="team")
    assert [(row.label, row.won, row.leads) for row in teams] == [("Benelux", 3, 4)]


def test_trends(example, manager):
    """July: E won (6,000, 71 days), leads L1, L2 (L1 won); open on 1 August: A, B, C.
    August: A won, B lost; leads L3, L4. September: C won; open on 1 October: D."""
    points = {point.month: point for point in metric_trends_for_user(user=manager, filters=Q3)}
    assert len(points) == 24 and min(points) == "2024-10" and max(points) == "2026-09"
    july, august, september = points["2026-07"], points["2026-08"], points["2026-09"]
    assert (july.won, july.lost, july.deal_size, july.cycle_days, july.leads, july.lead_conversion) == (
        1,
        0,
        Decimal("6000.00"),
        Decimal("71.0"),
        2,
        0.5,
    )
    assert (july.open_deals, august.open_deals, september.open_deals) == (3, 2, 1)
    assert (august.won, august.lost, august.win_rate, august.leads, august.lead_conversion) == (
        1,
        1,
        0.5,
        2,
        0.0,
    )
    assert september.velocity == Decimal("64.29")  # 1 open x 1.0 x 4,500 / 70
    assert points["2026-01"].win_rate is None  # an empty month is "no data", not 0 %
