"""The rules of the deal lifecycle, tested through the services (GUIDE.md: services hold the rules)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction

from dealflow.core.errors import ApplicationError, ConflictError
from dealflow.deals import services
from dealflow.deals.models import Activity, Deal, DealEvent, DealStatus, SpellExit, StageSpell
from dealflow.deals.services import history as deal_history
from dealflow.deals.tests.factories import DealFactory, default_pipeline, lost_reason, stage_named

AMSTERDAM = dt.timezone(dt.timedelta(hours=1))
MONDAY = dt.datetime(2026, 3, 2, 10, 0, tzinfo=AMSTERDAM)


def kinds(deal: Deal) -> list[str]:
    return list(DealEvent.objects.filter(deal=deal).order_by("id").values_list("kind", flat=True))


def spells(deal: Deal) -> list[tuple[str, str]]:
    return [
        (spell.stage.name, spell.exit_kind)
        for spell in StageSpell.objects.filter(deal=deal).select_related("stage").order_by("id")
    ]


def fresh(deal: Deal) -> Deal:
    return Deal.objects.select_related("stage").get(pk=deal.pk)


# --- create ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_records_the_creation_and_opens_a_spell_in_the_first_open_stage(rep):
    deal = DealFactory(owner=rep, amount=Decimal("1200.50"), currency="usd")
    assert (deal.stage.name, deal.status, deal.version) == ("Qualification", "open", 1)
    assert (deal.amount_minor, deal.currency) == (120050, "USD")
    event = DealEvent.objects.get(deal=deal)
    assert (event.kind, event.to_stage, event.actor, event.amount_minor) == (
        "created",
        deal.stage,
        rep,
        120050,
    )
    assert spells(deal) == [("Qualification", "")]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": Decimal("-0.01")}, "amount"),
        ({"amount": "ten"}, "amount"),
        ({"currency": "EURO"}, "currency"),
        ({"title": "   "}, "title"),
        ({"probability_override": 101}, "probability_override"),
        ({"forecast_category_override": "closed"}, "forecast_category_override"),
        ({"expected_close_on": "2026-02-30"}, "expected_close_on"),
    ],
)
def test_create_refuses_bad_input_naming_the_field(rep, overrides, field):
    with pytest.raises(ApplicationError) as error:
        DealFactory(owner=rep, **overrides)
    assert error.value.field == field
    assert not Deal.objects.exists()


@pytest.mark.django_db
def test_create_refuses_a_closed_stage_or_a_stage_of_another_pipeline(rep):
    other = services.pipeline_create(name="Renewals")
    with pytest.raises(ApplicationError, match="open stage"):
        DealFactory(owner=rep, stage=stage_named("Won"))
    with pytest.raises(ApplicationError, match="open stage"):
        DealFactory(owner=rep, pipeline=default_pipeline(), stage=stage_named("Proposal", other))
    assert not DealEvent.objects.exists()


@pytest.mark.django_db
def test_amount_is_never_negative_even_past_the_services(rep):
    deal = DealFactory(owner=rep)
    with pytest.raises(IntegrityError), transaction.atomic():
        Deal.objects.filter(pk=deal.pk).update(amount_minor=-1)


# --- move --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_move_records_the_stage_change_and_closes_the_spell_with_its_duration(rep):
    with time_machine.travel(MONDAY, tick=False):
        deal = DealFactory(owner=rep)
    with time_machine.travel(MONDAY + dt.timedelta(days=3, hours=12), tick=False):
        services.deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep, origin="api")
    with time_machine.travel(MONDAY + dt.timedelta(days=5), tick=False):
        services.deal_move_to_stage(deal=deal, stage=stage_named("Needs analysis"), by=rep)
    event = DealEvent.objects.filter(deal=deal, kind="stage_changed").order_by("id").first()
    assert (event.from_value, event.to_value, event.origin) == ("Qualification", "Proposal", "api")
    assert event.occurred_at == MONDAY + dt.timedelta(days=3, hours=12)
    assert spells(deal) == [("Qualification", "forward"), ("Proposal", "back"), ("Needs analysis", "")]
    assert StageSpell.objects.filter(deal=deal).order_by("id").first().duration_days == 3.5
    assert fresh(deal).version == 3


@pytest.mark.django_db
def test_a_deal_moves_only_within_its_own_pipeline_and_to_open_active_stages(rep):
    other = services.pipeline_create(name="Renewals")
    retired = services.stage_create(pipeline=default_pipeline(), name="Legal review")
    services.stage_deactivate(stage=retired)
    deal = DealFactory(owner=rep)
    for stage in (stage_named("Proposal", other), stage_named("Won"), stage_named("Lost"), retired):
        with pytest.raises(ApplicationError) as error:
            services.deal_move_to_stage(deal=deal, stage=stage, by=rep)
        assert error.value.field == "stage"
    with pytest.raises(ApplicationError, match="already in"):
        services.deal_move_to_stage(deal=deal, stage=stage_named("Qualification"), by=rep)
    assert kinds(deal) == ["created"]
    assert fresh(deal).version == 1


@pytest.mark.django_db
def test_a_closed_deal_does_not_move_until_reopened(rep):
    deal = DealFactory(owner=rep)
    services.deal_mark_won(deal=deal, by=rep)
    with pytest.raises(ApplicationError, match="reopen"):
        services.deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep)


# --- won / lost only through the services ------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["status", "stage", "won_at", "version", "lost_reason"])
def test_status_and_stage_change_only_through_their_services(rep, field):
    deal = DealFactory(owner=rep)
    with pytest.raises(ApplicationError) as error:
        services.deal_update(deal=deal, by=rep, data={field: "won"})
    assert error.value.field == field
    assert fresh(deal).status == "open"


@pytest.mark.django_db
def test_won_stores_cycle_days_and_schedules_the_post_sale_follow_up(rep):
    with time_machine.travel(MONDAY, tick=False):
        deal = DealFactory(owner=rep, amount=Decimal("5000"))
    closing = MONDAY + dt.timedelta(days=45)
    with time_machine.travel(closing, tick=False):
        services.deal_mark_won(deal=deal, by=rep, origin="api")
    deal = fresh(deal)
    assert (deal.status, deal.stage.name, deal.won_at, deal.closed_on) == (
        "won",
        "Won",
        closing,
        closing.date(),
    )
    assert (deal.cycle_days, deal.amount_base_minor, deal.probability) == (45, 500000, 100)
    assert kinds(deal) == ["created", "won"]
    assert spells(deal) == [("Qualification", SpellExit.WON)]
    follow_up = Activity.objects.get(deal=deal)
    assert (follow_up.owner, follow_up.origin, follow_up.done_at) == (rep, "post_sale", None)
    assert follow_up.due_at == closing + dt.timedelta(days=14)


@pytest.mark.django_db
def test_winning_twice_is_refused(rep):
    deal = DealFactory(owner=rep)
    services.deal_mark_won(deal=deal, by=rep)
    with pytest.raises(ApplicationError, match="Only an open deal"):
        services.deal_mark_won(deal=deal, by=rep)
    assert kinds(deal) == ["created", "won"]
    assert Activity.objects.filter(deal=deal).count() == 1


@pytest.mark.django_db
def test_lost_needs_an_active_reason(rep):
    deal = DealFactory(owner=rep)
    with pytest.raises(ApplicationError) as error:
        services.deal_mark_lost(deal=deal, reason=None, by=rep)
    assert error.value.field == "reason"
    retired = services.lost_reason_update(reason=lost_reason("Timing"), data={"is_active": False})
    with pytest.raises(ApplicationError, match="retired"):
        services.deal_mark_lost(deal=deal, reason=retired, by=rep)
    assert fresh(deal).status == "open"
    assert kinds(deal) == ["created"]

    services.deal_mark_lost(deal=deal, reason=lost_reason("Price"), by=rep, note="Too expensive")
    deal = fresh(deal)
    assert (deal.status, deal.stage.name, deal.lost_reason.name, deal.lost_note) == (
        "lost",
        "Lost",
        "Price",
        "Too expensive",
    )
    assert DealEvent.objects.get(deal=deal, kind="lost").to_value == "Price"
    assert not Activity.objects.filter(deal=deal).exists()


@pytest.mark.django_db
def test_the_database_refuses_a_lost_deal_without_reason(rep):
    deal = DealFactory(owner=rep)
    with pytest.raises(IntegrityError), transaction.atomic():
        Deal.objects.filter(pk=deal.pk).update(status=DealStatus.LOST)


# --- reopen ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_reopen_is_explicit_and_returns_to_the_last_open_stage(rep):
    deal = DealFactory(owner=rep)
    services.deal_move_to_stage(deal=deal, stage=stage_named("Negotiation"), by=rep)
    with pytest.raises(ApplicationError, match="already open"):
        services.deal_reopen(deal=deal, by=rep)
    services.deal_mark_lost(deal=deal, reason=lost_reason(), by=rep)
    services.deal_reopen(deal=deal, by=rep, note="They called back")
    deal = fresh(deal)
    assert (deal.status, deal.stage.name, deal.lost_reason, deal.closed_on, deal.cycle_days) == (
        "open",
        "Negotiation",
        None,
        None,
        None,
    )
    assert deal.amount_base_minor is None and deal.lost_at is None
    assert kinds(deal) == ["created", "stage_changed", "lost", "reopened"]
    reopened = DealEvent.objects.get(deal=deal, kind="reopened")
    assert (reopened.from_value, reopened.to_value, reopened.note) == (
        "lost",
        "Negotiation",
        "They called back",
    )
    assert spells(deal) == [("Qualification", "forward"), ("Negotiation", "lost"), ("Negotiation", "")]


@pytest.mark.django_db
def test_reopen_into_a_chosen_stage_must_be_open_and_of_the_same_pipeline(rep):
    other = services.pipeline_create(name="Renewals")
    deal = DealFactory(owner=rep)
    services.deal_mark_won(deal=deal, by=rep)
    for stage in (stage_named("Lost"), stage_named("Proposal", other)):
        with pytest.raises(ApplicationError, match="open stage"):
            services.deal_reopen(deal=deal, by=rep, stage=stage)
    services.deal_reopen(deal=deal, by=rep, stage=stage_named("Closing"))
    assert fresh(deal).stage.name == "Closing"


# --- history and transactions ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_full_walk_leaves_one_event_per_change(rep, manager):
    deal = DealFactory(owner=rep, amount=Decimal("1000"))
    services.deal_update(
        deal=deal,
        by=rep,
        data={"amount": Decimal("1500"), "expected_close_on": dt.date(2026, 6, 30), "title": "Bigger"},
    )
    services.deal_update(deal=deal, by=manager, data={"owner": manager, "probability_override": 60})
    services.deal_update(deal=deal, by=rep, data={"forecast_category_override": "commit"})
    services.deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep)
    services.deal_mark_lost(deal=deal, reason=lost_reason(), by=rep)
    services.deal_reopen(deal=deal, by=rep)
    services.deal_mark_won(deal=deal, by=rep)
    assert kinds(deal) == [
        "created",
        "amount_changed",
        "close_date_changed",
        "owner_changed",
        "probability_changed",
        "category_changed",
        "stage_changed",
        "lost",
        "reopened",
        "won",
    ]
    amount = DealEvent.objects.get(deal=deal, kind="amount_changed")
    assert (amount.from_value, amount.to_value, amount.amount_minor) == ("1000.00 EUR", "1500.00 EUR", 150000)
    owner = DealEvent.objects.get(deal=deal, kind="owner_changed")
    assert (owner.from_value, owner.to_value, owner.actor) == (str(rep.pk), str(manager.pk), manager)
    assert fresh(deal).version == 8  # created 1, three edits, move, lost, reopen, won


@pytest.mark.django_db
def test_a_title_edit_bumps_the_version_without_an_event(rep):
    deal = DealFactory(owner=rep)
    services.deal_update(deal=deal, by=rep, data={"title": "Renamed", "next_step": "Call"})
    assert (fresh(deal).title, fresh(deal).version) == ("Renamed", 2)
    assert kinds(deal) == ["created"]


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["move", "won", "lost", "update"])
def test_a_failing_event_write_rolls_the_change_back(rep, monkeypatch, action):
    deal = DealFactory(owner=rep)

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(deal_history, "event_write", broken)
    with pytest.raises(RuntimeError):
        if action == "move":
            services.deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep)
        elif action == "won":
            services.deal_mark_won(deal=deal, by=rep)
        elif action == "lost":
            services.deal_mark_lost(deal=deal, reason=lost_reason(), by=rep)
        else:
            services.deal_update(deal=deal, by=rep, data={"amount": Decimal("5")})
    stored = fresh(deal)
    assert (stored.stage.name, stored.status, stored.version, stored.amount_minor) == (
        "Qualification",
        "open",
        1,
        100000,
    )
    assert spells(stored) == [("Qualification", "")]
    assert not Activity.objects.exists()


# --- optimistic concurrency --------------------------------------------------------------------


@pytest.mark.django_db
def test_a_stale_version_is_refused_and_changes_nothing(rep):
    deal = DealFactory(owner=rep)
    mine, theirs = fresh(deal), fresh(deal)
    services.deal_update(deal=theirs, by=rep, data={"amount": Decimal("2000")}, expected_version=1)
    with pytest.raises(ConflictError) as error:
        services.deal_update(deal=mine, by=rep, data={"amount": Decimal("3000")}, expected_version=1)
    assert error.value.status_code == 409
    assert error.value.as_dict()["current_version"] == 2
    with pytest.raises(ConflictError):
        services.deal_move_to_stage(deal=mine, stage=stage_named("Proposal"), by=rep)
    with pytest.raises(ConflictError):
        services.deal_mark_won(deal=mine, by=rep)
    stored = fresh(deal)
    assert (stored.amount_minor, stored.version, stored.stage.name) == (200000, 2, "Qualification")
    assert kinds(deal) == ["created", "amount_changed"]
    assert spells(deal) == [("Qualification", "")]


@pytest.mark.django_db
def test_a_stale_version_is_refused_even_when_nothing_would_change(rep):
    deal = DealFactory(owner=rep)
    services.deal_update(deal=deal, by=rep, data={"title": "Second"})
    with pytest.raises(ConflictError):
        services.deal_update(deal=fresh(deal), by=rep, data={"title": "Second"}, expected_version=1)


# --- money -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_closing_converts_at_the_rate_valid_on_the_close_date(rep):
    services.exchange_rate_set(currency="USD", rate=Decimal("0.9"), valid_from=dt.date(2026, 1, 1))
    services.exchange_rate_set(currency="USD", rate=Decimal("0.8"), valid_from=dt.date(2026, 6, 1))
    services.exchange_rate_set(currency="JPY", rate=Decimal("0.0062"), valid_from=dt.date(2026, 1, 1))
    early, late, yen = (
        DealFactory(owner=rep, amount=Decimal("1000.00"), currency=code) for code in ["USD", "USD", "JPY"]
    )
    services.deal_mark_won(deal=early, by=rep, at=dt.datetime(2026, 5, 31, 12, tzinfo=AMSTERDAM))
    services.deal_mark_won(deal=late, by=rep, at=dt.datetime(2026, 6, 1, 12, tzinfo=AMSTERDAM))
    services.deal_mark_lost(
        deal=yen, reason=lost_reason(), by=rep, at=dt.datetime(2026, 3, 1, tzinfo=AMSTERDAM)
    )
    # 1000 USD x 0.9 = 900.00 EUR; x 0.8 = 800.00 EUR; 1000 JPY x 0.0062 = 6.20 EUR.
    assert [fresh(deal).amount_base_minor for deal in (early, late, yen)] == [90000, 80000, 620]


@pytest.mark.django_db
def test_an_amount_changed_after_closing_moves_the_closed_value_at_the_close_date_rate(rep):
    services.exchange_rate_set(currency="USD", rate=Decimal("0.5"), valid_from=dt.date(2020, 1, 1))
    deal = DealFactory(owner=rep, amount=Decimal("100"), currency="USD")
    services.deal_mark_won(deal=deal, by=rep, at=dt.datetime(2026, 2, 1, tzinfo=AMSTERDAM))
    services.exchange_rate_set(currency="USD", rate=Decimal("2"), valid_from=dt.date(2026, 3, 1))
    services.deal_update(deal=deal, by=rep, data={"amount": Decimal("300")})
    assert fresh(deal).amount_base_minor == 15000  # 300 x 0.5 (February's rate), not 300 x 2


@pytest.mark.django_db
def test_a_currency_change_keeps_the_amount(rep):
    deal = DealFactory(owner=rep, amount=Decimal("1234.56"), currency="EUR")
    services.deal_update(deal=deal, by=rep, data={"currency": "JPY"})
    assert (fresh(deal).amount_minor, fresh(deal).currency) == (1235, "JPY")
    event = DealEvent.objects.get(deal=deal, kind="amount_changed")
    assert (event.from_value, event.to_value) == ("1234.56 EUR", "1235 JPY")


@pytest.mark.django_db
def test_closing_without_a_rate_for_the_currency_is_refused(rep):
    deal = DealFactory(owner=rep, currency="CHF")
    with pytest.raises(ApplicationError) as error:
        services.deal_mark_won(deal=deal, by=rep)
    assert error.value.field == "currency"
    assert fresh(deal).status == "open"
    assert kinds(deal) == ["created"]


@pytest.mark.django_db
def test_a_retired_pipeline_takes_no_new_deals(rep):
    other = services.pipeline_create(name="Renewals")
    services.pipeline_deactivate(pipeline=other)
    with pytest.raises(ApplicationError) as error:
        DealFactory(owner=rep, pipeline=other)
    assert error.value.field == "pipeline"
