"""Leaderboards, contests, badges, the statement PDF in the person's language, and the property that no
credit exists without a won event."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dealflow.commissions import exports, insights
from dealflow.commissions.models import Badge, Contest, LineKind, StatementLine
from dealflow.commissions.services import gamification, statements
from dealflow.commissions.tests.factories import at, plan_for, reopen, won_deal
from dealflow.core.periods import parse_period
from dealflow.deals import services as deal_services
from dealflow.deals.models import DealEvent, EventKind
from dealflow.deals.tests.factories import DealFactory, lost_reason

pytestmark = pytest.mark.django_db
Q4 = parse_period("2026-Q4")


def test_attainment_and_activity_leaderboards(rep, rep2, manager):
    from dealflow.deals.services import activity_create
    from dealflow.forecasting.services import quota_set

    quota_set(by=manager, period="2026-Q4", amount=Decimal("4000"), user=rep)
    quota_set(by=manager, period="2026-Q4", amount=Decimal("1000"), user=rep2)
    won_deal(rep, "3000", dt.date(2026, 10, 3))
    won_deal(rep2, "1000", dt.date(2026, 10, 4))
    board = insights.leaderboard_for_user(user=rep, measure="attainment", period=Q4)
    assert [(row.name, row.value, row.rank) for row in board if row.value is not None] == [
        ("Ruud Tweede", Decimal("100.00"), 1),
        ("Rita Rep", Decimal("75.00"), 2),
    ]
    for subject in ("a", "b"):
        activity = activity_create(owner=rep, subject=subject, by=rep)
        deal_services.activity_complete(activity=activity, by=rep, at=at(dt.date(2026, 11, 5)))
    board = insights.leaderboard_for_user(user=rep, measure="activities", period=Q4)
    assert board[0].name == "Rita Rep" and board[0].value >= 2


def test_leaderboard_off_is_a_404_except_for_admins(rep, admin_user):
    from django.http import Http404

    gamification.settings_set(leaderboard_visibility="off", by=admin_user)
    with pytest.raises(Http404):
        insights.leaderboard_for_user(user=rep, measure="won_revenue", period=Q4)
    assert insights.leaderboard_for_user(user=admin_user, measure="won_revenue", period=Q4) is not None


def test_team_contest_progress_and_result(rep, rep2, team, admin_user):
    from django.http import Http404

    won_deal(rep, "3000", dt.date(2026, 10, 3))
    won_deal(rep2, "2500", dt.date(2026, 10, 4))
    won_deal(rep2, "9999", dt.date(2026, 12, 1))  # after the contest
    contest = gamification.contest_create(
        name="October",
        measure="won_revenue",
        starts_on=dt.date(2026, 10, 1),
        ends_on=dt.date(2026, 10, 31),
        target="5000",
        prize="Dinner",
        is_for_teams=True,
        team=team,
        by=admin_user,
    )
    rows = insights.contest_progress(contest=contest)
    assert [(row.name, row.value, row.share_percent, row.has_reached) for row in rows] == [
        ("Benelux", 550_000, Decimal("110.0"), True)
    ]
    with pytest.raises(Http404):  # contests are the admins'
        gamification.contest_create(
            name="x",
            measure="activities",
            starts_on=dt.date(2026, 1, 1),
            ends_on=dt.date(2026, 1, 2),
            target="1",
            by=rep,
        )
    assert Contest.objects.count() == 1


def test_badges_first_deal_quota_and_awarding_twice_adds_none(rep, rep2, manager):
    from dealflow.forecasting.services import quota_set

    plan_for(rep)
    quota_set(by=manager, period="2026-Q4", amount=Decimal("1000"), user=rep)
    won_deal(rep, "1000", dt.date(2026, 10, 3))
    statements.statement_recompute(user=rep, period=Q4)
    first = gamification.badges_award(today=dt.date(2026, 11, 1))
    again = gamification.badges_award(today=dt.date(2026, 11, 1))
    kinds = set(Badge.objects.filter(user=rep).values_list("kind", "key"))
    assert {("first_deal", ""), ("quota_reached", "2026-Q4")} <= kinds
    assert first >= 2 and again == 0
    assert not Badge.objects.filter(user=rep2, kind="first_deal").exists()


def test_statement_pdf_in_the_persons_language(rep, manager):
    plan_for(rep)
    won_deal(rep, "1234.50", dt.date(2026, 10, 3), title="Acme BV")
    rep.language = "nl"
    rep.save()
    statement = statements.statement_recompute(user=rep, period=Q4)
    html = exports.statement_html(statement=statement)
    assert "Commissieafrekening" in html and "€ 123,45" in html  # Dutch words and number format
    assert exports.pdf_from_html(html)[:4] == b"%PDF"


def test_payroll_csv_neutralises_formulas(rep):
    plan_for(rep)
    rep.first_name = "=HYPERLINK(1)"
    rep.save()
    statement = statements.statement_recompute(user=rep, period=Q4)
    assert "'=HYPERLINK(1)" in exports.payroll_csv(statements=[statement])


actions = st.lists(st.sampled_from(["win", "lose", "reopen", "nothing"]), min_size=1, max_size=4)


@settings(
    derandomize=True,
    deadline=None,
    max_examples=12,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(histories=st.lists(actions, min_size=1, max_size=4))
def test_property_no_credit_without_a_won_event(rep, histories):
    from dealflow.commissions.models import PlanAssignment

    if not PlanAssignment.objects.filter(user=rep).exists():
        plan_for(rep, name="Property plan")
    day = dt.date(2026, 10, 1)
    for history in histories:
        deal = DealFactory(owner=rep, amount=Decimal("100"), at=at(day))
        for step, action in enumerate(history, start=1):
            moment = at(day + dt.timedelta(days=step))
            if action == "win" and deal.is_open:
                deal_services.deal_mark_won(deal=deal, by=rep, at=moment, schedule_follow_up=False)
            elif action == "lose" and deal.is_open:
                deal_services.deal_mark_lost(deal=deal, reason=lost_reason(), by=rep, at=moment)
            elif action == "reopen" and not deal.is_open:
                deal_services.deal_reopen(deal=deal, by=rep, at=moment)
    statement = statements.statement_recompute(user=rep, period=Q4)
    won_events = set(DealEvent.objects.filter(kind=EventKind.WON).values_list("id", flat=True))
    credit_lines = StatementLine.objects.filter(statement=statement, kind=LineKind.CREDIT)
    assert {line.source_event_id for line in credit_lines} == won_events
    assert statement.total_minor == sum(statement.lines.values_list("commission_minor", flat=True))
    again = statements.statement_recompute(user=rep, period=Q4)
    assert again.total_minor == statement.total_minor


def test_reopened_then_lost_is_clawed_back_once(rep):
    plan_for(rep, clawback_days=30)
    deal = won_deal(rep, "1000", dt.date(2026, 10, 1))
    reopen(deal, dt.date(2026, 10, 5))
    deal_services.deal_mark_lost(deal=deal, reason=lost_reason(), by=rep, at=at(dt.date(2026, 10, 6)))
    kinds = list(
        statements.statement_recompute(user=rep, period=Q4).lines.values_list("kind", "commission_minor")
    )
    assert kinds == [("credit", 10_000), ("clawback", -10_000)]
