"""Exports of Salesforce, Pipedrive and HubSpot go in with their history, and the metrics come out right."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from dealflow.accounts.models import AuditEntry, User
from dealflow.contacts.models import Organization, Person
from dealflow.deals.models import Activity, Deal, DealEvent, Lead, LeadStatus, Stage, StageSpell
from dealflow.importers.mapping import ImportOptions
from dealflow.importers.services import import_apply, import_preview
from dealflow.importers.tests.conftest import FILES, win_rate_and_average

pytestmark = pytest.mark.django_db

SALESFORCE_ANSWERS = {
    "stages": {"Proposal/Price Quote": "Proposal", "Negotiation/Review": "Negotiation"},
    "sources": {"Web": "website"},  # mapped by the user: nothing is folded into a built-in source unasked
    "create_owners": True,
}


def _events(deal: Deal) -> list[tuple[str, str, str]]:
    return [
        (event.kind, event.to_value, timezone.localdate(event.occurred_at).isoformat())
        for event in DealEvent.objects.filter(deal=deal).order_by("occurred_at", "id")
    ]


def test_salesforce_preview_asks_about_unknown_stages_and_owners(salesforce_zip, admin_user, rep):
    plan = import_preview(path=salesforce_zip, by=admin_user)

    questions = {(question.kind, question.key) for question in plan.blocking_questions}
    assert questions == {
        ("stages", "Proposal/Price Quote"),
        ("stages", "Negotiation/Review"),
        ("owners", "005A000000jan"),
    }
    # New lead sources are offered, never folded into a built-in one: added as new unless mapped.
    offered = {(question.key, question.default) for question in plan.questions if question.kind == "sources"}
    assert offered == {("Web", "create"), ("Partner Referral", "create")}
    entities = {parsed.name: parsed.entity.value for parsed in plan.sheets}
    assert entities == {
        "User.csv": "users",
        "Account.csv": "organizations",
        "Lead.csv": "leads",
        "Opportunity.csv": "deals",
        "OpportunityHistory.csv": "history",
    }
    assert plan.source == "salesforce"
    assert Deal.objects.count() == 0


def test_salesforce_export_with_history(salesforce_zip, admin_user, rep):
    options = ImportOptions.from_json(SALESFORCE_ANSWERS)
    plan, result = import_apply(path=salesforce_zip, by=admin_user, options=options)

    assert plan.error_count == 0
    assert result.created == {"users": 1, "organizations": 3, "persons": 2, "leads": 2, "deals": 4}
    rollout = Deal.objects.get(external_source="salesforce", external_id="006A00000roll")
    assert rollout.status == "won"
    assert rollout.amount_minor == 1_200_000
    assert rollout.owner == rep  # matched through User.csv's e-mail address
    assert rollout.organization.name == "Acme BV"
    assert rollout.cycle_days == 66  # 2025-09-10 -> 2025-11-15
    assert rollout.lead_cycle_days == 75  # lead created 2025-09-01
    assert rollout.source.key == "website"
    assert _events(rollout) == [
        ("created", "Qualification", "2025-09-10"),
        ("amount_changed", "12000.00 EUR", "2025-10-01"),
        ("stage_changed", "Proposal", "2025-10-01"),
        ("close_date_changed", "2025-11-15", "2025-11-15"),
        ("won", "Won", "2025-11-15"),
    ]
    assert [spell.stage.name for spell in StageSpell.objects.filter(deal=rollout).order_by("entered_at")] == [
        "Qualification",
        "Proposal",
    ]
    lead = Lead.objects.get(external_id="00QA00000piet")
    assert lead.status == LeadStatus.CONVERTED and rollout.lead == lead
    assert lead.closed_at == dt.datetime(2025, 9, 10, 9, 0, tzinfo=dt.UTC)
    assert Lead.objects.get(external_id="00QA000000eva").status == LeadStatus.NEW

    pilot = Deal.objects.get(external_id="006A00000gpil")
    assert pilot.status == "lost" and pilot.lost_reason.name == "Other"
    assert [kind for kind, _to, _day in _events(pilot)] == ["created", "close_date_changed", "lost"]

    phase2 = Deal.objects.get(external_id="006A00000acp2")
    assert phase2.stage.name == "Negotiation" and phase2.status == "open"
    assert phase2.probability_override == 80 and phase2.forecast_category_override == "commit"
    jan = phase2.owner
    assert (jan.username, jan.is_active, jan.email) == (
        "jan.jansen@acme-corp.example",
        False,
        "jan.jansen@acme-corp.example",
    )

    expansion = Deal.objects.get(external_id="006A00000gexp")
    assert _events(expansion) == [("created", "Qualification", "2025-12-01"), ("won", "Won", "2026-02-10")]
    assert DealEvent.objects.count() == 12
    assert not Activity.objects.filter(origin="post_sale").exists()  # old wins schedule no follow-up tasks
    assert Organization.objects.get(external_id="001A000000acme").country == "NL"
    assert Person.objects.filter(email="piet@acme.example").exists()
    assert win_rate_and_average() == (Decimal("66.7"), Decimal("9000.00"))
    assert AuditEntry.objects.filter(action="import.applied").count() == 1


def test_salesforce_reimport_updates_and_never_duplicates(salesforce_zip, admin_user, rep):
    options = ImportOptions.from_json(SALESFORCE_ANSWERS)
    import_apply(path=salesforce_zip, by=admin_user, options=options)
    snapshot = (
        Deal.objects.count(),
        DealEvent.objects.count(),
        Lead.objects.count(),
        Organization.objects.count(),
    )

    plan, result = import_apply(path=salesforce_zip, by=admin_user, options=options)

    assert plan.counts["deals"].as_json() == {"create": 0, "update": 0, "skip": 4, "reject": 0}
    assert result.created == {} and result.updated == {}
    assert (
        Deal.objects.count(),
        DealEvent.objects.count(),
        Lead.objects.count(),
        Organization.objects.count(),
    ) == snapshot
    assert User.objects.filter(username="jan.jansen@acme-corp.example").count() == 1


def test_pipedrive_deals_export(admin_user, rep, rep2, rate_usd):
    plan, result = import_apply(path=FILES / "pipedrive_deals.csv", by=admin_user)

    assert plan.source == "pipedrive"
    assert result.created == {"organizations": 2, "deals": 4}
    assert any("Deleted in the source system" in problem.reason for problem in plan.problems.warnings)
    website = Deal.objects.get(external_id="101")
    assert _events(website) == [("created", "Proposal", "2025-10-01"), ("won", "Won", "2025-11-20")]
    assert website.won_at == dt.datetime(2025, 11, 20, 14, 30, tzinfo=dt.UTC)  # 15:30 in Amsterdam
    support = Deal.objects.get(external_id="102")
    assert support.lost_reason.name == "Price" and support.lost_at.date() == dt.date(2025, 11, 30)
    training = Deal.objects.get(external_id="103")
    assert (training.currency, training.amount_minor, training.stage.name) == ("USD", 200_000, "Negotiation")
    assert Deal.objects.get(external_id="105").owner == rep2
    assert win_rate_and_average() == (Decimal("66.7"), Decimal("6000.00"))


def test_hubspot_deals_export(admin_user, rep):
    options = ImportOptions.from_json({"stages": {"Contract Sent": "create"}})
    plan, result = import_apply(path=FILES / "hubspot_deals.csv", by=admin_user, options=options)

    assert plan.source == "hubspot"
    assert result.created == {"deals": 4}
    gamma = Deal.objects.get(external_id="9003")
    assert gamma.pipeline.name == "Sales"  # "Sales Pipeline" is our "Sales"
    new_stage = Stage.objects.get(name="Contract Sent")
    assert gamma.stage == new_stage and new_stage.order > Stage.objects.get(name="Closing").order
    alpha = Deal.objects.get(external_id="9001")
    assert alpha.closed_on == dt.date(2025, 12, 5) and alpha.cycle_days == 65
    assert win_rate_and_average() == (Decimal("66.7"), Decimal("3000.00"))
