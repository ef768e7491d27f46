"""DealGroupTotals answers the dashboard with the same numbers as the fact tables (issue #19).

Whole-month periods without a team or source filter read the groups (company-wide rows for admins, the
visible owners' rows otherwise); everything else reads DealFact and StayFact. Both paths must agree on
every number the dashboard shows, for every kind of user, after random histories.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import random
from decimal import Decimal

import pytest

from dealflow.core.periods import parse_period
from dealflow.deals import services
from dealflow.deals.models import Lead
from dealflow.deals.tests.factories import DealFactory, lead_source, lost_reason
from dealflow.metrics.selectors import (
    MetricFilters,
    dashboard_for_user,
    funnel_for_user,
    metric_breakdown_for_user,
    metric_scope_for_user,
    metric_summary_for_user,
    metric_trends_for_user,
)
from dealflow.metrics.tests.test_derived import random_leads

pytestmark = pytest.mark.django_db
START = dt.datetime(2025, 9, 1, 9, 0, tzinfo=dt.UTC)


def _random_history(randomness: random.Random, owners: list, pipeline, by) -> None:
    open_stages = list(pipeline.stages.filter(kind="open").order_by("order"))
    for _number in range(30):
        moment = START + dt.timedelta(days=randomness.randint(0, 380), hours=randomness.randint(0, 23))
        deal = DealFactory(
            owner=randomness.choice(owners),
            amount=Decimal(randomness.randint(1, 900) * 100),
            currency=randomness.choice(["EUR", "USD"]),
            stage=randomness.choice(open_stages[:2]),
            source=randomness.choice([None, lead_source("website")]),
            at=moment,
        )
        for _step in range(randomness.randint(0, 6)):
            moment += dt.timedelta(days=randomness.randint(0, 40), hours=randomness.randint(0, 12))
            if moment >= dt.datetime(2026, 10, 15, tzinfo=dt.UTC):
                break
            action = randomness.random()
            if deal.is_open and action < 0.45:
                choices = [stage for stage in open_stages if stage.pk != deal.stage_id]
                services.deal_move_to_stage(deal=deal, stage=randomness.choice(choices), by=by, at=moment)
            elif deal.is_open and action < 0.65:
                services.deal_mark_won(deal=deal, by=by, at=moment)
            elif deal.is_open and action < 0.75:
                services.deal_mark_lost(deal=deal, reason=lost_reason(), by=by, at=moment)
            elif not deal.is_open and action < 0.85:
                services.deal_reopen(deal=deal, by=by, at=moment)
            else:
                data = {"owner": randomness.choice(owners), "amount": Decimal(randomness.randint(1, 900))}
                services.deal_update(deal=deal, by=by, at=moment, data=data)


def _without_groups(monkeypatch, function):
    with monkeypatch.context() as patched:
        for name in ("stages", "funnel"):
            module = importlib.import_module(f"dealflow.metrics.selectors.{name}")
            patched.setattr(module, "group_owner_q", lambda scope: None)
        return function()


@pytest.mark.parametrize("seed", [1, 2])
def test_the_groups_give_the_numbers_of_the_facts(
    seed, frozen, monkeypatch, admin_user, manager, rep, rep2, outsider, pipeline, rate_usd
):
    _random_history(random.Random(seed), [rep, rep2, manager, outsider], pipeline, admin_user)
    periods = ["2026-Q3", "2026-Q2", "2026-09", "2026"]
    cases = [(admin_user, {}), (manager, {}), (rep, {}), (admin_user, {"owner_id": rep2.pk})]
    compared = 0
    for period in periods:
        for user, extra in cases:
            filters = MetricFilters(period=parse_period(period), **extra)
            with_groups = dashboard_for_user(user=user, filters=filters)
            without = _without_groups(monkeypatch, lambda: dashboard_for_user(user=user, filters=filters))
            assert dataclasses.asdict(with_groups) == dataclasses.asdict(without), (
                period,
                user.username,
                extra,
            )
            compared += with_groups.funnel.deals + sum(row.entered for row in with_groups.stages)
    assert compared > 50  # the histories reach the compared periods


def test_a_company_wide_dashboard_reads_the_every_owner_rows(frozen, admin_user, rep, pipeline, rate_usd):
    """Worked by hand: one deal created 3 July 2026 in the first stage, moved on 13 July (10 days) and won
    on 20 July; an admin's Q3 counts one finished 10-day stay in the first stage and one deal won."""
    first, second = list(pipeline.stages.filter(kind="open").order_by("order"))[:2]
    deal = DealFactory(
        owner=rep, stage=first, amount=Decimal(1000), at=dt.datetime(2026, 7, 3, 9, tzinfo=dt.UTC)
    )
    services.deal_move_to_stage(
        deal=deal, stage=second, by=rep, at=dt.datetime(2026, 7, 13, 9, tzinfo=dt.UTC)
    )
    services.deal_mark_won(deal=deal, by=rep, at=dt.datetime(2026, 7, 20, 9, tzinfo=dt.UTC))
    board = dashboard_for_user(user=admin_user, filters=MetricFilters(period=parse_period("2026-Q3")))
    stays = {row.stage_id: row for row in board.stages}
    assert (stays[first.pk].entered, stays[first.pk].finished, stays[first.pk].median_days) == (1, 1, 10)
    assert (stays[second.pk].entered, stays[second.pk].finished, stays[second.pk].median_days) == (1, 1, 7)
    assert (board.funnel.deals, board.funnel.won) == (1, 1)
    kinds = sorted((link.kind, link.count) for link in board.flow.links)
    assert kinds == [("created", 1), ("forward", 1), ("won", 1)]


