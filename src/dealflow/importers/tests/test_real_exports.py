"""Files in the layouts real systems export (tests/files/real, docs/imports.md lists them): the figures after
import against numbers worked out by hand, a second import that changes nothing, and the preview's questions."""

from __future__ import annotations

import datetime as dt
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from dealflow.accounts.models import AuditEntry
from dealflow.contacts.models import Organization
from dealflow.deals.models import Deal, DealEvent, Lead, LeadSource, LostReason, Stage
from dealflow.importers.mapping import ImportOptions
from dealflow.importers.services import import_apply, import_preview
from dealflow.importers.tests.conftest import FILES, win_rate_and_average

pytestmark = pytest.mark.django_db

REAL = FILES / "real"
SALESFORCE = {"stages": {"Negotiation/Review": "Negotiation", "Prospecting": "create"}}
PIPEDRIVE = {
    "stages": {
        "Proposal Made": "Proposal",
        "Qualified": "Qualification",
        "Negotiations Started": "Negotiation",
    }
}


@pytest.fixture
def salesforce_flat_zip(tmp_path) -> Path:
    path = tmp_path / "salesforce-flat.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for member in sorted((REAL / "salesforce_flat").iterdir()):
            archive.write(member, arcname=member.name)
    return path


def _weighted_open() -> Decimal:
    """The weighted open pipeline in major units, each deal at the probability it carries (its own or its stage's)."""
    deals = Deal.objects.filter(status="open").select_related("stage")
    return sum((Decimal(deal.amount_minor) * deal.probability / 10_000 for deal in deals), Decimal(0))


def _events(deal: Deal) -> list[tuple[str, str]]:
    return [
        (event.kind, timezone.localdate(event.occurred_at).isoformat())
        for event in DealEvent.objects.filter(deal=deal).order_by("occurred_at", "id")
    ]


def _reimport_changes_nothing(path, by, options) -> None:
    events = DealEvent.objects.count()
    snapshot = list(Deal.objects.order_by("id").values())
    plan, result = import_apply(path=path, by=by, options=ImportOptions.from_json(options))
    assert result.created == {} and result.updated == {}
    assert plan.counts["deals"].create == plan.counts["deals"].update == 0
    assert DealEvent.objects.count() == events
    assert list(Deal.objects.order_by("id").values()) == snapshot


def test_salesforce_flat_export_preview_asks(salesforce_flat_zip, admin_user, rep):
    plan = import_preview(path=salesforce_flat_zip, by=admin_user)

    assert {(question.kind, question.key) for question in plan.blocking_questions} == {
        ("stages", "Prospecting"),
        ("stages", "Negotiation/Review"),
    }
    offered = {question.key: question.default for question in plan.questions if question.kind == "sources"}
    assert offered == dict.fromkeys(
        ["Web", "External Referral", "Word of mouth", "Employee Referral"], "create"
    )
    close_wins = [
        problem.line for problem in plan.problems.warnings if "the close date wins" in problem.reason
    ]
    assert sorted(set(close_wins)) == [2, 3, 4]  # the three closed opportunities, CloseDate < CreatedDate
    unmapped = {sheet["name"]: sheet["unmapped"] for sheet in plan.summary()["sheets"]}
    assert unmapped["Opportunity.csv"] == ["IsDeleted", "Type", "CampaignId"]
    assert plan.summary()["checks_out"] is False


