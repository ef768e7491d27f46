"""Few new deals go through the services, many through the bulk writer: both write the same rows."""

from __future__ import annotations

import datetime as dt

import pytest

from dealflow.deals.models import Deal, DealEvent, DealFact, DealMonthlyTotals, Lead, StageSpell, StayFact
from dealflow.deals.services.derived import derived_rebuild
from dealflow.importers.mapping import ImportOptions
from dealflow.importers.services import import_apply
from dealflow.importers.tests.conftest import FILES
from dealflow.importers.tests.test_presets import SALESFORCE_ANSWERS

pytestmark = pytest.mark.django_db


def _rows(source: str) -> list[tuple]:
    """Every deal of a source with its events and spells, without ids that differ between the runs."""
    result = []
    for deal in Deal.objects.filter(external_source=source).order_by("external_id"):
        events = [
            (
                event.kind,
                event.field,
                event.from_value,
                event.to_value,
                event.from_stage_id,
                event.to_stage_id,
                event.amount_minor,
                event.currency,
                event.actor_id,
                event.origin,
                event.occurred_at,
            )
            for event in DealEvent.objects.filter(deal=deal).order_by("occurred_at", "id")
        ]
        spells = [
            (
                spell.stage_id,
                spell.entered_at,
                spell.entered_on,
                spell.exited_at,
                spell.exited_on,
                spell.exit_kind,
                spell.next_stage_id,
                spell.duration_days,
                spell.owner_id,
            )
            for spell in StageSpell.objects.filter(deal=deal).order_by("entered_at", "id")
        ]
        lead = (
            Lead.objects.filter(pk=deal.lead_id or 0)
            .values_list("title", "status", "closed_at", "created_at")
            .first()
        )
        result.append(
            (
                deal.external_id,
                deal.title,
                deal.status,
                deal.stage_id,
                deal.amount_minor,
                deal.currency,
                deal.expected_close_on,
                deal.created_at,
                deal.created_on,
                deal.closed_on,
                deal.cycle_days,
                deal.lead_cycle_days,
                deal.amount_base_minor,
                deal.won_at,
                deal.lost_at,
                deal.stage_entered_at,
                deal.last_activity_at,
                deal.version,
                deal.probability_override,
                deal.forecast_category_override,
                deal.owner_id,
                deal.team_id,
                deal.source_id,
                deal.lost_reason_id,
                deal.organization.name if deal.organization else None,
                lead,
                events,
                spells,
            )
        )
    return result


@pytest.mark.parametrize("fixture", ["salesforce", "pipedrive", "dutch"])
def test_services_and_bulk_writer_write_the_same_history(
    fixture, salesforce_zip, admin_user, rep, rep2, rate_usd
):
    path = {
        "salesforce": salesforce_zip,
        "pipedrive": FILES / "pipedrive_deals.csv",
        "dutch": FILES / "dutch_excel.csv",
    }[fixture]
    answers = SALESFORCE_ANSWERS if fixture == "salesforce" else {}
    if fixture == "dutch":
        # Without ids the deals are told apart by their title; give each run its own ids.
        path = _with_ids(path, admin_user)

    _first, result_services = import_apply(
        path=path,
        by=admin_user,
        options=ImportOptions.from_json({**answers, "source": "one"}),
        use_bulk=False,
    )
    _second, result_bulk = import_apply(
        path=path, by=admin_user, options=ImportOptions.from_json({**answers, "source": "two"}), use_bulk=True
    )

    assert not result_services.used_bulk and result_bulk.used_bulk
    assert "derived tables (derived_rebuild)" not in result_bulk.timings  # deals exist: rows, no rebuild
    assert result_services.created["deals"] == result_bulk.created["deals"] > 0
    assert _rows("one") == _rows("two")
    # The analytics rows: kept in step by the services for "one", worked out by the bulk writer for "two".
    assert _facts("one") == _facts("two")
    written = _derived()
    derived_rebuild()
    assert _derived() == written


def _facts(source: str) -> list[tuple]:
    """DealFact and StayFact rows of a source's deals, keyed by external id instead of row ids."""
    result = []
    for deal in Deal.objects.filter(external_source=source).order_by("external_id"):
        fact = dict(DealFact.objects.filter(deal=deal).values().get())
        del fact["deal_id"]
        stays = [
            (
                stay.stage_id,
                stay.next_stage_id,
                stay.owner_id,
                stay.team_id,
                stay.source_id,
                stay.deal_status,
                stay.entry_kind,
                stay.entered_on,
                stay.exited_on,
                stay.days,
                stay.exit_kind,
            )
            for stay in StayFact.objects.filter(deal_id=deal.pk).order_by("entered_on", "spell_id")
        ]
        result.append((deal.external_id, fact, stays))
    return result


def _derived() -> dict[str, list]:
    def rows(model, skip: int = 0) -> list:
        names = [field.attname for field in model._meta.concrete_fields]
        # The services may leave a monthly cell at zero (a reopened deal); a rebuild drops it.
        return sorted(row[skip:] for row in model.objects.values_list(*names) if any(row[6:]) or skip == 0)

    return {"facts": rows(DealFact), "stays": rows(StayFact), "totals": rows(DealMonthlyTotals, skip=1)}


def _with_ids(path, admin_user):
    """The Dutch sheet with an id column (the same rows, keyed by their line)."""
    from pathlib import Path
    from tempfile import mkdtemp

    lines = path.read_bytes().decode("cp1252").splitlines()
    target = Path(mkdtemp()) / "dutch_with_ids.csv"
    text = "\r\n".join(
        [f"Nummer;{lines[0]}", *[f"{number};{line}" for number, line in enumerate(lines[1:], start=1)]]
    )
    target.write_bytes(text.encode("cp1252"))
    return target