@pytest.mark.parametrize("seed", [3, 4])
def test_the_lead_cells_give_the_counts_of_the_leads(
    seed, frozen, admin_user, manager, rep, rep2, outsider, pipeline, rate_usd
):
    """Whole months read the lead counts from LeadMonthlyTotals, other periods from the leads: a quarter
    and the same dates as a custom period agree, for every kind of user and filter, after random lead
    histories (owner and source changes, trash and restore, conversions); each trend month counts the
    leads themselves."""
    randomness = random.Random(seed)
    _random_history(randomness, [rep, rep2, manager, outsider], pipeline, admin_user)
    random_leads(randomness, [rep, rep2, manager, outsider], admin_user, start=START)
    team_id = rep.memberships.first().team_id
    cases = [
        (admin_user, {}),
        (manager, {}),
        (rep, {}),
        (admin_user, {"team_id": team_id}),
        (admin_user, {"source": "website"}),
        (manager, {"owner_id": rep2.pk}),
    ]
    compared = 0
    for quarter, dates in [("2026-Q3", "2026-07-01..2026-09-30"), ("2026-Q1", "2026-01-01..2026-03-31")]:
        for user, extra in cases:
            whole = MetricFilters(period=parse_period(quarter), **extra)
            custom = MetricFilters(period=parse_period(dates), **extra)
            summary = metric_summary_for_user(user=user, filters=whole).current
            assert (
                summary.lead_conversion
                == metric_summary_for_user(user=user, filters=custom).current.lead_conversion
            )
            top = [(step.key, step.count) for step in funnel_for_user(user=user, filters=whole).steps[:2]]
            assert top == [
                (step.key, step.count) for step in funnel_for_user(user=user, filters=custom).steps[:2]
            ]
            for by in ("owner", "team"):
                assert metric_breakdown_for_user(
                    user=user, filters=whole, by=by
                ) == metric_breakdown_for_user(user=user, filters=custom, by=by), (
                    quarter,
                    user.username,
                    extra,
                    by,
                )
            leads = Lead.objects.filter(metric_scope_for_user(user=user, filters=whole).lead_q())
            for point in metric_trends_for_user(user=user, filters=whole):
                year, month = (int(part) for part in point.month.split("-"))
                assert point.leads == leads.filter(created_on__year=year, created_on__month=month).count()
            compared += summary.lead_conversion.leads
    assert compared > 10  # the leads reach the compared periods
