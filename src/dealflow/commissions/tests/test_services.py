"""Statements from the deal history, worked out by hand (see docs/commissions.md for the same examples)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dealflow.accounts.models import Role
from dealflow.commissions.models import LineKind, Statement, StatementStatus
from dealflow.commissions.services import splits, statements
from dealflow.commissions.services.plans import PlanInput, plan_assign, plan_create
from dealflow.commissions.tests.factories import at, plan_for, reopen, won_deal
from dealflow.core.errors import ApplicationError, ConflictError, PermissionDeniedError
from dealflow.core.periods import parse_period
from dealflow.deals import services as deal_services
from dealflow.deals.models import Deal
from dealflow.deals.services import exchange_rate_set
from dealflow.forecasting.services import quota_set

Q4 = parse_period("2026-Q4")
Q1 = parse_period("2027-Q1")
pytestmark = pytest.mark.django_db


def lines(statement: Statement) -> list[tuple[str, str, int, int]]:
    return [
        (line.kind, line.deal_title, line.credit_minor, line.commission_minor)
        for line in statement.lines.order_by("position", "id")
    ]


def test_credit_goes_to_the_owner_when_won_not_to_todays_owner(rep, rep2, manager):
    plan_for(rep)
    plan_for(rep2, name="Other")
    deal = won_deal(rep, "10000", dt.date(2026, 11, 10), title="Acme")
    deal_services.deal_update(deal=deal, by=manager, data={"owner": rep2}, at=at(dt.date(2026, 11, 20)))
    rita, ruud = statements.statements_recompute(period=Q4, user_ids=[rep.pk, rep2.pk])
    assert lines(rita) == [("credit", "Acme", 1_000_000, 100_000)]  # EUR 10,000 x 10 % = 1,000
    assert lines(ruud) == []
    assert rita.total_minor == 100_000


def test_split_at_won_time_shares_the_credit_and_a_later_split_changes_nothing(rep, rep2, manager):
    plan_for(rep)
    team_plan = plan_create(data=PlanInput(name="Team plan", base_rate_percent="5"), by=None)
    plan_assign(plan=team_plan, role=Role.REP, effective_from=dt.date(2026, 1, 1), by=None)
    deal = won_deal(rep, "10000", dt.date(2026, 11, 10), title="Split deal")
    # The split was set before the win (backdated), then changed after it.
    splits.deal_split_set(
        deal=deal, shares=[(rep, "60"), (rep2, "40")], by=manager, at=at(dt.date(2026, 11, 1))
    )
    splits.deal_split_set(deal=deal, shares=[(rep2, "100")], by=manager, at=at(dt.date(2026, 11, 15)))
    rita, ruud = statements.statements_recompute(period=Q4, user_ids=[rep.pk, rep2.pk])
    assert lines(rita) == [("credit", "Split deal", 600_000, 60_000)]  # 6,000 at Rita's own 10 %
    assert lines(ruud) == [("credit", "Split deal", 400_000, 20_000)]  # 4,000 at the rep role's 5 %


def test_split_shares_must_add_up_to_100(rep, rep2, manager):
    deal = won_deal(rep, "100", dt.date(2026, 11, 10))
    with pytest.raises(ApplicationError) as error:
        splits.deal_split_set(deal=deal, shares=[(rep, "60"), (rep2, "30")], by=manager)
    assert error.value.field == "shares"


def test_foreign_currency_converted_at_the_close_date_rate(rep):
    plan_for(rep)
    exchange_rate_set(currency="USD", rate=Decimal("0.9"), valid_from=dt.date(2026, 1, 1))
    won_deal(rep, "10000", dt.date(2026, 11, 10), currency="USD", title="Dollars")
    exchange_rate_set(
        currency="USD", rate=Decimal("0.5"), valid_from=dt.date(2026, 11, 11)
    )  # later: no effect
    statement = statements.statement_recompute(user=rep, period=Q4)
    assert lines(statement) == [("credit", "Dollars", 900_000, 90_000)]  # USD 10,000 x 0.9 = EUR 9,000


def test_tiers_with_quota_marginal(rep, manager):
    plan_for(rep, tier_mode="marginal", tiers=[("0", "5"), ("50", "8"), ("100", "12")])
    quota_set(by=manager, period="2026-Q4", amount=Decimal("100000"), user=rep)
    won_deal(rep, "40000", dt.date(2026, 10, 5), title="One")
    won_deal(rep, "30000", dt.date(2026, 11, 5), title="Two")
    won_deal(rep, "40000", dt.date(2026, 12, 5), title="Three")
    statement = statements.statement_recompute(user=rep, period=Q4)
    assert [line[3] for line in lines(statement)] == [200_000, 210_000, 360_000]
    assert statement.total_minor == 770_000
    assert statement.attainment_percent == Decimal("110.00")


def test_clawback_lands_in_the_next_open_period_and_the_paid_period_never_changes(rep, manager):
    plan_for(rep, clawback_days=30)
    deal = won_deal(rep, "20000", dt.date(2026, 12, 20), title="Churned")
    q4 = statements.statement_recompute(user=rep, period=Q4)
    statements.statement_approve(statement=q4, by=manager)
    statements.statement_mark_paid(statement=q4, by=manager)
    before = lines(q4)
    reopen(deal, dt.date(2027, 1, 5))  # 16 days after the win: inside the window
    q4_again = statements.statement_recompute(user=rep, period=Q4)
    q1 = statements.statement_recompute(user=rep, period=Q1)
    assert lines(q4_again) == before == [("credit", "Churned", 2_000_000, 200_000)]
    assert q4_again.status == StatementStatus.PAID
    assert lines(q1) == [("clawback", "Churned", -2_000_000, -200_000)]
    assert q1.total_minor == -200_000


def test_reopen_after_the_clawback_window_claws_nothing_back(rep):
    plan_for(rep, clawback_days=30)
    deal = won_deal(rep, "20000", dt.date(2026, 12, 1))
    reopen(deal, dt.date(2027, 1, 1))  # 31 days later
    assert lines(statements.statement_recompute(user=rep, period=Q1)) == []


def test_clawback_in_the_same_open_period_shows_both_lines(rep):
    plan_for(rep, clawback_days=30)
    deal = won_deal(rep, "1000", dt.date(2026, 11, 1), title="Back")
    reopen(deal, dt.date(2026, 11, 3))
    statement = statements.statement_recompute(user=rep, period=Q4)
    assert lines(statement) == [("credit", "Back", 100_000, 10_000), ("clawback", "Back", -100_000, -10_000)]
    assert statement.total_minor == 0


def test_late_win_dated_in_an_approved_period_moves_to_the_next_open_one(rep, manager):
    plan_for(rep)
    q4 = statements.statement_recompute(user=rep, period=Q4)
    statements.statement_approve(statement=q4, by=manager)
    won_deal(rep, "5000", dt.date(2026, 12, 30), title="Late")  # recorded after Q4 was approved
    assert lines(statements.statement_recompute(user=rep, period=Q4)) == []
    assert lines(statements.statement_recompute(user=rep, period=Q1)) == [("credit", "Late", 500_000, 50_000)]


def test_adjustments_survive_recompute_and_approval_freezes_the_lines(rep, manager, outsider):
    plan_for(rep)
    won_deal(rep, "1000", dt.date(2026, 11, 1), title="Small")
    statement = statements.statement_recompute(user=rep, period=Q4)
    with pytest.raises(PermissionDeniedError):
        statements.statement_adjust(statement=statement, amount_minor=5_000, reason="x", by=outsider)
    with pytest.raises(PermissionDeniedError):
        statements.statement_approve(statement=statement, by=rep)  # nobody approves their own
    with pytest.raises(ApplicationError):
        statements.statement_adjust(statement=statement, amount_minor=5_000, reason=" ", by=manager)
    statements.statement_adjust(
        statement=statement, amount_minor=5_000, reason="Onboarding bonus", by=manager
    )
    statement = statements.statement_recompute(user=rep, period=Q4)
    assert [line[0] for line in lines(statement)] == ["credit", "adjustment"]
    assert statement.total_minor == 15_000
    statements.statement_approve(statement=statement, by=manager)
    won_deal(rep, "1000", dt.date(2026, 11, 2))
    assert statements.statement_recompute(user=rep, period=Q4).total_minor == 15_000
    with pytest.raises(ConflictError):
        statements.statement_adjust(statement=statement, amount_minor=1, reason="late", by=manager)
    with pytest.raises(ConflictError):
        statements.statement_approve(statement=statement, by=manager)


def test_every_workflow_step_is_audited(rep, manager):
    from dealflow.accounts.models import AuditEntry

    plan_for(rep)
    statement = statements.statement_recompute(user=rep, period=Q4)
    statements.statement_approve(statement=statement, by=manager)
    statements.statement_return_to_draft(statement=statement, by=manager, reason="Wrong quota")
    statement.refresh_from_db()
    statements.statement_approve(statement=statement, by=manager)
    statements.statement_mark_paid(statement=statement, by=manager)
    actions = list(
        AuditEntry.objects.filter(action__startswith="commissions.statement")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "commissions.statement_approved",
        "commissions.statement_returned",
        "commissions.statement_approved",
        "commissions.statement_paid",
    ]
    with pytest.raises(ConflictError):
        statements.statement_return_to_draft(statement=statement, by=manager, reason="too late")


def test_product_rate_reads_the_deals_current_lines_in_the_statement_and_the_what_if(rep):
    from dealflow.commissions import insights
    from dealflow.deals.tests.factories import DealFactory
    from dealflow.products.tests.factories import ProductFactory

    seat = ProductFactory(name="Seat", prices={"EUR": "4000.00"})
    setup = ProductFactory(name="Setup", prices={"EUR": "6000.00"})
    plan_for(rep, rules=[{"kind": "product", "product_id": seat.pk, "rate_percent": "20"}])
    won, open_deal = (
        DealFactory(owner=rep, currency="EUR", title=title, at=at(dt.date(2026, 11, 1)))
        for title in ("Won", "Open")
    )
    for deal in (won, open_deal):
        deal_services.deal_lines_set(deal=deal, lines=[{"product": seat}, {"product": setup}], by=rep)
    won.refresh_from_db()
    deal_services.deal_mark_won(deal=won, by=rep, at=at(dt.date(2026, 11, 10)), schedule_follow_up=False)
    (statement,) = statements.statements_recompute(period=Q4, user_ids=[rep.pk])
    # EUR 4,000 of seats at the product rate 20 % = 800, the EUR 6,000 setup at the base 10 % = 600.
    assert lines(statement) == [("credit", "Won", 1_000_000, 140_000)]
    open_deal.refresh_from_db()
    adds = insights.what_if_for_deals(user=rep, deals=[open_deal], today=dt.date(2026, 11, 20))
    assert adds == {open_deal.pk: 140_000}  # the same rule on the open deal's current lines


def test_board_what_if_only_when_switched_on_and_only_for_deals_crediting_the_user(rep, rep2):
    from dealflow.commissions import insights
    from dealflow.commissions.services.gamification import preference_set
    from dealflow.deals.tests.factories import DealFactory

    plan_for(rep)
    mine = DealFactory(owner=rep, amount=Decimal("2500"), currency="EUR")
    DealFactory(owner=rep2, amount=Decimal("9000"), currency="EUR")
    assert insights.board_what_if_for_user(user=rep, today=dt.date(2026, 11, 20)) == {}
    preference_set(user=rep, is_board_what_if_on=True)
    # EUR 2,500 x 10 % = 250; the other rep's deal would credit someone else.
    assert insights.board_what_if_for_user(user=rep, today=dt.date(2026, 11, 20)) == {mine.pk: 25_000}


def test_a_deal_in_the_trash_earns_nothing_until_it_is_restored(rep, manager):
    from dealflow.deals.services.trash import deal_delete, deal_restore

    plan_for(rep)
    won_deal(rep, "10000", dt.date(2026, 11, 10), title="Kept")
    trashed = won_deal(rep, "4000", dt.date(2026, 11, 12), title="Trashed")
    deal_delete(deal=trashed, by=manager, at=at(dt.date(2026, 11, 20)))
    (statement,) = statements.statements_recompute(period=Q4, user_ids=[rep.pk])
    assert lines(statement) == [("credit", "Kept", 1_000_000, 100_000)]  # 10,000 x 10 %; the 4,000 earns 0
    deal_restore(deal=Deal.all_objects.get(pk=trashed.pk), by=manager, at=at(dt.date(2026, 11, 21)))
    (statement,) = statements.statements_recompute(period=Q4, user_ids=[rep.pk])
    assert statement.total_minor == 140_000  # back: 1,000 + 400


def test_recompute_keeps_unchanged_lines_and_rewrites_changed_ones(rep, manager):
    from dealflow.commissions.services.disputes import dispute_open

    plan_for(rep)
    won_deal(rep, "10000", dt.date(2026, 11, 10), title="Acme")
    (statement,) = statements.statements_recompute(period=Q4, user_ids=[rep.pk])
    line = statement.lines.get()
    dispute = dispute_open(statement=statement, line=line, body="Is this right?", by=rep)
    statements.statements_recompute(period=Q4)  # nothing changed: the line and the dispute's link stay
    dispute.refresh_from_db()
    assert dispute.line_id == line.pk
    won_deal(rep, "2000", dt.date(2026, 11, 12), title="Beta")
    (statement,) = statements.statements_recompute(period=Q4, user_ids=[rep.pk])
    assert lines(statement) == [("credit", "Acme", 1_000_000, 100_000), ("credit", "Beta", 200_000, 20_000)]
    dispute.refresh_from_db()
    assert dispute.line_id is None  # the lines were rewritten; the thread stays on the statement


def test_plan_assignment_precedence_and_overlap(rep, team):
    user_plan = plan_for(None, name="Personal")
    team_plan = plan_for(None, name="Team", base_rate_percent="7")
    plan_assign(plan=team_plan, team=team, effective_from=dt.date(2026, 1, 1), by=None)
    plan_assign(plan=user_plan, user=rep, effective_from=dt.date(2026, 12, 1), by=None)
    with pytest.raises(ApplicationError) as error:
        plan_assign(plan=team_plan, user=rep, effective_from=dt.date(2027, 1, 1), by=None)
    assert error.value.field == "effective_from"
    won_deal(rep, "1000", dt.date(2026, 11, 30), title="Team rate")
    won_deal(rep, "1000", dt.date(2026, 12, 1), title="Own rate")
    statement = statements.statement_recompute(user=rep, period=Q4)
    assert [line[3] for line in lines(statement)] == [7_000, 10_000]


def test_plan_validation_names_the_field():
    with pytest.raises(ApplicationError) as error:
        plan_create(data=PlanInput(name="Bad", tier_mode="marginal", tiers=[("10", "5")]), by=None)
    assert error.value.field == "tiers"
    with pytest.raises(ApplicationError) as error:
        plan_create(data=PlanInput(name="Bad", base_rate_percent="ten"), by=None)
    assert error.value.field == "base_rate_percent"


def test_recompute_twice_gives_the_same_statement(rep, rep2):
    plan_for(rep, tier_mode="retroactive", tiers=[("0", "5"), ("100", "10")])
    for day in (3, 9, 27):
        won_deal(rep, str(1000 * day), dt.date(2026, 10, day))
    first = lines(statements.statement_recompute(user=rep, period=Q4))
    second = lines(statements.statement_recompute(user=rep, period=Q4))
    assert first == second and len(first) == 3
    assert LineKind.CREDIT in {line[0] for line in first}


def test_rate_book_matches_the_deals_helper():
    from dealflow.commissions.selectors import RateBook
    from dealflow.deals.services.money import convert_minor_to_base

    exchange_rate_set(currency="USD", rate=Decimal("0.9"), valid_from=dt.date(2026, 3, 1))
    exchange_rate_set(currency="USD", rate=Decimal("0.95"), valid_from=dt.date(2026, 6, 1))
    exchange_rate_set(currency="JPY", rate=Decimal("0.0061"), valid_from=dt.date(2026, 1, 1))
    book = RateBook()
    for currency, amount in (("USD", 123_457), ("JPY", 1_500_001), ("EUR", 999)):
        for day in (dt.date(2025, 1, 1), dt.date(2026, 3, 1), dt.date(2026, 5, 31), dt.date(2026, 6, 1)):
            assert book.to_base(amount, currency, day) == convert_minor_to_base(
                amount_minor=amount, currency=currency, day=day
            ), (currency, day)


def test_the_bulk_paths_give_the_same_statements_as_the_small_ones(rep, rep2, manager, monkeypatch):
    """A quarter of many people reads the history by an id array and writes new statements by COPY on
    PostgreSQL (from CHUNK deals and COPY_FROM statements on); forced here with a few, the statements and
    their lines are the ones the small paths write, and the ones worked out by hand."""
    from dealflow.commissions import selectors

    plan_for(rep)
    plan_for(rep2, name="Other", base_rate_percent="5")
    exchange_rate_set(currency="USD", rate=Decimal("0.9"), valid_from=dt.date(2026, 1, 1))
    handed = won_deal(rep, "10000", dt.date(2026, 10, 5), title="Handed on later")
    deal_services.deal_update(deal=handed, by=manager, data={"owner": rep2}, at=at(dt.date(2026, 10, 20)))
    shared = won_deal(rep2, "5000", dt.date(2026, 11, 3), currency="USD", title="Shared")
    splits.deal_split_set(
        deal=shared, shares=[(rep, "25"), (rep2, "75")], by=manager, at=at(dt.date(2026, 11, 1))
    )
    won_deal(rep2, "2000", dt.date(2026, 12, 1), title="Own")

    def written() -> list[tuple[int, int, int, list[tuple[str, str, int, int]]]]:
        return [
            (statement.user_id, statement.credit_minor, statement.total_minor, lines(statement))
            for statement in Statement.objects.filter(period_key=Q4.key).order_by("user_id")
            if statement.user_id in (rep.pk, rep2.pk)
        ]

    statements.statements_recompute(period=Q4)
    small = written()
    Statement.objects.filter(period_key=Q4.key).delete()
    monkeypatch.setattr(selectors.periods, "CHUNK", 1)
    monkeypatch.setattr(statements, "COPY_FROM", 1)
    statements.statements_recompute(period=Q4)
    assert written() == small
    # Rita: the handed-on deal (won while hers) 10,000 at 10 % and a quarter of USD 5,000 x 0.9 = 1,125;
    # Ruud: three quarters of 4,500 = 3,375 and his own 2,000, at 5 %.
    assert small == [
        (
            rep.pk,
            1_112_500,
            111_250,
            [("credit", "Handed on later", 1_000_000, 100_000), ("credit", "Shared", 112_500, 11_250)],
        ),
        (
            rep2.pk,
            537_500,
            26_875,
            [("credit", "Shared", 337_500, 16_875), ("credit", "Own", 200_000, 10_000)],
        ),
    ]
    statements.statements_recompute(period=Q4)  # again, nothing changed: kept as they are
    assert written() == small


def test_product_lines_read_by_the_bulk_path_give_the_product_rate(rep, monkeypatch):
    from dealflow.commissions import selectors
    from dealflow.deals.tests.factories import DealFactory
    from dealflow.products.tests.factories import ProductFactory

    seat = ProductFactory(name="Seat", prices={"EUR": "4000.00"})
    setup = ProductFactory(name="Setup", prices={"EUR": "6000.00"})
    plan_for(rep, rules=[{"kind": "product", "product_id": seat.pk, "rate_percent": "20"}])
    won = DealFactory(owner=rep, currency="EUR", title="Won", at=at(dt.date(2026, 11, 1)))
    deal_services.deal_lines_set(deal=won, lines=[{"product": seat}, {"product": setup}], by=rep)
    won.refresh_from_db()
    deal_services.deal_mark_won(deal=won, by=rep, at=at(dt.date(2026, 11, 10)), schedule_follow_up=False)
    monkeypatch.setattr(selectors.periods, "CHUNK", 0)  # the history by id array (PostgreSQL) or subquery
    statements.statements_recompute(period=Q4)
    statement = Statement.objects.get(user=rep, period_key=Q4.key)
    # EUR 4,000 of seats at the product rate 20 % = 800, the EUR 6,000 setup at the base 10 % = 600.
    assert lines(statement) == [("credit", "Won", 1_000_000, 140_000)]
