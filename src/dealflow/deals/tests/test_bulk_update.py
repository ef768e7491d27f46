"""DealUpdateBatch writes exactly what deal_update writes one call at a time, for the same changes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction

from dealflow.core.errors import ApplicationError, ConflictError
from dealflow.deals import services
from dealflow.deals.models import (
    Deal,
    DealEvent,
    DealFact,
    DealGroupTotals,
    DealMonthlyTotals,
    StayFact,
)
from dealflow.deals.services.bulk_update import DealUpdateBatch
from dealflow.deals.services.derived import derived_rebuild
from dealflow.deals.tests.factories import DealFactory, lost_reason, stage_named
from dealflow.search.models import SearchEntry

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _world(rep, rep2, pipeline) -> list[int]:
    """Five deals with a history: open ones in two stages, a won one in USD, a lost one."""
    with time_machine.travel(NOW - dt.timedelta(days=40), tick=False):
        deals = [
            DealFactory(owner=rep, title="Acme rollout", amount=Decimal("1200"), pipeline=pipeline),
            DealFactory(owner=rep, title="Beta pilot", amount=Decimal("300"), pipeline=pipeline),
            DealFactory(owner=rep2, title="Gamma renewal", amount=Decimal("800"), currency="USD"),
            DealFactory(owner=rep, title="Delta", amount=Decimal("50")),
            DealFactory(owner=rep2, title="Epsilon", amount=Decimal("75")),
        ]
        services.deal_update(deal=deals[0], by=rep, data={"expected_close_on": dt.date(2026, 3, 10)})
    with time_machine.travel(NOW - dt.timedelta(days=20), tick=False):
        services.deal_move_to_stage(deal=deals[1], stage=stage_named("Proposal"), by=rep)
        services.deal_mark_won(deal=deals[2], by=rep2, schedule_follow_up=False)
        services.deal_mark_lost(deal=deals[3], reason=lost_reason("Price"), by=rep)
    return [deal.pk for deal in deals]


def _changes(rep, rep2) -> list[tuple[int, dict]]:
    """(deal position, data) in the order a batch meets them; some deals change twice, one not at all."""
    return [
        (0, {"next_step": "Review: above 1000"}),
        (1, {"forecast_category_override": "commit"}),
        (0, {"expected_close_on": dt.date(2026, 4, 30)}),  # pushed later: a close-date push
        (2, {"amount": Decimal("900")}),  # a won deal: its closed value in EUR moves too
        (1, {"owner": rep2}),  # facts, stays and group totals change owner
        (3, {"title": "Delta (lost to price)"}),  # the search entry follows
        (0, {"next_step": "Review: above 1000"}),  # the same value again: no change, no version
        (4, {"next_step": "Call back", "probability_override": 40}),
        (0, {"owner": rep2, "title": "Acme rollout, phase 2"}),
    ]


def _snapshot(deal_ids: list[int]) -> dict[str, list]:
    """Every row both paths write, without ids (deals named by position)."""
    position = {deal_id: index for index, deal_id in enumerate(deal_ids)}

    def rows(model, *, skip=("id",)) -> list:
        names = [field.attname for field in model._meta.concrete_fields if field.attname not in skip]
        result = []
        for row in model.objects.values(*names):
            for name in ("deal_id", "object_id"):
                if name in row and row[name] in position:
                    row[name] = position[row[name]]
            result.append(row)
        return sorted(result, key=lambda row: [str(value) for value in row.values()])

    deals = [
        {name: value for name, value in row.items() if name != "id"}
        for row in Deal.all_objects.filter(pk__in=deal_ids).order_by("pk").values()
    ]
    return {
        "deals": deals,
        # in the order written: a deal's events keep their order
        "events": [
            {
                **{name: value for name, value in row.items() if name != "id"},
                "deal_id": position[row["deal_id"]],
            }
            for row in DealEvent.objects.filter(deal_id__in=deal_ids).order_by("pk").values()
        ],
        "facts": rows(DealFact, skip=()),
        "stays": rows(StayFact, skip=()),
        "totals": rows(DealMonthlyTotals),
        # the services leave groups they brought back to zero as rows of zeros
        "groups": [row for row in rows(DealGroupTotals) if any((row["count"], row["amount_minor"]))],
        "search": rows(SearchEntry),
    }


def _fresh(deal_ids: list[int]) -> list[Deal]:
    deals = Deal.objects.select_related("owner", "stage").in_bulk(deal_ids)
    return [deals[deal_id] for deal_id in deal_ids]


@pytest.mark.django_db
def test_a_batch_writes_what_deal_update_writes_one_at_a_time(rep, rep2, pipeline, rate_usd):
    deal_ids = _world(rep, rep2, pipeline)
    changes = _changes(rep, rep2)
    snapshots = {}
    with time_machine.travel(NOW, tick=False):
        for path in ("one at a time", "batch"):
            savepoint = transaction.savepoint()
            deals = _fresh(deal_ids)
            if path == "batch":
                batch = DealUpdateBatch()
                for index, data in changes:
                    batch.add(deal=deals[index], by=None, data=data, origin="rule:7", note="Rule: test")
                assert batch.write() == 5
            else:
                for index, data in changes:
                    services.deal_update(
                        deal=deals[index], by=None, data=data, origin="rule:7", note="Rule: test"
                    )
            snapshots[path] = _snapshot(deal_ids)
            if path == "batch":
                # and the derived tables equal a rebuild from the deals, events and spells
                derived_rebuild()
                rebuilt = _snapshot(deal_ids)
                for name in ("facts", "stays", "totals", "groups"):
                    assert rebuilt[name] == snapshots[path][name], name
            transaction.savepoint_rollback(savepoint)

    one, batch_rows = snapshots["one at a time"], snapshots["batch"]
    assert batch_rows == one
    # worked out by hand: deal 0 changed 3 times (the repeat is no change), deal 1 twice, 2, 3, 4 once
    assert [deal["version"] for deal in one["deals"]] == [2 + 3, 2 + 2, 2 + 1, 2 + 1, 1 + 1]
    new_events = [event for event in one["events"] if event["origin"] == "rule:7"]
    assert [(event["deal_id"], event["kind"]) for event in new_events] == [
        (1, "category_changed"),
        (0, "close_date_changed"),
        (2, "amount_changed"),
        (1, "owner_changed"),
        (4, "probability_changed"),
        (0, "owner_changed"),
    ]
    won = one["deals"][2]
    assert won["amount_minor"] == 90000 and won["amount_base_minor"] == 81000  # 900 USD at 0.9
    assert {fact["deal_id"]: fact["close_date_pushes"] for fact in one["facts"]}[0] == 1


@pytest.mark.django_db
def test_a_batch_refuses_what_deal_update_refuses_when_it_is_added(rep, pipeline):
    deal = DealFactory(owner=rep)
    batch = DealUpdateBatch()
    with pytest.raises(ApplicationError) as refused:
        batch.add(deal=deal, by=None, data={"forecast_category_override": "certain"})
    with pytest.raises(ApplicationError) as refused_too:
        services.deal_update(deal=deal, by=None, data={"forecast_category_override": "certain"})
    assert refused.value.message == refused_too.value.message
    assert len(batch) == 0 and batch.write() == 0


@pytest.mark.django_db
def test_a_batch_refuses_a_deal_changed_since_it_was_read_and_writes_nothing(rep, pipeline):
    first, second = DealFactory(owner=rep), DealFactory(owner=rep)
    events = DealEvent.objects.count()
    batch = DealUpdateBatch()
    batch.add(deal=first, by=None, data={"next_step": "Call"})
    batch.add(deal=second, by=None, data={"probability_override": 30})
    services.deal_update(deal=Deal.objects.get(pk=second.pk), by=rep, data={"next_step": "Mine"})
    with pytest.raises(ConflictError) as conflict, transaction.atomic():
        batch.write()
    assert conflict.value.extra["deal_ids"] == [second.pk]
    assert Deal.objects.get(pk=first.pk).next_step == ""
    assert Deal.objects.get(pk=second.pk).probability_override is None
    assert DealEvent.objects.count() == events
