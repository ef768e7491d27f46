"""Commission pages: an admin creates a tiered plan, the rep sees earnings and what-if, the manager
recomputes, adjusts, approves and exports; Dutch pages; 404 for others' statements."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from dealflow.commissions.models import CommissionPlan, Statement
from dealflow.commissions.tests.factories import won_deal
from dealflow.deals.tests.factories import DealFactory
from dealflow.forecasting.services import quota_set

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@time_machine.travel(NOW, tick=False)
def test_admin_plan_rep_earnings_manager_workflow(admin_user, rep, manager, outsider, team):
    admin = client_for(admin_user)
    created = admin.post(
        reverse("web:commission_plans"),
        {
            "name": "Tiered",
            "period_kind": "quarter",
            "base_rate_percent": "0",
            "tier_mode": "marginal",
            "tiers": "0 : 5\n100 : 10",
            "clawback_days": "90",
        },
    )
    plan = CommissionPlan.objects.get(name="Tiered")
    assert created.status_code == 302
    assert [(tier.from_percent, tier.rate_percent) for tier in plan.tiers.all()] == [(0, 5), (100, 10)]
    admin.post(
        reverse("web:commission_plan", args=[plan.pk]),
        {"action": "assign", "team": team.pk, "effective_from": "2026-01-01"},
    )
    assert plan.assignments.count() == 1
    quota_set(by=manager, period="2026-Q4", amount=Decimal("10000"), user=rep)
    won_deal(rep, "8000", dt.date(2026, 11, 2), title="Acme")
    open_deal = DealFactory(owner=rep, amount=Decimal("4000"), title="Initech")
    page = client_for(rep).get(reverse("web:commission_earnings"))
    body = page.content.decode()
    assert page.status_code == 200
    assert "€400.00" in body  # 8,000 x 5 %
    assert "€2,000.00" in body  # to tier 2: 10,000 - 8,000
    what_if = client_for(rep).get(reverse("web:commission_what_if", args=[open_deal.pk])).content.decode()
    assert "€300.00" in what_if  # 2,000 at 5 % + 2,000 at 10 %
    boss = client_for(manager)
    boss.post(reverse("web:commission_recompute"), {"period": "2026-Q4"})
    statement = Statement.objects.get(user=rep, period_key="2026-Q4")
    assert (
        client_for(outsider).get(reverse("web:commission_statement", args=[statement.pk])).status_code == 404
    )
    boss.post(
        reverse("web:commission_statement_action", args=[statement.pk, "adjust"]),
        {"amount": "-25", "reason": "Shared lead"},
    )
    boss.post(reverse("web:commission_statement_action", args=[statement.pk, "approve"]))
    statement.refresh_from_db()
    assert (statement.status, statement.total_minor) == ("approved", 37_500)
    exported = boss.get(
        reverse("web:commission_payroll", args=["csv"]), {"period": "2026-Q4"}
    ).content.decode()
    assert "rep,rep@example.com,2026-Q4,approved,EUR,10000.00,8000.00,80.00,400.00,-25.00,375.00" in exported
    plan_page = admin.get(reverse("web:commission_plan", args=[plan.pk]), {"period": "2026-Q4"})
    assert plan_page.status_code == 200 and "€400.00" in plan_page.content.decode()


@time_machine.travel(NOW, tick=False)
def test_pages_render_in_dutch(rep, manager):
    rep.language = "nl"
    rep.save()
    client = client_for(rep)
    assert "Mijn verdiensten" in client.get(reverse("web:commission_earnings")).content.decode()
    assert client.get(reverse("web:commission_leaderboard")).status_code == 200
    assert client.get(reverse("web:commission_statements")).status_code == 200
    assert client.get(reverse("web:commission_plans")).status_code == 404  # admins only


def test_split_set_on_the_deal_page_with_its_history(rep, rep2, manager, outsider):
    deal = DealFactory(owner=rep, amount=Decimal("1000"), title="Shared")
    boss = client_for(manager)
    boss.post(
        reverse("web:commission_deal_split", args=[deal.pk]),
        {"user": [rep.pk, rep2.pk, ""], "share": ["70", "30", ""], "note": "Joint pitch"},
    )
    bad = boss.post(
        reverse("web:commission_deal_split", args=[deal.pk]), {"user": [rep.pk], "share": ["90"]}, follow=True
    )
    assert "add up to 100" in bad.content.decode()
    panel = client_for(rep).get(reverse("web:commission_what_if", args=[deal.pk])).content.decode()
    assert "Rita Rep: 70 %" in panel and "Ruud Tweede: 30 %" in panel and "Joint pitch" in panel
    assert (
        client_for(outsider).post(reverse("web:commission_deal_split", args=[deal.pk]), {}).status_code == 404
    )


@time_machine.travel(NOW, tick=False)
def test_board_cards_show_the_what_if_once_the_rep_switches_it_on(rep):
    from dealflow.commissions.tests.factories import plan_for

    plan_for(rep)
    deal = DealFactory(owner=rep, amount=Decimal("2500"), currency="EUR")
    client = client_for(rep)
    assert reverse("web:commission_board_what_if") in client.get(reverse("web:home")).content.decode()
    assert "board-what-if" not in client.get(reverse("web:commission_board_what_if")).content.decode()
    client.post(
        reverse("web:commission_leaderboard"), {"is_board_what_if_on": "on", "is_celebration_on": "on"}
    )
    data = client.get(reverse("web:commission_board_what_if")).content.decode()
    assert f'<li data-deal="{deal.pk}">' in data
    assert "Winning this adds €250.00" in data  # EUR 2,500 x 10 %
    assert "board_what_if.js" in data


@time_machine.travel(NOW, tick=False)
def test_statement_page_shows_its_lines_a_page_at_a_time(rep, monkeypatch):
    """A long statement's page stays small: its lines come a page at a time, the totals on every page."""
    from dealflow.commissions.services import statements
    from dealflow.commissions.tests.factories import plan_for
    from dealflow.core.periods import parse_period
    from dealflow.web.views import commissions as views

    monkeypatch.setattr(views, "STATEMENT_LINES_PAGE", 2)
    plan_for(rep)
    for day, title in ((3, "Alpha"), (4, "Bravo"), (5, "Charlie")):
        won_deal(rep, "1000", dt.date(2026, 10, day), title=title)
    statement = statements.statement_recompute(user=rep, period=parse_period("2026-Q4"))
    client = client_for(rep)
    url = reverse("web:commission_statement", args=[statement.pk])
    first = client.get(url).content.decode()
    second = client.get(url, {"page": "2"}).content.decode()
    assert "Alpha" in first and "Bravo" in first and "Charlie" not in first
    assert "Charlie" in second and "Alpha" not in second
    assert "Page 1 of 2" in first and 'href="?page=2"' in first and "Page 2 of 2" in second
    for page in (first, second):
        assert "€300.00" in page  # the total (3 x 1,000 at 10 %) on every page
    junk = client.get(url, {"page": "junk"})  # not a number: the first page
    assert junk.status_code == 200 and "Alpha" in junk.content.decode()
    beyond = client.get(url, {"page": "99"})  # past the end: the last page
    assert beyond.status_code == 200 and "Charlie" in beyond.content.decode()
