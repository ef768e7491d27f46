"""The user's answers for one import: which column is which field, and every decision the preview asked for.

The same ``ImportOptions`` come from the web wizard (stored on the ImportJob as JSON), from a small TOML
file for the CLI (``dealflow import deals.csv --mapping map.toml``), or from a saved mapping::

    entity = "deals"             # optional: what the file holds (else: guessed from headers / file name)
    source = "legacy-crm"        # the source system; re-imports match records by (source, id)
    currency = "EUR"             # for amounts without a currency
    create_owners = false        # create unknown owners as inactive users
    create_stages = false        # create unknown stages (and pipelines)
    default_owner = "admin"      # owner of rows without one
    title_template = "{organization} - {product}"   # deals without a title column

    [columns]                    # header = field (see dealflow.importers.fields), or "" to ignore
    "Opp nr" = "external_id"
    [dates]                      # header = "dmy" or "mdy", for columns like 03/04/2024
    "Aangemaakt" = "dmy"
    [decimal]                    # header = "," or ".", for amounts like 1.250
    "Waarde" = ","
    [stages]                     # stage name in the file = existing stage name, or "create"
    "Prospect" = "Qualification"
    [pipelines]                  # pipeline name in the file = existing pipeline name, or "create"
    [owners]                     # owner in the file = username, or "create"
    "J. Jansen" = "rep"
    [sources]                    # lead source in the file = existing source, or "create" (the default)
    "Word of mouth" = "referral"
    [lost_reasons]               # lost reason in the file = existing reason, or "create" (the default)
    [undated]                    # rows without a creation date, per sheet: skip, first, today, date:2024-01-31
    "deals.csv" = "first"
    [sheets."Opportunity.csv"]   # per sheet of a ZIP or workbook: entity, columns, dates, decimal
    entity = "deals"
"""

from __future__ import annotations

import datetime as dt
import string
import tomllib
from dataclasses import asdict, dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from dealflow.core.errors import ApplicationError
from dealflow.importers.fields import FIELDS_BY_NAME, Entity
from dealflow.importers.presets import PRESETS


@dataclass
class SheetOptions:
    entity: str = ""
    columns: dict[str, str] = field(default_factory=dict)  # header -> field ("" ignores the column)
    dates: dict[str, str] = field(default_factory=dict)  # header -> dmy / mdy
    decimal: dict[str, str] = field(default_factory=dict)  # header -> "," / "."

    def is_empty(self) -> bool:
        return not (self.entity or self.columns or self.dates or self.decimal)


@dataclass
class ImportOptions:
    source: str = ""
    preset: str = ""
    currency: str = ""
    create_owners: bool = False
    create_stages: bool = False
    default_owner: str = ""
    keep_valid: bool = False  # import the valid rows and hand back the rejected ones
    mapping_id: int | None = None  # a saved mapping to apply
    sheet: SheetOptions = field(default_factory=SheetOptions)  # for a single-sheet file / every sheet
    sheets: dict[str, SheetOptions] = field(default_factory=dict)  # by sheet name
    stages: dict[str, str] = field(default_factory=dict)
    pipelines: dict[str, str] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    # Picklist values of the file = an existing value (key or name), or "create" (the default: added as new).
    sources: dict[str, str] = field(default_factory=dict)
    lost_reasons: dict[str, str] = field(default_factory=dict)
    products: dict[str, str] = field(default_factory=dict)  # product in the file = code or name, or "create"
    # Rows without a creation date, per sheet ("*" every sheet): skip, first, today or date:YYYY-MM-DD.
    undated: dict[str, str] = field(default_factory=dict)
    title_template: str = ""  # deals without a title column: "{organization} - {product}"

    def for_sheet(self, name: str) -> SheetOptions:
        """The options of one sheet: its own section over the general one."""
        own = self.sheets.get(name)
        if own is None:
            return self.sheet
        return SheetOptions(
            entity=own.entity or self.sheet.entity,
            columns={**self.sheet.columns, **own.columns},
            dates={**self.sheet.dates, **own.dates},
            decimal={**self.sheet.decimal, **own.decimal},
        )

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ImportOptions:
        return options_from_dict(data or {}, where="options")


