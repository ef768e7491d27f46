"""Edge cases docs/metrics.md decides: empty periods, custom periods, reopened deals, amounts changed after
closing, skipped and backward moves, deactivated stages, access, and a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dealflow.core.errors import ApplicationError
from dealflow.core.periods import parse_period
from dealflow.deals import services
from dealflow.deals.tests.factories import DealFactory, lost_reason, stage_named
from dealflow.metrics.selectors import (
    MetricFilters,
    dashboard_for_user,
    deal_attention_for_user,
    funnel_for_user,
    metric_breakdown_for_user,
    metric_summary_for_user,
    stage_times_for_user,
)
from dealflow.metrics.tests.worked_example import at

pytestmark = pytest.mark.django_db
Q3 = MetricFilters(period=parse_period("2026-Q3"))


def test_an_empty_period_is_no_data_not_zero(frozen, manager, pipeline):
    summary = metric_summary_for_user(user=manager, filters=Q3).current
    assert summary.lead_conversion.rate is None
    assert summary.win_rate.rate is None and summary.win_rate.value_rate is None
    assert summary.deal_size.mean is None and summary.deal_size.median is None
    assert summary.cycle.mean_days is None and summary.cycle.median_days is None
    assert summary.velocity.per_day is None and summary.velocity.contributions is None
    assert [step.conversion for step in funnel_for_user(user=manager, filters=Q3).steps] == [None] * 8


def test_a_custom_period_gives_the_numbers_of_the_same_months(example, manager):
    """Custom periods read DealFact, whole months DealMonthlyTotals: both paths must agree."""
    custom = MetricFilters(period=parse_period("2026-07-01..2026-09-30"))
    by_quarter = metric_summary_for_user(user=manager, filters=Q3)
    by_dates = metric_summary_for_user(user=manager, filters=custom)
    for name in ("lead_conversion", "deal_size", "cycle", "win_rate", "velocity"):
        assert getattr(by_dates.current, name) == getattr(by_quarter.current, name), name
    assert by_dates.previous.period == "2026-03-31..2026-06-30"  # as many days (92) just before
    assert by_dates.previous.win_rate == by_quarter.previous.win_rate
    rows = metric_breakdown_for_user(user=manager, filters=custom, by="owner")
    assert rows == metric_breakdown_for_user(user=manager, filters=Q3, by="owner")


def test_a_reopened_deal_counts_at_its_last_close_only(frozen, rep, pipeline):
    deal = DealFactory(owner=rep, amount=Decimal("1000"), at=at(7, 1))
    services.deal_mark_lost(deal=deal, reason=lost_reason(), by=rep, at=at(7, 10))
    services.deal_reopen(deal=deal, by=rep, at=at(8, 1))
    after_reopen = metric_summary_for_user(user=rep, filters=Q3).current.win_rate
    assert (after_reopen.won, after_reopen.lost) == (0, 0)
    services.deal_mark_won(deal=deal, by=rep, at=at(9, 1))
    rate = metric_summary_for_user(user=rep, filters=Q3).current
    assert (rate.win_rate.won, rate.win_rate.lost, rate.cycle.mean_days) == (1, 0, Decimal("62.0"))


def test_an_amount_changed_after_closing_moves_the_won_value(frozen, rep, pipeline):
    deal = DealFactory(owner=rep, amount=Decimal("1000"), at=at(7, 1))
    services.deal_mark_won(deal=deal, by=rep, at=at(7, 10))
    services.deal_update(deal=deal, by=rep, data={"amount": Decimal("1500")})
    size = metric_summary_for_user(user=rep, filters=Q3).current.deal_size
    assert (size.total, size.median) == (Decimal("1500.00"), Decimal("1500.00"))


def test_a_deactivated_stage_keeps_its_history(frozen, rep, admin_user, pipeline):
    needs = stage_named("Needs analysis")
    deal = DealFactory(owner=rep, amount=Decimal("1000"), at=at(7, 1))
    services.deal_move_to_stage(deal=deal, stage=needs, by=rep, at=at(7, 5))
    services.deal_mark_lost(deal=deal, reason=lost_reason(), by=rep, at=at(7, 9))
    services.stage_deactivate(stage=needs)
    funnel = funnel_for_user(user=rep, filters=Q3)
    assert "Needs analysis" not in [step.label for step in funnel.steps]
    assert [step.count for step in funnel.steps if step.key == "stage"] == [1, 0, 0, 0]
    rows = {row.name: row for row in stage_times_for_user(user=rep, filters=Q3)}
    assert (rows["Needs analysis"].is_active, rows["Needs analysis"].median_days) == (False, 4)


def test_unknown_filters_are_errors_naming_the_field(frozen, rep, pipeline):
    with pytest.raises(ApplicationError) as error:
        metric_summary_for_user(user=rep, filters=MetricFilters(period=Q3.period, source="carrier-pigeon"))
    assert error.value.field == "source"
    with pytest.raises(ApplicationError) as error:
        metric_breakdown_for_user(user=rep, filters=Q3, by="owner", order="title")
    assert error.value.field == "order"
    with pytest.raises(ApplicationError) as error:
        MetricFilters.from_mapping({"period": "2026-Q9"})
    assert error.value.field == "period"


def test_the_outsider_counts_nothing_of_another_team(example, outsider):
    """outsider owns H only (won 07-30 in 25 days, 50,000)."""
    mine = metric_summary_for_user(user=outsider, filters=Q3).current
    assert (mine.win_rate.won, mine.win_rate.lost, mine.deal_size.total, mine.lead_conversion.leads) == (
        1,
        0,
        Decimal("50000.00"),
        0,
    )
    assert funnel_for_user(user=outsider, filters=Q3).deals == 1


def test_the_dashboard_costs_a_fixed_number_of_queries(example, manager, django_assert_num_queries):
    """Whatever the number of deals: the numbers are SQL aggregates, never a query per deal or stage."""
    dashboard_for_user(user=manager, filters=Q3)  # warms the user's access scope cache
    with django_assert_num_queries(22):
        dashboard_for_user(user=manager, filters=Q3)
    for number in range(30):
        DealFactory(owner=manager, amount=Decimal(100 + number), at=at(8, 1) + dt.timedelta(hours=number))
    with django_assert_num_queries(22):
        dashboard_for_user(user=manager, filters=Q3)


def test_forecast_accuracy_asks_forecasting_about_the_last_ended_period(frozen, manager, rep, pipeline):
    """metrics may not import forecasting: the front doors pass its selector in as ``lookup``."""
    from types import SimpleNamespace

    from dealflow.metrics.selectors import forecast_accuracy_for_user

    asked = []

    def lookup(**arguments):
        asked.append(arguments)
        return SimpleNamespace(accuracy=0.91, forecast=1000.0, actual=1100.0, as_of=None)

    ended = forecast_accuracy_for_user(user=manager, filters=Q3, lookup=lookup)
    assert (ended.available, ended.period, ended.accuracy) == (True, "2026-Q3", 0.91)
    running = forecast_accuracy_for_user(
        user=manager, filters=MetricFilters(period=parse_period("2026-Q4"), owner_id=rep.pk), lookup=lookup
    )
    assert running.period == "2026-Q3"  # today is 2026-10-15: Q4 has not ended, so the tile shows Q3
    assert asked[-1]["scope_kind"] == "rep" and asked[-1]["scope_id"] == rep.pk
    assert not forecast_accuracy_for_user(user=manager, filters=Q3, lookup=None).available
    assert not forecast_accuracy_for_user(user=manager, filters=Q3, lookup=lambda **_: None).available

    def refuses(**_):
        raise ApplicationError("No such team.", field="scope")

    refused = forecast_accuracy_for_user(user=manager, filters=Q3, lookup=refuses)
    assert (refused.available, refused.message) == (False, "No such team.")
    custom = MetricFilters(period=parse_period("2026-07-01..2026-07-31"))
    assert (
        "month, quarter or year"
        in forecast_accuracy_for_user(user=manager, filters=custom, lookup=lookup).message
    )


def test_the_stale_list_puts_the_longest_quiet_first_across_stages(frozen, rep, pipeline):
    """Worked by hand: twelve deals created 1-12 June 2026 at 9:00 in the first stage (creating a deal is
    activity), the even ones moved to the second stage on 15 June at 9:00 (so is a move), deal 5 touched on
    20 July and deal 3 on 1 August. On 15 October every one is quiet past its stage's threshold. Listed
    by last activity, then id, across both stages: 1, 7, 9, 11 (1-11 June), then the six moved on the same
    15 June by id: 2, 4, 6, 8, 10, 12 - ten; 5 and 3 (touched later) are not listed; the counts cover all
    twelve."""
    first, second = list(pipeline.stages.filter(kind="open").order_by("order"))[:2]
    assert 0 < first.rotting_days <= 60 and 0 < second.rotting_days <= 60
    deals = []
    for day in range(1, 13):
        deal = DealFactory(
            owner=rep, stage=first, title=f"deal {day}", at=dt.datetime(2026, 6, day, 9, tzinfo=dt.UTC)
        )
        if day % 2 == 0:
            services.deal_move_to_stage(
                deal=deal, stage=second, by=rep, at=dt.datetime(2026, 6, 15, 9, tzinfo=dt.UTC)
            )
        deals.append(deal)
    for number, touched in (
        (5, dt.datetime(2026, 7, 20, 9, tzinfo=dt.UTC)),
        (3, dt.datetime(2026, 8, 1, 9, tzinfo=dt.UTC)),
    ):
        services.activity_create(
            owner=rep, subject="Call back", deal=deals[number - 1], done_at=touched, at=touched
        )
    attention = deal_attention_for_user(user=rep, filters=Q3)
    assert attention.stale == 12
    assert attention.stale_by_stage == {first.pk: 6, second.pk: 6}
    assert [deal.title for deal in attention.stale_deals] == [
        "deal 1", "deal 7", "deal 9", "deal 11", "deal 2", "deal 4", "deal 6", "deal 8", "deal 10", "deal 12"
    ]  # fmt: skip
    # Quiet since 1 June 9:00, counted at 15 October 10:00: 136 whole days.
    assert attention.stale_deals[0].idle_days == 136
