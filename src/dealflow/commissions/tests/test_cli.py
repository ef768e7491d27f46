"""`dealflow commissions statements --period 2026-Q4 --format csv|json` and `dealflow commissions recompute`."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from django.core.management import call_command

from dealflow.commissions.tests.factories import plan_for, won_deal
from dealflow.core.errors import ApplicationError

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("commissions", *args, stdout=out)
    return out.getvalue()


def test_recompute_then_statements_as_json_and_csv(rep, admin_user):
    plan_for(rep)
    won_deal(rep, "2500", dt.date(2026, 11, 2))
    assert "2026-Q4: 1 drafts recomputed, 0 approved or paid kept." in run("recompute", "--period", "2026-Q4")
    rows = json.loads(run("statements", "--period", "2026-Q4", "--format", "json"))
    assert [(row["username"], row["credited"], row["total"]) for row in rows] == [
        ("rep", "2500.00", "250.00")
    ]
    table = list(csv.DictReader(io.StringIO(run("statements", "--period", "2026-Q4", "--format", "csv"))))
    assert table[0]["total"] == "250.00" and table[0]["status"] == "draft"


def test_bad_period_names_the_field(admin_user):
    with pytest.raises(ApplicationError) as error:
        run("statements", "--period", "2026-13")
    assert error.value.field == "period"
