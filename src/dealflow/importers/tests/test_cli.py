"""`dealflow import / export / backup / restore` from the command line."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from dealflow.core.errors import ApplicationError
from dealflow.deals.models import Deal
from dealflow.deals.tests.factories import DealFactory
from dealflow.importers.models import ImportMapping
from dealflow.importers.tests.conftest import FILES

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, no_color=True)
    return out.getvalue()


def test_dry_run_reports_and_writes_nothing(admin_user, rep):
    with pytest.raises(ApplicationError, match="1 question"):
        _run("import", str(FILES / "hubspot_deals.csv"), "--dry-run")
    output = _run("import", str(FILES / "hubspot_deals.csv"), "--dry-run", "--stage", "Contract Sent=create")
    assert "hubspot_deals.csv: 4 rows of deals (preset:hubspot)" in output
    assert "create 4, update 0, skip 0, reject 0" in output
    assert "Dry run: the file can be imported; nothing was written." in output
    assert not Deal.objects.exists()


def test_import_with_flags_then_again_without_duplicates(admin_user, rep, rep2, rate_usd):
    output = _run("import", str(FILES / "pipedrive_deals.csv"), "--preset", "pipedrive", "--user", "admin")
    assert "Imported. Created: 2 organizations, 4 deals." in output
    output = _run("import", str(FILES / "pipedrive_deals.csv"))
    assert "create 0, update 0, skip 4, reject 0" in output and Deal.objects.count() == 4


def test_problems_are_listed_with_line_column_value_and_reason(tmp_path, admin_user, rep):
    path = tmp_path / "deals.csv"
    path.write_text("Deal ID,Title,Amount\n1,Good,100\n2,Bad,abc\n")
    out = io.StringIO()
    with pytest.raises(ApplicationError, match="1 problem"):
        call_command("import", str(path), stdout=out, no_color=True)
    assert "deals.csv:3 [Amount] 'abc': 'abc' is not a number." in out.getvalue()
    rejects = tmp_path / "rejected.csv"
    output = _run("import", str(path), "--keep-valid", "--rejects", str(rejects))
    assert "1 row(s) rejected" in output and Deal.objects.get().title == "Good"
    assert list(csv.reader(rejects.open(encoding="utf-8-sig")))[1][:4] == [
        "deals.csv",
        "3",
        "'abc' is not a number.",
        "2",
    ]


def test_toml_mapping_file_and_date_order_flag(tmp_path, admin_user, rep):
    mapping = tmp_path / "map.toml"
    mapping.write_text(
        'entity = "deals"\nsource = "old-crm"\n\n[columns]\n"Ref" = "external_id"\n"Subject line" = "title"\n'
        '"Worth" = "amount"\n"Phase" = "stage"\n"Result" = "status"\n"Rep" = "owner"\n"Opened" = "created_at"\n'
        '"Target date" = "expected_close_on"\n',
        encoding="utf-8",
    )
    with pytest.raises(ApplicationError, match="question"):
        _run("import", str(FILES / "generic_crm.csv"), "--mapping", str(mapping), "--dry-run")
    output = _run(
        "import",
        str(FILES / "generic_crm.csv"),
        "--mapping",
        str(mapping),
        "--date-order",
        "mdy",
        "--save-mapping",
        "Old CRM",
    )
    assert "Created: 3 deals" in output
    assert Deal.objects.get(external_id="G-2").created_on.isoformat() == "2025-09-04"
    assert ImportMapping.objects.get().name == "Old CRM"
    with pytest.raises(ApplicationError, match="--stage takes NAME=ANSWER"):
        _run("import", str(FILES / "generic_crm.csv"), "--stage", "nonsense")
    with pytest.raises(ApplicationError, match="There is no file"):
        _run("import", str(tmp_path / "missing.csv"))


def test_export_command_honours_the_users_visibility_and_filters(tmp_path, rep, outsider):
    DealFactory(owner=rep, title="Mine", amount=Decimal("10"))
    DealFactory(owner=outsider, title="Theirs")
    path = tmp_path / "deals.csv"
    output = _run("export", "deals", str(path), "--user", "rep", "--filter", "status=open")
    assert "Wrote 1 deals" in output
    rows = list(csv.DictReader(path.open(encoding="utf-8-sig")))
    assert [row["Title"] for row in rows] == ["Mine"]
    xlsx = tmp_path / "events.xlsx"
    assert "Wrote 1 events" in _run("export", "events", str(xlsx), "--user", "rep")
    with pytest.raises(ApplicationError, match="status must be one of: open, won, lost"):
        _run("export", "deals", str(path), "--user", "rep", "--filter", "status=maybe")
