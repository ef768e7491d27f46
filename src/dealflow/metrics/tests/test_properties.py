"""Properties that hold for any pipeline history: rates stay in [0, 1], owners' and teams' numbers add up
to the total, filters partition the deals, the funnel never widens, and both derived-table paths agree."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dealflow.core.periods import parse_period
from dealflow.deals import services
from dealflow.deals.models import DealFact, DealMonthlyTotals, StayFact
from dealflow.deals.services.derived_rebuild import derived_rebuild
from dealflow.deals.tests.factories import DealFactory, lead_source, lost_reason
from dealflow.metrics.selectors import (
    MetricFilters,
    funnel_for_user,
    metric_breakdown_for_user,
    metric_summary_for_user,
    stage_times_for_user,
)

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 4, 1, 10, 0, tzinfo=dt.UTC)
SOURCES = [None, "website", "referral"]
PERIODS = ["2026-Q2", "2026-Q3", "2026-08", "2026-05-10..2026-08-20"]

step = st.tuples(
    st.sampled_from(["move", "won", "lost", "reopen", "amount"]), st.integers(0, 40), st.integers(0, 4)
)
deal = st.tuples(
    st.integers(0, 2),  # owner
    st.integers(0, 2),  # source
    st.integers(0, 170),  # created, days after 1 April 2026
    st.integers(1, 90),  # amount in hundreds
    st.sampled_from(["EUR", "USD"]),
    st.lists(step, max_size=5),
)


def _build(histories, owners, open_stages) -> None:
    for owner, source, day, amount, currency, steps in histories:
        moment = START + dt.timedelta(days=day)
        item = DealFactory(
            owner=owners[owner],
            amount=Decimal(amount * 100),
            currency=currency,
            source=lead_source(SOURCES[source]) if SOURCES[source] else None,
            at=moment,
        )
        for action, days, stage in steps:
            moment += dt.timedelta(days=days, hours=1)
            if action == "move" and item.is_open and open_stages[stage].pk != item.stage_id:
                services.deal_move_to_stage(deal=item, stage=open_stages[stage], by=item.owner, at=moment)
            elif action == "won" and item.is_open:
                services.deal_mark_won(deal=item, by=item.owner, at=moment)
            elif action == "lost" and item.is_open:
                services.deal_mark_lost(deal=item, reason=lost_reason(), by=item.owner, at=moment)
            elif action == "reopen" and not item.is_open:
                services.deal_reopen(deal=item, by=item.owner, at=moment)
            elif action == "amount":
                services.deal_update(deal=item, by=item.owner, data={"amount": Decimal(days * 10)}, at=moment)


def _rates(summary) -> list[float | None]:
    current = summary.current
    values = [
        current.lead_conversion.rate,
        current.lead_conversion.any_deal_rate,
        current.win_rate.rate,
        current.win_rate.value_rate,
        current.velocity.win_rate,
    ]
    for row in current.lead_conversion.by_source:
        values += [row.rate, row.any_deal_rate]
    return values


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories=st.lists(deal, min_size=1, max_size=7), period=st.sampled_from(PERIODS))
def test_metrics_hold_their_properties(
    histories, period, frozen, rep, rep2, outsider, admin_user, pipeline, rate_usd
):
    owners = [rep, rep2, outsider]
    open_stages = list(pipeline.stages.filter(kind="open").order_by("order"))
    with transaction.atomic():
        _build(histories, owners, open_stages)
        filters = MetricFilters(period=parse_period(period))
        summary = metric_summary_for_user(user=admin_user, filters=filters)
        current = summary.current

        # Rates stay in [0, 1].
        assert all(0 <= value <= 1 for value in _rates(summary) if value is not None)
        funnel = funnel_for_user(user=admin_user, filters=filters)
        for step_row in funnel.steps:
            if step_row.conversion is not None:
                assert 0 <= step_row.conversion_low <= step_row.conversion <= step_row.conversion_high <= 1
        # The funnel never widens from one stage to the next.
        counts = [row.count for row in funnel.steps if row.key in ("stage", "won")]
        assert counts == sorted(counts, reverse=True)
        for row in stage_times_for_user(user=admin_user, filters=filters):
            if row.median_days is not None and row.p80_days is not None:
                assert row.median_days <= row.p80_days

        # Owners' and teams' numbers add up to the total.
        for by in ("owner", "team"):
            rows = metric_breakdown_for_user(user=admin_user, filters=filters, by=by)
            assert sum(row.won for row in rows) == current.win_rate.won
            assert sum(row.lost for row in rows) == current.win_rate.lost
            assert sum(row.won_value for row in rows) == current.win_rate.won_value
            assert sum(row.open_deals for row in rows) == current.velocity.open_deals
            assert sum(row.leads for row in rows) == current.lead_conversion.leads

        # Filters partition: one filter value per deal, so the parts add up to the whole.
        parts = [
            metric_summary_for_user(
                user=admin_user, filters=MetricFilters(period=filters.period, owner_id=owner.pk)
            )
            for owner in owners
        ]
        assert sum(part.current.win_rate.won for part in parts) == current.win_rate.won
        assert sum(part.current.deal_size.total for part in parts) == current.deal_size.total
        assert sum(part.current.velocity.open_deals for part in parts) == current.velocity.open_deals
        by_source = [
            metric_summary_for_user(user=admin_user, filters=MetricFilters(period=filters.period, source=key))
            for key in SOURCES[1:]
        ]
        without_source = DealFact.objects.filter(
            source__isnull=True,
            status="won",
            closed_on__gte=filters.period.start,
            closed_on__lt=filters.period.end,
        ).count()
        assert sum(part.current.win_rate.won for part in by_source) + without_source == current.win_rate.won

        # What the services kept in step equals a rebuild from scratch.
        kept = (
            sorted(DealFact.objects.values_list()),
            sorted(StayFact.objects.values_list()),
            sorted(row[1:] for row in DealMonthlyTotals.objects.values_list() if any(row[6:])),
        )
        derived_rebuild()
        assert kept == (
            sorted(DealFact.objects.values_list()),
            sorted(StayFact.objects.values_list()),
            sorted(row[1:] for row in DealMonthlyTotals.objects.values_list()),
        )
        transaction.set_rollback(True)
