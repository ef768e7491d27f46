"""Organizations, persons, leads (with their conversion into deals), activities; re-imports that change things."""

from __future__ import annotations

import datetime as dt
import zipfile
from decimal import Decimal

import pytest
from django.utils import timezone

from dealflow.contacts.models import Organization, Person
from dealflow.deals.models import Activity, Deal, DealEvent, Lead, LeadStatus
from dealflow.importers.mapping import ImportOptions
from dealflow.importers.services import import_apply, import_preview
from dealflow.importers.tests.conftest import FILES, win_rate_and_average
from dealflow.importers.tests.test_presets import SALESFORCE_ANSWERS

pytestmark = pytest.mark.django_db


def _zip(tmp_path, name: str, members: dict[str, str]):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in members.items():
            archive.writestr(member, text)
    return path


def test_contacts_then_activities_on_imported_deals(tmp_path, admin_user, rep):
    organizations = tmp_path / "organizations.csv"
    organizations.write_text(
        "Bedrijfsnaam;Website;Land;Eigenaar\nBlue Corp;blue.example;Nederland;rep\nRed Ltd;red.example;United Kingdom;\n",
        encoding="utf-8",
    )
    _plan, result = import_apply(path=organizations, by=admin_user)
    assert result.created == {"organizations": 2}
    blue = Organization.objects.get(name="Blue Corp")
    assert (blue.website, blue.country, blue.owner) == ("blue.example", "NL", rep)

    persons = tmp_path / "contacts.csv"
    persons.write_text(
        "Name,E-mail,Company,Job title\nAnna de Boer,ANNA@blue.example,Blue Corp,CFO\nBob Red,bob@red.example,Red Ltd,\n"
    )
    _plan, result = import_apply(path=persons, by=admin_user)
    anna = Person.objects.get(email="anna@blue.example")
    assert (anna.first_name, anna.last_name, anna.organization, anna.job_title) == (
        "Anna",
        "de Boer",
        blue,
        "CFO",
    )

    import_apply(
        path=FILES / "pipedrive_deals.csv",
        by=admin_user,
        options=ImportOptions.from_json({"owners": {"Ruud Tweede": "rep"}}),
    )
    assert Organization.objects.filter(name="Blue Corp").count() == 1  # the deals found it by its name
    activities = tmp_path / "activities.csv"
    activities.write_text(
        "Activity ID,Subject,Type,Due date,Done,Deal ID,Owner,Contact email\n"
        "A1,Kick-off call,Call,2025-10-02 10:00,yes,101,rep,anna@blue.example\n"
        "A2,Send contract,Taak,2026-03-10 09:00,no,103,rep,\n"
    )
    _plan, result = import_apply(path=activities, by=admin_user, options=ImportOptions(source="pipedrive"))
    assert result.created == {"activities": 2}
    call = Activity.objects.get(external_id="A1")
    assert (call.kind, call.deal.external_id, call.person, call.done_at is not None) == (
        "call",
        "101",
        anna,
        True,
    )
    task = Activity.objects.get(external_id="A2")
    assert (task.kind, task.done_at, task.deal.title) == ("task", None, "Training")

    # Re-importing the same contacts changes nothing; a changed website is an update.
    persons_plan = import_preview(path=persons, by=admin_user)
    assert persons_plan.counts["persons"].as_json() == {"create": 0, "update": 0, "skip": 2, "reject": 0}
    organizations.write_text(
        "Bedrijfsnaam;Website;Land;Eigenaar\nBlue Corp;blue.example;Nederland;rep\nRed Ltd;www.red.example;United Kingdom;\n",
        encoding="utf-8",
    )
    plan, result = import_apply(path=organizations, by=admin_user)
    assert plan.counts["organizations"].as_json() == {"create": 0, "update": 1, "skip": 1, "reject": 0}
    assert Organization.objects.get(name="Red Ltd").website == "www.red.example"


def test_leads_and_deals_keep_their_conversion(tmp_path, admin_user, rep):
    path = _zip(
        tmp_path,
        "crm.zip",
        {
            "leads.csv": "Lead ID,Title,Source,Created,Status,Email\n"
            "L1,Acme inbound,Website,2025-08-01,converted,jo@acme.example\n"
            "L2,Beta referral,Referral,2025-08-15,converted,\n"
            "L3,Gamma fair,Trade show,2025-09-01,disqualified,\n"
            "L4,Delta web,Web,2025-09-10,working,\n",
            "deals.csv": "Deal ID,Title,Lead ID,Amount,Status,Created,Closed on\n"
            "D1,Acme deal,L1,5000,won,2025-08-20,2025-10-01\n"
            "D2,Beta deal,L2,3000,lost,2025-09-01,2025-10-15\n",
        },
    )

    _plan, result = import_apply(path=path, by=admin_user)

    assert result.created == {"persons": 1, "leads": 4, "deals": 2}
    acme = Deal.objects.get(external_id="D1")
    assert acme.lead.external_id == "L1" and acme.source.key == "website"
    assert acme.lead_cycle_days == 61  # 2025-08-01 -> 2025-10-01
    assert Lead.objects.get(external_id="L1").status == LeadStatus.CONVERTED
    assert Lead.objects.get(external_id="L3").status == LeadStatus.DISQUALIFIED
    assert Lead.objects.get(external_id="L4").status == LeadStatus.WORKING
    converted = Lead.objects.filter(status=LeadStatus.CONVERTED).count()
    assert (converted, Lead.objects.count()) == (2, 4)  # lead conversion rate 50 %
    assert win_rate_and_average() == (Decimal("50.0"), Decimal("5000.00"))


def test_salesforce_reimport_with_changes_records_them_as_events(salesforce_zip, admin_user, rep, tmp_path):
    options = ImportOptions.from_json(SALESFORCE_ANSWERS)
    import_apply(path=salesforce_zip, by=admin_user, options=options)
    events_before = DealEvent.objects.count()
    changed = tmp_path / "changed.zip"
    with zipfile.ZipFile(salesforce_zip) as source, zipfile.ZipFile(changed, "w") as target:
        for name in source.namelist():
            text = source.read(name).decode()
            if name == "Opportunity.csv":
                text = text.replace(
                    "Acme phase 2,Negotiation/Review,20000,80,2026-04-30,false,false,Commit",
                    "Acme phase 2,Closed Won,22000,100,2026-02-20,true,true,Closed",
                ).replace("Globex expansion,", "Globex expansion (EU),")
            if name == "OpportunityHistory.csv":
                text += "008A8,006A00000acp2,2026-02-20T09:00:00.000+0000,Closed Won,22000,2026-02-20,100\n"
            target.writestr(name, text)

    plan, result = import_apply(path=changed, by=admin_user, options=options)

    assert plan.counts["deals"].as_json() == {"create": 0, "update": 2, "skip": 2, "reject": 0}
    assert result.updated == {"deals": 2}
    phase2 = Deal.objects.get(external_id="006A00000acp2")
    assert (phase2.status, phase2.amount_minor, phase2.closed_on) == ("won", 2_200_000, dt.date(2026, 2, 20))
    new_events = [
        (event.kind, timezone.localdate(event.occurred_at).isoformat(), event.origin)
        for event in DealEvent.objects.filter(deal=phase2).order_by("id")[2:]
    ]
    assert new_events == [
        ("amount_changed", "2026-03-02", "import"),
        ("close_date_changed", "2026-03-02", "import"),
        ("won", "2026-02-20", "import"),
    ]
    assert Deal.objects.get(external_id="006A00000gexp").title == "Globex expansion (EU)"
    assert DealEvent.objects.count() == events_before + 3
    assert Deal.objects.count() == 4
