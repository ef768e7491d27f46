"""Exports: deals, leads, organizations, persons, activities and events as CSV or XLSX.

Every export reads through the ``*_for_user`` selectors, so it shows exactly what the user may see, with
the same filters as the list it came from. CSV is UTF-8 with a BOM (Excel then reads accents right).
A text cell starting with = + - @ (or a tab or carriage return) is prefixed with an apostrophe, so a
spreadsheet shows it as text instead of running it as a formula (OWASP: CSV injection).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import connections, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from dealflow.accounts.models import User
from dealflow.contacts.selectors import organization_list_for_user, person_list_for_user
from dealflow.core.errors import ApplicationError
from dealflow.core.money import from_minor
from dealflow.deals.models import DealEvent
from dealflow.deals.selectors import (
    DealFilters,
    activity_list_for_user,
    deal_list_for_user,
    lead_list_for_user,
)
from dealflow.importers.contents import deal_lines_of, with_contents_columns

EXPORT_ENTITIES = ("deals", "leads", "organizations", "persons", "activities", "events", "lines")
FORMATS = ("csv", "xlsx")
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """'=HYPERLINK(...)' -> "'=HYPERLINK(...)": a spreadsheet shows it instead of evaluating it."""
    if text and text.startswith(_DANGEROUS):
        return "'" + text
    return text


def _moment(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return timezone.localtime(value).isoformat(timespec="seconds")


def _day(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def _name(user: User | None) -> str:
    return user.username if user else ""


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Any], Any]
    is_text: bool = True


def _text(getter: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda record: str(getter(record) or "")


DEAL_COLUMNS = [
    Column("ID", lambda deal: deal.pk, is_text=False),
    Column("Source system", _text(lambda deal: deal.external_source)),
    Column("External ID", _text(lambda deal: deal.external_id)),
    Column("Title", _text(lambda deal: deal.title)),
    Column("Pipeline", _text(lambda deal: deal.pipeline.name)),
    Column("Stage", _text(lambda deal: deal.stage.name)),
    Column("Status", _text(lambda deal: deal.status)),
    Column("Amount", lambda deal: from_minor(deal.amount_minor, deal.currency), is_text=False),
    Column("Currency", _text(lambda deal: deal.currency)),
    Column("Expected close date", lambda deal: _day(deal.expected_close_on), is_text=False),
    Column("Probability", lambda deal: deal.probability, is_text=False),
    Column("Forecast category", _text(lambda deal: deal.forecast_category)),
    Column("Owner", _text(lambda deal: _name(deal.owner))),
    Column("Organization", _text(lambda deal: deal.organization.name if deal.organization else "")),
    Column("Contact person", _text(lambda deal: deal.person.full_name if deal.person else "")),
    Column("Contact email", _text(lambda deal: deal.person.email if deal.person else "")),
    Column("Lead source", _text(lambda deal: deal.source.name if deal.source else "")),
    Column("Lead ID", lambda deal: deal.lead_id or "", is_text=False),
    Column("Lost reason", _text(lambda deal: deal.lost_reason.name if deal.lost_reason else "")),
    Column("Lost note", _text(lambda deal: deal.lost_note)),
    Column("Next step", _text(lambda deal: deal.next_step)),
    Column("Created", lambda deal: _moment(deal.created_at), is_text=False),
    Column("Stage entered", lambda deal: _moment(deal.stage_entered_at), is_text=False),
    Column("Won time", lambda deal: _moment(deal.won_at), is_text=False),
    Column("Lost time", lambda deal: _moment(deal.lost_at), is_text=False),
    Column("Cycle days", lambda deal: "" if deal.cycle_days is None else deal.cycle_days, is_text=False),
]
LEAD_COLUMNS = [
    Column("ID", lambda lead: lead.pk, is_text=False),
    Column("Source system", _text(lambda lead: lead.external_source)),
    Column("External ID", _text(lambda lead: lead.external_id)),
    Column("Title", _text(lambda lead: lead.title)),
    Column("Status", _text(lambda lead: lead.status)),
    Column("Lead source", _text(lambda lead: lead.source.name)),
    Column("Owner", _text(lambda lead: _name(lead.owner))),
    Column("Organization", _text(lambda lead: lead.organization.name if lead.organization else "")),
    Column("Contact person", _text(lambda lead: lead.person.full_name if lead.person else "")),
    Column("Email", _text(lambda lead: lead.person.email if lead.person else "")),
    Column("Budget", lambda lead: "yes" if lead.has_budget else "no", is_text=False),
    Column("Authority", lambda lead: "yes" if lead.has_authority else "no", is_text=False),
    Column("Need", lambda lead: "yes" if lead.has_need else "no", is_text=False),
    Column("Timeline", lambda lead: "yes" if lead.has_timeline else "no", is_text=False),
    Column("Disqualified reason", _text(lambda lead: lead.disqualified_reason)),
    Column("Created", lambda lead: _moment(lead.created_at), is_text=False),
    Column("Qualified", lambda lead: _moment(lead.qualified_at), is_text=False),
    Column("Closed", lambda lead: _moment(lead.closed_at), is_text=False),
]
ORGANIZATION_COLUMNS = [
    Column("ID", lambda organization: organization.pk, is_text=False),
    Column("Source system", _text(lambda organization: organization.external_source)),
    Column("External ID", _text(lambda organization: organization.external_id)),
    Column("Name", _text(lambda organization: organization.name)),
    Column("Website", _text(lambda organization: organization.website)),
    Column("Industry", _text(lambda organization: organization.industry)),
    Column("Country", _text(lambda organization: organization.country)),
    Column("Owner", _text(lambda organization: _name(organization.owner))),
    Column("Created", lambda organization: _moment(organization.created_at), is_text=False),
]
PERSON_COLUMNS = [
    Column("ID", lambda person: person.pk, is_text=False),
    Column("Source system", _text(lambda person: person.external_source)),
    Column("External ID", _text(lambda person: person.external_id)),
    Column("First name", _text(lambda person: person.first_name)),
    Column("Last name", _text(lambda person: person.last_name)),
    Column("Email", _text(lambda person: person.email)),
    Column("Phone", _text(lambda person: person.phone)),
    Column("Job title", _text(lambda person: person.job_title)),
    Column("Organization", _text(lambda person: person.organization.name if person.organization else "")),
    Column("Owner", _text(lambda person: _name(person.owner))),
    Column("Created", lambda person: _moment(person.created_at), is_text=False),
]
ACTIVITY_COLUMNS = [
    Column("ID", lambda activity: activity.pk, is_text=False),
    Column("Source system", _text(lambda activity: activity.external_source)),
    Column("External ID", _text(lambda activity: activity.external_id)),
    Column("Type", _text(lambda activity: activity.kind)),
    Column("Subject", _text(lambda activity: activity.subject)),
    Column("Notes", _text(lambda activity: activity.notes)),
    Column("Due", lambda activity: _moment(activity.due_at), is_text=False),
    Column("Done", lambda activity: _moment(activity.done_at), is_text=False),
    Column("Owner", _text(lambda activity: _name(activity.owner))),
    Column("Deal ID", lambda activity: activity.deal_id or "", is_text=False),
    # The title only of a deal the exporting user may still see (activity_list_for_user annotates it).
    Column("Deal", _text(lambda activity: activity.visible_deal_title or "")),
    Column("Lead ID", lambda activity: activity.lead_id or "", is_text=False),
    Column("Created", lambda activity: _moment(activity.created_at), is_text=False),
]
LINE_COLUMNS = [
    Column("Deal ID", lambda line: line.deal_id, is_text=False),
    Column("Deal external ID", _text(lambda line: line.deal.external_id)),
    Column("Deal", _text(lambda line: line.deal.title)),
    Column("Position", lambda line: line.position + 1, is_text=False),
    Column("Product code", _text(lambda line: line.product.code if line.product else "")),
    Column("Description", _text(lambda line: line.description)),
    Column("Quantity", lambda line: line.quantity.normalize(), is_text=False),
    Column("Unit price", lambda line: from_minor(line.unit_price_minor, line.currency), is_text=False),
    Column("Currency", _text(lambda line: line.currency)),
    Column("Discount %", lambda line: line.discount_percent.normalize(), is_text=False),
    Column("Tax rate %", lambda line: line.tax_rate.normalize(), is_text=False),
    Column("Billing", _text(lambda line: line.billing)),
    Column("Term months", lambda line: line.term_months or "", is_text=False),
    Column("Net", lambda line: from_minor(line.net_minor, line.currency), is_text=False),
    Column("Tax", lambda line: from_minor(line.tax_minor, line.currency), is_text=False),
    Column("Value", lambda line: from_minor(line.value_minor, line.currency), is_text=False),
]
EVENT_COLUMNS = [
    Column("ID", lambda event: event.pk, is_text=False),
    Column("Deal ID", lambda event: event.deal_id, is_text=False),
    Column("Deal external ID", _text(lambda event: event.deal.external_id)),
    Column("Deal", _text(lambda event: event.deal.title)),
    Column("Kind", _text(lambda event: event.kind)),
    Column("Field", _text(lambda event: event.field)),
    Column("From", _text(lambda event: event.from_value)),
    Column("To", _text(lambda event: event.to_value)),
    Column("From stage", _text(lambda event: event.from_stage.name if event.from_stage else "")),
    Column("To stage", _text(lambda event: event.to_stage.name if event.to_stage else "")),
    Column(
        "Amount",
        lambda event: (
            "" if event.amount_minor is None else from_minor(event.amount_minor, event.currency or "EUR")
        ),
        is_text=False,
    ),
    Column("Currency", _text(lambda event: event.currency)),
    Column("Actor", _text(lambda event: _name(event.actor))),
    Column("Origin", _text(lambda event: event.origin)),
    Column("Note", _text(lambda event: event.note)),
    Column("Occurred", lambda event: _moment(event.occurred_at), is_text=False),
    Column("Recorded", lambda event: _moment(event.recorded_at), is_text=False),
]


# The columns the deal and event exports read, loaded alone: whole rows of the deal and its seven relations
# (or of the event and its deal) were half of an export's time, most of it parsing timestamps no column shows
# (docs/benchmarks.md, "Exports"). A column reading a field not listed here would cost a query per row; a
# test pins the export's query count.
_LOADED = {
    "deals": (
        "external_source", "external_id", "title", "pipeline__name", "stage__name", "stage__probability",
        "stage__forecast_category", "status", "amount_minor", "currency", "expected_close_on",
        "probability_override", "forecast_category_override", "owner__username", "organization__name",
        "person__first_name", "person__last_name", "person__email", "source__name", "lead_id",
        "lost_reason__name", "lost_note", "next_step", "created_at", "stage_entered_at", "won_at", "lost_at",
        "cycle_days",
    ),
    "events": (
        "deal_id", "deal__external_id", "deal__title", "kind", "field", "from_value", "to_value",
        "from_stage__name", "to_stage__name", "amount_minor", "currency", "actor__username", "origin", "note",
        "occurred_at", "recorded_at",
    ),
}  # fmt: skip


def export_queryset(
    *, entity: str, user: User, filters: DealFilters | None = None
) -> tuple[list[Column], QuerySet]:
    """The columns and the records of one export, through the user's access gate."""
    columns, records = _export_queryset(entity=entity, user=user, filters=filters)
    columns, records = with_contents_columns(entity, columns, records)  # custom fields, tags (contents.py)
    if entity in _LOADED:
        related = records.query.select_related
        custom = ("custom_values__data",) if isinstance(related, dict) and "custom_values" in related else ()
        records = records.only(*_LOADED[entity], *custom)
    return columns, records


