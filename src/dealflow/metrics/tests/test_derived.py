"""The derived analytics tables: what the services keep in step equals what derived_rebuild() computes."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest

from dealflow.deals import services
from dealflow.deals.models import (
    DealFact,
    DealGroupTotals,
    DealMonthlyTotals,
    Lead,
    LeadMonthlyTotals,
    LeadStatus,
    StayFact,
)
from dealflow.deals.services import trash
from dealflow.deals.services.derived_rebuild import derived_rebuild
from dealflow.deals.services.sourced import lead_update_from_source
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
    # Lead cells the services brought back to zero (a lead moved away or trashed) likewise.
    leads = sorted(
        row
        for row in LeadMonthlyTotals.objects.values_list("month", "owner_id", "team_id", "source_id", "count")
        if row[-1]
    )
    return {"facts": facts, "stays": stays, "totals": totals, "groups": groups, "leads": leads}


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
    random_leads(randomness, owners, rep, start=START)
    incremental = _snapshot()
    assert len(incremental["facts"]) == 25 + Lead.objects.filter(status=LeadStatus.CONVERTED).count()
    assert {row[0] for row in incremental["groups"]} >= {"cohort", "entry", "done", "exit"}
    assert sum(row[-1] for row in incremental["leads"]) == Lead.objects.count() > 5
    derived_rebuild()
    assert _snapshot() == incremental


def random_leads(randomness: random.Random, owners: list, by, *, start: dt.datetime) -> None:
    """Create leads; change their owner or source (the services and an import's update), trash and
    restore them, qualify and convert some: each step moves a count in LeadMonthlyTotals."""
    sources = [lead_source("website"), lead_source("campaign"), lead_source("referral")]
    for _number in range(15):
        moment = start + dt.timedelta(days=randomness.randint(0, 400), hours=randomness.randint(0, 23))
        lead = LeadFactory(owner=randomness.choice(owners), source=randomness.choice(sources), at=moment)
        for _step in range(randomness.randint(0, 4)):
            action = randomness.random()
            if lead.deleted_at is not None:
                trash.lead_restore(lead=lead, by=by)
            elif lead.status == LeadStatus.CONVERTED:
                break
            elif action < 0.3:
                services.lead_update(
                    lead=lead,
                    by=by,
                    data={"owner": randomness.choice(owners), "source": randomness.choice(sources)},
                )
            elif action < 0.45:
                lead_update_from_source(lead=lead, values={"owner": randomness.choice(owners).pk})
            elif action < 0.7:
                trash.lead_delete(lead=lead, by=by)
            elif action < 0.85 and lead.status in (LeadStatus.NEW, LeadStatus.WORKING):
                services.lead_qualify(lead=lead, by=by, has_need=True, has_budget=True)
            elif lead.status == LeadStatus.QUALIFIED:
                services.lead_convert(lead=lead, by=by, amount=Decimal(500), at=moment + dt.timedelta(days=2))
                lead.refresh_from_db()


def test_lead_counts_follow_the_lead_services(rep, rep2, manager, pipeline):
    """Worked by hand: two website leads of the rep in March 2025, one handed to rep2 with the referral
    source, the other trashed and restored: one March cell each."""
    website, referral = lead_source("website"), lead_source("referral")
    first = LeadFactory(owner=rep, source=website, at=dt.datetime(2025, 3, 4, 9, tzinfo=dt.UTC))
    second = LeadFactory(owner=rep, source=website, at=dt.datetime(2025, 3, 30, 9, tzinfo=dt.UTC))
    services.lead_update(lead=first, by=manager, data={"owner": rep2, "source": referral})
    trash.lead_delete(lead=second, by=rep)
    march = dt.date(2025, 3, 1)
    rep_team, rep2_team = (Lead.all_objects.get(pk=lead.pk).team_id or 0 for lead in (second, first))
    assert rep_team and rep2_team  # the conftest's reps belong to teams
    assert _snapshot()["leads"] == [(march, rep2.pk, rep2_team, referral.pk, 1)]
    trash.lead_restore(lead=second, by=rep)
    assert sorted(_snapshot()["leads"]) == sorted(
        [
            (march, rep2.pk, rep2_team, referral.pk, 1),
            (march, rep.pk, rep_team, website.pk, 1),
        ]
    )
    incremental = _snapshot()
    derived_rebuild()
    assert _snapshot() == incremental


@pytest.mark.parametrize("vendor", ["sqlite", "postgresql"])
def test_the_rebuild_sorts_only_what_varies(vendor):
    """Speed, not results (the tests above compare the rows): each measure of DealGroupTotals groups by the
    key parts that vary (its name, "no other stage", no label ... are written once in the outer SELECT), and
    StayFact's window carries only the spell columns it uses (docs/benchmarks.md, "branch imp14e")."""
    from dealflow.deals.services.derived_rebuild import _group_statements, _rebuild_statements

    measures = _group_statements(vendor)[:-1]
    assert len(measures) == 7
    for statement in measures:
        grouped = statement.rsplit(" GROUP BY ", 1)[1].split(", ")
        assert "measure" not in grouped and {"pipeline_id", "owner_id", "stage_id"} <= set(grouped)
    assert "spell.*" not in _rebuild_statements(vendor)[1]
