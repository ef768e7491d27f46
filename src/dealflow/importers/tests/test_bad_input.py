"""Bad files are answered clearly, and nothing is half-written."""

from __future__ import annotations

import csv
import os
import time
import zipfile

import openpyxl
import pytest

from dealflow.contacts.models import Organization
from dealflow.core.errors import ApplicationError
from dealflow.deals.models import Deal, DealEvent
from dealflow.importers.mapping import ImportOptions
from dealflow.importers.services import import_apply, import_preview
from dealflow.importers.tests.conftest import FILES

pytestmark = pytest.mark.django_db

HEADER = "Deal ID,Title,Amount,Stage,Status,Owner,Created,Closed on,Organization\n"
GOOD = (
    "1,Alpha,1000,Proposal,won,rep,2025-10-01,2025-11-01,Alpha BV\n"
    "2,Beta,2000,Qualification,open,rep,2025-10-02,,Beta BV\n"
)


def _write(tmp_path, text: str, name: str = "deals.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def _nothing_written() -> bool:
    return not Deal.objects.exists() and not DealEvent.objects.exists() and not Organization.objects.exists()


def _problems(plan) -> list[tuple[int | None, str, str, str]]:
    return [(problem.line, problem.column, problem.value, problem.reason) for problem in plan.problems.errors]


def test_truncated_csv_row(tmp_path, admin_user, rep):
    path = _write(tmp_path, HEADER + GOOD + "3,Gamma,30")

    plan = import_preview(path=path, by=admin_user)

    [(line, column, _value, reason)] = _problems(plan)
    assert (line, column) == (4, "")
    assert "3 cells where the header has 9" in reason and "cut off" in reason
    with pytest.raises(ApplicationError, match="1 problem"):
        import_apply(path=path, by=admin_user)
    assert _nothing_written()


def test_truncated_inside_a_quoted_cell(tmp_path, admin_user, rep):
    path = _write(tmp_path, HEADER + GOOD + '3,"Gamma, the big one')
    with pytest.raises(ApplicationError, match=r"ends inside a quoted cell .* cut off"):
        import_apply(path=path, by=admin_user)
    assert _nothing_written()


def test_truncated_xlsx_and_zip(tmp_path, admin_user, rep):
    workbook = openpyxl.Workbook()
    workbook.active.append(["Title", "Amount"])
    for number in range(2000):
        workbook.active.append([f"Deal {number}", number])
    full = tmp_path / "full.xlsx"
    workbook.save(full)
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(ApplicationError, match="damaged or incomplete"):
        import_preview(path=cut, by=admin_user)
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("deals.csv", HEADER + GOOD * 500)
    cut_zip = tmp_path / "cut.zip"
    cut_zip.write_bytes(archive.read_bytes()[:-40])
    with pytest.raises(ApplicationError, match=r"damaged|incomplete"):
        import_apply(path=cut_zip, by=admin_user)
    assert _nothing_written()


def test_wrong_encoding(tmp_path, admin_user, rep):
    utf16 = tmp_path / "deals-utf16.csv"
    utf16.write_bytes((HEADER + GOOD).encode("utf-16"))
    with pytest.raises(ApplicationError, match="UTF-16; save it as CSV UTF-8"):
        import_preview(path=utf16, by=admin_user)

    latin = _write(
        tmp_path, HEADER + "1,Café Zoë,1000,Proposal,open,rep,2025-10-01,,Zoë BV\n", encoding="cp1252"
    )
    plan, _result = import_apply(path=latin, by=admin_user)
    assert any("not UTF-8; it was read as Windows-1252" in notice for notice in plan.notices)
    assert Deal.objects.get().title == "Café Zoë"

    bom = _write(
        tmp_path, "\ufeff" + HEADER + "5,Bom deal,10,Proposal,open,rep,2025-10-01,,\n", name="bom.csv"
    )
    plan = import_preview(path=bom, by=admin_user)
    assert plan.sheets[0].columns["Deal ID"] == "external_id"  # the BOM is not part of the first header


def test_missing_required_column(tmp_path, admin_user, rep):
    path = _write(tmp_path, "Deal ID,Amount,Stage\n1,100,Proposal\n")
    with pytest.raises(ApplicationError, match="has no column for Title, which deals need"):
        import_apply(path=path, by=admin_user, options=ImportOptions.from_json({"entity": "deals"}))
    assert _nothing_written()


def test_non_number_amount_and_impossible_date(tmp_path, admin_user, rep):
    path = _write(
        tmp_path,
        HEADER + GOOD + "3,Gamma,twelve hundred,Proposal,open,rep,2025-10-03,,\n"
        "4,Delta,400,Proposal,won,rep,2025-02-30,2025-03-01,\n",
    )

    plan = import_preview(path=path, by=admin_user)

    assert _problems(plan) == [
        (4, "Amount", "twelve hundred", "'twelve hundred' is not a number."),
        (5, "Created", "2025-02-30", "'2025-02-30' is not a date."),
    ]
    assert plan.counts["deals"].as_json() == {"create": 2, "update": 0, "skip": 0, "reject": 2}
    with pytest.raises(ApplicationError, match="2 problem"):
        import_apply(path=path, by=admin_user)
    assert _nothing_written()


def test_duplicate_external_ids_within_one_file(tmp_path, admin_user, rep):
    path = _write(tmp_path, HEADER + GOOD + "1,Alpha again,1500,Proposal,open,rep,2025-10-05,,\n")

    plan = import_preview(path=path, by=admin_user)

    assert _problems(plan) == [
        (4, "Deal ID", "1", "The id '1' is also on line 2; each record may appear once.")
    ]
    with pytest.raises(ApplicationError):
        import_apply(path=path, by=admin_user)
    assert _nothing_written()


def test_fifty_megabytes_of_random_bytes(tmp_path, admin_user, rep):
    path = tmp_path / "random.csv"
    with path.open("wb") as handle:
        for _ in range(50):
            handle.write(os.urandom(1024 * 1024))
    started = time.monotonic()
    with pytest.raises(ApplicationError, match="not a CSV, XLSX or ZIP file"):
        import_preview(path=path, by=admin_user)
    assert time.monotonic() - started < 2  # refused from its first bytes, not after reading 50 MB
    assert _nothing_written()


def test_csv_with_ten_thousand_columns(tmp_path, admin_user, rep):
    headers = ",".join(f"column{number}" for number in range(10_000))
    path = _write(tmp_path, "Title," + headers + "\nOne," + ",".join("x" * 10_000) + "\n")
    with pytest.raises(ApplicationError, match="has 10,001 columns; Dealflow reads at most 500"):
        import_preview(path=path, by=admin_user)
    assert _nothing_written()


def test_empty_and_binary_files(tmp_path, admin_user):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(ApplicationError, match="is empty"):
        import_preview(path=empty, by=admin_user)
    header_only = _write(tmp_path, HEADER, name="header.csv")
    plan = import_preview(path=header_only, by=admin_user)
    assert plan.counts["deals"].as_json() == {"create": 0, "update": 0, "skip": 0, "reject": 0}
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    with pytest.raises(ApplicationError, match=r"old Excel \(.xls\) file"):
        import_preview(path=xls, by=admin_user)


def test_history_of_an_unknown_deal_and_missing_exchange_rate(tmp_path, admin_user, rep):
    deals = _write(
        tmp_path, HEADER + "1,Alpha,1000,Proposal,won,rep,2025-10-01,2025-11-01,\n", name="deals.csv"
    )
    history = _write(
        tmp_path,
        "Deal ID,Date,Stage\n1,2025-10-01,Qualification\n99,2025-10-02,Proposal\n",
        name="history.csv",
    )
    archive = tmp_path / "both.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.write(deals, arcname="deals.csv")
        handle.write(history, arcname="history.csv")
    plan = import_preview(path=archive, by=admin_user)
    assert _problems(plan) == [(3, "Deal ID", "99", "No deal has this id, in this file or in Dealflow.")]

    dollars = _write(
        tmp_path,
        "Deal ID,Title,Amount,Currency,Status,Closed on\n7,Dollar deal,100,USD,won,2025-11-01\n",
        name="usd.csv",
    )
    plan = import_preview(path=dollars, by=admin_user)
    [(_line, column, value, reason)] = _problems(plan)
    assert (column, value) == ("Currency", "USD") and "no exchange rate for USD" in reason


def test_keep_valid_rows_and_hand_back_the_rejected_ones(tmp_path, admin_user, rep):
    path = _write(
        tmp_path,
        HEADER + GOOD + '3,"=HYPERLINK(""http://evil"")",abc,Proposal,open,rep,2025-10-03,,\n',
    )
    rejects = tmp_path / "rejected.csv"

    _plan, result = import_apply(
        path=path, by=admin_user, options=ImportOptions(keep_valid=True), rejects_path=rejects
    )

    assert result.created == {"deals": 2, "organizations": 2}
    assert [(rejection.line, rejection.reason) for rejection in result.rejected] == [
        (4, "'abc' is not a number.")
    ]
    rows = list(csv.reader(rejects.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0][:5] == ["file", "line", "reason", "Deal ID", "Title"]
    assert rows[1][:5] == ["deals.csv", "4", "'abc' is not a number.", "3", '\'=HYPERLINK("http://evil")']
    assert Deal.objects.count() == 2


def test_unknown_owner_is_asked_or_created_only_on_request(tmp_path, admin_user, rep):
    path = _write(tmp_path, HEADER + "1,Alpha,1000,Proposal,open,Kees de Vries,2025-10-01,,\n")
    plan = import_preview(path=path, by=admin_user)
    [question] = plan.questions
    assert (question.kind, question.key) == ("owners", "Kees de Vries")
    assert ("create", "Create as inactive user") in question.choices

    _plan, result = import_apply(
        path=path, by=admin_user, options=ImportOptions.from_json({"owners": {"Kees de Vries": "rep"}})
    )
    assert Deal.objects.get().owner == rep
    assert "users" not in result.created


def test_managers_import_only_for_their_team_and_reps_not_at_all(tmp_path, manager, rep, outsider):
    path = _write(
        tmp_path,
        HEADER
        + "1,Alpha,1000,Proposal,open,rep,2025-10-01,,\n2,Beta,10,Proposal,open,outsider,2025-10-01,,\n",
    )
    plan = import_preview(path=path, by=manager)
    assert _problems(plan) == [(3, "Owner", "outsider", "You may not import records for this owner.")]
    with pytest.raises(ApplicationError, match="Only admins and managers may import"):
        import_preview(path=FILES / "hubspot_deals.csv", by=rep)


@pytest.mark.parametrize("zone", ["Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "UTC"])
def test_local_times_become_utc_as_the_zone_says_on_every_day_also_around_a_clock_change(settings, zone):
    """``aware`` looks a zone's offset up once per local day; on the days the clock changes, per time."""
    import datetime as dt
    import zoneinfo

    from dealflow.importers.values import aware

    settings.TIME_ZONE = zone
    info = zoneinfo.ZoneInfo(zone)
    day = dt.datetime(2025, 1, 1)
    while day.year == 2025:
        for minutes in (0, 90, 120, 150, 179, 180, 181, 210, 599, 1439):
            moment = day + dt.timedelta(minutes=minutes, seconds=7)
            expected = moment.replace(tzinfo=info).astimezone(dt.UTC)
            assert aware(moment) == expected and aware(moment).tzinfo is dt.UTC, moment
        day += dt.timedelta(days=1)
    moment = dt.datetime(2025, 7, 1, 12, tzinfo=dt.UTC)
    assert aware(moment) is not None and aware(moment) == moment
