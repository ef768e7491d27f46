"""The bulk writer writes exactly the rows the services write for the same history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from dealflow.core.errors import ApplicationError
from dealflow.deals import bulk, services
from dealflow.deals.models import Activity, Deal, DealEvent, Lead, StageSpell
from dealflow.deals.tests.factories import DealFactory, lead_source, lost_reason, stage_named

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def at(day: int, hour: int = 10) -> dt.datetime:
    # Days counted back from NOW; hour 23 UTC lands on the next local day in Amsterdam.
    return NOW - dt.timedelta(days=day) + dt.timedelta(hours=hour - 9)


def _history_through_services(rep, rep2, pipeline):
    """A converted lead whose deal moves, goes back, is lost, reopened, reassigned, won and re-priced."""
    lead = services.lead_create(
        title="Acme rollout", source=lead_source("trade_show"), owner=rep, at=at(120), has_need=True
    )
    services.lead_qualify(lead=lead, has_budget=True, at=at(110))
    deal = services.lead_convert(
        lead=lead,
        by=rep,
        amount=Decimal("1200.50"),
        currency="USD",
        expected_close_on=dt.date(2026, 1, 31),
        at=at(100, 23),
        origin="web",
    )
    services.activity_create(
        owner=rep, subject="Discovery call", kind="call", deal=deal, done_at=at(99), at=at(99)
    )
    services.deal_move_to_stage(deal=deal, stage=stage_named("Needs analysis"), by=rep, at=at(90))
    services.deal_update(
        deal=deal,
        by=rep,
        data={
            "amount": Decimal("1500"),
            "expected_close_on": dt.date(2026, 2, 28),
            "forecast_category_override": "commit",
            "probability_override": 55,
            "next_step": "Send the proposal",
        },
        at=at(80),
        origin="api",
        note="after the demo",
    )
    services.deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep, at=at(70))
    services.deal_move_to_stage(deal=deal, stage=stage_named("Needs analysis"), by=rep, at=at(65))
    services.deal_move_to_stage(deal=deal, stage=stage_named("Negotiation"), by=rep, at=at(60))
    services.deal_mark_lost(deal=deal, reason=lost_reason("Price"), by=rep, note="too dear", at=at(50))
    services.deal_reopen(deal=deal, by=rep, at=at(40))
    services.deal_update(deal=deal, by=rep, data={"owner": rep2, "probability_override": None}, at=at(35))
    services.activity_create(owner=rep2, subject="Quick note", kind="note", deal=deal, at=at(30))
    services.activity_create(owner=rep2, subject="Send contract", deal=deal, due_at=at(-5), at=at(20))
    services.deal_mark_won(deal=deal, by=rep2, at=at(10, 23))
    follow_up = Activity.objects.get(deal=deal, origin="post_sale")
    services.activity_complete(activity=follow_up, by=rep2, at=at(8))
    services.deal_update(deal=deal, by=rep2, data={"amount": Decimal("1400")}, at=at(5))
    plain = DealFactory(owner=rep, amount=Decimal("10"), title="Small one", at=at(3), pipeline=pipeline)
    services.deal_mark_lost(deal=plain, reason=lost_reason("Timing"), by=rep, at=at(1))
    return [lead], [deal, plain]


def _history_through_bulk(rep, rep2, pipeline):
    lead = bulk.BulkLead(
        title="Acme rollout",
        source_id=lead_source("trade_show").pk,
        owner_id=rep.pk,
        created_at=at(120),
        status="converted",
        has_need=True,
        has_budget=True,
        qualified_at=at(110),
        closed_at=at(100, 23),
    )
    stage = {
        name: stage_named(name).pk for name in ["Qualification", "Needs analysis", "Proposal", "Negotiation"]
    }
    deal = bulk.BulkDeal(
        title="Acme rollout",
        owner_id=rep.pk,
        pipeline_id=pipeline.pk,
        stage_id=stage["Qualification"],
        created_at=at(100, 23),
        amount_minor=120050,
        currency="USD",
        expected_close_on=dt.date(2026, 1, 31),
        lead=lead,
        by_id=rep.pk,
        origin="web",
        steps=[
            bulk.LogActivity(
                bulk.BulkActivity(
                    kind="call", subject="Discovery call", owner_id=rep.pk, at=at(99), done_at=at(99)
                )
            ),
            bulk.Move(at=at(90), stage_id=stage["Needs analysis"], by_id=rep.pk),
            bulk.Update(
                at=at(80),
                changes={
                    "amount_minor": 150000,
                    "expected_close_on": dt.date(2026, 2, 28),
                    "forecast_category_override": "commit",
                    "probability_override": 55,
                    "next_step": "Send the proposal",
                },
                by_id=rep.pk,
                origin="api",
                note="after the demo",
            ),
            bulk.Move(at=at(70), stage_id=stage["Proposal"], by_id=rep.pk),
            bulk.Move(at=at(65), stage_id=stage["Needs analysis"], by_id=rep.pk),
            bulk.Move(at=at(60), stage_id=stage["Negotiation"], by_id=rep.pk),
            bulk.Lost(at=at(50), reason_id=lost_reason("Price").pk, by_id=rep.pk, note="too dear"),
            bulk.Reopen(at=at(40), by_id=rep.pk),
            bulk.Update(at=at(35), changes={"owner_id": rep2.pk, "probability_override": None}, by_id=rep.pk),
            bulk.LogActivity(
                bulk.BulkActivity(kind="note", subject="Quick note", owner_id=rep2.pk, at=at(30))
            ),
            bulk.LogActivity(
                bulk.BulkActivity(
                    kind="task", subject="Send contract", owner_id=rep2.pk, at=at(20), due_at=at(-5)
                )
            ),
            bulk.Won(at=at(10, 23), by_id=rep2.pk, follow_up_done_at=at(8)),
            bulk.Update(at=at(5), changes={"amount_minor": 140000}, by_id=rep2.pk),
        ],
    )
    plain = bulk.BulkDeal(
        title="Small one",
        owner_id=rep.pk,
        pipeline_id=pipeline.pk,
        stage_id=stage["Qualification"],
        created_at=at(3),
        amount_minor=1000,
        organization_id=None,
        by_id=rep.pk,
        steps=[bulk.Lost(at=at(1), reason_id=lost_reason("Timing").pk, by_id=rep.pk)],
    )
    with bulk.BulkWriter() as writer:
        counts = writer.write(leads=[lead], deals=[deal, plain])
    assert counts == bulk.BulkCounts(leads=1, deals=2, events=17, spells=7, activities=4)
    return Lead.objects.filter(pk=lead.id), Deal.objects.filter(pk__in=[deal.id, plain.id]).order_by("id")


def _snapshot(leads, deals):
    """Every row both paths write, without ids (deals and their rows keyed by position)."""
    deal_ids = [deal.pk for deal in deals]
    position = {deal_id: index for index, deal_id in enumerate(deal_ids)}

    def rows(model, exclude, order):
        result = []
        for row in model.objects.filter(deal_id__in=deal_ids).order_by(*order).values():
            row["deal_id"] = position[row["deal_id"]]
            for name in exclude:
                row.pop(name)
            result.append(row)
        return sorted(result, key=lambda row: (row["deal_id"], *[str(row.get(key)) for key in order[1:]]))

    deal_rows = []
    for deal in Deal.objects.filter(pk__in=deal_ids).order_by("id").values():
        for name in ("id", "organization_id", "lead_id", "parent_id"):
            deal.pop(name)
        deal_rows.append(deal)
    lead_rows = []
    for lead in Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values():
        lead.pop("id")
        lead_rows.append(lead)
    return {
        "deals": deal_rows,
        "leads": lead_rows,
        "events": rows(DealEvent, ["id"], ["deal_id", "occurred_at", "kind", "field"]),
        "spells": rows(StageSpell, ["id"], ["deal_id", "entered_at"]),
        "activities": rows(Activity, ["id"], ["deal_id", "created_at", "subject"]),
    }


@pytest.mark.django_db
def test_bulk_writer_writes_the_rows_the_services_write(rep, rep2, pipeline, rate_usd):
    with time_machine.travel(NOW, tick=False):
        service_leads, service_deals = _history_through_services(rep, rep2, pipeline)
        expected = _snapshot(service_leads, service_deals)
        # Same lead/deal links, found through the new rows.
        bulk_leads, bulk_deals = _history_through_bulk(rep, rep2, pipeline)
        actual = _snapshot(list(bulk_leads), list(bulk_deals))

    assert actual["deals"] == expected["deals"]
    assert actual["leads"] == expected["leads"]
    assert actual["events"] == expected["events"]
    assert actual["spells"] == expected["spells"]
    assert actual["activities"] == expected["activities"]
    converted = bulk_deals.first()
    assert converted.lead == bulk_leads.get()
    assert converted.status == "won" and converted.version == expected["deals"][0]["version"] == 11
    assert converted.amount_base_minor == 126000  # 1400.00 USD at 0.9
    assert converted.last_activity_at == at(8)  # the follow-up was done after the win
    assert converted.cycle_days == 90 and converted.lead_cycle_days == 111


@pytest.mark.django_db
def test_ids_after_a_bulk_load_stay_in_step_with_the_database(rep, pipeline):
    first = DealFactory(owner=rep)
    loaded = bulk.BulkDeal(
        title="Bulk",
        owner_id=rep.pk,
        pipeline_id=pipeline.pk,
        stage_id=stage_named("Proposal").pk,
        created_at=NOW,
    )
    with bulk.BulkWriter() as writer:
        writer.write(deals=[loaded])
    after = DealFactory(owner=rep)
    assert first.pk < loaded.id < after.pk
    assert StageSpell.objects.get(deal_id=loaded.id).exited_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("step", "message"),
    [
        (lambda: bulk.Move(at=NOW, stage_id=stage_named("Won").pk), "open stage"),
        (lambda: bulk.Lost(at=NOW, reason_id=None), "lost reason"),
        (lambda: bulk.Reopen(at=NOW), "already open"),
        (lambda: bulk.Update(at=NOW, changes={"status": "won"}), "cannot be changed"),
    ],
)
def test_bulk_writer_refuses_what_the_services_refuse_and_writes_nothing(rep, pipeline, step, message):
    deal = bulk.BulkDeal(
        title="Bad",
        owner_id=rep.pk,
        pipeline_id=pipeline.pk,
        stage_id=stage_named("Proposal").pk,
        created_at=NOW,
    )
    deal.steps.append(step())
    writer = bulk.BulkWriter()
    with pytest.raises(ApplicationError, match=message):
        writer.write(deals=[deal])
    assert not Deal.objects.exists() and not DealEvent.objects.exists()


def _index_names() -> set[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        tables = ["deals_deal", "deals_dealevent", "deals_stagespell", "deals_activity", "deals_lead"]
        return {
            name
            for table in tables
            for name, info in connection.introspection.get_constraints(cursor, table).items()
            if info["index"] or info["foreign_key"]
        }


@pytest.mark.django_db
def test_deferred_indexes_are_built_again_after_the_load_and_after_a_failure(rep, pipeline):
    before = _index_names()
    assert len(before) > 20
    proposal = stage_named("Proposal").pk
    with bulk.BulkWriter(defer_indexes=True, defer_foreign_keys=True) as writer:
        during = _index_names()
        assert during < before and len(before - during) > 20  # only primary keys and unique ones stay
        writer.write(
            deals=[
                bulk.BulkDeal(
                    title="A", owner_id=rep.pk, pipeline_id=pipeline.pk, stage_id=proposal, created_at=NOW
                )
            ]
        )
    assert _index_names() == before
    with (
        pytest.raises(ApplicationError),
        bulk.BulkWriter(defer_indexes=True, defer_foreign_keys=True) as writer,
    ):
        writer.write(
            deals=[
                bulk.BulkDeal(
                    title="", owner_id=rep.pk, pipeline_id=pipeline.pk, stage_id=proposal, created_at=NOW
                )
            ]
        )
    assert _index_names() == before
    assert Deal.objects.count() == 1


@pytest.mark.django_db
def test_finishing_runs_after_the_rebuild_with_the_load_settings_still_on(rep, pipeline):
    """close(finishing=...) runs after the derived tables and statistics, before the SQLite settings of the
    load are put back (the importer's search entries: with the 2 MB cache back they took twice the CPU)."""
    from django.db import connection

    from dealflow.deals.models import DealFact

    seen: dict[str, object] = {}

    def finishing() -> None:
        seen["facts"] = DealFact.objects.count()
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA cache_size")
                seen["cache_size"] = cursor.fetchone()[0]

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size = -2000")  # SQLite's default, whatever an earlier test left
    proposal = stage_named("Proposal").pk
    writer = bulk.BulkWriter()
    writer.write(
        deals=[
            bulk.BulkDeal(
                title="A", owner_id=rep.pk, pipeline_id=pipeline.pk, stage_id=proposal, created_at=NOW
            )
        ]
    )
    writer.close(finishing=finishing)
    assert seen["facts"] == 1  # the rebuild ran first
    if connection.vendor == "sqlite":
        assert seen["cache_size"] == -bulk.SQLITE_BULK_CACHE_KIB
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size")
            assert cursor.fetchone()[0] == -2000  # put back afterwards


def _derived_snapshot() -> dict[str, list]:
    from dealflow.deals.models import DealFact, DealGroupTotals, DealMonthlyTotals, StayFact

    def rows(model, skip: int = 0) -> list:
        names = [field.attname for field in model._meta.concrete_fields]
        return sorted(row[skip:] for row in model.objects.values_list(*names))

    return {
        "facts": rows(DealFact),
        "stays": rows(StayFact),
        "totals": rows(DealMonthlyTotals, skip=1),
        # the services leave groups they brought back to zero as rows of zeros; the rebuild has none
        "groups": [row for row in rows(DealGroupTotals, skip=1) if any(row[-3:])],
    }


@pytest.mark.django_db
@pytest.mark.parametrize("defer_indexes", [False, True])
def test_derived_rows_written_with_the_deals_equal_a_rebuild(rep, rep2, pipeline, rate_usd, defer_indexes):
    """derived_rows=True works out DealFact, StayFact and DealMonthlyTotals in memory; derived_rebuild()
    computes them in SQL from the deals, events and spells. Both give the same rows, next to deals the
    services wrote (their cells are added to, not replaced)."""
    from dealflow.deals.services.derived_rebuild import derived_rebuild

    with time_machine.travel(NOW, tick=False):
        _history_through_services(rep, rep2, pipeline)
        stage = {name: stage_named(name).pk for name in ["Qualification", "Needs analysis", "Proposal"]}
        existing_lead = services.lead_create(
            title="Older lead", source=lead_source("website"), owner=rep2, at=at(200)
        )
        written_lead = bulk.BulkLead(
            title="New lead",
            source_id=lead_source("trade_show").pk,
            owner_id=rep.pk,
            created_at=at(90),
            status="converted",
            closed_at=at(80),
        )
        deals = [
            bulk.BulkDeal(
                title="From the lead",
                owner_id=rep.pk,
                pipeline_id=pipeline.pk,
                stage_id=stage["Qualification"],
                created_at=at(80),
                amount_minor=50000,
                lead=written_lead,
                steps=[
                    bulk.Update(at=at(79), changes={"expected_close_on": dt.date(2026, 2, 1)}),
                    bulk.Update(at=at(78), changes={"expected_close_on": dt.date(2026, 3, 1)}),
                    bulk.Update(at=at(77), changes={"expected_close_on": dt.date(2026, 2, 20)}),
                    bulk.Move(at=at(70), stage_id=stage["Proposal"]),
                    bulk.Move(at=at(60), stage_id=stage["Needs analysis"]),
                    bulk.Won(at=at(40, 23), schedule_follow_up=False),
                ],
            ),
            bulk.BulkDeal(
                title="Lost and back",
                owner_id=rep2.pk,
                pipeline_id=pipeline.pk,
                stage_id=stage["Proposal"],
                created_at=at(50),
                amount_minor=700,
                currency="USD",
                lead=bulk.BulkLead(
                    title="",
                    source_id=existing_lead.source_id,
                    owner_id=rep2.pk,
                    created_at=at(200),
                    id=existing_lead.pk,
                ),
                steps=[
                    bulk.Lost(at=at(30), reason_id=lost_reason("Price").pk),
                    bulk.Reopen(at=at(20)),
                    bulk.Update(at=at(19), changes={"owner_id": rep.pk}),
                ],
            ),
            bulk.BulkDeal(
                title="Still open",
                owner_id=rep.pk,
                pipeline_id=pipeline.pk,
                stage_id=stage["Needs analysis"],
                created_at=at(10),
            ),
        ]
        with bulk.BulkWriter(derived_rows=True, defer_indexes=defer_indexes) as writer:
            writer.write(leads=[written_lead], deals=deals[:1])
            writer.write(deals=deals[1:])
    written = _derived_snapshot()
    assert len(written["facts"]) == 5 and len(written["stays"]) > 10
    derived_rebuild()
    assert _derived_snapshot() == written
