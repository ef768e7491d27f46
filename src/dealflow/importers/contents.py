"""What deals hold, in files: the custom-field and tag columns of the exports, the line-items export, and
the imports that read them back (`dealflow import-contents`), through the deal and contact services.

The entry points an importer needs for the same data are the services themselves:
``deal_lines_set`` (a product column becomes ``{"product_code": cell}``), ``deal_custom_values_set`` /
``organization_custom_values_set`` / ``person_custom_values_set`` / ``lead_custom_values_set`` (a column
whose header is a field's label or key), and ``deal_tags_set`` / ``contact_tags_set`` (a "Tags" column).
Each names the field it refuses; this module prefixes the file's line number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Prefetch, QuerySet

from dealflow.accounts.models import User
from dealflow.contacts.selectors import organization_get_for_user, person_get_for_user
from dealflow.contacts.services import (
    contact_tags_set,
    organization_custom_values_set,
    person_custom_values_set,
)
from dealflow.core.errors import ApplicationError
from dealflow.customfields.models import CustomField
from dealflow.customfields.selectors import custom_field_list
from dealflow.customfields.validation import value_text
from dealflow.deals.models import Deal
from dealflow.deals.selectors import deal_get_for_user, deal_list_for_user, lead_get_for_user
from dealflow.deals.services import (
    deal_custom_values_set,
    deal_lines_set,
    deal_tags_set,
    lead_custom_values_set,
)
from dealflow.importers.reading import workbook_open
from dealflow.products.models import DealLine
from dealflow.products.services import product_upsert

# export entity -> the custom-field entity and the relation of its values / tags
_ENTITY = {"deals": "deal", "organizations": "organization", "persons": "person", "leads": "lead"}
_TAGGED = {"deals", "organizations", "persons"}


def deal_lines_of(deal_ids: QuerySet) -> QuerySet[DealLine]:
    """The lines of the given deals (a subquery of visible deal ids), deal by deal, in order."""
    return (
        DealLine.objects.filter(deal_id__in=deal_ids)
        .select_related("deal", "product")
        .order_by("deal_id", "position", "id")
    )


def _custom_getter(definition: CustomField) -> Callable[[Any], str]:
    def value(record: Any) -> str:
        try:
            document = record.custom_values.data
        except Exception:  # no values row yet: the reverse one-to-one raises DoesNotExist
            return ""
        return value_text(definition, document.get(definition.key))

    return value


def _tags_getter(record: Any) -> str:
    return "; ".join(sorted((link.tag.name for link in record.export_tag_links), key=str.casefold))


def with_contents_columns(entity: str, columns: list, records: QuerySet) -> tuple[list, QuerySet]:
    """Add a column per custom field (headed by its label) and a Tags column to a record export."""
    from dealflow.importers.export import Column

    if entity not in _ENTITY:
        return columns, records
    definitions = custom_field_list(entity=_ENTITY[entity], all_pipelines=True)
    extra = [Column(definition.label, _custom_getter(definition)) for definition in definitions]
    if definitions:
        records = records.select_related("custom_values")
    if entity in _TAGGED:
        extra.append(Column("Tags", _tags_getter))
        # Into a list attribute: ``tag_links.all()`` on a prefetched relation copies a queryset per record.
        links = records.model._meta.get_field("tag_links").related_model.objects.select_related("tag")
        records = records.prefetch_related(Prefetch("tag_links", queryset=links, to_attr="export_tag_links"))
    return [*columns, *extra], records


@dataclass
class ContentsImportResult:
    records: int = 0
    lines: int = 0
    ignored_columns: list[str] = field(default_factory=list)


def _line_error(line: int, error: ApplicationError) -> ApplicationError:
    return ApplicationError(f"Line {line}: {error.message}", field=error.field, extra={"line": line})


def _header_index(headers: list[str]) -> dict[str, int]:
    return {header.strip().casefold(): index for index, header in enumerate(headers)}


def _cell(row: list[Any], index: int | None) -> str:
    if index is None or index >= len(row) or row[index] is None:
        return ""
    return str(row[index]).strip()


def _find_deal(row: list[Any], headers: dict[str, int], by: User, line: int) -> Deal:
    deal_id = _cell(row, headers.get("deal id", headers.get("id")))
    external = _cell(row, headers.get("deal external id", headers.get("external id")))
    if deal_id:
        if not deal_id.isdigit():
            raise ApplicationError(f"Line {line}: deal id {deal_id!r} is not a number.", field="Deal ID")
        try:
            return deal_get_for_user(deal_id=int(deal_id), user=by, for_write=True)
        except Exception as error:
            if isinstance(error, ApplicationError):
                raise
            raise ApplicationError(
                f"Line {line}: there is no deal {deal_id} you may change.", field="Deal ID"
            ) from error
    if external:
        deal = deal_list_for_user(user=by).filter(external_id=external).first()
        if deal is not None:
            return deal_get_for_user(deal_id=deal.pk, user=by, for_write=True)
        raise ApplicationError(
            f"Line {line}: there is no deal with external id {external!r}.", field="Deal external ID"
        )
    raise ApplicationError(f"Line {line}: give the deal's ID or external ID.", field="Deal ID")


PRODUCT_COLUMNS = {
    "name": "name",
    "unit": "unit",
    "description": "description",
    "tax_rate": "tax rate %",
    "billing": "billing",
    "term_months": "term months",
    "is_active": "active",
}


@transaction.atomic
def products_import(*, path: str | Path, by: User) -> ContentsImportResult:
    """Create or update catalogue products from a file: Code, Name, Unit, Tax rate %, Billing, Term months,
    Active (yes/no) and one "Price EUR", "Price USD", ... column per currency. All or nothing."""
    sheet = workbook_open(path).sheets[0]
    headers = _header_index(sheet.headers)
    if "code" not in headers:
        raise ApplicationError("The file needs a Code column.", field="file")
    price_columns = {
        header.split()[-1].upper(): index
        for header, index in headers.items()
        if header.startswith("price ") and len(header.split()[-1]) == 3
    }
    used = {
        headers["code"],
        *price_columns.values(),
        *(headers[h] for h in PRODUCT_COLUMNS.values() if h in headers),
    }
    result = ContentsImportResult(
        ignored_columns=[header for index, header in enumerate(sheet.headers) if index not in used]
    )
    for line, row in sheet.rows():
        data: dict[str, Any] = {}
        for name, header in PRODUCT_COLUMNS.items():
            if header in headers and _cell(row, headers[header]) != "":  # an empty cell changes nothing
                data[name] = _cell(row, headers[header])
        if "is_active" in data:
            data["is_active"] = data["is_active"].casefold() not in ("no", "nee", "false", "0", "n")
        prices = {
            currency: _cell(row, index) for currency, index in price_columns.items() if _cell(row, index)
        }
        if prices or price_columns:
            data["prices"] = prices
        try:
            _product, created = product_upsert(code=_cell(row, headers["code"]), data=data, by=by)
        except ApplicationError as error:
            raise _line_error(line, error) from error
        result.records += 1
        result.lines += int(created)
    return result


@transaction.atomic
def lines_import(*, path: str | Path, by: User) -> ContentsImportResult:
    """Replace the lines of every deal the file names with the file's rows (the lines export's layout).

    All or nothing: the first refused row stops the import, its message names the file's line.
    """
    sheet = workbook_open(path).sheets[0]
    headers = _header_index(sheet.headers)
    if "deal id" not in headers and "deal external id" not in headers:
        raise ApplicationError("The file needs a Deal ID or a Deal external ID column.", field="file")
    columns = {
        "product_code": "product code",
        "description": "description",
        "quantity": "quantity",
        "unit_price": "unit price",
        "currency": "currency",
        "discount_percent": "discount %",
        "tax_rate": "tax rate %",
        "billing": "billing",
        "term_months": "term months",
    }
    known = {"deal id", "deal external id", "deal", "position", "net", "tax", "value", *columns.values()}
    result = ContentsImportResult(
        ignored_columns=[header for header in sheet.headers if header.strip().casefold() not in known]
    )
    per_deal: dict[int, tuple[Deal, list[tuple[int, dict[str, Any]]]]] = {}
    for line, row in sheet.rows():
        deal = _find_deal(row, headers, by, line)
        values = {name: _cell(row, headers.get(header)) for name, header in columns.items()}
        values = {name: value for name, value in values.items() if value != ""}
        per_deal.setdefault(deal.pk, (deal, []))[1].append((line, values))
    for deal, rows in per_deal.values():
        try:
            deal_lines_set(deal=deal, lines=[values for _line, values in rows], by=by, origin="import")
        except ApplicationError as error:
            index = _line_index(error)
            raise _line_error(rows[index][0] if index is not None else rows[0][0], error) from error
        result.records += 1
        result.lines += len(rows)
    return result


def _line_index(error: ApplicationError) -> int | None:
    parts = (error.field or "").split(".")
    if len(parts) >= 2 and parts[0] == "lines" and parts[1].isdigit():
        return int(parts[1])
    return None


@transaction.atomic
def custom_values_import(*, path: str | Path, entity: str, by: User) -> ContentsImportResult:
    """Set custom field values (and tags) of existing records from a file with an ID column (an export).

    A column counts when its header is a field's label or key, or "Tags"; the others are listed as ignored.
    """
    if entity not in _ENTITY:
        raise ApplicationError("Entity must be deals, organizations, persons or leads.", field="entity")
    sheet = workbook_open(path).sheets[0]
    headers = _header_index(sheet.headers)
    if "id" not in headers:
        raise ApplicationError("The file needs an ID column (as in the export).", field="file")
    definitions = custom_field_list(entity=_ENTITY[entity], all_pipelines=True)
    by_header = {}
    for definition in definitions:
        for name in (definition.label, definition.key):
            if name.casefold() in headers:
                by_header[definition.key] = headers[name.casefold()]
                break
    tags_index = headers.get("tags") if entity in _TAGGED else None
    used = {*by_header.values(), headers["id"], *([tags_index] if tags_index is not None else [])}
    result = ContentsImportResult(
        ignored_columns=[header for index, header in enumerate(sheet.headers) if index not in used]
    )
    for line, row in sheet.rows():
        record_id = _cell(row, headers["id"])
        if not record_id.isdigit():
            raise ApplicationError(f"Line {line}: ID {record_id!r} is not a number.", field="ID")
        values = {key: _cell(row, index) for key, index in by_header.items()}
        try:
            _apply_values(
                entity, int(record_id), values, _cell(row, tags_index) if tags_index is not None else None, by
            )
        except ApplicationError as error:
            raise _line_error(line, error) from error
        except Exception as error:  # the record is missing or not the user's: one message for both
            if error.__class__.__name__ != "Http404":
                raise
            raise ApplicationError(
                f"Line {line}: there is no record {record_id} you may change.", field="ID"
            ) from error
        result.records += 1
    return result


def _apply_values(entity: str, record_id: int, values: dict[str, str], tags: str | None, by: User) -> None:
    if entity == "deals":
        deal = deal_get_for_user(deal_id=record_id, user=by, for_write=True)
        values = {
            key: value
            for key, value in values.items()
            if key in {f.key for f in custom_field_list(entity="deal", pipeline_id=deal.pipeline_id)}
        }
        deal_custom_values_set(deal=deal, values=values, by=by, origin="import")
        if tags is not None:
            deal_tags_set(deal=deal, tags=tags, by=by, origin="import")
    elif entity == "organizations":
        organization = organization_get_for_user(organization_id=record_id, user=by, for_write=True)
        organization_custom_values_set(organization=organization, values=values, by=by)
        if tags is not None:
            contact_tags_set(contact=organization, tags=tags, by=by)
    elif entity == "persons":
        person = person_get_for_user(person_id=record_id, user=by, for_write=True)
        person_custom_values_set(person=person, values=values, by=by)
        if tags is not None:
            contact_tags_set(contact=person, tags=tags, by=by)
    else:
        lead = lead_get_for_user(lead_id=record_id, user=by, for_write=True)
        lead_custom_values_set(lead=lead, values=values, by=by)
