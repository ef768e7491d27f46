"""The derived analytics tables: what the services keep in step equals what derived_rebuild() computes."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest

from dealflow.deals import services
from dealflow.deals.models import DealFact, DealGroupTotals, DealMonthlyTotals, StayFact
from dealflow.deals.services.derived_rebuild import derived_rebuild
from dealflow.deals.tests.factories import DealFactory, LeadFactory, lead_source, lost_reason, stage_named

pytestmark = pytest.mark.django_db
START = dt.datetime(2025, 1, 6, 9, 0, tzinfo=dt.UTC)


def _snapshot() -> dict[str, list]:
    facts = sorted(DealFact.objects.values_list(*[field.attname for field in DealFact._meta.concrete_fields]))
    stays = sorted(StayFact.objects.values_list(*[field.attname for field in StayFact._meta.concrete_fields]))
    totals = sorted(
        row[1:]
        for row in DealMonthlyTotals.objects.values_list(
            *[field.attname for field in DealMonthlyTotals._meta.concrete_fields]
        )
        if any(row[6:])  # the services may leave a cell at zero after a reopen; the rebuild drops it
    )
    # Groups the services brought back to zero stay as rows of zeros; the rebuild has no such rows.
    groups = sorted(
        row[1:]
        for row in DealGroupTotals.objects.values_list(
            *[field.attname for field in DealGroupTotals._meta.concrete_fields]
        )
        if any(row[-3:])
    )
    return {"facts": facts, "stays": stays, "totals": totals, "groups": groups}


def test_a_worked_history_is_mirrored_row_for_row(rep, rep2, pipeline, rate_usd):
    qualification, needs, proposal, negotiation = (
        stage_named(name) for name in ("Qualification", "Needs analysis", "Proposal", "Negotiation")
    )
    lead = LeadFactory(owner=rep, source=lead_source("referral"), at=START - dt.timedelta(days=40))
    services.lead_qualify(lead=lead, by=rep, has_need=True, has_budget=True)
    converted = services.lead_convert(lead=lead, by=rep, amount=Decimal("5000"), at=START)
    services.deal_move_to_stage(deal=converted, stage=proposal, by=rep, at=START + dt.timedelta(days=3))
    services.deal_move_to_stage(deal=converted, stage=needs, by=rep, at=START + dt.timedelta(days=5))
    services.deal_mark_won(deal=converted, by=rep, at=START + dt.timedelta(days=40))
    services.deal_update(deal=converted, by=rep, data={"amount": Decimal("5500")})  # after closing

    lost = DealFactory(owner=rep2, amount=Decimal("100"), currency="USD", at=START)
    services.deal_update(
        deal=lost, by=rep2, data={"expected_close_on": dt.date(2025, 2, 1)}, at=START + dt.timedelta(days=1)
    )
    services.deal_update(
        deal=lost, by=rep2, data={"expected_close_on": dt.date(2025, 3, 1)}, at=START + dt.timedelta(days=2)
    )
    services.deal_update(
        deal=lost, by=rep2, data={"expected_close_on": dt.date(2025, 2, 15)}, at=START + dt.timedelta(days=3)
    )
    services.deal_mark_lost(deal=lost, reason=lost_reason(), by=rep2, at=START + dt.timedelta(days=31))
    services.deal_reopen(deal=lost, by=rep2, at=START + dt.timedelta(days=60))
    services.deal_move_to_stage(deal=lost, stage=negotiation, by=rep2, at=START + dt.timedelta(days=61))
    services.deal_update(deal=lost, by=rep2, data={"owner": rep, "source": lead_source("website")})

    assert DealFact.objects.get(deal=converted).furthest_stage == proposal
    assert DealFact.objects.get(deal=lost).close_date_pushes == 1
    assert list(
        StayFact.objects.filter(deal=lost).order_by("entered_on").values_list("entry_kind", flat=True)
    ) == [
        "created",
        "reopened",
        "forward",
    ]
    assert qualification.order < needs.order
    incremental = _snapshot()
    derived_rebuild()
    assert _snapshot() == incremental


@pytest.mark.parametrize("seed", [20261126, 19, 7])
def test_random_histories_are_mirrored_row_for_row(seed, rep, rep2, manager, pipeline, rate_usd):
    """Create, move, win, lose, reopen, push the close date, change owner and amount, in random order:
    DealFact, StayFact, DealMonthlyTotals and DealGroupTotals kept by the services equal a rebuild."""
    randomness = random.Random(seed)
    open_stages = list(pipeline.stages.filter(kind="open").order_by("order"))
    owners = [rep, rep2, manager]
    for number in range(25):
        moment = START + dt.timedelta(days=randomness.randint(0, 400), hours=randomness.randint(0, 23))
        deal = DealFactory(
            owner=randomness.choice(owners),
            amount=Decimal(randomness.randint(1, 900) * 100),
            currency=randomness.choice(["EUR", "USD"]),
            stage=randomness.choice(open_stages[:2]),
            source=randomness.choice([None, lead_source("website"), lead_source("campaign")]),
            at=moment,
        )
        for _step in range(randomness.randint(0, 7)):
            moment += dt.timedelta(days=randomness.randint(0, 45), hours=randomness.randint(0, 12))
            action = randomness.random()
            if deal.is_open and action < 0.45:
                choices = [stage for stage in open_stages if stage.pk != deal.stage_id]
                services.deal_move_to_stage(deal=deal, stage=randomness.choice(choices), by=rep, at=moment)
            elif deal.is_open and action < 0.6:
                services.deal_mark_won(deal=deal, by=rep, at=moment)
            elif deal.is_open and action < 0.7:
                services.deal_mark_lost(deal=deal, reason=lost_reason(), by=rep, at=moment)
            elif not deal.is_open and action < 0.8:
                services.deal_reopen(deal=deal, by=rep, at=moment)
            elif action < 0.9:
                services.deal_update(
                    deal=deal,
                    by=rep,
                    at=moment,
                    data={
                        "expected_close_on": (moment + dt.timedelta(days=randomness.randint(-20, 60))).date()
                    },
                )
            elif action < 0.94:
                services.deal_update(deal=deal, by=rep, at=moment, data={"owner": randomness.choice(owners)})
            elif action < 0.97:
                services.deal_update(
                    deal=deal, by=rep, at=moment, data={"amount": Decimal(randomness.randint(1, 900))}
                )
            else:
                services.deal_update(
                    deal=deal,
                    by=rep,
                    at=moment,
                    data={"owner": randomness.choice(owners), "amount": Decimal(randomness.randint(1, 900))},
                )
        assert number >= 0
    incremental = _snapshot()
    assert len(incremental["facts"]) == 25
    assert {row[0] for row in incremental["groups"]} >= {"cohort", "entry", "done", "exit"}
    derived_rebuild()
    assert _snapshot() == incremental