def _export_queryset(
    *, entity: str, user: User, filters: DealFilters | None = None
) -> tuple[list[Column], QuerySet]:
    if entity == "lines":
        deals = deal_list_for_user(user=user, filters=filters).order_by().values("pk")
        return LINE_COLUMNS, deal_lines_of(deals)
    if entity == "deals":
        return DEAL_COLUMNS, deal_list_for_user(user=user, filters=filters)
    if entity == "events":
        deals = deal_list_for_user(user=user, filters=filters).order_by().values("pk")
        events = (
            DealEvent.objects.filter(deal_id__in=deals)
            .select_related("deal", "from_stage", "to_stage", "actor")
            .order_by("deal_id", "occurred_at", "id")
        )
        return EVENT_COLUMNS, events
    if entity == "leads":
        return LEAD_COLUMNS, lead_list_for_user(user=user)
    if entity == "organizations":
        return ORGANIZATION_COLUMNS, organization_list_for_user(user=user)
    if entity == "persons":
        return PERSON_COLUMNS, person_list_for_user(user=user)
    if entity == "activities":
        return ACTIVITY_COLUMNS, activity_list_for_user(user=user).select_related("deal", "owner")
    raise ApplicationError(
        _("Unknown export %(name)s; use one of %(choices)s.")
        % {"name": repr(entity), "choices": ", ".join(EXPORT_ENTITIES)},
        field="entity",
    )


