"""/api/v1/commissions: an admin's plan, a rep's earnings and what-if, a manager's approval and payroll
export, disputes, leaderboards; 404 for what a user may not see."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine

from dealflow.commissions.tests.factories import won_deal
from dealflow.deals.tests.factories import DealFactory
from dealflow.forecasting.services import quota_set

pytestmark = pytest.mark.django_db
TODAY = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


@pytest.fixture
def plan(api_as, admin_user, rep, team):
    admin = api_as(admin_user)
    response = admin.post(
        "/commissions/plans",
        {
            "name": "AE plan",
            "tier_mode": "marginal",
            "base_rate_percent": "0",
            "tiers": [
                {"from_percent": "0", "rate_percent": "5"},
                {"from_percent": "100", "rate_percent": "10"},
            ],
        },
    )
    assert response.status_code == 201, response.data
    assigned = admin.post(
        f"/commissions/plans/{response.data['id']}/assignments",
        {"team_id": team.pk, "effective_from": "2026-01-01"},
    )
    assert assigned.status_code == 201, assigned.data
    return response.data


@time_machine.travel(TODAY, tick=False)
def test_rep_earnings_next_tier_and_what_if(api_as, plan, rep, manager):
    quota_set(by=manager, period="2026-Q4", amount=Decimal("10000"), user=rep)
    won_deal(rep, "6000", dt.date(2026, 11, 2), title="Won")
    open_deal = DealFactory(owner=rep, amount=Decimal("6000"), title="Open")
    me = api_as(rep)
    earnings = me.get("/commissions/earnings").data
    assert earnings["period"] == "2026-Q4"
    assert (earnings["credited"], earnings["commission"], earnings["attainment_percent"]) == (
        "6000.00",
        "300.00",
        "60",
    )
    assert earnings["next_tier"] == {
        "tier": 2,
        "from_percent": "100",
        "rate_percent": "10",
        "credit_needed": "4000.00",
    }
    # Winning the open EUR 6,000 now: 4,000 at 5 % + 2,000 at 10 % = 400.
    assert me.get(f"/commissions/deals/{open_deal.pk}/what-if").data["adds"] == "400.00"


@time_machine.travel(TODAY, tick=False)
def test_manager_recomputes_approves_and_exports_payroll(api_as, plan, rep, manager, outsider):
    won_deal(rep, "1000", dt.date(2026, 11, 2), title="Won")
    boss = api_as(manager)
    computed = boss.post("/commissions/statements/recompute", {"period": "2026-Q4"})
    assert computed.status_code == 200, computed.data
    mine = next(row for row in computed.data if row["user_id"] == rep.pk)
    assert mine["total"] == "50.00"
    assert api_as(outsider).get(f"/commissions/statements/{mine['id']}").status_code == 404
    assert api_as(rep).post(f"/commissions/statements/{mine['id']}/approve").status_code == 403
    approved = boss.post(f"/commissions/statements/{mine['id']}/approve")
    assert approved.data["status"] == "approved"
    assert (
        boss.post(
            f"/commissions/statements/{mine['id']}/adjustments", {"amount": "5", "reason": "x"}
        ).status_code
        == 409
    )
    exported = boss.client.get("/api/v1/commissions/payroll", {"period": "2026-Q4", "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert [(row["username"], row["status"], row["total"]) for row in rows if row["username"] == "rep"] == [
        ("rep", "approved", "50.00")
    ]
    xlsx = boss.client.get("/api/v1/commissions/payroll", {"period": "2026-Q4", "format": "xlsx"})
    assert xlsx.content[:2] == b"PK"


@time_machine.travel(TODAY, tick=False)
def test_dispute_resolved_into_an_adjustment(api_as, plan, rep, manager):
    won_deal(rep, "1000", dt.date(2026, 11, 2), title="Won")
    statement = (
        api_as(manager)
        .post("/commissions/statements/recompute", {"period": "2026-Q4", "person_ids": [rep.pk]})
        .data[0]
    )
    line_id = api_as(rep).get(f"/commissions/statements/{statement['id']}").data["lines"][0]["id"]
    opened = api_as(rep).post(
        f"/commissions/statements/{statement['id']}/disputes",
        {"line_id": line_id, "body": "Split with Ruud?"},
    )
    assert opened.status_code == 201, opened.data
    assert (
        api_as(manager).post(f"/commissions/statements/{statement['id']}/approve").status_code == 400
    )  # open dispute
    resolved = api_as(manager).post(
        f"/commissions/disputes/{opened.data['id']}/resolve",
        {"note": "Agreed, EUR 20 more", "adjustment": "20"},
    )
    assert resolved.data["status"] == "adjusted"
    assert api_as(rep).get(f"/commissions/statements/{statement['id']}").data["total"] == "70.00"


def test_plans_are_for_admins_and_bad_input_names_the_field(api_as, admin_user, rep):
    assert api_as(rep).get("/commissions/plans").status_code == 404
    bad = api_as(admin_user).post("/commissions/plans", {"name": "X", "base_rate_percent": "abc"})
    assert bad.status_code == 400 and bad.data["field"] == "base_rate_percent"
    bad_period = api_as(rep).get("/commissions/earnings", period="2026-Q9")
    assert bad_period.status_code == 400 and bad_period.data["field"] == "period"


@time_machine.travel(TODAY, tick=False)
def test_leaderboard_ranks_and_respects_the_opt_out(api_as, plan, rep, rep2, manager, outsider):
    won_deal(rep, "1000", dt.date(2026, 11, 2))
    won_deal(rep2, "3000", dt.date(2026, 11, 3))
    board = api_as(rep).get("/commissions/leaderboard", measure="won_revenue").data
    assert [(row["name"], row["value"], row["rank"]) for row in board["rows"]][:2] == [
        ("Ruud Tweede", "3000.00", 1),
        ("Rita Rep", "1000.00", 2),
    ]
    assert "Otto Outsider" not in [row["name"] for row in board["rows"]]  # team-only by default
    api_as(rep2).put("/commissions/preferences", {"is_leaderboard_opt_out": True})
    board = api_as(rep).get("/commissions/leaderboard", measure="won_revenue").data
    assert "Ruud Tweede" not in [row["name"] for row in board["rows"]]
