"""A small team pipeline for review tests: Rita's and Ruud's deals in the Benelux team, Otto's elsewhere.

Everything is created under a frozen clock, 30 days before NOW (Monday 16 November 2026, 10:00 in
Amsterdam); the configured stage probabilities answer (L0: too few closed deals to learn from).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
import time_machine

from dealflow.deals.models import Deal
from dealflow.deals.tests.factories import DealFactory, stage_named

NOW = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC)
CREATED = NOW - dt.timedelta(days=30)


@dataclass
class TeamDeals:
    proposal: Deal  # Rita, 1,000 in Proposal (45 %), closes 28 Nov
    closing: Deal  # Rita, 2,000 in Closing (85 %), closes 5 Dec
    negotiation: Deal  # Ruud, 4,000 in Negotiation (65 %), closes 20 Nov
    undated: Deal  # Ruud, 500 in Qualification (10 %), no close date
    outsider: Deal  # Otto (other team), 9,000 in Closing


@pytest.fixture
def team_deals(rep, rep2, manager, outsider) -> TeamDeals:
    with time_machine.travel(CREATED, tick=False):
        return TeamDeals(
            proposal=DealFactory(
                title="Proposal deal",
                owner=rep,
                amount=Decimal("1000"),
                stage=stage_named("Proposal"),
                expected_close_on=dt.date(2026, 11, 28),
            ),
            closing=DealFactory(
                title="Closing deal",
                owner=rep,
                amount=Decimal("2000"),
                stage=stage_named("Closing"),
                expected_close_on=dt.date(2026, 12, 5),
            ),
            negotiation=DealFactory(
                title="Negotiation deal",
                owner=rep2,
                amount=Decimal("4000"),
                stage=stage_named("Negotiation"),
                expected_close_on=dt.date(2026, 11, 20),
            ),
            undated=DealFactory(
                title="Undated deal",
                owner=rep2,
                amount=Decimal("500"),
                stage=stage_named("Qualification"),
            ),
            outsider=DealFactory(
                title="Outsider deal",
                owner=outsider,
                amount=Decimal("9000"),
                stage=stage_named("Closing"),
                expected_close_on=dt.date(2026, 11, 25),
            ),
        )


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _no_kept_draws():
    """Each test simulates its reviews afresh: SQLite reuses the ids of rolled-back rows, and a test may add
    frozen rows to a review after its snapshot (the process keeps a review's draws, selectors.cards)."""
    from dealflow.reviews.selectors import cards

    cards._FROZEN_DRAWS.clear()
    yield
    cards._FROZEN_DRAWS.clear()