def _sheet_options(data: dict[str, Any], where: str) -> SheetOptions:
    entity = str(data.get("entity") or "")
    if entity and entity not in Entity.__members__.values():
        raise ApplicationError(
            _("%(where)s: entity must be one of %(choices)s.")
            % {"where": where, "choices": ", ".join(entity.value for entity in Entity)},
            field="mapping",
        )
    columns = {str(key): str(value or "") for key, value in dict(data.get("columns") or {}).items()}
    if entity:
        known = FIELDS_BY_NAME[Entity(entity)]
        for header, name in columns.items():
            if name and name not in known:
                raise ApplicationError(
                    _("%(where)s: column %(header)s maps to %(field)s, which %(entity)s do not have.")
                    % {"where": where, "header": repr(header), "field": repr(name), "entity": entity},
                    field="mapping",
                )
    dates = {str(key): str(value) for key, value in dict(data.get("dates") or {}).items()}
    for header, order in dates.items():
        if order not in ("dmy", "mdy"):
            raise ApplicationError(
                _('%(where)s: dates of %(header)s must be "dmy" or "mdy".')
                % {"where": where, "header": repr(header)},
                field="mapping",
            )
    decimal = {str(key): str(value) for key, value in dict(data.get("decimal") or {}).items()}
    for header, mark in decimal.items():
        if mark not in (",", "."):
            raise ApplicationError(
                _('%(where)s: the decimal mark of %(header)s must be "," or ".".')
                % {"where": where, "header": repr(header)},
                field="mapping",
            )
    return SheetOptions(entity=entity, columns=columns, dates=dates, decimal=decimal)


def options_from_dict(data: dict[str, Any], *, where: str = "mapping") -> ImportOptions:
    """Options from a parsed TOML file or stored JSON, refusing unknown values with the key at fault."""
    known = {
        "source", "preset", "currency", "create_owners", "create_stages", "default_owner", "keep_valid",
        "mapping_id", "entity", "columns", "dates", "decimal", "sheet", "sheets", "stages", "pipelines", "owners",
        "sources", "lost_reasons", "products", "undated", "title_template",
    }  # fmt: skip
    unknown = set(data) - known
    if unknown:
        raise ApplicationError(
            _("%(where)s: unknown setting %(name)s.") % {"where": where, "name": repr(sorted(unknown)[0])},
            field="mapping",
        )
    preset = str(data.get("preset") or "")
    if preset and preset not in PRESETS:
        raise ApplicationError(
            _("Unknown preset %(name)s; use one of %(choices)s.")
            % {"name": repr(preset), "choices": ", ".join(PRESETS)},
            field="preset",
        )
    general = dict(data.get("sheet") or {})
    for key in ("entity", "columns", "dates", "decimal"):
        if key in data:
            general[key] = data[key]
    sheets = {
        str(name): _sheet_options(dict(section or {}), f"{where} [sheets.{name}]")
        for name, section in dict(data.get("sheets") or {}).items()
    }
    source = str(data.get("source") or "").strip()
    if len(source) > 40:
        raise ApplicationError(_("The source name has at most 40 characters."), field="source")
    mapping_id = data.get("mapping_id")
    undated_value = data.get("undated") or {}
    undated = (
        {"*": str(undated_value)}
        if isinstance(undated_value, str)
        else {str(key): str(value) for key, value in dict(undated_value).items()}
    )
    for sheet_name, answer in undated.items():
        _check_undated(answer, where=f"{where} [undated] {sheet_name}")
    title_template = str(data.get("title_template") or "").strip()
    if len(title_template) > 200:
        raise ApplicationError(_("The title template has at most 200 characters."), field="title_template")
    try:
        list(string.Formatter().parse(title_template))
    except ValueError as error:
        raise ApplicationError(
            _("The title template %(template)s is not valid: %(error)s")
            % {"template": repr(title_template), "error": error},
            field="title_template",
        ) from error
    return ImportOptions(
        source=source,
        preset=preset,
        currency=str(data.get("currency") or "").upper(),
        create_owners=bool(data.get("create_owners", False)),
        create_stages=bool(data.get("create_stages", False)),
        default_owner=str(data.get("default_owner") or ""),
        keep_valid=bool(data.get("keep_valid", False)),
        mapping_id=int(mapping_id) if mapping_id not in (None, "") else None,
        sheet=_sheet_options(general, where),
        sheets=sheets,
        stages={str(key): str(value) for key, value in dict(data.get("stages") or {}).items()},
        pipelines={str(key): str(value) for key, value in dict(data.get("pipelines") or {}).items()},
        owners={str(key): str(value) for key, value in dict(data.get("owners") or {}).items()},
        sources={str(key): str(value) for key, value in dict(data.get("sources") or {}).items()},
        lost_reasons={str(key): str(value) for key, value in dict(data.get("lost_reasons") or {}).items()},
        products={str(key): str(value) for key, value in dict(data.get("products") or {}).items()},
        undated=undated,
        title_template=title_template,
    )


