"""The demo generator: deterministic for a seed, realistic in shape, loaded once by `dealflow run`."""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
import types

import pytest
from django.db.models import Count, Max

from dealflow.accounts.models import Role, User
from dealflow.deals.models import Activity, Deal, DealEvent, Lead, StageSpell
from dealflow.demo import generate
from dealflow.demo.world import DEMO_LOGINS, DEMO_PASSWORD

TODAY = dt.date(2026, 6, 30)


@pytest.fixture(autouse=True)
def no_optional_steps(monkeypatch):
    monkeypatch.setattr(generate, "OPTIONAL_STEPS", [])


def _generate(seed: int, deals: int = 240):
    """Run the demo and return a digest of the deals and events it added (ids left out)."""
    before = Deal.objects.aggregate(highest=Max("id"))["highest"] or 0
    generate.demo_generate(deals=deals, seed=seed, today=TODAY, progress=False, chunk_size=100)
    added = Deal.objects.filter(pk__gt=before)
    deal_rows = added.order_by("id").values_list(
        "title",
        "owner__username",
        "pipeline__name",
        "stage__name",
        "status",
        "amount_minor",
        "currency",
        "created_at",
        "expected_close_on",
        "closed_on",
        "cycle_days",
        "version",
        "lost_reason__name",
        "source__key",
        "lead__title",
        "last_activity_at",
    )
    event_rows = (
        DealEvent.objects.filter(deal__in=added)
        .order_by("deal_id", "occurred_at", "id")
        .values_list("kind", "from_value", "to_value", "occurred_at", "actor__username")
    )
    digest = hashlib.sha256(repr((list(deal_rows), list(event_rows))).encode()).hexdigest()
    return digest, added.count(), DealEvent.objects.filter(deal__in=added).count()


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_deals_and_events_and_another_seed_does_not():
    first, deals, events = _generate(seed=7)
    again, _, _ = _generate(seed=7)
    other, _, _ = _generate(seed=8)
    assert deals == 240 and events > 3 * deals
    assert first == again
    assert first != other


@pytest.mark.django_db
def test_the_demo_looks_like_a_sales_organisation():
    summary = generate.demo_generate(deals=600, seed=1, today=TODAY, progress=False, chunk_size=250)
    assert summary.counts.deals == Deal.objects.count() == 600
    assert summary.counts.events == DealEvent.objects.count()
    statuses = dict(Deal.objects.values_list("status").annotate(count=Count("id")))
    assert statuses["won"] > 60 and statuses["lost"] > 200 and statuses["open"] > 20
    assert {name for (name,) in Deal.objects.values_list("pipeline__name").distinct()} == {
        "Sales",
        "Partnerships",
    }
    assert {code for (code,) in Deal.objects.values_list("currency").distinct()} == {"EUR", "USD", "GBP"}
    assert Deal.objects.filter(status="lost", lost_reason__isnull=True).count() == 0
    kinds = set(DealEvent.objects.values_list("kind", flat=True))
    assert {"created", "stage_changed", "won", "lost", "close_date_changed", "amount_changed"} <= kinds
    assert DealEvent.objects.filter(occurred_at__gte=dt.datetime(2026, 6, 30, tzinfo=dt.UTC)).count() == 0
    first_created = Deal.objects.order_by("created_at").values_list("created_at", flat=True).first()
    assert dt.datetime(2024, 6, 29, tzinfo=dt.UTC) <= first_created < dt.datetime(2024, 8, 1, tzinfo=dt.UTC)
    assert StageSpell.objects.filter(exit_kind="back").exists()
    # Leads from every source, converted ones keep their source and creation date on the deal.
    assert Lead.objects.values("source").distinct().count() == 6
    assert {"converted", "disqualified", "new", "working", "qualified"} <= set(
        Lead.objects.values_list("status", flat=True)
    )
    assert Lead.objects.filter(status="disqualified", disqualified_reason="").count() == 0
    converted = Deal.objects.filter(lead__isnull=False).select_related("lead").first()
    assert (
        converted.source_id == converted.lead.source_id
        and converted.lead_created_at == converted.lead.created_at
    )
    # Activities of every kind, some planned, some overdue.
    assert set(Activity.objects.values_list("kind", flat=True)) == {
        "call",
        "meeting",
        "email",
        "task",
        "note",
    }
    horizon = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
    assert Activity.objects.filter(done_at__isnull=True, due_at__lt=horizon).exists()
    assert Activity.objects.filter(done_at__isnull=True, due_at__gte=horizon).exists()


@pytest.mark.django_db
def test_the_demo_logins_work_and_the_roles_are_set():
    generate.demo_generate(deals=30, seed=1, today=TODAY, progress=False)
    for username, _role in [*DEMO_LOGINS, ("analyst", "")]:
        assert User.objects.get(username=username).check_password(DEMO_PASSWORD)
    assert User.objects.get(username="admin").is_superuser
    assert User.objects.get(username="manager").memberships.get().role == Role.MANAGER
    assert User.objects.get(username="rep2").memberships.get().team.name == "Benelux"
    assert User.objects.get(username="analyst").memberships.get().role == Role.ANALYST
    assert User.objects.filter(memberships__role=Role.MANAGER).count() == 5


@pytest.mark.django_db
def test_dealflow_run_loads_the_demo_the_first_time_only():
    assert generate.demo_load_if_empty(deals=25, seed=2) is not None
    counts = (User.objects.count(), Deal.objects.count(), DealEvent.objects.count())
    assert counts[1] == 25
    assert generate.demo_load_if_empty(deals=25, seed=2) is None
    assert (User.objects.count(), Deal.objects.count(), DealEvent.objects.count()) == counts


@pytest.mark.django_db
def test_dealflow_run_loads_no_demo_into_a_database_with_users(rep):
    assert generate.demo_load_if_empty(deals=25) is None
    assert not Deal.objects.exists()


def test_optional_steps_run_the_modules_that_exist(monkeypatch, tmp_path):
    calls = []
    present = types.ModuleType("dealflow_test_demo_step")
    present.seed = lambda **kwargs: calls.append(kwargs)
    monkeypatch.setitem(sys.modules, "dealflow_test_demo_step", present)
    monkeypatch.setattr(
        generate, "OPTIONAL_STEPS", ["dealflow.demo.not_written_yet", "dealflow_test_demo_step"]
    )
    ran = generate.optional_steps_run(seed=5, today=TODAY, stdout=None)
    assert ran == ["dealflow_test_demo_step"]
    assert calls == [{"seed": 5, "today": TODAY, "stdout": None}]


def test_an_optional_step_that_fails_to_import_something_else_is_an_error(monkeypatch, tmp_path):
    (tmp_path / "dealflow_broken_demo_step.py").write_text("import a_package_nobody_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(generate, "OPTIONAL_STEPS", ["dealflow_broken_demo_step"])
    with pytest.raises(ModuleNotFoundError, match="a_package_nobody_installed"):
        generate.optional_steps_run(seed=5, today=TODAY, stdout=None)