# Records per fetch (and per prefetch of their tags): the first rows of a download wait for a whole chunk.
EXPORT_CHUNK = 200


def export_rows(columns: list[Column], records: QuerySet) -> Iterator[list[Any]]:
    # On PostgreSQL the rows are read in a transaction: outside one, Django declares its server-side cursor
    # WITH HOLD, and PostgreSQL then computes the whole result before the first row comes (0.8-1.3 s before
    # a 20,000-deal download started). A transaction also makes the file one consistent snapshot. Not on
    # SQLite, whose transactions here take the write lock (settings: IMMEDIATE) and whose cursor streams.
    database = connections[records.db]
    reading = transaction.atomic(using=records.db) if database.vendor == "postgresql" else nullcontext()
    with reading:
        for record in records.iterator(chunk_size=EXPORT_CHUNK):
            row = []
            for column in columns:
                value = column.value(record)
                if column.is_text:
                    value = neutralise(value)
                row.append(value)
            yield row


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_csv_stream(columns: list[Column], records: QuerySet) -> Iterator[str]:
    """CSV text in pieces (for a streaming response): a BOM, the header, then one line per record."""
    writer = csv.writer(_Echo())
    yield "\ufeff"
    yield writer.writerow([column.header for column in columns])
    for row in export_rows(columns, records):
        yield writer.writerow([_csv_value(value) for value in row])


