"""Sheets to rows of typed values, with every problem named by line, column, value and reason.

One pass over each sheet: cells are converted by their field's kind; the two decisions that belong to a
column (day/month order, decimal mark) are collected while reading and settled at the end, by the
user's answer or by the data, and otherwise become a question. Nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from dealflow.core.errors import ApplicationError
from dealflow.importers.fields import FIELDS_BY_NAME, Entity, FieldSpec
from dealflow.importers.reading import Row, Sheet
from dealflow.importers.values import (
    CURRENCY_SIGNS,
    NEVER_PENDING,
    PLAIN_NUMBER,
    ColumnDates,
    ColumnNumbers,
    PendingDate,
    as_date,
    as_datetime,
    check_year,
    header_currency,
    is_empty,
    money_text,
    number_evidence,
    parse_bool,
    parse_date_cell,
    parse_int,
    parse_money,
    parse_text,
)

LINE = "_line"
REJECTED = "_rejected"
MAX_PROBLEMS_PER_COLUMN = 1000
_UNSEEN = object()  # a cell not in its column's cache yet
MAX_CACHED_CELLS = 5_000  # per column: repeated cells (stages, owners, dates) parse once; ids do not pile up
UNDECIDED = "?"  # a column decision a streamed parse leaves open (the whole sheet could not settle it)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class Problem:
    sheet: str
    line: int | None
    column: str
    value: str
    reason: str
    severity: str = "error"  # error: the row is rejected; warning: imported, but look at it

    def as_json(self) -> dict[str, Any]:
        return {
            "sheet": self.sheet,
            "line": self.line,
            "column": self.column,
            "value": self.value[:200],
            "reason": self.reason,
            "severity": self.severity,
        }


@dataclass
class Question:
    """A decision the preview cannot make alone; the answer goes into ImportOptions under ``kind``."""

    kind: str  # dates, decimal, stages, pipelines, owners
    key: str  # the header (dates, decimal) or the name in the file (stages, pipelines, owners)
    sheet: str
    message: str
    choices: list[tuple[str, str]]
    examples: list[str] = field(default_factory=list)
    count: int = 0
    default: str = ""  # what happens unanswered (the preview states it); "" means the import waits

    def as_json(self) -> dict[str, Any]:
        return {
            "default": self.default,
            "kind": self.kind,
            "key": self.key,
            "sheet": self.sheet,
            "message": self.message,
            "choices": [list(choice) for choice in self.choices],
            "examples": self.examples[:5],
            "count": self.count,
        }


@dataclass
class ParsedSheet:
    sheet: Sheet
    entity: Entity
    columns: dict[str, str]  # header -> field
    how: str  # preset:<name>, mapping:<name>, options, guessed
    rows: list[dict[str, Any]] = field(default_factory=list)
    header_of: dict[str, str] = field(default_factory=dict)  # field -> header
    dates: dict[str, str] = field(default_factory=dict)  # header -> dmy / mdy (the user's answers)
    decimals: dict[str, str] = field(default_factory=dict)  # header -> "," / "."
    unmapped: list[str] = field(default_factory=list)  # headers neither mapped nor explicitly ignored
    ignored: list[str] = field(default_factory=list)  # headers the user said not to import
    row_count: int | None = (
        None  # a streamed sheet: every row read (``rows`` then holds the preview's sample)
    )

    @property
    def name(self) -> str:
        return self.sheet.name

    @property
    def size(self) -> int:
        """The number of data rows read."""
        return len(self.rows) if self.row_count is None else self.row_count


class Problems:
    """Collects problems and knows which rows they reject."""

    def __init__(self) -> None:
        self.items: list[Problem] = []
        self.per_column: dict[tuple[str, str], int] = {}
        self.hidden = 0

    def add(
        self,
        sheet: str,
        row: dict[str, Any] | None,
        column: str,
        value: Any,
        reason: str,
        *,
        severity: str = "error",
    ) -> None:
        if row is not None and severity == "error":
            row[REJECTED] = True
        key = (sheet, column)
        count = self.per_column.get(key, 0)
        self.per_column[key] = count + 1
        if count >= MAX_PROBLEMS_PER_COLUMN:
            self.hidden += 1
            return
        line = row.get(LINE) if row is not None else None
        text = "" if value is None else str(value)
        self.items.append(Problem(sheet, line, column, text, reason, severity))

    @property
    def errors(self) -> list[Problem]:
        return [problem for problem in self.items if problem.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [problem for problem in self.items if problem.severity == "warning"]


# ------------------------------------------------------------------------------------------------ cells


def _currency(value: Any) -> str:
    text = parse_text(value)
    code = CURRENCY_SIGNS.get(text.lower(), text.upper())
    if len(code) != 3 or not code.isalpha() or not code.isascii():
        raise ValueError(_("%(value)s is not a currency code such as EUR or USD.") % {"value": repr(text)})
    return code


def _email(value: Any) -> str:
    text = parse_text(value).lower()
    if not _EMAIL.match(text):
        raise ValueError(_("%(value)s is not an e-mail address.") % {"value": repr(text)})
    return text


def _probability(value: Any) -> int:
    text = parse_text(value).rstrip("%").strip() if isinstance(value, str) else value
    if isinstance(text, str) and re.fullmatch(r"0?[.,]\d+", text):
        return round(Decimal(text.replace(",", ".")) * 100)  # HubSpot writes 80 % as 0.8
    number = parse_int(text)
    if number is None:
        raise ValueError(_("%(value)s is not a percentage.") % {"value": repr(value)})
    if isinstance(value, float) and 0 < value <= 1 and not float(value).is_integer():
        number = round(value * 100)  # Excel stores 40 % as 0.4
    if not 0 <= number <= 100:
        raise ValueError(_("%(value)s is not a percentage from 0 to 100.") % {"value": repr(value)})
    return number


# Salesforce writes its null id (15 zeros, or 18 characters ending in AAA) where a reference is empty.
_NULL_ID = re.compile(r"^0{15}(AAA)?$", re.IGNORECASE)


def parse_id(value: Any) -> str:
    """An id as text; the null ids other systems write for "no record" are empty."""
    text = parse_text(value)
    return "" if _NULL_ID.match(text) else text


def _converter(spec: FieldSpec) -> Callable[[Any], Any]:
    kind = spec.kind
    if kind == "id":
        return parse_id
    if kind == "text":
        return parse_text
    if kind == "email":
        return _email
    if kind == "currency":
        return _currency
    if kind == "bool":
        return parse_bool
    if kind == "int":
        return _probability if spec.name == "probability" else parse_int
    if kind in ("date", "datetime"):
        return parse_date_cell
    raise ValueError(kind)  # money is handled apart: it carries a column decision and a currency


# ------------------------------------------------------------------------------------------------ sheets


def sheet_parse(
    parsed: ParsedSheet,
    *,
    problems: Problems,
    questions: list[Question],
    dates: dict[str, str],
    decimals: dict[str, str],
    progress: Callable[[], None] | None = None,
    rows_in: Iterable[Row] | None = None,
    keep: bool = True,
    caches: dict[str, dict[Any, Any]] | None = None,
) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """Read every row of a sheet into ``parsed.rows`` (dicts of field -> value plus the line number).

    ``rows_in`` reads those rows instead of the whole sheet (one chunk of a streamed import). With ``keep``
    off nothing is kept: the pass only gathers the column decisions (day/month order, decimal mark) and
    their questions, for a streamed import to parse its chunks with. ``caches`` (header -> cell -> value)
    carries the parsed cells of one pass into the next, so a streamed import parses a repeated cell once,
    as the whole-sheet parse does, instead of once per chunk (a 20 MB CSV's chunks: 121,626 date cells
    parsed instead of 135,682, the whole-sheet parse's count).
    """
    sheet, entity = parsed.sheet, parsed.entity
    specs = FIELDS_BY_NAME[entity]
    width = len(sheet.headers)
    plain: list[tuple[int, str, str, Callable[[Any], Any]]] = []
    money: list[tuple[int, str, str, ColumnNumbers]] = []
    date_columns: dict[str, ColumnDates] = {}
    date_fields: list[tuple[int, str, str, ColumnDates]] = []
    for index, header in enumerate(sheet.headers):
        name = parsed.columns.get(header)
        if not name:
            continue
        spec = specs[name]
        parsed.header_of[name] = header
        if spec.kind == "money":
            money.append((index, name, header, ColumnNumbers(decimal=decimals.get(header))))
        elif spec.kind in ("date", "datetime"):
            column = ColumnDates(order=dates.get(header))
            date_columns[header] = column
            date_fields.append((index, name, header, column))
        else:
            plain.append((index, name, header, _converter(spec)))
    if caches is None:
        caches = {}
    for header in sheet.headers:
        caches.setdefault(header, {})
    header_codes = {header: header_currency(header)[1] for _index, _name, header, _numbers in money}
    pending_dates: list[tuple[dict[str, Any], str, str, PendingDate]] = []
    doubtful_money: list[tuple[dict[str, Any], str, str, Any]] = []
    rows = parsed.rows
    name_of_sheet = sheet.name
    count = 0
    if not keep:
        # The decisions pass reads only the date and money columns: the other cells' values and problems
        # would be dropped with the rows (their problems come again when the chunks are parsed).
        plain = []
    for line, cells in sheet.rows() if rows_in is None else rows_in:
        row: dict[str, Any] = {LINE: line}
        size = len(cells)
        if size != width:
            if size > width and all(is_empty(cell) for cell in cells[width:]):
                pass
            elif size < width:
                problems.add(
                    name_of_sheet,
                    row,
                    "",
                    "",
                    _(
                        "This row has %(cells)s cells where the header has %(width)s: the file may be cut off, or a cell holds an unquoted separator."
                    )
                    % {"cells": size, "width": width},
                )
            else:
                problems.add(
                    name_of_sheet,
                    row,
                    "",
                    "",
                    _(
                        "This row has %(cells)s cells where the header has %(width)s: a cell may hold an unquoted separator."
                    )
                    % {"cells": size, "width": width},
                )
        for index, name, header, convert in plain:
            if index >= size:
                continue
            cell = cells[index]
            if cell is None or cell == "":
                continue
            cache = caches[header]
            value = cache.get(cell, _UNSEEN)  # not KeyError: ids and titles miss every time
            if value is _UNSEEN:
                try:
                    value = convert(cell) if not is_empty(cell) else None
                except ValueError as error:
                    problems.add(name_of_sheet, row, header, cell, str(error))
                    continue
                except TypeError:
                    value = None
                if len(cache) >= MAX_CACHED_CELLS:
                    cache.clear()
                cache[cell] = value
            if value is not None and value != "":
                row[name] = value
        for index, name, header, column in date_fields:
            if index >= size:
                continue
            cell = cells[index]
            if cell is None or cell == "":
                continue
            if not keep and type(cell) is str and NEVER_PENDING.match(cell):
                # The decisions pass needs a date column's PendingDates only (its rows and their problems
                # are dropped), so ISO cells are parsed once, by the chunks: the pass of a 20 MB CSV took
                # 0.38 s of CPU instead of 0.53 s (best of 8 runs each).
                continue
            cache = caches[header]
            value = cache.get(cell, _UNSEEN)
            if value is _UNSEEN:
                try:
                    value = parse_date_cell(cell)
                except ValueError as error:
                    problems.add(name_of_sheet, row, header, cell, str(error))
                    continue
                if len(cache) >= MAX_CACHED_CELLS:
                    cache.clear()
                cache[cell] = value
            if value is None:
                continue
            if isinstance(value, PendingDate):
                column.observe(value)
                if keep:
                    pending_dates.append((row, name, header, value))
                elif len(column.examples) < 5 or value.text < max(column.examples):
                    column.examples.add(value.text)
                    if len(column.examples) > 5:
                        column.examples.remove(max(column.examples))
            row[name] = value
        for index, name, header, numbers in money:
            if index >= size:
                continue
            cell = cells[index]
            if cell is None or cell == "":
                continue
            if isinstance(cell, str) and PLAIN_NUMBER.match(cell):
                row[name] = Decimal(cell)
                if header_codes[header]:
                    row[name + "_currency"] = header_codes[header]
                if "." in cell:
                    numbers.seen.add(".")
                continue
            try:
                mark = numbers.decimal if numbers.decimal != UNDECIDED else None
                amount, sign = parse_money(cell, decimal=mark or ".")
            except ValueError as error:
                problems.add(name_of_sheet, row, header, cell, str(error))
                continue
            if amount is None:
                continue
            if isinstance(cell, str):
                text = money_text(cell)
                numbers.observe(text)
                if (
                    keep
                    and (not numbers.decimal or numbers.decimal == UNDECIDED)
                    and number_evidence(text) is None
                    and ("," in text or "." in text)
                ):
                    doubtful_money.append((row, name, header, cell))
            row[name] = amount
            if sign or header_codes[header]:
                row[name + "_currency"] = sign or header_codes[header]
        if keep:
            rows.append(row)
        count += 1
        if progress is not None and count % 2000 == 0:
            progress()
    orders = _settle_dates(parsed, date_fields, pending_dates, problems, questions)
    marks = _settle_money(parsed, money, doubtful_money, problems, questions)
    _check_date_years(parsed, date_fields, problems)
    return orders, marks


def sheet_decisions(
    parsed: ParsedSheet,
    *,
    problems: Problems,
    questions: list[Question],
    dates: dict[str, str],
    decimals: dict[str, str],
    progress: Callable[[], None] | None = None,
    caches: dict[str, dict[Any, Any]] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """One pass over a sheet that keeps no rows: the day/month order and decimal mark of each column, as the
    whole-sheet parse settles them, with its questions. A column left open comes back as UNDECIDED, so
    the chunks of a streamed import leave its cells waiting instead of deciding from a part of the file.
    ``caches`` as for ``sheet_parse``: the chunks parsed afterwards start from this pass's parsed cells."""
    scratch = Problems()  # the cells' problems come again, with their rows, when the chunks are parsed
    orders, marks = sheet_parse(
        parsed,
        problems=scratch,
        questions=questions,
        dates=dates,
        decimals=decimals,
        progress=progress,
        keep=False,
        caches=caches,
    )
    problems.items.extend(problem for problem in scratch.items if problem.line is None)  # "mixes ..."
    parsed.rows = []
    return (
        {header: order or UNDECIDED for header, order in orders.items()},
        {header: mark or UNDECIDED for header, mark in marks.items()},
    )


def _settle_dates(
    parsed, date_fields, pending_dates, problems: Problems, questions: list[Question]
) -> dict[str, str | None]:
    orders: dict[str, str | None] = {}
    for _index, _name, header, column in date_fields:
        order, why = column.decide()
        if order == UNDECIDED:
            order, why = None, None  # settled (open) by the streamed import's first pass, which asked already
        orders[header] = order
        if why == "mixed":
            problems.add(
                parsed.name,
                None,
                header,
                "",
                _(
                    "Column %(header)s mixes day-first (%(dmy)s) and month-first (%(mdy)s) dates; fix the file or choose an order."
                )
                % {"header": header, "dmy": column.evidence.get("dmy"), "mdy": column.evidence.get("mdy")},
            )
            why = "ambiguous"
        if why == "ambiguous":
            examples = sorted(
                {pending.text for _row, _field, col, pending in pending_dates if col == header}
                | column.examples
            )[:5]
            questions.append(
                Question(
                    "dates",
                    header,
                    parsed.name,
                    _(
                        "Are the dates in column %(header)s day/month/year or month/day/year? The file does not say (e.g. %(example)s)."
                    )
                    % {"header": header, "example": examples[0] if examples else ""},
                    [("dmy", _("day/month/year (31/12/2024)")), ("mdy", _("month/day/year (12/31/2024)"))],
                    examples,
                    column.pending,
                )
            )
    resolved: dict[int, Any] = {}
    for row, name, header, pending in pending_dates:
        order = orders.get(header)
        if order is None:
            row[name] = None  # waits for the answer; the preview counts the question, not the rows
            row["_waiting"] = True
            continue
        try:
            key = id(pending)
            value = resolved.get(key)
            if value is None:
                value = pending.resolve(order)
                resolved[key] = value
            row[name] = value
        except ValueError as error:
            row.pop(name, None)
            problems.add(parsed.name, row, header, pending.text, str(error))
    return orders


def _settle_money(
    parsed, money, doubtful, problems: Problems, questions: list[Question]
) -> dict[str, str | None]:
    hint = "," if parsed.sheet.delimiter == ";" else ("." if parsed.sheet.delimiter == "," else None)
    marks: dict[str, str | None] = {}
    for _index, _name, header, numbers in money:
        mark, why = numbers.decide(hint=hint)
        if mark == UNDECIDED:
            mark, why = None, None
        marks[header] = mark
        if why == "mixed":
            problems.add(
                parsed.name,
                None,
                header,
                "",
                _(
                    "Column %(header)s mixes decimal commas and decimal points; fix the file or choose the decimal mark."
                )
                % {"header": header},
            )
        if why in ("mixed", "ambiguous"):
            questions.append(
                Question(
                    "decimal",
                    header,
                    parsed.name,
                    _(
                        "Is %(example)s in column %(header)s a thousand-separated whole number or a decimal fraction?"
                    )
                    % {"example": numbers.example, "header": header},
                    [(",", _("decimal comma (1.250,50)")), (".", _("decimal point (1,250.50)"))],
                    [numbers.example],
                    0,
                )
            )
    for row, name, header, cell in doubtful:
        mark = marks.get(header)
        if mark is None:
            row[name] = None
            row["_waiting"] = True
            continue
        if mark != ".":
            try:
                amount, _sign = parse_money(cell, decimal=mark)
            except ValueError as error:
                problems.add(parsed.name, row, header, cell, str(error))
                continue
            row[name] = amount
    return marks


def _check_date_years(parsed, date_fields, problems: Problems) -> None:
    """Dates outside 1970-2200 are typing errors; date columns hold dates, time columns UTC datetimes."""
    specs = FIELDS_BY_NAME[parsed.entity]
    for _index, name, header, _column in date_fields:
        is_date = specs[name].kind == "date"
        for row in parsed.rows:
            value = row.get(name)
            if value is None:
                continue
            if not 1970 <= value.year <= 2200:
                try:
                    check_year(value, text=value)
                except ValueError as error:
                    problems.add(parsed.name, row, header, value, str(error))
                    row.pop(name)
                    continue
            is_datetime = isinstance(value, dt.datetime)
            if is_date and is_datetime:
                row[name] = as_date(value)
            elif not is_date and not is_datetime:
                row[name] = as_datetime(value)


def amount_decimal(value: Any) -> Decimal | None:
    return value if isinstance(value, Decimal) else None


def sheet_check_required(parsed: ParsedSheet, *, title_template: str = "") -> None:
    """Refuse a sheet that lacks a column its entity cannot do without (a title template stands in for titles)."""
    mapped = set(parsed.columns.values())
    for spec in FIELDS_BY_NAME[parsed.entity].values():
        if spec.name == "title" and parsed.entity == Entity.DEALS and title_template:
            continue
        if spec.required and spec.name not in mapped:
            raise ApplicationError(
                (
                    _(
                        "%(sheet)s has no column for %(field)s, which %(entity)s need. Columns found: %(headers)s."
                    )
                    + (
                        " "
                        + _(
                            'Map a column to it, or give a title template such as "{organization} - {product}".'
                        )
                        if spec.name == "title"
                        else ""
                    )
                )
                % {
                    "sheet": parsed.name,
                    "field": str(spec.label),
                    "entity": parsed.entity.value,
                    "headers": ", ".join(parsed.sheet.headers[:30]),
                },
                field="file",
            )
    if parsed.entity == Entity.LEADS and not mapped & {"title", "organization", "last_name", "email"}:
        raise ApplicationError(
            _("%(sheet)s has no column for a lead's title, company or name.") % {"sheet": parsed.name},
            field="file",
        )
    if parsed.entity == Entity.PERSONS and not mapped & {"first_name", "last_name", "full_name", "email"}:
        raise ApplicationError(
            _("%(sheet)s has no column for a person's name or e-mail.") % {"sheet": parsed.name}, field="file"
        )
