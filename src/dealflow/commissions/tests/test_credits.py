"""The kept credits (CreditEntry): what the writers keep in step equals what credits_rebuild() computes."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from decimal import Decimal

import pytest

from dealflow.commissions.models import CreditEntry
from dealflow.commissions.services import splits
from dealflow.commissions.services.credits import credits_rebuild
from dealflow.commissions.tests.factories import at, won_deal
from dealflow.core.errors import ApplicationError
from dealflow.deals import services
from dealflow.deals.models import Deal, ExchangeRate
from dealflow.deals.services import exchange_rate_delete, exchange_rate_set, trash
from dealflow.deals.services.bulk_update import DealUpdateBatch
from dealflow.deals.tests.factories import DealFactory, lost_reason

pytestmark = pytest.mark.django_db
START = dt.datetime(2025, 1, 6, 9, 0, tzinfo=dt.UTC)


def kept() -> list[tuple]:
    columns = [field.attname for field in CreditEntry._meta.concrete_fields if field.attname != "id"]
    return sorted(CreditEntry.objects.values_list(*columns))


def test_a_win_an_owner_change_a_split_and_the_trash_keep_the_rows(rep, rep2, manager):
    deal = won_deal(rep, "1000", dt.date(2026, 11, 10), title="Acme")
    assert [(row.user_id, row.credit_minor, row.title) for row in CreditEntry.objects.all()] == [
        (rep.pk, 100_000, "Acme")
    ]
    # Handed over before the win (backdated): the credit moves to the owner then.
    services.deal_update(deal=deal, by=manager, data={"owner": rep2}, at=at(dt.date(2026, 11, 1)))
    assert list(CreditEntry.objects.values_list("user_id", flat=True)) == [rep2.pk]
    splits.deal_split_set(
        deal=deal, shares=[(rep, "70"), (rep2, "30")], by=manager, at=at(dt.date(2026, 11, 5))
    )
    assert sorted(CreditEntry.objects.values_list("user_id", "credit_minor", "share_percent")) == sorted(
        [(rep.pk, 70_000, Decimal("70.00")), (rep2.pk, 30_000, Decimal("30.00"))]
    )
    services.deal_update(deal=deal, by=manager, data={"title": "Acme renamed"})
    assert set(CreditEntry.objects.values_list("title", flat=True)) == {"Acme renamed"}
    trash.deal_delete(deal=deal, by=manager)
    assert not CreditEntry.objects.exists()
    trash.deal_restore(deal=Deal.all_objects.get(pk=deal.pk), by=manager)
    assert CreditEntry.objects.count() == 2


def test_a_rate_set_later_recredits_the_wins_it_applies_to(rep):
    exchange_rate_set(currency="USD", rate=Decimal("0.9"), valid_from=dt.date(2026, 1, 1))
    won_deal(rep, "1000", dt.date(2026, 11, 10), currency="USD")
    assert list(CreditEntry.objects.values_list("credit_minor", flat=True)) == [90_000]
    exchange_rate_set(
        currency="USD", rate=Decimal("0.5"), valid_from=dt.date(2026, 11, 11)
    )  # after: no effect
    assert list(CreditEntry.objects.values_list("credit_minor", flat=True)) == [90_000]
    rate = exchange_rate_set(currency="USD", rate=Decimal("0.8"), valid_from=dt.date(2026, 11, 1))
    assert list(CreditEntry.objects.values_list("credit_minor", flat=True)) == [80_000]
    exchange_rate_delete(exchange_rate=rate)
    assert list(CreditEntry.objects.values_list("credit_minor", flat=True)) == [90_000]


@pytest.mark.parametrize("seed", [20261206, 19, 7])
def test_random_histories_keep_the_rows_a_rebuild_computes(seed, rep, rep2, manager, outsider, pipeline):
    """Wins, losses, reopens, owner changes (some backdated, some through the automation batch), splits
    (some backdated), renames, trash and restore, exchange rates set and removed, three currencies, in random
    order: the rows the writers keep equal a rebuild's."""
    randomness = random.Random(seed)
    exchange_rate_set(currency="USD", rate=Decimal("0.9"), valid_from=dt.date(2024, 1, 1))
    exchange_rate_set(currency="JPY", rate=Decimal("0.0061"), valid_from=dt.date(2024, 1, 1))
    open_stages = list(pipeline.stages.filter(kind="open").order_by("order"))
    people = [rep, rep2, manager, outsider]
    deals: list[Deal] = []
    for _number in range(20):
        moment = START + dt.timedelta(days=randomness.randint(0, 300), hours=randomness.randint(0, 23))
        deal = DealFactory(
            owner=randomness.choice(people),
            amount=Decimal(randomness.randint(1, 900) * 100),
            currency=randomness.choice(["EUR", "USD", "JPY"]),
            stage=randomness.choice(open_stages[:2]),
            at=moment,
        )
        deals.append(deal)
        for _step in range(randomness.randint(2, 9)):
            moment += dt.timedelta(days=randomness.randint(0, 30), hours=randomness.randint(0, 12))
            deal = Deal.all_objects.get(pk=deal.pk)
            action = randomness.random()
            if deal.deleted_at is not None:
                trash.deal_restore(deal=deal, by=manager, at=moment)
            elif deal.is_open and action < 0.35:
                services.deal_mark_won(deal=deal, by=rep, at=moment, schedule_follow_up=False)
            elif deal.is_open and action < 0.42:
                services.deal_mark_lost(deal=deal, reason=lost_reason(), by=rep, at=moment)
            elif not deal.is_open and action < 0.5:
                services.deal_reopen(deal=deal, by=rep, at=moment)
            elif action < 0.6:
                back = moment - dt.timedelta(days=randomness.choice([0, 0, 20, 90]))
                services.deal_update(
                    deal=deal, by=manager, at=back, data={"owner": randomness.choice(people)}
                )
            elif action < 0.68:
                batch = DealUpdateBatch()
                batch.add(deal=deal, by=manager, at=moment, data={"owner": randomness.choice(people)})
                batch.write()
            elif action < 0.8:
                chosen = randomness.sample(people, randomness.randint(0, 3))
                shares = [Decimal(100) / len(chosen)] * len(chosen) if chosen else []
                if len(chosen) == 3:
                    shares = [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
                back = moment - dt.timedelta(days=randomness.choice([0, 0, 15, 60]))
                # A later split refuses a backdated one (ApplicationError): the history stays as it was.
                with contextlib.suppress(ApplicationError):
                    splits.deal_split_set(
                        deal=deal, shares=list(zip(chosen, shares, strict=True)), by=manager, at=back
                    )
            elif action < 0.85:
                services.deal_update(
                    deal=deal, by=rep, at=moment, data={"title": f"Renamed {randomness.randint(1, 99)}"}
                )
            elif action < 0.92:
                trash.deal_delete(deal=deal, by=manager, at=moment)
            else:
                currency = randomness.choice(["USD", "JPY"])
                day = (START + dt.timedelta(days=randomness.randint(-30, 420))).date()
                existing = ExchangeRate.objects.filter(currency=currency).exclude(
                    valid_from=dt.date(2024, 1, 1)
                )
                if existing and randomness.random() < 0.3:
                    exchange_rate_delete(exchange_rate=randomness.choice(list(existing)))
                else:
                    rate = Decimal(randomness.randint(50, 150)) / (100 if currency == "USD" else 10_000)
                    exchange_rate_set(currency=currency, rate=rate, valid_from=day)
    incremental = kept()
    assert len(incremental) >= 5
    assert len({row[2] for row in incremental}) >= 2  # several people credited
    credits_rebuild()
    assert kept() == incremental


def test_a_bulk_load_keeps_the_rows_a_rebuild_computes():
    """The bulk writer (demo, imports) calls back for every deal it wrote when it closes."""
    import io

    from dealflow.deals.models import DealEvent, EventKind
    from dealflow.demo.generate import demo_generate

    demo_generate(
        deals=120,
        seed=5,
        months=6,
        today=dt.date(2026, 11, 20),
        progress=False,
        stdout=io.StringIO(),
        optional_steps=False,
    )
    incremental = kept()
    live_wins = DealEvent.objects.filter(kind=EventKind.WON, deal__deleted_at__isnull=True).count()
    assert live_wins > 0
    assert len({row[0] for row in incremental}) == live_wins  # every live win credited
    credits_rebuild()
    assert kept() == incremental


# What the bulk writer's sampled ANALYZE wrote for the deals and their events after a 378,080-deal import
# (a 100 MB CSV; sqlite_stat1 of that database).
_LOADED_STATISTICS = [
    ("deals_deal", "deal_list_by_amount", "398475 4 1"),
    ("deals_deal", "deal_open_by_quiet", "145728 1 1 1 1 1 1 1 1"),
    ("deals_deal", "deal_stale_by_stage", "226800 1001 1001 1 1 1 1 1"),
    ("deals_deal", "deals_deal_created_at_0f522534", "370840 2"),
    ("deals_deal", "deals_deal_created_on_bd945507", "346032 334"),
    ("deals_deal", "deals_deal_deleted_by_id_14f946a7", "336226 1001"),
    ("deals_deal", "deals_deal_externa_c7a403_idx", "394400 1001 1"),
    ("deals_deal", "deals_deal_lost_reason_id_7d0fafb6", "329680 1001"),
    ("deals_deal", "deals_deal_organization_id_af237672", "345240 20"),
    ("deals_deal", "deals_deal_owner_i_c64307_idx", "381936 1001 1001"),
    ("deals_deal", "deals_deal_owner_id_2f09ac61", "399066 1001"),
    ("deals_deal", "deals_deal_parent_id_cdcdc473", "336226 1001"),
    ("deals_deal", "deals_deal_person_id_403d41f7", "354384 143"),
    ("deals_deal", "deals_deal_pipelin_617ad9_idx", "341136 1001 1001 1001"),
    ("deals_deal", "deals_deal_pipeline_id_0cf5d68d", "336226 1001"),
    ("deals_deal", "deals_deal_source_id_7f010c48", "467226 1001"),
    ("deals_deal", "deals_deal_stage_id_0342b533", "467856 1001"),
    ("deals_deal", "deals_deal_status_5cdf84_idx", "249660 1001 51"),
    ("deals_deal", "deals_deal_status_a9ba05_idx", "349524 1001 27"),
    ("deals_deal", "deals_deal_team_id_94533c8a", "336226 1001"),
    ("deals_deal", "sqlite_autoindex_deals_deal_1", "293248 1001"),
    ("deals_dealevent", "deals_deale_deal_id_cea817_idx", "713400 2 1"),
    ("deals_dealevent", "deals_deale_kind_f0c062_idx", "553248 1001 1"),
    ("deals_dealevent", "deals_dealevent_actor_id_09eea84a", "672452 1001"),
    ("deals_dealevent", "deals_dealevent_deal_id_1654e502", "710736 2"),
    ("deals_dealevent", "deals_dealevent_from_stage_id_b5361642", "660628 1001"),
    ("deals_dealevent", "deals_dealevent_to_stage_id_5ee645c3", "648900 1001"),
]


def test_the_won_events_of_a_range_of_deals_are_read_along_the_deal_index(rep):
    # With those statistics (about 1,000 events under each kind) SQLite read every WON event of the database
    # through the (kind, occurred_at) index for each step of deals of the credits.
    from django.db import connection
    from django.db.models import Q

    from dealflow.commissions.services.credits import _won

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's planner and its sampled statistics")
    won_deal(rep, "1000", dt.date(2026, 3, 2))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        indexes = {name for (name,) in cursor.fetchall()}
        assert {"deals_deale_kind_f0c062_idx", "deals_deale_deal_id_cea817_idx"} <= indexes
        cursor.execute("DELETE FROM sqlite_stat1 WHERE tbl IN ('deals_deal', 'deals_dealevent')")
        cursor.executemany(
            "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (%s, %s, %s)",
            [row for row in _LOADED_STATISTICS if row[1] in indexes],
        )
        cursor.execute("ANALYZE sqlite_schema")  # the planner reloads sqlite_stat1
        sql, params = _won(Q(deal_id__gte=1, deal_id__lte=100_000)).query.sql_with_params()
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "deals_deale_deal_id_cea817_idx" in plan and "deals_deale_kind_f0c062_idx" not in plan, plan
