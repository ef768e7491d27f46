"""A big single deals sheet is streamed (issue #13): a chunk of rows at a time, with the plan's operations in
temporary files. The preview and the import must come out exactly as the whole-file path's; problems keep
naming the CSV line across chunk boundaries; the plan holds no more than a chunk of rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from dealflow.contacts.models import Organization, Person
from dealflow.deals.models import Deal, DealEvent, Stage, StageSpell
from dealflow.importers.mapping import ImportOptions
from dealflow.importers.planning import plan as planning
from dealflow.importers.services import import_apply, import_preview

pytestmark = pytest.mark.django_db

HEADER = "Deal ID,Title,Amount,Stage,Status,Owner,Organization,Contact e-mail,Created,Closed on,Probability\n"


def _deals_csv(tmp_path, rows: int = 40) -> object:
    """Deals with what crosses chunks: a repeated id (line 30 repeats line 3), a bad amount (line 25), an
    undated row (line 12), a stage the file creates, organizations and persons met again later."""
    lines = [HEADER]
    start = dt.datetime(2025, 3, 1, 9, 0)
    for number in range(rows):
        line = number + 2
        deal_id = "D0001" if line == 30 else f"D{line - 2:04d}"
        amount = "abc" if line == 25 else f"{1000 + number * 10}.50"
        stage = ["Qualification", "Proposal", "Pilot"][number % 3]
        status = ["open", "won", "lost", "open"][number % 4]
        created = "" if line == 12 else (start + dt.timedelta(days=number)).strftime("%Y-%m-%d %H:%M")
        closed = (start + dt.timedelta(days=number + 20)).strftime("%Y-%m-%d") if status != "open" else ""
        lines.append(
            f"{deal_id},Deal {number},{amount},{stage},{status},rep,Customer {number % 7},"
            f"buyer{number % 5}@example.com,{created},{closed},{20 + number % 3 * 10 if status == 'open' else ''}\n"
        )
    path = tmp_path / "deals.csv"
    path.write_text("".join(lines), encoding="utf-8")
    return path


OPTIONS = {"entity": "deals", "create_stages": True, "keep_valid": True, "undated": {"*": "first"}}


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(planning, "STREAM_CHUNK", 7)


def _streamed(settings, on: bool) -> None:
    settings.DEALFLOW = {**settings.DEALFLOW, "IMPORT_STREAM_FROM_BYTES": 0 if on else 1 << 40}


def _snapshot() -> dict[str, list]:
    skip = {"id", "deal_id", "organization_id", "person_id", "stage_id", "from_stage_id", "to_stage_id",
            "next_stage_id", "updated_at", "recorded_at", "pipeline_id", "spell_id", "entered_event_id"}  # fmt: skip

    def rows(queryset, order):
        return [
            {key: value for key, value in row.items() if key not in skip}
            for row in queryset.order_by(*order).values()
        ]

    return {
        "deals": rows(Deal.objects.all(), ["external_id"]),
        "events": rows(DealEvent.objects.all(), ["deal__external_id", "occurred_at", "kind"]),
        "spells": rows(StageSpell.objects.all(), ["deal__external_id", "entered_at"]),
        "organizations": sorted(Organization.objects.values_list("name", flat=True)),
        "persons": sorted(Person.objects.values_list("email", flat=True)),
        "stages": sorted(Stage.objects.values_list("name", "probability")),
    }


class _Undo(Exception):
    pass


def test_the_streamed_preview_and_import_equal_the_whole_file_ones(
    tmp_path, settings, admin_user, rep, small_chunks
):
    path = _deals_csv(tmp_path)
    options = ImportOptions.from_json(OPTIONS)
    _streamed(settings, False)
    whole_preview = import_preview(path=path, by=admin_user, options=options).summary()
    try:
        with transaction.atomic():
            _plan, whole_result = import_apply(path=path, by=admin_user, options=options, use_bulk=True)
            whole = _snapshot()
            raise _Undo
    except _Undo:
        pass
    assert Deal.objects.count() == 0

    _streamed(settings, True)
    streamed_plan = import_preview(path=path, by=admin_user, options=options)
    assert streamed_plan.stream is not None
    assert streamed_plan.summary() == whole_preview
    summary = whole_preview
    assert summary["sheets"][0]["rows"] == 40
    assert summary["counts"]["deals"] == {"create": 38, "update": 0, "skip": 0, "reject": 2, "wait": 0}
    errors = {
        (problem["line"], problem["column"])
        for problem in summary["problems"]
        if problem["severity"] == "error"
    }
    assert errors == {(25, "Amount"), (30, "Deal ID")}

    plan, result = import_apply(path=path, by=admin_user, options=options, use_bulk=True)
    assert plan.stream is not None and plan.stream.creates is not None and plan.stream.creates.closed
    assert result.created == whole_result.created == {"organizations": 7, "persons": 5, "deals": 38}
    assert sorted((item.line, item.reason) for item in result.rejected) == sorted(
        (item.line, item.reason) for item in whole_result.rejected
    )
    assert [item.line for item in result.rejected] == [25, 30]
    assert _snapshot() == whole
    assert Stage.objects.get(name="Pilot").probability is not None


def test_the_streamed_plan_holds_a_sample_not_the_rows(tmp_path, settings, admin_user, rep, small_chunks):
    _streamed(settings, True)
    path = _deals_csv(tmp_path)
    plan = import_preview(path=path, by=admin_user, options=ImportOptions.from_json(OPTIONS))
    parsed = plan.sheets[0]
    assert len(parsed.rows) == 5 and parsed.size == 40
    assert plan.deals_create == [] and plan.deals_create_count == 38
    assert plan.stream is not None and plan.stream.creates is None  # a preview keeps no operations
    assert [row["_line"] for row in parsed.rows] == [2, 3, 4, 5, 6]


def test_a_streamed_import_asks_the_date_order_from_the_whole_file(
    tmp_path, settings, admin_user, rep, small_chunks
):
    """Day-first evidence only on the last line: the whole file decides, not the chunk the row is in."""
    _streamed(settings, True)
    lines = ["Title,Amount,Created\n"]
    lines += [f"Deal {number},100,0{1 + number % 9}/0{1 + number % 8}/2025\n" for number in range(20)]
    lines.append("Last,100,25/12/2025\n")
    path = tmp_path / "dates.csv"
    path.write_text("".join(lines), encoding="utf-8")
    plan = import_preview(path=path, by=admin_user, options=ImportOptions.from_json({"entity": "deals"}))
    assert plan.questions == [] or all(question.kind != "dates" for question in plan.questions)
    import_apply(path=path, by=admin_user, options=ImportOptions.from_json({"entity": "deals"}))
    assert timezone.localdate(Deal.objects.get(title="Deal 1").created_at).isoformat() == "2025-02-02"
    assert timezone.localdate(Deal.objects.get(title="Deal 10").created_at).isoformat() == "2025-03-02"

    ambiguous = tmp_path / "ambiguous.csv"
    ambiguous.write_text("".join(lines[:-1]), encoding="utf-8")
    plan = import_preview(path=ambiguous, by=admin_user, options=ImportOptions.from_json({"entity": "deals"}))
    [question] = [question for question in plan.questions if question.kind == "dates"]
    assert question.count == 20 and question.examples[0] == "01/01/2025"
    assert plan.waiting == {plan.sheets[0].entity: 20}


def test_a_streamed_import_finds_existing_contacts_in_every_chunk(
    tmp_path, settings, admin_user, rep, small_chunks
):
    """Organizations and persons already in Dealflow are found for the rows of every chunk, as by the whole
    file, though each name and address is looked up once (BuilderBase.found_once)."""
    from dealflow.contacts.tests.factories import OrganizationFactory, PersonFactory

    known = OrganizationFactory(name="CUSTOMER 3")
    OrganizationFactory(name="customer 3")  # a later duplicate: the first by id is the one matched
    buyer = PersonFactory(email="buyer2@example.com", organization=known)
    path = _deals_csv(tmp_path)
    options = ImportOptions.from_json(OPTIONS)
    links = {}
    for on in (False, True):
        _streamed(settings, on)
        try:
            with transaction.atomic():
                import_apply(path=path, by=admin_user, options=options, use_bulk=True)
                # New records' ids differ between the two runs (PostgreSQL keeps its sequences): names.
                links[on] = sorted(
                    (
                        external_id,
                        organization_id if organization_id == known.pk else name,
                        person_id if person_id == buyer.pk else email,
                    )
                    for external_id, organization_id, name, person_id, email in Deal.objects.values_list(
                        "external_id", "organization_id", "organization__name", "person_id", "person__email"
                    )
                )
                raise _Undo
        except _Undo:
            pass
    assert links[True] == links[False]
    by_deal = {external_id: (organization, person) for external_id, organization, person in links[True]}
    assert by_deal["D0003"][0] == known.pk and by_deal["D0017"][0] == known.pk  # "Customer 3", chunks 1 and 3
    assert by_deal["D0002"][1] == buyer.pk and by_deal["D0037"][1] == buyer.pk  # buyer2, chunks 1 and 6

    asked: list[list[str]] = []
    builder = planning.PlanBuilder(import_preview(path=path, by=admin_user, options=options))
    cache: dict[str, list] = {}
    for keys in (["a", "b"], ["b", "c"]):
        assert list(builder.found_once(cache, keys, lambda chunk: asked.append(chunk) or [])) == []
    assert asked == [["a", "b"], ["c"]]


def test_a_streamed_import_weighs_day_month_cells_among_iso_ones(
    tmp_path, settings, admin_user, rep, small_chunks
):
    """The first pass skips the ISO cells of a date column (they cannot be day/month questions) but still
    decides the order from the others, wherever they are in the file."""
    _streamed(settings, True)
    lines = ["Title,Amount,Created\n"]
    lines += [f"Deal {number},100,2025-0{1 + number % 9}-1{number % 9}\n" for number in range(20)]
    lines.append("Ambiguous,100,03/04/2025\n")
    lines.append("Last,100,25/12/2025\n")
    path = tmp_path / "dates.csv"
    path.write_text("".join(lines), encoding="utf-8")
    options = ImportOptions.from_json({"entity": "deals"})
    plan = import_preview(path=path, by=admin_user, options=options)
    assert all(question.kind != "dates" for question in plan.questions)
    import_apply(path=path, by=admin_user, options=options)
    assert timezone.localdate(Deal.objects.get(title="Ambiguous").created_at).isoformat() == "2025-04-03"
    assert timezone.localdate(Deal.objects.get(title="Deal 4").created_at).isoformat() == "2025-05-14"
