"""A small pipeline written through the deal services from the synthetic generator (real events and spells)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from dealflow.deals import services as deal_services
from dealflow.deals.tests.factories import lost_reason, stage_named
from dealflow.forecasting.tests import synthetic as syn

STAGES = ["Qualification", "Needs analysis", "Proposal", "Negotiation", "Closing"]


def load_pipeline(*, owners, start: dt.date, days: int, per_day: float, seed: int = 3) -> int:
    """Replay synthetic deals up to now through the services; returns how many deals were created."""
    now = timezone.now()
    stages = [stage_named(name) for name in STAGES]
    reason = lost_reason()
    deals = syn.generate(seed=seed, start=start, days=days, deals_per_day=per_day, owners=len(owners))
    created = 0
    for synthetic in deals:
        at = dt.datetime.fromtimestamp(synthetic.created, tz=dt.UTC)
        if at > now:
            continue
        owner = owners[synthetic.owner - 1]
        deal = deal_services.deal_create(
            title=f"Deal {created}",
            owner=owner,
            by=owner,
            stage=stages[0],
            amount=Decimal(synthetic.amount) / 100,
            expected_close_on=dt.date.fromordinal(synthetic.close_on),
            at=at,
        )
        created += 1
        for moment, kind, value in synthetic.steps:
            at = dt.datetime.fromtimestamp(moment, tz=dt.UTC)
            if at > now:
                break
            if kind == "move":
                deal_services.deal_move_to_stage(deal=deal, stage=stages[value], by=owner, at=at)
            elif kind == "won":
                deal_services.deal_mark_won(deal=deal, by=owner, at=at, schedule_follow_up=False)
            elif kind == "lost":
                deal_services.deal_mark_lost(deal=deal, reason=reason, by=owner, at=at)
            else:
                deal_services.deal_update(
                    deal=deal, by=owner, data={"expected_close_on": dt.date.fromordinal(value)}, at=at
                )
    return created


@pytest.fixture
def pipeline_history(rep, rep2, outsider, manager):
    """About 120 deals over the last 8 months for rep, rep2 (team Benelux) and outsider (DACH)."""
    return load_pipeline(
        owners=[rep, rep2, outsider],
        start=timezone.localdate() - dt.timedelta(days=240),
        days=240,
        per_day=0.5,
    )