def test_salesforce_flat_export_figures(salesforce_flat_zip, admin_user, rep):
    plan, _result = import_apply(
        path=salesforce_flat_zip, by=admin_user, options=ImportOptions.from_json(SALESFORCE)
    )

    # Null ids (000000000000000AAA and 15 zeros) are empty: only the lead with IsConverted=true is converted.
    assert dict(Lead.objects.values_list("external_id", "status")) == {
        "00QDn00000lead1": "converted",
        "00QDn00000lead2": "new",
        "00QDn00000lead3": "working",
    }
    rollout = Deal.objects.get(external_id="006Dn00000opp001")
    assert rollout.lead.external_id == "00QDn00000lead1"
    assert not any("No organization has this id" in problem.reason for problem in plan.problems.items)
    # Closed deals keep the file's CloseDate (the flat history says 2026-01-15 for all).
    closed = dict(Deal.objects.exclude(status="open").values_list("external_id", "closed_on"))
    assert closed == {
        "006Dn00000opp001": dt.date(2025, 3, 20),
        "006Dn00000opp002": dt.date(2025, 4, 10),
        "006Dn00000opp003": dt.date(2025, 5, 5),
    }
    assert _events(rollout) == [("created", "2025-03-20"), ("won", "2025-03-20")]
    assert rollout.lead_cycle_days == 47  # lead 2025-02-01 -> won 2025-03-20: 27 + 20 days
    # Won by month: March 12,000, May 5,000; win rate 2 of 3; average won (12,000 + 5,000) / 2.
    assert win_rate_and_average() == (Decimal("66.7"), Decimal("8500.00"))
    # Per-deal probabilities: Prospecting is created at the mean of its rows (20, 30 -> 25), each deal keeps its own.
    assert Stage.objects.get(name="Prospecting").probability == 25
    assert dict(Deal.objects.filter(status="open").values_list("external_id", "probability_override")) == {
        "006Dn00000opp004": 20,
        "006Dn00000opp005": 30,
        "006Dn00000opp006": 70,
    }
    assert _weighted_open() == Decimal("13800")  # 10,000 x 20 % + 30,000 x 30 % + 4,000 x 70 %
    # Picklist values stay apart: four new sources, none folded into "Referral" or "Website inquiry".
    assert set(LeadSource.objects.values_list("name", flat=True)) >= {
        "Web",
        "External Referral",
        "Word of mouth",
        "Employee Referral",
    }
    assert Deal.objects.get(external_id="006Dn00000opp005").source.name == "Employee Referral"
    assert dict(Organization.objects.filter(external_source="salesforce").values_list("name", "country")) == {
        "Acme Inc": "US",  # "United States"
        "Dunkel GmbH": "DE",  # "Duitsland"
    }

    _reimport_changes_nothing(salesforce_flat_zip, admin_user, SALESFORCE)


def test_pipedrive_deals_export(admin_user, rep, rate_usd):
    path = REAL / "pipedrive_deals_export.csv"
    plan = import_preview(path=path, by=admin_user, options=ImportOptions.from_json(PIPEDRIVE))
    [undated] = [question for question in plan.questions if question.kind == "undated"]
    assert (undated.count, undated.default) == (1, "skip")
    assert {question.key for question in plan.questions if question.kind == "sources"} == {
        "paid_search",
        "email",
    }
    assert [question.key for question in plan.questions if question.kind == "lost_reasons"] == [
        "Too expensive"
    ]
    assert plan.is_ready  # every question has a stated default

    plan, result = import_apply(path=path, by=admin_user, options=ImportOptions.from_json(PIPEDRIVE))

    assert result.created == {"organizations": 2, "persons": 1, "deals": 3}
    assert plan.counts["deals"].skip == 1  # "Consulting" has no creation date: skipped, never dated today
    assert not Deal.objects.filter(external_id="4").exists()
    assert dict(Deal.objects.values_list("external_id", "source__name")) == {
        "1": "paid_search",
        "2": "email",
        "3": "email",
    }
    assert Deal.objects.get(external_id="2").lost_reason.name == "Too expensive"
    assert dict(Deal.objects.exclude(status="open").values_list("external_id", "cycle_days")) == {
        "1": 50,
        "2": 46,
    }
    training = Deal.objects.get(external_id="3")
    assert (training.probability_override, training.stage.name) == (45, "Negotiation")
    assert _weighted_open() == Decimal("900")  # 2,000 USD x 45 %
    assert win_rate_and_average() == (Decimal("50.0"), Decimal("5000.00"))

    _reimport_changes_nothing(path, admin_user, PIPEDRIVE)