def _csv_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def export_write(
    *, entity: str, user: User, path: str | Path, file_format: str = "csv", filters: DealFilters | None = None
) -> int:
    """Write an export to a file; returns the number of records."""
    if file_format not in FORMATS:
        raise ApplicationError(_("Format must be csv or xlsx."), field="format")
    columns, records = export_queryset(entity=entity, user=user, filters=filters)
    count = 0
    if file_format == "csv":
        with Path(path).open("w", encoding="utf-8", newline="") as handle:
            for piece in export_csv_stream(columns, records):
                handle.write(piece)
                count += 1
        count = max(0, count - 2)
    else:
        count = _write_xlsx(columns, records, path, entity)
    return count


def _write_xlsx(columns: list[Column], records: QuerySet, path: str | Path | io.BytesIO, title: str) -> int:
    import openpyxl
    from openpyxl.writer.excel import save_workbook

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    sheet.append([column.header for column in columns])
    count = 0
    for row in export_rows(columns, records):
        sheet.append([_xlsx_cell(sheet, value) for value in row])
        count += 1
    save_workbook(book, path)  # a file, not a record
    return count


def _xlsx_cell(sheet, value: Any) -> Any:
    """Text always goes in as a string cell: openpyxl would otherwise store '=...' as a formula."""
    if isinstance(value, str) and value:
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


def export_xlsx_bytes(columns: list[Column], records: QuerySet, title: str) -> bytes:
    buffer = io.BytesIO()
    _write_xlsx(columns, records, buffer, title)
    return buffer.getvalue()
