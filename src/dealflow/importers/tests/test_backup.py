"""`dealflow backup` / `dealflow restore`: the round trip gives back every record, every event, every metric."""

from __future__ import annotations

import datetime as dt
import importlib
import zipfile
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from dealflow.accounts.models import AuditEntry
from dealflow.core.errors import ApplicationError
from dealflow.deals import services
from dealflow.deals.models import Deal, DealEvent
from dealflow.deals.tests.factories import DealFactory, lead_source, lost_reason, stage_named
from dealflow.importers.backup import backup_models
from dealflow.importers.mapping import ImportOptions
from dealflow.importers.services import import_apply, import_mapping_save, import_preview
from dealflow.importers.tests.conftest import FILES, win_rate_and_average
from dealflow.importers.tests.test_presets import SALESFORCE_ANSWERS

pytestmark = pytest.mark.django_db

GUARD = importlib.import_module("dealflow.deals.migrations.0002_reference_data_and_event_log_guard")
AUDIT_GUARD = importlib.import_module("dealflow.accounts.migrations.0003_audit_log_append_only")


def _snapshot() -> dict[str, list[tuple]]:
    """Every row of every backed-up table (the audit log apart: restoring adds one entry to it)."""
    rows = {}
    for model in backup_models():
        if model is AuditEntry:
            continue
        names = [field.attname for field in model._meta.concrete_fields]
        rows[model._meta.label] = list(model._base_manager.order_by("pk").values_list(*names))
    return rows


def _metrics() -> dict[str, object]:
    rate, average = win_rate_and_average()
    return {
        "win_rate": rate,
        "average_won": average,
        "cycle_days": sorted(Deal.objects.exclude(cycle_days=None).values_list("cycle_days", flat=True)),
        "pipeline_value": sum(Deal.objects.filter(status="open").values_list("amount_minor", flat=True)),
        "events": DealEvent.objects.count(),
    }


def _wipe_to_a_freshly_migrated_database() -> None:
    """What `dealflow migrate` leaves: no data, only the reference rows the migrations create."""
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        for guard in (GUARD, AUDIT_GUARD):
            for statement in guard.POSTGRES_UNGUARD if postgres else guard.SQLITE_UNGUARD:
                cursor.execute(statement)
        for model in reversed(backup_models()):
            model._base_manager.all()._raw_delete(connection.alias)
        for guard in (GUARD, AUDIT_GUARD):
            for statement in guard.POSTGRES_GUARD if postgres else guard.SQLITE_GUARD:
                cursor.execute(statement.replace("%%", "%"))
    GUARD.create_reference_data(apps, None)


def _some_history(admin_user, rep, rep2, salesforce_zip) -> None:
    import_apply(path=salesforce_zip, by=admin_user, options=ImportOptions.from_json(SALESFORCE_ANSWERS))
    import_apply(path=FILES / "pipedrive_deals.csv", by=admin_user)
    plan = import_preview(
        path=FILES / "hubspot_deals.csv",
        by=admin_user,
        options=ImportOptions.from_json({"stages": {"Contract Sent": "create"}}),
    )
    import_mapping_save(name="HubSpot", plan=plan, by=admin_user)
    lead = services.lead_create(
        title="Walk-in", source=lead_source("referral"), owner=rep, has_need=True, has_budget=True
    )
    services.lead_qualify(lead=lead)
    deal = services.lead_convert(lead=lead, by=rep, amount=Decimal("999.99"), currency="USD")
    services.deal_move_to_stage(deal=deal, stage=stage_named("Proposal"), by=rep)
    services.activity_create(owner=rep, subject="Call back", kind="call", deal=deal)
    services.deal_mark_won(deal=deal, by=rep)
    other = DealFactory(owner=rep2, amount=Decimal("50"), title="Small")
    services.deal_mark_lost(deal=other, reason=lost_reason("Timing"), by=rep2)


def test_backup_and_restore_give_back_every_record_event_and_metric(
    tmp_path, admin_user, rep, rep2, rate_usd, salesforce_zip
):
    _some_history(admin_user, rep, rep2, salesforce_zip)
    before, metrics = _snapshot(), _metrics()
    audit_before = list(AuditEntry.objects.order_by("pk").values_list("pk", "action", "target", "detail"))
    path = tmp_path / "out.zip"
    call_command("backup", str(path))
    assert before["deals.DealEvent"] and before["deals.StageSpell"] and before["importers.ImportMapping"]

    _wipe_to_a_freshly_migrated_database()
    assert not Deal.objects.exists()
    call_command("restore", str(path))

    after = _snapshot()
    assert after.keys() == before.keys()
    for label in before:
        assert after[label] == before[label], label
    assert _metrics() == metrics
    assert metrics["win_rate"] == Decimal(
        "62.5"
    )  # Salesforce 2 of 3, Pipedrive 2 of 3, by hand 1 of 2: 5 of 8
    audit_after = list(AuditEntry.objects.order_by("pk").values_list("pk", "action", "target", "detail"))
    assert audit_after[:-1] == audit_before and audit_after[-1][1] == "backup.restored"

    # The restored database works on: ids continue after the restored ones, events stay append-only.
    new = DealFactory(owner=rep, title="After the restore")
    assert new.pk > max(row[0] for row in before["deals.Deal"])
    with pytest.raises(DatabaseError), transaction.atomic():
        DealEvent.objects.filter(deal=new).update(note="rewritten")


def test_restore_refuses_a_database_with_data_and_a_damaged_file(tmp_path, admin_user, rep):
    DealFactory(owner=rep, title="Existing")
    path = tmp_path / "out.zip"
    call_command("backup", str(path))
    with pytest.raises(ApplicationError, match="not empty"):
        call_command("restore", str(path))
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ApplicationError, match="not a Dealflow backup"):
        call_command("restore", str(damaged))
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("manifest.json", '{"format": "something-else"}')
    with pytest.raises(ApplicationError, match="not a Dealflow backup"):
        call_command("restore", str(other))
    assert Deal.objects.get().title == "Existing"


def test_backup_keeps_times_exact(tmp_path, admin_user, rep):
    moment = dt.datetime(2025, 3, 30, 0, 59, 59, 123456, tzinfo=dt.UTC)  # the night the clocks go forward
    deal = DealFactory(owner=rep, title="Precise", at=moment)
    path = tmp_path / "out.zip"
    call_command("backup", str(path))
    _wipe_to_a_freshly_migrated_database()
    call_command("restore", str(path))
    restored = Deal.objects.get(pk=deal.pk)
    assert restored.created_at == moment and restored.created_on == deal.created_on
