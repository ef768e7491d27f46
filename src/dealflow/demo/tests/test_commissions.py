"""The demo's commission data: a plan for reps, last quarter paid, this quarter in draft, a contest."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from dealflow.commissions.models import Contest, Statement
from dealflow.core.periods import period_containing
from dealflow.demo.generate import demo_generate

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 20)


def test_demo_commissions_statements_and_contest():
    demo_generate(deals=80, seed=3, months=6, today=TODAY, progress=False, stdout=io.StringIO())
    current = period_containing(TODAY, kind="quarter")
    statuses = set(
        Statement.objects.filter(period_key=current.previous().key).values_list("status", flat=True)
    )
    assert statuses == {"paid"}
    assert set(Statement.objects.filter(period_key=current.key).values_list("status", flat=True)) == {"draft"}
    assert Contest.objects.count() == 1
    paid_total = sum(
        Statement.objects.filter(period_key=current.previous().key).values_list("total_minor", flat=True)
    )
    assert paid_total > 0
