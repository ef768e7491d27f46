"""Sheets to parsed sheets: which entity each holds and which column feeds which field (preset, mapping, guess)."""

from __future__ import annotations

import hashlib

from django.utils.translation import gettext as _

from dealflow.core.errors import ApplicationError
from dealflow.importers.fields import ENTITY_ORDER, Entity, entity_guess, guess_columns
from dealflow.importers.mapping import ImportOptions
from dealflow.importers.models import ImportMapping
from dealflow.importers.parsing import (
    ParsedSheet,
    sheet_check_required,
)
from dealflow.importers.planning.operations import DEFAULT_SOURCE
from dealflow.importers.presets import preset_columns, preset_detect
from dealflow.importers.reading import Workbook
from dealflow.importers.values import normalize_header

# ------------------------------------------------------------------------------------------------ sheets


def headers_key(headers: list[str]) -> str:
    """A layout's fingerprint: the same headers in any order and spelling give the same key."""
    normalized = sorted({normalize_header(header) for header in headers if normalize_header(header)})
    return hashlib.sha256("|".join(normalized).encode()).hexdigest()


def _sheet_setup(
    workbook: Workbook, options: ImportOptions, mapping: ImportMapping | None, notices: list[str]
) -> tuple[list[ParsedSheet], str]:
    sheets: list[ParsedSheet] = []
    presets_seen: set[str] = set()
    mapping_source = ""
    for sheet in workbook.sheets:
        own = options.for_sheet(sheet.name)
        entity: Entity | None = Entity(own.entity) if own.entity else None
        columns: dict[str, str] = {}
        dates: dict[str, str] = {}
        decimals: dict[str, str] = {}
        how = "guessed"
        preset_sheet = (
            None
            if (mapping or (entity and not options.preset and own.columns))
            else preset_detect(sheet.headers, preset=options.preset or None)
        )
        if preset_sheet and (entity is None or entity == preset_sheet.entity):
            entity = preset_sheet.entity
            columns = preset_columns(preset_sheet, sheet.headers)
            how = f"preset:{preset_sheet.preset}"
            presets_seen.add(preset_sheet.preset)
        saved = mapping if mapping else None
        if saved is None and not preset_sheet:
            saved = (
                ImportMapping.objects.filter(headers_key=headers_key(sheet.headers))
                .order_by("-created_at")
                .first()
            )
        if saved is not None and not preset_sheet:
            saved_options = ImportOptions.from_json(saved.options)
            saved_sheet = saved_options.for_sheet(sheet.name)
            entity = entity or Entity(saved.entity)
            columns = _by_header(saved_sheet.columns, sheet.headers)
            dates = _by_header(saved_sheet.dates, sheet.headers)
            decimals = _by_header(saved_sheet.decimal, sheet.headers)
            mapping_source = mapping_source or saved_options.source
            how = f"mapping:{saved.name}"
        if entity is None:
            entity = entity_guess(sheet.headers, name=sheet.name)
        if entity is None:
            raise ApplicationError(
                _(
                    "Cannot tell what %(sheet)s holds (deals, leads, organizations, ...). Columns found: %(headers)s. Choose what it holds and map its columns."
                )
                % {"sheet": sheet.name, "headers": ", ".join(sheet.headers[:30])},
                field="entity",
            )
        guessed = guess_columns(entity, sheet.headers)
        taken = set(columns.values())
        for header, name in guessed.items():
            if header not in columns and name not in taken:
                columns[header] = name
                taken.add(name)
        ignored: set[str] = {header for header, name in columns.items() if not name}
        if saved is not None and not preset_sheet:
            ignored |= {
                header for header, name in _by_header(saved_sheet.columns, sheet.headers).items() if not name
            }
        columns = {header: name for header, name in columns.items() if name}
        if own.columns:
            how = how if how != "guessed" else "options"
            matched = _by_header(own.columns, sheet.headers)
            if len(matched) < len(own.columns):
                known = {normalize_header(header) for header in sheet.headers}
                missing = [header for header in own.columns if normalize_header(header) not in known]
                raise ApplicationError(
                    _("The mapping names column %(header)s, which %(sheet)s does not have.")
                    % {"header": repr(missing[0] if missing else ""), "sheet": sheet.name},
                    field="mapping",
                )
            for header, name in matched.items():
                for other, other_name in list(columns.items()):
                    if name and other_name == name and other != header:
                        del columns[other]
                if name:
                    columns[header] = name
                    ignored.discard(header)
                else:
                    columns.pop(header, None)
                    ignored.add(header)
        ordered = {header: columns[header] for header in sheet.headers if header in columns}
        parsed = ParsedSheet(sheet, entity, ordered, how)
        parsed.dates = {**dates, **_by_header(own.dates, sheet.headers)}
        parsed.decimals = {**decimals, **_by_header(own.decimal, sheet.headers)}
        sheet_check_required(parsed, title_template=options.title_template)
        sheets.append(parsed)
        notices.extend(sheet.notices)
        parsed.ignored = [header for header in sheet.headers if header in ignored and header not in ordered]
        unused = [header for header in sheet.headers if header not in ordered and header not in ignored]
        parsed.unmapped = unused
        if unused:
            notices.append(
                _(
                    "%(sheet)s: %(count)s column(s) not imported: %(headers)s. Map each one, or set it to (do not import)."
                )
                % {
                    "sheet": sheet.name,
                    "count": len(unused),
                    "headers": ", ".join(unused[:15]) + ("…" if len(unused) > 15 else ""),
                }
            )
    source = options.source or mapping_source
    if not source and len(presets_seen) == 1:
        source = next(iter(presets_seen))
    sheets.sort(key=lambda parsed: ENTITY_ORDER.index(parsed.entity))
    return sheets, source or DEFAULT_SOURCE


def _by_header(values: dict[str, str], headers: list[str]) -> dict[str, str]:
    """Keys naming columns, matched to this file's headers loosely (case, spaces, punctuation, accents).

    The key "*" (the CLI's --date-order and --decimal) applies to every column.
    """
    actual = {normalize_header(header): header for header in headers}
    result: dict[str, str] = dict.fromkeys(headers, values["*"]) if "*" in values else {}
    for key, value in values.items():
        header = key if key in headers else actual.get(normalize_header(key))
        if header is not None:
            result[header] = value
    return result
