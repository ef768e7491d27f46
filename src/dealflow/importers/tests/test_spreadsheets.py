"""Spreadsheets people make themselves: a Dutch Excel CSV, a generic layout mapped once and saved, XLSX."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal

import openpyxl
import pytest

from dealflow.core.errors import ApplicationError
from dealflow.deals.models import Deal, DealEvent, LostReason
from dealflow.importers.mapping import ImportOptions, options_from_toml, options_to_toml
from dealflow.importers.models import ImportMapping
from dealflow.importers.services import import_apply, import_mapping_save, import_preview
from dealflow.importers.tests.conftest import FILES, win_rate_and_average

pytestmark = pytest.mark.django_db

GENERIC_COLUMNS = {
    "Ref": "external_id",
    "Subject line": "title",
    "Worth": "amount",
    "Phase": "stage",
    "Result": "status",
    "Rep": "owner",
    "Opened": "created_at",
    "Target date": "expected_close_on",
}


def test_dutch_excel_sheet_with_semicolons_decimal_commas_and_windows_1252(admin_user, rep):
    plan, result = import_apply(path=FILES / "dutch_excel.csv", by=admin_user)

    assert plan.sheets[0].sheet.delimiter == ";"
    assert plan.sheets[0].sheet.encoding == "cp1252"
    assert any("Windows-1252" in notice for notice in plan.notices)
    assert plan.sheets[0].columns == {
        "Naam": "title",
        "Klant": "organization",
        "Bedrag": "amount",
        "Fase": "stage",
        "Status": "status",
        "Eigenaar": "owner",
        "Aangemaakt op": "created_at",
        "Verwachte sluitingsdatum": "expected_close_on",
        "Gesloten op": "closed_at",
        "Reden verloren": "lost_reason",
    }
    assert result.created == {"organizations": 4, "deals": 5}
    utrecht = Deal.objects.get(title="Offerte Gemeente Utrecht")
    assert (utrecht.amount_minor, utrecht.status, utrecht.closed_on) == (
        1_250_000,
        "won",
        dt.date(2025, 11, 25),
    )
    assert utrecht.created_on == dt.date(2025, 9, 3)  # 03-09-2025 is day-first: the column has 15-09-2025
    cafe = Deal.objects.get(title="Onderhoud Café Zoë")
    assert cafe.organization.name == "Café Zoë"
    assert (cafe.amount_minor, cafe.lost_reason.name) == (125_050, "Prijs")
    assert LostReason.objects.filter(name="Geen budget").exists()
    assert Deal.objects.get(title="Nieuwe kassa's").amount_minor == 399_999
    assert Deal.objects.filter(organization__name="Gemeente Utrecht").count() == 2
    assert win_rate_and_average() == (Decimal("50.0"), Decimal("10000.00"))


def test_generic_layout_is_refused_until_mapped(admin_user, rep):
    with pytest.raises(ApplicationError) as error:
        import_preview(
            path=FILES / "generic_crm.csv",
            by=admin_user,
            options=ImportOptions.from_json({"entity": "deals"}),
        )
    assert "no column for Title" in error.value.message
    assert "Subject line" in error.value.message  # it lists what it found


def test_ambiguous_dates_are_asked_never_guessed(admin_user, rep):
    options = ImportOptions.from_json({"entity": "deals", "columns": GENERIC_COLUMNS})
    plan = import_preview(path=FILES / "generic_crm.csv", by=admin_user, options=options)

    [question] = plan.questions
    assert (question.kind, question.key, question.count) == ("dates", "Opened", 3)
    assert "09/03/2025" in question.examples
    assert plan.sheets[0].rows[0]["expected_close_on"] == dt.date(2025, 10, 31)  # 10/31/2025: month first
    with pytest.raises(ApplicationError, match="open question"):
        import_apply(path=FILES / "generic_crm.csv", by=admin_user, options=options)
    assert Deal.objects.count() == 0


def test_generic_layout_mapped_once_and_saved_for_the_next_file(admin_user, rep, tmp_path):
    options = ImportOptions.from_json(
        {"entity": "deals", "columns": GENERIC_COLUMNS, "dates": {"Opened": "mdy"}, "source": "old-crm"}
    )
    plan = import_preview(path=FILES / "generic_crm.csv", by=admin_user, options=options)
    assert plan.is_ready and plan.error_count == 0
    mapping = import_mapping_save(name="Old CRM deals", plan=plan, by=admin_user)
    assert mapping.entity == "deals"

    # Next month's file: same headers in another order and spelling, and no options at all.
    again = tmp_path / "old-crm-march.csv"
    again.write_text(
        "subject line,REF,worth,phase,result,rep,opened,target date\n"
        'Northwind renewal,G-1,"1,500.00",Proposal,Won,rep,09/03/2025,10/31/2025\n'
        'Initrode audit,G-4,"4,000.00",Proposal,Won,rep,02/01/2026,02/20/2026\n',
        encoding="utf-8",
    )
    import_apply(path=FILES / "generic_crm.csv", by=admin_user, options=ImportOptions(mapping_id=mapping.pk))
    plan, result = import_apply(path=again, by=admin_user)

    assert plan.sheets[0].how == "mapping:Old CRM deals"
    assert plan.source == "old-crm"
    assert result.created == {"deals": 1} and plan.counts["deals"].skip == 1
    northwind = Deal.objects.get(external_source="old-crm", external_id="G-1")
    assert northwind.created_on == dt.date(2025, 9, 3) and northwind.status == "won"
    assert northwind.closed_on == dt.date(
        2025, 10, 31
    )  # a won deal without a close time closes on its close date
    initrode = Deal.objects.get(external_id="G-4")
    assert initrode.created_on == dt.date(2026, 2, 1)
    assert win_rate_and_average() == (Decimal("66.7"), Decimal("2750.00"))


def test_toml_mapping_file_round_trip(admin_user, rep):
    text = options_to_toml(
        ImportOptions.from_json(
            {
                "entity": "deals",
                "columns": GENERIC_COLUMNS,
                "dates": {"Opened": "mdy"},
                "stages": {"Demo": "create"},
            }
        )
    )
    options = options_from_toml(text)
    assert options.sheet.columns == GENERIC_COLUMNS
    assert options.sheet.dates == {"Opened": "mdy"} and options.stages == {"Demo": "create"}
    with pytest.raises(ApplicationError, match='must be "dmy" or "mdy"'):
        options_from_toml('[dates]\n"Opened" = "ymd"\n')
    with pytest.raises(ApplicationError, match="not valid TOML"):
        options_from_toml("entity = \n")
    with pytest.raises(ApplicationError, match="which deals do not have"):
        options_from_toml('entity = "deals"\n[columns]\n"X" = "shoe_size"\n')


def test_xlsx_workbook_with_real_dates_and_numbers(admin_user, rep, tmp_path):
    path = tmp_path / "deals.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Deals"
    sheet.append(["Deal ID", "Deal name", "Amount", "Stage", "Status", "Owner", "Created", "Closed on"])
    sheet.append(
        [
            1,
            "Excel one",
            1234.5,
            "Proposal",
            "won",
            "rep",
            dt.datetime(2025, 10, 1, 9, 0),
            dt.date(2025, 11, 1),
        ]
    )
    sheet.append([2, "Excel two", 800, "Qualification", "open", "rep", dt.datetime(2026, 1, 2, 9, 0), None])
    sheet.append([None, None, None, None, None, None, None, None])
    book.save(path)

    _plan, result = import_apply(path=path, by=admin_user)

    assert result.created == {"deals": 2}
    one = Deal.objects.get(external_id="1")
    assert (one.amount_minor, one.status, one.closed_on) == (123_450, "won", dt.date(2025, 11, 1))
    assert DealEvent.objects.filter(deal=one).count() == 2


def test_saved_mapping_is_chosen_by_headers_in_any_spelling(admin_user, rep, tmp_path):
    plan = import_preview(
        path=FILES / "generic_crm.csv",
        by=admin_user,
        options=ImportOptions.from_json(
            {"entity": "deals", "columns": GENERIC_COLUMNS, "dates": {"Opened": "mdy"}}
        ),
    )
    import_mapping_save(name="Generic", plan=plan, by=admin_user)
    copy = tmp_path / "copy.csv"
    shutil.copy(FILES / "generic_crm.csv", copy)
    assert import_preview(path=copy, by=admin_user).sheets[0].how == "mapping:Generic"
    assert ImportMapping.objects.count() == 1


def test_sheet_without_ids_is_recognised_again_on_reimport(admin_user, rep, tmp_path):
    import_apply(path=FILES / "dutch_excel.csv", by=admin_user)
    plan, result = import_apply(path=FILES / "dutch_excel.csv", by=admin_user)

    assert plan.counts["deals"].as_json() == {"create": 0, "update": 0, "skip": 5, "reject": 0}
    assert any("has no id column" in notice for notice in plan.notices)
    assert result.created == {} and Deal.objects.count() == 5

    twice = tmp_path / "twice.csv"
    twice.write_text(
        "Naam;Bedrag;Aangemaakt op\nDubbel;10;01-02-2026\nDubbel;10;01-02-2026\n", encoding="utf-8"
    )
    plan = import_preview(path=twice, by=admin_user)
    [problem] = plan.problems.errors
    assert problem.line == 3 and "looks like line 2" in problem.reason