def test_bulk_path_is_taken_for_many_deals(tmp_path, admin_user, rep, settings):
    settings.DEALFLOW = {**settings.DEALFLOW, "IMPORT_BULK_THRESHOLD": 10}
    lines = ["Deal ID,Title,Amount,Stage,Status,Owner,Created,Closed on"]
    for number in range(40):
        status = ("won", "lost", "open")[number % 3]
        closed = f"2025-11-{number % 28 + 1:02d}" if status != "open" else ""
        lines.append(f"{number},Deal {number},{100 + number},Proposal,{status},rep,2025-10-01 09:00,{closed}")
    path = tmp_path / "many.csv"
    path.write_text("\n".join(lines) + "\n")

    _plan, result = import_apply(path=path, by=admin_user)

    assert result.used_bulk and result.created == {"deals": 40}
    assert DealEvent.objects.count() == 40 + 27  # created, plus won or lost for 27 of them
    lost = Deal.objects.filter(status="lost").first()
    assert lost.lost_reason.name == "Other" and lost.closed_on >= dt.date(2025, 11, 1)


def test_a_big_first_import_sets_indexes_and_keys_aside_and_puts_them_back(
    tmp_path, admin_user, rep, settings, monkeypatch
):
    from django.db import connection

    from dealflow.importers import writing

    def constraints() -> dict[str, set[str]]:
        with connection.cursor() as cursor:
            return {
                table: set(connection.introspection.get_constraints(cursor, table))
                for table in (
                    "deals_deal",
                    "deals_dealevent",
                    "deals_stagespell",
                    "deals_dealfact",
                    "deals_stayfact",
                    "search_searchentry",  # its indexes go aside too (search_index_add_many)
                )
            }

    before = constraints()
    settings.DEALFLOW = {**settings.DEALFLOW, "IMPORT_BULK_THRESHOLD": 10}
    monkeypatch.setattr(writing.bulk, "DEFER_INDEXES_FROM", 20)
    # New organizations are written first in the same transaction: their foreign-key checks are pending
    # when the deals' keys go aside, which PostgreSQL allows only once they have run.
    lines = ["Deal ID,Title,Amount,Stage,Status,Owner,Organization,Created,Closed on"]
    for number in range(30):
        status = ("won", "lost", "open")[number % 3]
        closed = f"2025-11-{number % 28 + 1:02d}" if status != "open" else ""
        lines.append(
            f"{number},Deal {number},{100 + number},Proposal,{status},rep,Customer {number % 4},2025-10-01 09:00,{closed}"
        )
    path = tmp_path / "first.csv"
    path.write_text("\n".join(lines) + "\n")

    _plan, result = import_apply(path=path, by=admin_user)

    assert result.used_bulk and result.created == {"deals": 30, "organizations": 4}
    assert "indexes built again" in result.timings
    assert "derived tables (derived_rebuild)" in result.timings  # into an empty database: the rebuild
    assert constraints() == before
    assert DealFact.objects.count() == 30 and StayFact.objects.count() == 30
    from dealflow.search.selectors import search_for_user

    found = search_for_user(user=admin_user, query="deal 17", limit=5)
    assert [(entry.kind, entry.title) for entry in found] == [("deal", "Deal 17")]
    by_customer = search_for_user(user=admin_user, query="customer 2", limit=50)
    assert sorted(entry.title for entry in by_customer if entry.kind == "organization") == ["Customer 2"]
    assert {entry.object_id for entry in by_customer if entry.kind == "deal"} >= set(
        Deal.objects.filter(organization__name="Customer 2").values_list("id", flat=True)
    )  # the deals of Customer 2 (number % 4 == 2; "2" is a prefix, of "21" too), found through the
    # full-text index filled after them
    written = _derived()
    derived_rebuild()
    assert _derived() == written


def test_bulk_import_indexes_for_search_what_a_rebuild_indexes(tmp_path, admin_user, rep):
    """The bulk path reads the new deals as plain values to index them; a rebuild from the models (the
    services' document functions) must write the same entries."""
    from dealflow.directory.services import search_rebuild
    from dealflow.search.models import SearchEntry

    def entries() -> list[tuple]:
        return sorted(
            SearchEntry.objects.values_list("kind", "object_id", "owner_id", "title", "subtitle", "text")
        )

    path = tmp_path / "deals.csv"
    path.write_text(
        "Deal ID,Title,Amount,Stage,Status,Owner,Organization,Contact person,Contact e-mail,Created,Closed on\n"
        "1,Renewal 2025,100,Proposal,open,rep,Acme B.V.,Zoë Müller,zoe@example.com,2025-10-01 09:00,\n"
        "2,Pilot,200,Proposal,won,rep,Acme B.V.,,,2025-10-02 09:00,2025-11-02 10:00\n"
        "3,Licences,300,Proposal,open,rep,,Jan Smit,jan@example.com,2025-10-03 09:00,\n"
        "4,Training,400,Proposal,open,rep,,,,2025-10-04 09:00,\n",
        encoding="utf-8",
    )
    _plan, result = import_apply(
        path=path, by=admin_user, options=ImportOptions(create_stages=True), use_bulk=True
    )

    assert result.used_bulk and result.created["deals"] == 4
    written = entries()
    deal_texts = sorted(entry[5] for entry in written if entry[0] == "deal")
    assert deal_texts == [
        "licences jan smit",
        "pilot acme b v bv",
        "renewal 2025 acme b v zoe muller bv",
        "training",
    ]
    search_rebuild()
    assert entries() == written