def test_pipedrive_undated_rows_take_the_answer(admin_user, rep, rate_usd):
    options = {**PIPEDRIVE, "undated": {"pipedrive_deals_export.csv": "date:2026-02-01"}}
    plan, _result = import_apply(
        path=REAL / "pipedrive_deals_export.csv", by=admin_user, options=ImportOptions.from_json(options)
    )

    assert not [question for question in plan.questions if question.kind == "undated"]
    consulting = Deal.objects.get(external_id="4")
    assert timezone.localtime(consulting.created_at) == timezone.make_aware(dt.datetime(2026, 2, 1))


def test_hubspot_deals_export(admin_user, rep):
    path = REAL / "hubspot_deals_export.csv"
    options = {"create_stages": True}
    _plan, result = import_apply(path=path, by=admin_user, options=ImportOptions.from_json(options))

    assert result.created == {"organizations": 3, "deals": 4}
    # New stages in the order of the probabilities HubSpot gives (0.2 and 0.8 are 20 % and 80 %).
    new = list(Stage.objects.filter(name__in=["Appointment Scheduled", "Contract Sent"]).order_by("order"))
    assert [(stage.name, stage.probability) for stage in new] == [
        ("Appointment Scheduled", 20),
        ("Contract Sent", 80),
    ]
    # Created through the settings' services, so the audit log names them.
    assert AuditEntry.objects.filter(action="settings.stage_created").count() == 2
    gamma = Deal.objects.get(external_id="9003")
    assert (gamma.probability_override, gamma.forecast_category_override) == (None, "commit")
    assert Deal.objects.get(external_id="9001").cycle_days == 65  # 2025-10-01 -> 2025-12-05
    assert _weighted_open() == Decimal("7600")  # 9,000 x 80 % + 2,000 x 20 %
    assert win_rate_and_average() == (Decimal("50.0"), Decimal("4000.00"))

    _reimport_changes_nothing(path, admin_user, options)


def test_dutch_excel_csv(admin_user, rep):
    path = REAL / "dutch_excel_export.csv"
    plan = import_preview(path=path, by=admin_user)
    summary = plan.summary()
    assert summary["sheets"][0]["delimiter"] == ";" and summary["sheets"][0]["encoding"] == "cp1252"
    assert summary["sheets"][0]["columns"]["BEDRAG (EUR)"] == "amount"
    assert summary["sheets"][0]["unmapped"] == ["Opmerking"] and summary["checks_out"] is False
    offered = {(question.kind, question.key) for question in plan.questions}
    assert offered == {("sources", "Beurs"), ("lost_reasons", "Prijs")}  # not folded into Trade show / Price
    ignored = {"sheet": {"columns": {"Opmerking": ""}}}
    assert import_preview(path=path, by=admin_user, options=ImportOptions.from_json(ignored)).summary()[
        "checks_out"
    ]

    import_apply(path=path, by=admin_user, options=ImportOptions.from_json(ignored))

    amounts = dict(Deal.objects.values_list("external_id", "amount_minor"))
    assert amounts == {"D-1": 1_250_000, "D-2": 125_050, "D-3": 399_999, "D-4": 750_000}
    assert Deal.objects.get(external_id="D-2").title == "Onderhoud Café Zoë"
    assert dict(Deal.objects.exclude(status="open").values_list("external_id", "cycle_days")) == {
        "D-1": 83,
        "D-2": 35,
        "D-4": 66,
    }
    assert win_rate_and_average() == (Decimal("66.7"), Decimal("10000.00"))  # (12,500 + 7,500) / 2
    assert (
        Deal.objects.get(external_id="D-3").probability_override == 30
    )  # "Winkans" 30 against Proposal's 45
    assert _weighted_open() == Decimal("1199.997")  # 3,999.99 x 30 %
    assert LostReason.objects.filter(name="Prijs").exists()

    _reimport_changes_nothing(path, admin_user, ignored)