def _check_undated(answer: str, *, where: str) -> None:
    """skip, first, today or date:YYYY-MM-DD; anything else names the setting at fault."""
    if answer in ("skip", "first", "today"):
        return
    if answer.startswith("date:"):
        try:
            dt.date.fromisoformat(answer[5:])
            return
        except ValueError:
            pass
    raise ApplicationError(
        _('%(where)s: rows without a date take "skip", "first", "today" or "date:YYYY-MM-DD", not %(value)s.')
        % {"where": where, "value": repr(answer)},
        field="undated",
    )


def options_from_toml(text: str, *, name: str = "mapping file") -> ImportOptions:
    """Parse a TOML mapping file (see the module docstring)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ApplicationError(
            _("%(name)s is not valid TOML: %(error)s") % {"name": name, "error": error}, field="mapping"
        ) from error
    return options_from_dict(data, where=name)


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def options_to_toml(options: ImportOptions) -> str:
    """Write options as a TOML mapping file the CLI reads back (used to download a saved mapping)."""
    lines: list[str] = []
    for key in ("source", "preset", "currency", "default_owner", "title_template"):
        value = getattr(options, key)
        if value:
            lines.append(f"{key} = {_toml_string(value)}")
    for key in ("create_owners", "create_stages"):
        if getattr(options, key):
            lines.append(f"{key} = true")
    if options.sheet.entity:
        lines.append(f"entity = {_toml_string(options.sheet.entity)}")

    def table(title: str, values: dict[str, str]) -> None:
        if values:
            lines.append("")
            lines.append(f"[{title}]")
            for key, value in values.items():
                lines.append(f"{_toml_string(key)} = {_toml_string(value)}")

    table("columns", options.sheet.columns)
    table("dates", options.sheet.dates)
    table("decimal", options.sheet.decimal)
    table("stages", options.stages)
    table("pipelines", options.pipelines)
    table("owners", options.owners)
    table("sources", options.sources)
    table("lost_reasons", options.lost_reasons)
    table("products", options.products)
    table("undated", options.undated)
    for name, sheet in options.sheets.items():
        lines.append("")
        lines.append(f"[sheets.{_toml_string(name)}]")
        if sheet.entity:
            lines.append(f"entity = {_toml_string(sheet.entity)}")
        table(f"sheets.{_toml_string(name)}.columns", sheet.columns)
        table(f"sheets.{_toml_string(name)}.dates", sheet.dates)
        table(f"sheets.{_toml_string(name)}.decimal", sheet.decimal)
    return "\n".join(lines) + "\n"
