"""The import plan: what a file would create, update and skip, every problem, and every open question.

``plan_build`` reads the file, maps its columns, parses its rows, matches names and ids to what the
database holds, and turns each row into an operation (create or update, with references to records the
same import creates). The preview shows the plan; the writer (``writing.py``) executes it. Building the
plan writes nothing, so a dry run is exactly a plan that is not written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import string
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from dealflow.accounts.models import Membership, Role, User
from dealflow.accounts.selectors import user_access_scope
from dealflow.contacts.models import Organization, Person
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.core.money import to_minor
from dealflow.deals.models import (
    Activity,
    ActivityKind,
    Deal,
    DealEvent,
    DealStatus,
    ExchangeRate,
    ForecastCategory,
    Lead,
    LeadStatus,
)
from dealflow.importers.countries import country_code
from dealflow.importers.fields import ENTITY_ORDER, Entity, entity_guess, guess_columns
from dealflow.importers.mapping import ImportOptions
from dealflow.importers.models import ImportMapping
from dealflow.importers.parsing import (
    LINE,
    REJECTED,
    ParsedSheet,
    Problems,
    Question,
    sheet_check_required,
    sheet_parse,
)
from dealflow.importers.presets import preset_columns, preset_detect
from dealflow.importers.reading import Workbook, workbook_open
from dealflow.importers.references import NameBook, OwnerBook, Ref, StageBook, StageInfo, status_word
from dealflow.importers.values import normalize_header, normalize_name
from dealflow.products.models import DealLine

DEFAULT_SOURCE = "spreadsheet"
CHUNK = 900  # ids per IN (...) query (SQLite allows 999 parameters)


# ------------------------------------------------------------------------------------------------ operations


@dataclass(slots=True)
class DealStep:
    kind: str  # move, won, lost, reopen, update
    at: dt.datetime
    stage: Ref | None = None
    reason: Ref | None = None
    note: str = ""
    changes: dict[str, Any] | None = None


@dataclass(slots=True)
class DealCreate:
    sheet: str
    line: int
    key: str
    title: str
    owner: Ref
    pipeline: Ref
    stage: Ref
    created_at: dt.datetime
    amount_minor: int
    currency: str
    expected_close_on: dt.date | None
    organization: Ref | None
    person: Ref | None
    source: Ref | None
    lead: Ref | None
    probability_override: int | None
    forecast_category_override: str
    next_step: str
    external_id: str
    steps: list[DealStep]
    activities: list[ActivityOp] = field(default_factory=list)
    product: Ref | None = None  # the deal's one line item (a product column)
    # The file's own probability and forecast category, and the stage they are compared with (a stage
    # this import creates gets its probability only once every row is read: see settle_new_stage_overrides).
    probability_given: int | None = None
    category_given: str = ""
    reference_stage: Ref | None = None


@dataclass(slots=True)
class DealChange:
    sheet: str
    line: int
    deal: Deal
    data: dict[str, Any]  # deal_update fields (owner/organization/person/source as Refs)
    steps: list[DealStep]


@dataclass(slots=True)
class RecordOp:
    """Create (``existing`` None) or update an organization, person or lead with ``values``."""

    sheet: str
    line: int
    key: str
    values: dict[str, Any]
    existing: Any = None


@dataclass(slots=True)
class UserOp:
    """A user account from a users sheet with a team or role column: created, or given its team and role."""

    sheet: str
    line: int
    key: str
    username: str
    email: str
    first_name: str
    last_name: str
    team: str
    role: str
    existing: User | None = None


@dataclass(slots=True)
class ActivityOp:
    sheet: str
    line: int
    key: str
    values: dict[str, Any]
    deal: Ref | None
    existing: Activity | None = None


@dataclass
class Counts:
    create: int = 0
    update: int = 0
    skip: int = 0
    reject: int = 0

    def as_json(self) -> dict[str, int]:
        return {"create": self.create, "update": self.update, "skip": self.skip, "reject": self.reject}


@dataclass
class ImportPlan:
    workbook: Workbook
    options: ImportOptions
    by: User
    source: str
    sheets: list[ParsedSheet]
    problems: Problems
    questions: list[Question]
    notices: list[str]
    counts: dict[Entity, Counts]
    stages: StageBook | None = None
    owners: OwnerBook | None = None
    names: NameBook | None = None
    users: list[UserOp] = field(default_factory=list)
    organizations: list[RecordOp] = field(default_factory=list)
    persons: list[RecordOp] = field(default_factory=list)
    leads: list[RecordOp] = field(default_factory=list)
    lead_conversions: list[tuple[Ref, str]] = field(default_factory=list)  # (lead, deal key)
    deals_create: list[DealCreate] = field(default_factory=list)
    deals_change: list[DealChange] = field(default_factory=list)
    activities: list[ActivityOp] = field(default_factory=list)
    mappings_used: dict[str, str] = field(default_factory=dict)

    @property
    def blocking_questions(self) -> list[Question]:
        """Questions without a default: the import waits for their answers."""
        return [question for question in self.questions if not question.default]

    @property
    def is_ready(self) -> bool:
        """Every question without a default answered (errors may remain: they reject their rows)."""
        return not self.blocking_questions

    @property
    def error_count(self) -> int:
        return sum(1 for problem in self.problems.items if problem.severity == "error") + self.problems.hidden

    @property
    def waiting(self) -> dict[Entity, int]:
        """Rows that wait for an answer to one of the questions, per entity."""
        waiting: dict[Entity, int] = defaultdict(int)
        for parsed in self.sheets:
            for row in parsed.rows:
                if row.get("_waiting") and not row.get(REJECTED):
                    waiting[parsed.entity] += 1
        return waiting

    @property
    def rejected_lines(self) -> dict[str, set[int]]:
        lines: dict[str, set[int]] = defaultdict(set)
        for parsed in self.sheets:
            for row in parsed.rows:
                if row.get(REJECTED):
                    lines[parsed.name].add(row[LINE])
        return lines

    def summary(self) -> dict[str, Any]:
        """What the preview shows (and the ImportJob stores): counts, problems, questions, notices."""
        problems = sorted(
            self.problems.items,
            key=lambda problem: (problem.severity != "error", problem.sheet, problem.line or 0),
        )
        return {
            "file": self.workbook.name,
            "kind": self.workbook.kind,
            "source": self.source,
            "sheets": [
                {
                    "name": parsed.name,
                    "entity": parsed.entity.value,
                    "how": parsed.how,
                    "rows": len(parsed.rows),
                    "headers": parsed.sheet.headers,
                    "columns": parsed.columns,
                    "unmapped": parsed.unmapped,
                    "ignored": parsed.ignored,
                    "delimiter": parsed.sheet.delimiter,
                    "encoding": parsed.sheet.encoding,
                    "sample": [
                        {key: _json_value(value) for key, value in row.items() if not key.startswith("_")}
                        for row in parsed.rows[:5]
                    ],
                }
                for parsed in self.sheets
            ],
            "counts": {
                entity.value: {**counts.as_json(), "wait": self.waiting.get(entity, 0)}
                for entity, counts in self.counts.items()
            },
            "errors": self.error_count,
            "warnings": len(self.problems.warnings),
            "problems": [problem.as_json() for problem in problems[:500]],
            "problems_hidden": max(0, len(problems) - 500) + self.problems.hidden,
            "questions": [question.as_json() for question in self.questions],
            "notices": self.notices,
            "new": {
                "users": sorted(
                    user.username for user in (self.owners.new_users.values() if self.owners else [])
                ),
                "pipelines": sorted(self.stages.new_pipelines.values()) if self.stages else [],
                "stages": [stage.name for stage in self.stages.new_stage_order()] if self.stages else [],
                "lost_reasons": sorted(self.names.new_reasons.values()) if self.names else [],
                "sources": sorted(name for _key, name in self.names.new_sources.values())
                if self.names
                else [],
            },
            "is_ready": self.is_ready,
            "unmapped": sum(len(parsed.unmapped) for parsed in self.sheets),
            # "Everything checks out" only when no row has a problem and each column is mapped or ignored.
            "checks_out": self.is_ready
            and not self.error_count
            and not any(parsed.unmapped for parsed in self.sheets),
        }


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


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


# ------------------------------------------------------------------------------------------------ plan


def plan_build(
    *,
    path: str | Path,
    by: User,
    options: ImportOptions | None = None,
    name: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> ImportPlan:
    """Read, parse and match a file into an ImportPlan; writes nothing."""
    options = options or ImportOptions()
    workbook = workbook_open(path, name=name)
    notices: list[str] = list(workbook.notices)
    mapping = None
    if options.mapping_id:
        mapping = ImportMapping.objects.filter(pk=options.mapping_id).first()
        if mapping is None:
            raise ApplicationError(_("The saved mapping no longer exists."), field="mapping")
    column_notices: list[str] = []
    sheets, source = _sheet_setup(workbook, options, mapping, column_notices)
    notices = list(dict.fromkeys([*notices, *column_notices]))
    problems = Problems()
    questions: list[Question] = []
    total = max(1, workbook.size)
    done_before = 0
    for parsed in sheets:
        dates, decimals = parsed.dates, parsed.decimals

        def tick(parsed: ParsedSheet = parsed, offset: int = done_before) -> None:
            if progress is not None:
                progress(
                    offset + parsed.sheet.position(), total, _("Reading %(sheet)s") % {"sheet": parsed.name}
                )

        sheet_parse(
            parsed, problems=problems, questions=questions, dates=dates, decimals=decimals, progress=tick
        )
        done_before += parsed.sheet.size
    if progress is not None:
        progress(total, total, _("Matching records"))
    plan = ImportPlan(
        workbook=workbook,
        options=options,
        by=by,
        source=source,
        sheets=sheets,
        problems=problems,
        questions=questions,
        notices=notices,
        counts={
            parsed.entity: Counts() for parsed in sheets if parsed.entity != Entity.USERS or is_roster(parsed)
        },
    )
    _PlanBuilder(plan).build()
    for parsed in sheets:
        if parsed.entity in plan.counts:
            plan.counts[parsed.entity].reject = sum(1 for row in parsed.rows if row.get(REJECTED))
    return plan


def _chunks(values: list, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start : start + size]


class _PlanBuilder:
    """Turns parsed rows into operations, entity by entity, in the order they reference each other."""

    def __init__(self, plan: ImportPlan) -> None:
        self.plan = plan
        self.problems = plan.problems
        self.source = plan.source
        self.by_entity: dict[Entity, list[ParsedSheet]] = defaultdict(list)
        for parsed in plan.sheets:
            self.by_entity[parsed.entity].append(parsed)
        options = plan.options
        aliases: dict[str, dict[str, str]] = {}
        for parsed in self.by_entity[Entity.USERS]:
            for row in parsed.rows:
                if row.get("external_id"):
                    aliases[row["external_id"]] = {
                        key: str(value) for key, value in row.items() if not key.startswith("_")
                    }
        plan.owners = self.owners = OwnerBook(
            by=plan.by, source=self.source, answers=options.owners, create=options.create_owners,
            default_owner=options.default_owner, aliases=aliases,
        )  # fmt: skip
        if options.default_owner and self.owners.default is None:
            raise ApplicationError(
                _("There is no user %(name)s to own rows without an owner.")
                % {"name": repr(options.default_owner)},
                field="default_owner",
            )
        plan.stages = self.stages = StageBook(
            options_stages=options.stages, options_pipelines=options.pipelines, create=options.create_stages
        )
        plan.names = self.names = NameBook(
            sources=options.sources, lost_reasons=options.lost_reasons, products=options.products
        )
        self.currency_default = (options.currency or str(settings.DEALFLOW["BASE_CURRENCY"])).upper()
        # Keys of the records this import creates, by the ways other rows refer to them.
        self.organization_by_id: dict[str, Ref] = {}
        self.organization_by_name: dict[str, Ref] = {}
        self.person_by_id: dict[str, Ref] = {}
        self.person_by_email: dict[str, Ref] = {}
        self.lead_by_id: dict[str, Ref] = {}
        self.lead_created: dict[Ref, dt.datetime] = {}
        self.lead_by_deal: dict[str, Ref] = {}
        self.deal_by_id: dict[str, Ref] = {}
        self.deal_rows: dict[Ref, DealCreate] = {}
        self._sources_seen: dict[Any, bool] = {}
        self._minor: dict[tuple[Decimal, str], int] = {}
        self.undated: dict[str, int] = {}  # rows without a creation date, per sheet

    # -- helpers --

    def error(self, parsed: ParsedSheet, row: dict[str, Any], name: str, value: Any, reason: str) -> None:
        self.problems.add(parsed.name, row, parsed.header_of.get(name, name), value, reason)

    def warn(self, parsed: ParsedSheet, row: dict[str, Any], name: str, value: Any, reason: str) -> None:
        self.problems.add(
            parsed.name, row, parsed.header_of.get(name, name), value, reason, severity="warning"
        )

    def rows(self, entity: Entity):
        for parsed in self.by_entity[entity]:
            for row in parsed.rows:
                yield parsed, row

    def check_duplicates(self, entity: Entity) -> None:
        seen: dict[str, tuple[str, int]] = {}
        for parsed, row in self.rows(entity):
            external_id = row.get("external_id")
            if not external_id:
                continue
            if external_id in seen:
                _sheet, line = seen[external_id]
                if row.get("_synthetic_id"):
                    self.error(parsed, row, "", "",
                               _("This row looks like line %(line)s (same title, organization and creation day); add an id column to import both.") % {"line": line})  # fmt: skip
                else:
                    self.error(parsed, row, "external_id", external_id,
                               _("The id %(id)s is also on line %(line)s; each record may appear once.") % {"id": repr(external_id), "line": line})  # fmt: skip
            else:
                seen[external_id] = (parsed.name, row[LINE])

    def owner(self, parsed: ParsedSheet, row: dict[str, Any]) -> Ref | None:
        value = row.get("owner")
        ref = self.owners.owner(value, sheet=parsed.name)
        if ref is None:
            if value and value.strip().lower() in self.owners.forbidden:
                self.error(parsed, row, "owner", value, _("You may not import records for this owner."))
            else:
                row["_waiting"] = True
        return ref

    def existing(self, model, ids: list[str]) -> dict[str, Any]:
        """Records of this source with these ids (none to look for when the source has no such records)."""
        found: dict[str, Any] = {}
        if not ids:
            return found
        if model not in self._sources_seen:
            self._sources_seen[model] = model.objects.filter(external_source=self.source).exists()
        if not self._sources_seen[model]:
            return found
        for chunk in _chunks(sorted(set(ids))):
            for record in model.objects.filter(external_source=self.source, external_id__in=chunk):
                found.setdefault(record.external_id, record)
        return found

    def organization_ref(
        self, parsed: ParsedSheet, row: dict[str, Any], db_by_id: dict, db_by_name: dict
    ) -> Ref | None:
        """By external id first, then by exact name; a name nobody has yet becomes a new organization."""
        external_id = row.get("organization_id")
        if external_id:
            ref = self.organization_by_id.get(external_id)
            if ref is None and external_id in db_by_id:
                ref = db_by_id[external_id].pk
            if ref is not None:
                return ref
            if not row.get("organization"):
                self.warn(
                    parsed,
                    row,
                    "organization_id",
                    external_id,
                    _("No organization has this id; the record is imported without one."),
                )
                return None
        name = row.get("organization")
        if not name:
            return None
        key = normalize_name(name)
        ref = self.organization_by_name.get(key)
        if ref is None and key in db_by_name:
            ref = db_by_name[key].pk
        if ref is None:
            ref = f"organization:name:{key}"
            self.organization_by_name[key] = ref
            self.plan.organizations.append(
                RecordOp(parsed.name, row[LINE], ref, {"name": name.strip()[:200], "owner": None})
            )
            self.plan.counts.setdefault(Entity.ORGANIZATIONS, Counts()).create += 1
        return ref

    def load_organizations(self, rows: list[dict[str, Any]]) -> tuple[dict, dict]:
        ids = [row["organization_id"] for row in rows if row.get("organization_id")]
        names = sorted({normalize_name(row["organization"]) for row in rows if row.get("organization")})
        by_id = self.existing(Organization, ids)
        by_name: dict[str, Organization] = {}
        raw_names = sorted({row["organization"].strip().lower() for row in rows if row.get("organization")})
        for chunk in _chunks(raw_names):
            for organization in (
                Organization.objects.annotate(lowered=Lower("name")).filter(lowered__in=chunk).order_by("id")
            ):
                by_name.setdefault(normalize_name(organization.name), organization)
        del names
        return by_id, by_name

    # -- the build --

    def synthesize_ids(self) -> None:
        """Deals and leads of a sheet without an id column get one from what identifies them to a person:
        title, organization and creation day. Importing the sheet again then updates them."""
        for entity, fields in (
            (Entity.DEALS, ("title", "organization", "created_at")),
            (Entity.LEADS, ("title", "email", "created_at")),
        ):
            for parsed in self.by_entity[entity]:
                if "external_id" in parsed.columns.values():
                    continue
                for row in parsed.rows:
                    parts = []
                    for name in fields:
                        value = row.get(name)
                        parts.append(
                            value.date().isoformat()
                            if isinstance(value, dt.datetime)
                            else normalize_name(value or "")
                        )
                    row["external_id"] = (
                        "~" + hashlib.sha1("|".join(parts).encode(), usedforsecurity=False).hexdigest()[:20]
                    )
                    row["_synthetic_id"] = True
                self.plan.notices.append(
                    _(
                        "%(sheet)s has no id column: its %(entity)s are recognised by %(fields)s, so importing it again updates them; a renamed one is imported as new."
                    )
                    % {
                        "sheet": parsed.name,
                        "entity": entity.value,
                        "fields": ", ".join(fields).replace("created_at", "creation day"),
                    }
                )

    def build(self) -> None:
        template = self.plan.options.title_template
        for parsed in self.by_entity[Entity.DEALS] if template else []:
            if "title" not in parsed.columns.values():
                for row in parsed.rows:
                    row["title"] = title_render(template, row, parsed)
                    row["_templated"] = True
        self.synthesize_ids()
        for entity in (Entity.ORGANIZATIONS, Entity.PERSONS, Entity.LEADS, Entity.DEALS, Entity.ACTIVITIES):
            self.check_duplicates(entity)
        self.build_users()
        self.build_organizations()
        self.build_persons()
        self.build_leads()
        self.build_deals()
        self.build_activities()
        self.collect_questions()

    def collect_questions(self) -> None:
        plan = self.plan
        plan.questions.extend(self.stages.questions.values())
        plan.questions.extend(self.owners.questions.values())
        plan.questions.extend(self.names.questions.values())
        self.undated_questions()
        if self.names.new_reasons:
            plan.notices.append(
                _("New lost reasons will be added: %(names)s.")
                % {"names": ", ".join(sorted(self.names.new_reasons.values()))}
            )
        if self.names.new_products:
            plan.notices.append(
                _("New products will be added to the catalogue (without a price): %(names)s.")
                % {"names": ", ".join(sorted(self.names.new_products.values()))}
            )
        if self.names.new_sources:
            plan.notices.append(
                _("New lead sources will be added: %(names)s.")
                % {"names": ", ".join(sorted(name for _key, name in self.names.new_sources.values()))}
            )
        if self.owners.new_users:
            plan.notices.append(
                _("New inactive users will be created for unknown owners: %(names)s.")
                % {"names": ", ".join(sorted(user.username for user in self.owners.new_users.values()))}
            )
        if self.stages.new_pipelines:
            plan.notices.append(
                _("New pipelines will be created: %(names)s.")
                % {"names": ", ".join(sorted(self.stages.new_pipelines.values()))}
            )
        if self.stages.new_stages:
            plan.notices.append(
                _("New stages will be created: %(names)s.")
                % {"names": ", ".join(stage.name for stage in self.stages.new_stage_order())}
            )
        plan.notices.append(
            _(
                "Records are matched by their id within the source %(source)s: importing the same file again updates them."
            )
            % {"source": repr(self.source)}
        )

    def undated_questions(self) -> None:
        """Rows without a creation date in a sheet that has the column: counted, and a question with a default."""
        undated = self.plan.options.undated
        for parsed in self.plan.sheets:
            count = self.undated.get(parsed.name, 0)
            if not count or "created_at" not in parsed.columns.values():
                continue
            header = parsed.header_of.get("created_at", "created_at")
            answer = undated.get(parsed.name) or undated.get("*")
            if answer:
                self.plan.notices.append(
                    _("%(sheet)s: %(count)s row(s) without a date in %(header)s: %(answer)s.")
                    % {
                        "sheet": parsed.name,
                        "count": count,
                        "header": header,
                        "answer": undated_label(answer),
                    }
                )
                continue
            self.plan.questions.append(
                Question(
                    "undated", parsed.name, parsed.name,
                    _("%(count)s row(s) of %(sheet)s have no date in %(header)s. Date them by another date of the row, by a fixed date, or skip them? Unanswered, they are skipped: dating them today would count old records as new this month.")
                    % {"count": count, "sheet": parsed.name, "header": header},
                    [(choice, undated_label(choice)) for choice in ("skip", "first", "today", "date:")],
                    [], count, default="skip",
                )
            )  # fmt: skip

    # users

    def build_users(self) -> None:
        """Accounts from a users sheet with a team or role column (admins only), matched by e-mail or username."""
        roster = [parsed for parsed in self.by_entity[Entity.USERS] if is_roster(parsed)]
        if not roster:
            return
        is_admin = user_access_scope(user=self.plan.by).is_admin
        users = list(User.objects.all())
        by_email = {user.email.lower(): user for user in users if user.email}
        by_username = {user.username.lower(): user for user in users}
        memberships = {
            (user_id, team.lower()): role
            for user_id, team, role in Membership.objects.values_list("user_id", "team__name", "role")
        }
        taken = set(by_username)
        counts = self.plan.counts[Entity.USERS]
        for parsed in roster:
            for row in parsed.rows:
                email = str(row.get("email") or "").lower()
                full = str(row.get("full_name") or "").strip()
                first = str(row.get("first_name") or "") or full.partition(" ")[0]
                last = str(row.get("last_name") or "") or full.partition(" ")[2]
                username = str(row.get("username") or "").strip() or (email.split("@")[0] if email else "")
                if not is_admin:
                    self.error(parsed, row, "email", email, _("Only admins may import users."))
                    continue
                if not (email or username):
                    self.error(parsed, row, "email", "", _("A user needs an e-mail address or a username."))
                    continue
                role = (
                    _role(row.get("role")) if row.get("role") else (Role.REP.value if row.get("team") else "")
                )
                if role is None:
                    self.error(parsed, row, "role", row.get("role"),
                               _("Unknown role; use admin, manager, rep or analyst."))  # fmt: skip
                    continue
                team = str(row.get("team") or "").strip()[:120]
                if role and not team:
                    self.error(parsed, row, "team", "", _("A role needs the team it holds in."))
                    continue
                existing = by_email.get(email) if email else None
                existing = existing or by_username.get(username.lower())
                key = f"user:roster:{email or username.lower()}"
                if existing is not None:
                    if team and memberships.get((existing.pk, team.lower())) != role:
                        self.plan.users.append(
                            UserOp(parsed.name, row[LINE], key, existing.username, email, first, last, team, role, existing)
                        )  # fmt: skip
                        counts.update += 1
                    else:
                        counts.skip += 1
                    continue
                base = username or "user"
                number = 2
                while username.lower() in taken:
                    username = f"{base}-{number}"
                    number += 1
                taken.add(username.lower())
                self.plan.users.append(
                    UserOp(
                        parsed.name,
                        row[LINE],
                        key,
                        username[:150],
                        email,
                        first[:150],
                        last[:150],
                        team,
                        role,
                    )
                )
                counts.create += 1
                for name in (email, username.lower(), normalize_name(f"{first} {last}")):
                    if name:
                        self.owners.planned.setdefault(name, key)

    # organizations

    def build_organizations(self) -> None:
        rows = [row for _parsed, row in self.rows(Entity.ORGANIZATIONS)]
        if not rows:
            return
        existing = self.existing(Organization, [row["external_id"] for row in rows if row.get("external_id")])
        _by_id, by_name = self.load_organizations(
            [{"organization": row["name"]} for row in rows if row.get("name")]
        )
        counts = self.plan.counts[Entity.ORGANIZATIONS]
        for parsed, row in self.rows(Entity.ORGANIZATIONS):
            name = (row.get("name") or "").strip()
            if not name:
                self.error(parsed, row, "name", "", _("An organization needs a name."))
            values: dict[str, Any] = {"name": name[:200]}
            for key, limit in (("website", 200), ("industry", 80)):
                if key in row:
                    values[key] = str(row[key])[:limit]
            if row.get("country"):
                country = str(row["country"]).strip()
                code = country_code(country)
                if code is not None:
                    values["country"] = code
                else:
                    self.warn(
                        parsed,
                        row,
                        "country",
                        country,
                        _("Neither a country name nor a two-letter country code; left empty."),
                    )
            if "owner" in row:
                values["owner"] = self.owner(parsed, row)
            if row.get(REJECTED):
                continue
            record = existing.get(row.get("external_id", ""))
            if record is None and not row.get("external_id"):
                record = by_name.get(normalize_name(name))  # no id: the name is the organization's identity
            key = (
                f"organization:id:{row['external_id']}"
                if row.get("external_id")
                else f"organization:line:{parsed.name}:{row[LINE]}"
            )
            if record is not None:
                ref: Ref = record.pk
                if _differs(record, values):
                    self.plan.organizations.append(RecordOp(parsed.name, row[LINE], key, values, record))
                    counts.update += 1
                else:
                    counts.skip += 1
            else:
                ref = key
                values["external_id"] = row.get("external_id", "")
                self.plan.organizations.append(RecordOp(parsed.name, row[LINE], key, values))
                counts.create += 1
            if row.get("external_id"):
                self.organization_by_id[row["external_id"]] = ref
            self.organization_by_name.setdefault(normalize_name(name), ref)

    # persons

    def person_from_row(self, parsed, row, values, db_by_id, db_by_email) -> Ref | None:
        """A deal's or lead's contact person by e-mail, else by name within its organization (created if new)."""
        email = row.get("person_email") or row.get("email")
        name = row.get("person") or " ".join(
            part for part in (row.get("first_name"), row.get("last_name")) if part
        )
        if not email and not name:
            return None
        if email:
            ref = self.person_by_email.get(email) or (db_by_email[email].pk if email in db_by_email else None)
            if ref is not None:
                return ref
        key = f"person:{email or normalize_name(name)}:{values.get('organization')}"
        if key in self.person_by_email:
            return self.person_by_email[key]
        first, _space, last = (name or "").strip().partition(" ")
        if row.get("first_name") or row.get("last_name"):
            first, last = row.get("first_name", ""), row.get("last_name", "")
        organization = values.get("organization")
        if not email and isinstance(organization, int):
            # A name without an e-mail address is the same person when an earlier import made them there.
            found = (
                Person.objects.filter(
                    organization_id=organization, first_name=first[:100], last_name=last[:100]
                )
                .order_by("id")
                .values_list("pk", flat=True)
                .first()
            )
            if found is not None:
                self.person_by_email[key] = found
                return found
        self.plan.persons.append(RecordOp(parsed.name, row[LINE], key, {
            "first_name": first[:100], "last_name": last[:100], "email": email or "",
            "phone": str(row.get("phone", ""))[:40], "organization": values.get("organization"), "owner": None,
        }))  # fmt: skip
        self.plan.counts.setdefault(Entity.PERSONS, Counts()).create += 1
        self.person_by_email[key] = key
        if email:
            self.person_by_email[email] = key
        return key

    def load_persons(self, rows: list[dict[str, Any]]) -> tuple[dict, dict]:
        by_id = self.existing(Person, [row["external_id"] for row in rows if row.get("external_id")])
        emails = sorted(
            {
                str(row.get("email") or row.get("person_email"))
                for row in rows
                if row.get("email") or row.get("person_email")
            }
        )
        by_email: dict[str, Person] = {}
        for chunk in _chunks(emails):
            for person in Person.objects.filter(email__in=chunk).order_by("id"):
                by_email.setdefault(person.email.lower(), person)
        return by_id, by_email

    def build_persons(self) -> None:
        rows = [row for _parsed, row in self.rows(Entity.PERSONS)]
        if not rows:
            return
        org_by_id, org_by_name = self.load_organizations(rows)
        existing, by_email = self.load_persons(rows)
        counts = self.plan.counts[Entity.PERSONS]
        for parsed, row in self.rows(Entity.PERSONS):
            first, last = row.get("first_name", ""), row.get("last_name", "")
            if not (first or last) and row.get("full_name"):
                first, _space, last = row["full_name"].strip().partition(" ")
            if not (first or last or row.get("email")):
                self.error(parsed, row, "last_name", "", _("A person needs a name or an e-mail address."))
            values: dict[str, Any] = {"first_name": first[:100], "last_name": last[:100]}
            for key, limit in (("email", 254), ("phone", 40), ("job_title", 120)):
                if key in row:
                    values[key] = str(row[key])[:limit]
            if row.get("organization_id") or row.get("organization"):
                values["organization"] = self.organization_ref(parsed, row, org_by_id, org_by_name)
            if "owner" in row:
                values["owner"] = self.owner(parsed, row)
            if row.get(REJECTED):
                continue
            record = existing.get(row.get("external_id", ""))
            if record is None and not row.get("external_id") and row.get("email"):
                record = by_email.get(row["email"])  # no id: the e-mail address is the person's identity
            key = (
                f"person:id:{row['external_id']}"
                if row.get("external_id")
                else f"person:line:{parsed.name}:{row[LINE]}"
            )
            if record is not None:
                ref: Ref = record.pk
                if _differs(record, values):
                    self.plan.persons.append(RecordOp(parsed.name, row[LINE], key, values, record))
                    counts.update += 1
                else:
                    counts.skip += 1
            else:
                ref = key
                values["external_id"] = row.get("external_id", "")
                self.plan.persons.append(RecordOp(parsed.name, row[LINE], key, values))
                counts.create += 1
            if row.get("external_id"):
                self.person_by_id[row["external_id"]] = ref
            if row.get("email"):
                self.person_by_email.setdefault(row["email"], ref)

    # leads

    def build_leads(self) -> None:
        rows = [row for _parsed, row in self.rows(Entity.LEADS)]
        if not rows:
            return
        org_by_id, org_by_name = self.load_organizations(rows)
        _persons_by_id, persons_by_email = self.load_persons(rows)
        existing = self.existing(Lead, [row["external_id"] for row in rows if row.get("external_id")])
        counts = self.plan.counts[Entity.LEADS]
        now = clock.now()
        for parsed, row in self.rows(Entity.LEADS):
            person_name = " ".join(part for part in (row.get("first_name"), row.get("last_name")) if part)
            title = (
                row.get("title") or row.get("organization") or person_name or row.get("email") or ""
            ).strip()
            if not title:
                self.error(parsed, row, "title", "", _("A lead needs a title, a company or a name."))
            status = LeadStatus.NEW.value
            if row.get("status"):
                status = _lead_status(row["status"]) or ""
                if not status:
                    self.error(
                        parsed,
                        row,
                        "status",
                        row["status"],
                        _("Unknown lead status; use new, working, qualified, disqualified or converted."),
                    )
            # Conversion is what the converted flag says; without that column, a converted deal's id says it.
            is_converted = (
                bool(row["is_converted"])
                if row.get("is_converted") is not None
                else bool(row.get("converted_deal_id"))
            )
            if is_converted:
                status = LeadStatus.CONVERTED.value
            elif status == LeadStatus.CONVERTED.value:
                self.warn(parsed, row, "is_converted", "false",
                          _("The status says converted but the converted flag says no; imported as qualified."))  # fmt: skip
                status = LeadStatus.QUALIFIED.value
            created = row.get("created_at")
            if created is None:
                created = self.undated_created(parsed, row, [], None, now)
                if created is None:
                    counts.skip += 1
                    continue
            values: dict[str, Any] = {
                "title": title[:200],
                "status": status,
                "owner": self.owner(parsed, row),
                "source": self.names.source(row.get("source")) or self.names.default_source(),
                "created_at": created,
                "disqualified_reason": str(row.get("disqualified_reason", ""))[:300],
            }
            for key in ("has_budget", "has_authority", "has_need", "has_timeline"):
                if key in row:
                    values[key] = bool(row[key])
            if row.get("organization_id") or row.get("organization"):
                values["organization"] = self.organization_ref(parsed, row, org_by_id, org_by_name)
            if row.get("email") or person_name:
                values["person"] = self.person_from_row(parsed, row, values, {}, persons_by_email)
            if row.get(REJECTED):
                continue
            record = existing.get(row.get("external_id", ""))
            key = (
                f"lead:id:{row['external_id']}"
                if row.get("external_id")
                else f"lead:line:{parsed.name}:{row[LINE]}"
            )
            if record is not None:
                ref: Ref = record.pk
                compare = {name: value for name, value in values.items() if name != "created_at"}
                if _differs(record, compare):
                    self.plan.leads.append(RecordOp(parsed.name, row[LINE], key, compare, record))
                    counts.update += 1
                else:
                    counts.skip += 1
                self.lead_created[ref] = record.created_at
            else:
                ref = key
                values["external_id"] = row.get("external_id", "")
                self.plan.leads.append(RecordOp(parsed.name, row[LINE], key, values))
                self.lead_created[ref] = values["created_at"]
                counts.create += 1
            if row.get("external_id"):
                self.lead_by_id[row["external_id"]] = ref
            if row.get("converted_deal_id") and is_converted:
                self.lead_by_deal[row["converted_deal_id"]] = ref

    # deals

    def build_deals(self) -> None:
        deal_rows = [row for _parsed, row in self.rows(Entity.DEALS)]
        history_rows = [(parsed, row) for parsed, row in self.rows(Entity.HISTORY)]
        if not deal_rows and not history_rows:
            return
        org_by_id, org_by_name = self.load_organizations(deal_rows)
        _persons_by_id, persons_by_email = self.load_persons(deal_rows)
        external_ids = [row["external_id"] for row in deal_rows if row.get("external_id")]
        history_ids = sorted({row["deal_id"] for _parsed, row in history_rows if row.get("deal_id")})
        existing = self.existing(Deal, external_ids + history_ids)
        lead_ids = sorted({row["lead_id"] for row in deal_rows if row.get("lead_id")} - set(self.lead_by_id))
        db_leads = self.existing(Lead, lead_ids)
        for external_id, lead in db_leads.items():
            self.lead_by_id[external_id] = lead.pk
            self.lead_created[lead.pk] = lead.created_at
        rates = set(ExchangeRate.objects.values_list("currency", flat=True)) | {
            str(settings.DEALFLOW["BASE_CURRENCY"])
        }
        last_event: dict[int, dt.datetime] = {}
        if existing:
            for chunk in _chunks([deal.pk for deal in existing.values()]):
                for deal_id, moment in (
                    DealEvent.objects.filter(deal_id__in=chunk)
                    .order_by()
                    .values_list("deal_id", "occurred_at")
                ):
                    if deal_id not in last_event or moment > last_event[deal_id]:
                        last_event[deal_id] = moment
        history: dict[str, list[tuple[ParsedSheet, dict[str, Any]]]] = defaultdict(list)
        deal_ids_in_file = {row.get("external_id") for row in deal_rows if row.get("external_id")}
        for parsed, row in history_rows:
            deal_id = row.get("deal_id")
            if not deal_id:
                self.error(parsed, row, "deal_id", "", _("A history row needs the deal's id."))
                continue
            if deal_id not in deal_ids_in_file and deal_id not in existing:
                self.error(
                    parsed, row, "deal_id", deal_id, _("No deal has this id, in this file or in Dealflow.")
                )
                continue
            if not row.get("occurred_at"):
                if not row.get("_waiting"):
                    self.error(
                        parsed, row, "occurred_at", "", _("A history row needs the date of the change.")
                    )
                continue
            history[deal_id].append((parsed, row))
        counts = self.plan.counts.setdefault(Entity.DEALS, Counts())
        history_counts = self.plan.counts.get(Entity.HISTORY)
        now = clock.now()
        seen = 0
        for parsed, row in self.rows(Entity.DEALS):
            seen += 1
            steps_rows = history.pop(row.get("external_id", ""), []) if row.get("external_id") else []
            record = existing.get(row.get("external_id", "")) if row.get("external_id") else None
            spec = self.deal_values(
                parsed, row, steps_rows, org_by_id, org_by_name, persons_by_email, rates, now, seen
            )
            if spec is None and row.get("_skipped") and not row.get(REJECTED):
                counts.skip += 1
                continue
            if spec is None or row.get(REJECTED) or row.get("_waiting"):
                for history_parsed, history_row in steps_rows:
                    if row.get(REJECTED):
                        self.problems.add(
                            history_parsed.name,
                            history_row,
                            "",
                            "",
                            _("The deal on line %(line)s is rejected.") % {"line": row[LINE]},
                        )
                continue
            if record is None:
                self.plan.deals_create.append(spec)
                self.deal_rows[spec.key] = spec
                counts.create += 1
                if history_counts is not None:
                    history_counts.create += len(steps_rows)
                if row.get("external_id"):
                    self.deal_by_id[row["external_id"]] = spec.key
                lead = spec.lead
                if lead is not None:
                    self.plan.lead_conversions.append((lead, spec.key))
            else:
                change = self.deal_change(parsed, row, record, spec, last_event.get(record.pk))
                if change is None:
                    counts.skip += 1
                    if history_counts is not None:
                        history_counts.skip += len(steps_rows)
                else:
                    self.plan.deals_change.append(change)
                    counts.update += 1
                    if history_counts is not None:
                        added = sum(1 for step in change.steps if step.kind != "update")
                        history_counts.update += added
                        history_counts.skip += max(0, len(steps_rows) - added)
                self.deal_by_id[row["external_id"]] = record.pk
        self.settle_new_stage_overrides()
        # History of deals that exist already and are not in this file's deals sheet.
        for history_id, steps_rows in history.items():
            record = existing.get(history_id)
            if record is None:
                continue
            change = self.history_only_change(record, steps_rows, last_event.get(record.pk))
            if change is not None:
                self.plan.deals_change.append(change)
                if history_counts is not None:
                    history_counts.update += len(change.steps)
                    history_counts.skip += len(steps_rows) - len(change.steps)
            elif history_counts is not None:
                history_counts.skip += len(steps_rows)
            self.deal_by_id[history_id] = record.pk
        for parsed in self.by_entity[Entity.DEALS]:
            if "currency" not in parsed.columns.values() and not any(
                row.get("amount_currency") for row in parsed.rows
            ):
                self.plan.notices.append(
                    _("%(sheet)s has no currency column: its amounts are in %(currency)s (%(why)s).")
                    % {
                        "sheet": parsed.name,
                        "currency": self.currency_default,
                        "why": _("the currency you chose")
                        if self.plan.options.currency
                        else _("the base currency"),
                    }
                )
        if self.plan.deals_create and not any(row.get("created_at") for row in deal_rows):
            self.plan.notices.append(
                _(
                    "The deals have no creation date; each counts as created at its first history date, its close date or today."
                )
            )

    def deal_values(
        self, parsed, row, steps_rows, org_by_id, org_by_name, persons_by_email, rates, now, seen
    ) -> DealCreate | None:
        """Everything deal_create and the later steps need for one deals row (None if it cannot be built)."""
        title = (row.get("title") or "").strip()
        if not title and row.get("_templated"):
            self.error(
                parsed,
                row,
                "title",
                "",
                _("The title template %(template)s gives an empty title for this row.")
                % {"template": repr(self.plan.options.title_template)},
            )
        elif not title:
            self.error(parsed, row, "title", "", _("A deal needs a title."))
        elif len(title) > 200:
            self.error(parsed, row, "title", title[:40] + "…", _("A title has at most 200 characters."))
        owner = self.owner(parsed, row)
        currency = (row.get("currency") or row.get("amount_currency") or self.currency_default).upper()
        if row.get("currency") and row.get("amount_currency") and row["currency"] != row["amount_currency"]:
            self.error(
                parsed,
                row,
                "amount",
                row.get("amount"),
                _("The amount is in %(sign)s but the currency column says %(code)s.")
                % {"sign": row["amount_currency"], "code": row["currency"]},
            )
        chosen = self.plan.options.currency.upper()
        if (
            chosen
            and not row.get("currency")
            and row.get("amount_currency")
            and row["amount_currency"] != chosen
        ):
            self.error(
                parsed,
                row,
                "amount",
                row.get("amount"),
                _("The amount is in %(sign)s but the import's currency is %(code)s.")
                % {"sign": row["amount_currency"], "code": chosen},
            )
        amount_minor = self.minor(parsed, row, "amount", row.get("amount"), currency)
        pipeline = self.stages.pipeline(row.get("pipeline"), sheet=parsed.name)
        if pipeline is None:
            if row.get("pipeline"):
                row["_waiting"] = True
            else:
                self.error(parsed, row, "pipeline", "", _("There is no active pipeline to import into."))
            return None
        outcome = self.deal_outcome(parsed, row)
        stage_info: StageInfo | None = None
        if row.get("stage"):
            stage_info = self.stages.stage(
                pipeline, row["stage"], sheet=parsed.name, probability=row.get("probability"), seen=seen
            )
            if stage_info is None:
                row["_waiting"] = True
                return None
            if outcome is None and stage_info.kind in ("won", "lost"):
                outcome = stage_info.kind
            elif outcome and stage_info.kind in ("won", "lost") and stage_info.kind != outcome:
                self.warn(
                    parsed,
                    row,
                    "stage",
                    row["stage"],
                    _("The stage says %(stage)s but the status says %(status)s; the status wins.")
                    % {"stage": stage_info.kind, "status": outcome},
                )
        outcome = outcome or "open"
        if outcome == "deleted":
            self.warn(parsed, row, "status", row.get("status"), _("Deleted in the source system; skipped."))
            return None
        history = self.history_steps(pipeline, steps_rows, currency)
        if history is None:
            row["_waiting"] = True
            return None
        created_at = row.get("created_at")
        close_at = (
            row.get("won_at") if outcome == "won" else row.get("lost_at") if outcome == "lost" else None
        )
        close_at = close_at or (row.get("closed_at") if outcome != "open" else None)
        if outcome != "open" and close_at is None and row.get("expected_close_on"):
            close_at = _day_start(
                row["expected_close_on"]
            )  # Salesforce and HubSpot: the close date of a closed deal
        close_from_file = close_at is not None
        if created_at is None:
            created_at = self.undated_created(parsed, row, [step[0] for step in history], close_at, now)
            if created_at is None:
                return None
        if history and history[0][0] < created_at:
            created_at = history[0][0]
        if outcome != "open" and close_at is None:
            close_at = history[-1][0] if history else None
            if close_at is None:
                self.error(parsed, row, "closed_at", "", _("A won or lost deal needs the date it closed."))
                return None
        if close_at is not None and close_at < created_at:
            # Flat exports (Salesforce sample orgs) date every record at the org's creation, after the real
            # close date: the close date is what won-by-month counts, so it wins and the deal starts that day.
            self.warn(
                parsed,
                row,
                "closed_at",
                timezone.localdate(close_at).isoformat(),
                _(
                    "Closes before it was created; the close date wins (won and lost figures count by it), so the deal counts as created on its close date."
                ),
            )
            created_at = close_at
        if outcome != "open" and currency not in rates:
            self.error(
                parsed,
                row,
                "currency",
                currency,
                _(
                    "There is no exchange rate for %(currency)s; add one under Settings > Exchange rates first."
                )
                % {"currency": currency},
            )
        lead = None
        lead_key = row.get("lead_id") or (
            self.lead_by_deal.get(row["external_id"]) if row.get("external_id") else None
        )
        if row.get("lead_id"):
            lead = self.lead_by_id.get(row["lead_id"])
            if lead is None:
                self.warn(
                    parsed,
                    row,
                    "lead_id",
                    row["lead_id"],
                    _("No lead has this id; the deal is imported without its lead."),
                )
        elif lead_key:
            lead = lead_key
        if lead is not None and self.lead_created.get(lead) and self.lead_created[lead] > created_at:
            self.warn(
                parsed,
                row,
                "lead_id",
                row.get("lead_id", ""),
                _("The lead was created after the deal; the lead's date is kept."),
            )
        organization = self.organization_ref(parsed, row, org_by_id, org_by_name)
        values = {"organization": organization}
        person = (
            self.person_from_row(parsed, row, values, {}, persons_by_email)
            if (row.get("person") or row.get("person_email"))
            else None
        )
        source = self.names.source(row.get("source"))
        if owner is None or row.get(REJECTED) or row.get("_waiting"):
            return None
        # The deal is created in the stage its history starts in; without history, in its current
        # stage if open, else in the pipeline's first open stage.
        first_open = self.stages.first_open(pipeline)
        if history:
            start_stage = (
                history[0][1]
                if history[0][1] is not None and history[0][1].kind == "open"
                else (stage_info if stage_info and stage_info.kind == "open" else first_open)
            )
        else:
            start_stage = stage_info if stage_info is not None and stage_info.kind == "open" else first_open
        if start_stage is None:
            self.error(
                parsed,
                row,
                "stage",
                row.get("stage", ""),
                _("The pipeline has no open stage to start the deal in."),
            )
            return None
        final_stage = stage_info if stage_info is not None and stage_info.kind == "open" else None
        probability = row.get("probability")
        probability_override = None
        category_override = ""
        if outcome == "open":
            reference = final_stage or start_stage
            if (
                probability is not None
                and reference.probability is not None
                and probability != reference.probability
            ):
                probability_override = probability
            category = _forecast_category(row.get("forecast_category"))
            if category and category != reference.forecast_category and category != ForecastCategory.CLOSED:
                category_override = category
        first_amount = history[0][2] if history and history[0][2] is not None else amount_minor
        first_close = history[0][3] if history and history[0][3] is not None else row.get("expected_close_on")
        key = (
            f"deal:id:{row['external_id']}"
            if row.get("external_id")
            else f"deal:line:{parsed.name}:{row[LINE]}"
        )
        steps = self.replay(history, start_stage, first_amount, first_close, created_at)
        if outcome != "open" and close_from_file and close_at is not None:
            self.close_on_file_date(parsed, row, steps, close_at)
        last_at = steps[-1].at if steps else created_at
        current = self.current_after(start_stage.ref, steps)
        final_amount = amount_minor if row.get("amount") is not None else None
        self.finish_steps(steps, current, last_at, first_amount, first_close, final_amount, row.get("expected_close_on"),
                          final_stage, outcome, close_at, pipeline, row, parsed)  # fmt: skip
        return DealCreate(
            sheet=parsed.name, line=row[LINE], key=key, title=title[:200], owner=owner, pipeline=pipeline,
            stage=start_stage.ref, created_at=created_at, amount_minor=first_amount or 0, currency=currency,
            expected_close_on=first_close, organization=organization, person=person, source=source, lead=lead,
            probability_override=probability_override, forecast_category_override=category_override,
            next_step=str(row.get("next_step", ""))[:200], external_id=row.get("external_id", ""), steps=steps,
            product=self.names.product(row.get("product")),
            probability_given=probability if outcome == "open" else None,
            category_given=_forecast_category(row.get("forecast_category")) if outcome == "open" else "",
            reference_stage=(final_stage or start_stage).ref if outcome == "open" else None,
        )  # fmt: skip

    def settle_new_stage_overrides(self) -> None:
        """Deals in stages this import creates keep their own probability and forecast category.

        A new stage takes the mean probability of its rows and the default forecast category, known only
        now; a deal whose own value differs keeps it as its override, so the weighted pipeline is the
        source system's and a second import finds nothing to change.
        """
        for spec in self.plan.deals_create:
            reference = spec.reference_stage
            if not isinstance(reference, str) or reference not in self.stages.new_stages:
                continue
            stage_probability = self.stages.new_stages[reference].probability
            spec.probability_override = (
                spec.probability_given
                if spec.probability_given is not None and spec.probability_given != stage_probability
                else None
            )
            category = spec.category_given
            spec.forecast_category_override = (
                category
                if category and category not in (ForecastCategory.PIPELINE, ForecastCategory.CLOSED)
                else ""
            )

    def close_on_file_date(self, parsed, row, steps: list[DealStep], close_at: dt.datetime) -> None:
        """The close date in the deals row wins over a history that closes the deal on another day.

        History rows dated after the close day are moved to the close date (a flat history dates them all at
        the export's creation instant); a closing step on an earlier day moves to the close date.
        """
        close_day = timezone.localdate(close_at)
        closing = next((step for step in reversed(steps) if step.kind in ("won", "lost")), None)
        if closing is not None and timezone.localdate(closing.at) != close_day:
            self.warn(
                parsed,
                row,
                "closed_at",
                close_day.isoformat(),
                _(
                    "The history closes this deal on %(history)s, the close date says %(close)s; the close date wins (it is the date the source system reports the deal by)."
                )
                % {"history": timezone.localdate(closing.at).isoformat(), "close": close_day.isoformat()},
            )
        for step in steps:
            if timezone.localdate(step.at) > close_day:
                step.at = close_at
        if closing is not None and closing is steps[-1] and closing.at < close_at:
            closing.at = close_at

    def undated_created(
        self, parsed, row, history_dates: list[dt.datetime], close_at: dt.datetime | None, now: dt.datetime
    ) -> dt.datetime | None:
        """The creation date of a row without one, as the preview's answer says; None skips the row.

        In a sheet with a creation column, undated rows are skipped unless the user picks another date:
        dating them today would put old records into this month's figures. A sheet without such a column
        uses each row's first history or close date, else today, and says so in a notice.
        """
        if row.get("_waiting"):
            return now  # its date waits for an answer (day/month order); the row is not written yet
        has_column = "created_at" in parsed.columns.values()
        undated = self.plan.options.undated
        answer = undated.get(parsed.name) or undated.get("*") or ("skip" if has_column else "first")
        self.undated[parsed.name] = self.undated.get(parsed.name, 0) + 1
        if answer == "first":
            candidates = [*history_dates, *([close_at] if close_at else [])]
            if candidates:
                return min(candidates)
            if has_column:
                answer = "skip"
            else:
                return now
        if answer == "today":
            return now
        if answer.startswith("date:"):
            return _day_start(dt.date.fromisoformat(answer[5:]))
        self.warn(
            parsed, row, "created_at", "", _("No creation date; skipped, as the preview's question says.")
        )
        row["_skipped"] = True
        return None

    def minor(self, parsed, row, name: str, amount: Decimal | None, currency: str) -> int:
        if amount is None:
            return 0
        key = (amount, currency)
        cached = self._minor.get(key)
        if cached is not None:
            return cached
        try:
            value = self._minor[key] = to_minor(amount, currency)
        except ApplicationError as error:
            self.error(parsed, row, name, amount, error.message)
            return 0
        return value

    def deal_outcome(self, parsed, row) -> str | None:
        status = row.get("status")
        if status:
            word = status_word(status)
            if word is None:
                self.error(parsed, row, "status", status, _("Unknown status; use open, won or lost."))
                return None
            return word
        if row.get("is_closed") is not None or row.get("is_won") is not None:
            if row.get("is_won"):
                return "won"
            if row.get("is_closed"):
                return "lost"
            return "open"
        if row.get("won_at"):
            return "won"
        if row.get("lost_at"):
            return "lost"
        return None

    def history_steps(
        self, pipeline: Ref, steps_rows, currency: str
    ) -> list[tuple[dt.datetime, StageInfo | None, int | None, dt.date | None, str | None]] | None:
        """The deal's history rows in time order as (at, stage, amount_minor, expected close, outcome)."""
        result = []
        for parsed, row in sorted(steps_rows, key=lambda item: (item[1]["occurred_at"], item[1][LINE])):
            if row.get(REJECTED):
                continue
            stage = None
            if row.get("stage"):
                stage = self.stages.stage(
                    pipeline,
                    row["stage"],
                    sheet=parsed.name,
                    probability=row.get("probability"),
                    seen=row[LINE],
                )
                if stage is None:
                    return None
            outcome = status_word(row["status"]) if row.get("status") else None
            if outcome in ("won", "lost") and (stage is None or stage.kind != outcome):
                stage = self.stages.closing(pipeline, outcome)
            amount = (
                self.minor(parsed, row, "amount", row.get("amount"), currency)
                if row.get("amount") is not None
                else None
            )
            result.append((row["occurred_at"], stage, amount, row.get("expected_close_on"), outcome))
        return result

    def replay(
        self,
        history,
        start_stage: StageInfo,
        amount: int | None,
        close: dt.date | None,
        created_at: dt.datetime,
    ) -> list[DealStep]:
        """Steps that turn the history rows into moves, updates, wins, losses and reopenings."""
        steps: list[DealStep] = []
        current = start_stage
        current_amount, current_close = amount, close
        is_closed = False
        for index, (at, stage, step_amount, step_close, _outcome) in enumerate(history):
            at = max(at, created_at)
            changes: dict[str, Any] = {}
            if index and step_amount is not None and step_amount != current_amount and not is_closed:
                changes["amount_minor"] = step_amount
                current_amount = step_amount
            if index and step_close is not None and step_close != current_close and not is_closed:
                changes["expected_close_on"] = step_close
                current_close = step_close
            if changes:
                steps.append(DealStep("update", at, changes=changes))
            if stage is None or stage.ref == current.ref:
                continue
            if stage.kind == "open":
                if is_closed:
                    steps.append(DealStep("reopen", at, stage=stage.ref))
                    is_closed = False
                else:
                    steps.append(DealStep("move", at, stage=stage.ref))
            elif not is_closed:
                if stage.kind == "won":
                    steps.append(DealStep("won", at))
                else:
                    steps.append(DealStep("lost", at, reason=None))
                is_closed = True
            current = stage
        return steps

    @staticmethod
    def current_after(start: Ref, steps: list[DealStep]) -> dict[str, Any]:
        status: str = "open"
        stage: Ref | None = start
        for step in steps:
            if step.kind in ("move", "reopen"):
                status, stage = "open", step.stage
            elif step.kind in ("won", "lost"):
                status = step.kind
        return {"status": status, "stage": stage}

    def finish_steps(
        self,
        steps,
        current,
        last_at,
        amount,
        close,
        final_amount,
        final_close,
        final_stage,
        outcome,
        close_at,
        pipeline,
        row,
        parsed,
    ) -> None:
        """Bring the replayed deal to the state its deals row describes (amount, close date, stage, outcome)."""
        current_amount = amount
        for step in steps:
            if step.kind == "update" and step.changes and "amount_minor" in step.changes:
                current_amount = step.changes["amount_minor"]
        current_close = close
        for step in steps:
            if step.kind == "update" and step.changes and "expected_close_on" in step.changes:
                current_close = step.changes["expected_close_on"]
        # A loss recorded in the history gets the deals row's reason.
        for step in steps:
            if step.kind == "lost":
                step.reason = self.names.lost_reason(row.get("lost_reason"))
        moment = (
            max(last_at, close_at)
            if (outcome != "open" and close_at and current["status"] == "open")
            else last_at
        )
        if current["status"] != "open" and current["status"] != outcome:
            steps.append(DealStep("reopen", last_at, stage=final_stage.ref if final_stage else None))
            current["status"] = "open"
        changes: dict[str, Any] = {}
        if final_amount is not None and final_amount != current_amount and current["status"] == "open":
            changes["amount_minor"] = final_amount
        if final_close is not None and final_close != current_close and current["status"] == "open":
            changes["expected_close_on"] = final_close
        if changes:
            steps.append(DealStep("update", last_at, changes=changes))
        if current["status"] == "open":
            if final_stage is not None and final_stage.ref != current["stage"]:
                steps.append(DealStep("move", last_at, stage=final_stage.ref))
            if outcome == "won":
                steps.append(DealStep("won", moment))
            elif outcome == "lost":
                reason = self.names.lost_reason(row.get("lost_reason"))
                if not row.get("lost_reason"):
                    pass  # "Other": the preview lists lost deals without a reason as a notice
                steps.append(DealStep("lost", moment, reason=reason))

    def deal_change(
        self, parsed, row, record: Deal, spec: DealCreate, last_event: dt.datetime | None
    ) -> DealChange | None:
        """What re-importing a deal that exists already changes: its fields, then new history, then outcome.

        History dated on or before the deal's last recorded event is there already and is skipped;
        a change of outcome the file shows without a date is recorded now.
        """
        data: dict[str, Any] = {}
        if record.title != spec.title:
            data["title"] = spec.title
        final_amount = _final_amount(spec)
        if final_amount != record.amount_minor or spec.currency != record.currency:
            data["amount_minor"] = final_amount
            data["currency"] = spec.currency
        final_close = _final_close(spec)
        if final_close is not None and final_close != record.expected_close_on:
            data["expected_close_on"] = final_close
        for name, ref in (
            ("owner", spec.owner),
            ("organization", spec.organization),
            ("person", spec.person),
            ("source", spec.source),
        ):
            if ref is not None and (isinstance(ref, str) or ref != getattr(record, f"{name}_id")):
                data[name] = ref
        if row.get("next_step") is not None and spec.next_step != record.next_step:
            data["next_step"] = spec.next_step
        target = self.current_after(spec.stage, spec.steps)
        if record.status == DealStatus.OPEN and target["status"] == "open":
            if spec.probability_override != record.probability_override:
                data["probability_override"] = spec.probability_override
            if spec.forecast_category_override != record.forecast_category_override:
                data["forecast_category_override"] = spec.forecast_category_override
        closing = next((step for step in reversed(spec.steps) if step.kind in ("won", "lost")), None)
        now = clock.now()
        steps: list[DealStep] = []
        if record.status == DealStatus.OPEN:
            current: Ref = record.stage_id
            for step in spec.steps:
                if (
                    step.kind == "move"
                    and (last_event is None or step.at > last_event)
                    and step.stage != current
                ):
                    steps.append(DealStep("move", step.at, stage=step.stage))
                    current = step.stage  # type: ignore[assignment]
            if target["status"] == "open":
                if target["stage"] != current:
                    steps.append(DealStep("move", now, stage=target["stage"]))
            elif closing is not None:
                at = closing.at if last_event is None or closing.at > last_event else now
                steps.append(DealStep(closing.kind, at, reason=closing.reason))
        elif target["status"] != record.status:
            steps.append(
                DealStep("reopen", now, stage=target["stage"] if target["status"] == "open" else None)
            )
            if closing is not None and target["status"] != "open":
                steps.append(DealStep(closing.kind, now, reason=closing.reason))
        if spec.product is not None and (
            isinstance(spec.product, str) or spec.product not in self.deal_products(record.pk)
        ):
            data["product"] = spec.product
        if not data and not steps:
            return None
        return DealChange(parsed.name, row[LINE], record, data, steps)

    @staticmethod
    def deal_products(deal_id: int) -> set[int]:
        lines = DealLine.objects.filter(deal_id=deal_id, product__isnull=False)
        return set(lines.values_list("product_id", flat=True))

    def history_only_change(
        self, record: Deal, steps_rows, last_event: dt.datetime | None
    ) -> DealChange | None:
        """History rows for a deal already in Dealflow: the moves dated after its last event."""
        if record.status != DealStatus.OPEN:
            return None
        history = self.history_steps(record.pipeline_id, steps_rows, record.currency)
        if not history:
            return None
        steps: list[DealStep] = []
        current: Ref = record.stage_id
        for at, stage, _amount, _close, _outcome in history:
            if last_event is not None and at <= last_event:
                continue
            if stage is not None and stage.kind == "open" and stage.ref != current:
                steps.append(DealStep("move", at, stage=stage.ref))
                current = stage.ref
        if not steps:
            return None
        parsed, row = steps_rows[0]
        return DealChange(parsed.name, row[LINE], record, {}, steps)

    # activities

    def build_activities(self) -> None:
        rows = [row for _parsed, row in self.rows(Entity.ACTIVITIES)]
        if not rows:
            return
        existing = self.existing(Activity, [row["external_id"] for row in rows if row.get("external_id")])
        deal_ids = sorted({row["deal_id"] for row in rows if row.get("deal_id")} - set(self.deal_by_id))
        for external_id, found in self.existing(Deal, deal_ids).items():
            self.deal_by_id[external_id] = found.pk
        lead_ids = sorted({row["lead_id"] for row in rows if row.get("lead_id")} - set(self.lead_by_id))
        for external_id, lead in self.existing(Lead, lead_ids).items():
            self.lead_by_id[external_id] = lead.pk
        _persons_by_id, persons_by_email = self.load_persons(rows)
        counts = self.plan.counts[Entity.ACTIVITIES]
        now = clock.now()
        for parsed, row in self.rows(Entity.ACTIVITIES):
            subject = (row.get("subject") or "").strip()
            if not subject:
                self.error(parsed, row, "subject", "", _("An activity needs a subject."))
            kind = _activity_kind(row.get("kind"))
            if kind is None:
                self.warn(
                    parsed, row, "kind", row.get("kind"), _("Unknown activity type; imported as a task.")
                )
                kind = ActivityKind.TASK.value
            done_at = row.get("done_at")
            if done_at is None and row.get("is_done"):
                done_at = row.get("due_at") or now
            deal: Ref | None = None
            if row.get("deal_id"):
                deal = self.deal_by_id.get(row["deal_id"])
                if deal is None:
                    self.error(
                        parsed,
                        row,
                        "deal_id",
                        row["deal_id"],
                        _("No deal has this id, in this file or in Dealflow."),
                    )
            lead = self.lead_by_id.get(row["lead_id"]) if row.get("lead_id") else None
            person = None
            if row.get("person_email"):
                person = self.person_by_email.get(row["person_email"]) or (
                    persons_by_email[row["person_email"]].pk
                    if row["person_email"] in persons_by_email
                    else None
                )
            values = {
                "subject": subject[:200], "kind": kind, "notes": str(row.get("notes", "")), "due_at": row.get("due_at"),
                "done_at": done_at, "owner": self.owner(parsed, row), "lead": lead, "person": person,
                "at": done_at or row.get("due_at") or now,
            }  # fmt: skip
            if row.get(REJECTED) or row.get("_waiting"):
                continue
            record = existing.get(row.get("external_id", ""))
            key = (
                f"activity:id:{row['external_id']}"
                if row.get("external_id")
                else f"activity:line:{parsed.name}:{row[LINE]}"
            )
            if record is not None:
                compare = {
                    name: values[name] for name in ("subject", "kind", "notes", "due_at", "done_at", "owner")
                }
                if _differs(record, compare):
                    self.plan.activities.append(
                        ActivityOp(parsed.name, row[LINE], key, compare, deal, record)
                    )
                    counts.update += 1
                else:
                    counts.skip += 1
                continue
            values["external_id"] = row.get("external_id", "")
            operation = ActivityOp(parsed.name, row[LINE], key, values, deal)
            if isinstance(deal, str) and deal in self.deal_rows:
                self.deal_rows[deal].activities.append(operation)
            else:
                self.plan.activities.append(operation)
            counts.create += 1


def is_roster(parsed: ParsedSheet) -> bool:
    """A users sheet that names teams or roles creates accounts; without them it only tells who an owner id is."""
    return parsed.entity == Entity.USERS and bool({"team", "role"} & set(parsed.columns.values()))


_ROLES = {
    "admin": Role.ADMIN, "administrator": Role.ADMIN, "beheerder": Role.ADMIN,
    "manager": Role.MANAGER, "sales manager": Role.MANAGER, "teamleider": Role.MANAGER, "leidinggevende": Role.MANAGER,
    "rep": Role.REP, "sales rep": Role.REP, "verkoper": Role.REP, "accountmanager": Role.REP, "account manager": Role.REP,
    "analyst": Role.ANALYST, "analist": Role.ANALYST,
}  # fmt: skip


def _role(value: Any) -> str | None:
    role = _ROLES.get(normalize_name(value))
    return role.value if role is not None else None


def title_render(template: str, row: dict[str, Any], parsed: ParsedSheet) -> str:
    """A deal's title from a template like "{organization} - {product}": placeholders name fields or headers.

    Empty when every placeholder is empty for the row (a row problem, never a title of bare dashes).
    """
    by_header = {normalize_header(header): row.get(name) for header, name in parsed.columns.items() if name}
    values: dict[str, str] = {}
    filled = False
    for _literal, name, _spec, _conversion in string.Formatter().parse(template):
        if name is None:
            continue
        value = row.get(name) if name in row else by_header.get(normalize_header(name))
        text = _json_value(value) if value is not None else ""
        values[name] = str(text).strip()
        filled = filled or bool(values[name])
    if not filled:
        return ""
    try:
        return template.format_map(values).strip(" -–—|,/:;")[:200]  # no dangling separator
    except (ValueError, IndexError, KeyError):
        return ""


def undated_label(answer: str) -> str:
    """What an answer to the question about rows without a creation date does, in words."""
    if answer.startswith("date:") and len(answer) > 5:
        return _("dated %(date)s") % {"date": answer[5:]}
    return {
        "skip": _("skipped"),
        "first": _("dated by their first history date or close date (skipped without one)"),
        "today": _("dated today"),
        "date:": _("dated on a fixed date (give it below)"),
    }.get(answer, answer)


def _final_amount(spec: DealCreate) -> int:
    amount = spec.amount_minor
    for step in spec.steps:
        if step.kind == "update" and step.changes and "amount_minor" in step.changes:
            amount = step.changes["amount_minor"]
    return amount


def _final_close(spec: DealCreate) -> dt.date | None:
    close = spec.expected_close_on
    for step in spec.steps:
        if step.kind == "update" and step.changes and "expected_close_on" in step.changes:
            close = step.changes["expected_close_on"]
    return close


def _day_start(day: dt.date) -> dt.datetime:
    from dealflow.importers.values import as_datetime

    return as_datetime(day)


def _differs(record: Any, values: dict[str, Any]) -> bool:
    """Whether writing ``values`` would change the record (references compare by id; new ones always differ)."""
    for name, value in values.items():
        if name in ("external_id", "at", "created_at"):
            continue
        if (
            isinstance(value, str)
            and value.startswith(("organization:", "person:", "user:", "source:", "lead:"))
            and name in {"organization", "person", "owner", "source", "lead"}
        ):
            return True
        if name in {"organization", "person", "owner", "source", "lead"}:
            if getattr(record, f"{name}_id") != value:
                return True
            continue
        current = getattr(record, name)
        if isinstance(current, str) and value is None:
            value = ""
        if current != value:
            return True
    return False


_LEAD_STATUSES = {
    "new": LeadStatus.NEW, "nieuw": LeadStatus.NEW, "open": LeadStatus.NEW, "open - not contacted": LeadStatus.NEW,
    "working": LeadStatus.WORKING, "working - contacted": LeadStatus.WORKING, "contacted": LeadStatus.WORKING,
    "in behandeling": LeadStatus.WORKING, "in progress": LeadStatus.WORKING,
    "qualified": LeadStatus.QUALIFIED, "gekwalificeerd": LeadStatus.QUALIFIED,
    "disqualified": LeadStatus.DISQUALIFIED, "unqualified": LeadStatus.DISQUALIFIED,
    "closed - not converted": LeadStatus.DISQUALIFIED, "gediskwalificeerd": LeadStatus.DISQUALIFIED,
    "converted": LeadStatus.CONVERTED, "closed - converted": LeadStatus.CONVERTED, "geconverteerd": LeadStatus.CONVERTED,
}  # fmt: skip


_LEAD_STATUSES = {normalize_name(key): value for key, value in _LEAD_STATUSES.items()}


def _lead_status(value: str) -> str | None:
    status = _LEAD_STATUSES.get(normalize_name(value))
    return status.value if status is not None else None


_ACTIVITY_KINDS = {
    "call": "call", "phone": "call", "phone call": "call", "bellen": "call", "telefoon": "call", "gesprek": "call",
    "meeting": "meeting", "afspraak": "meeting", "vergadering": "meeting", "event": "meeting", "demo": "meeting",
    "email": "email", "e mail": "email", "e-mail": "email", "mail": "email",
    "task": "task", "taak": "task", "to do": "task", "todo": "task", "deadline": "task",
    "note": "note", "notitie": "note", "notes": "note",
}  # fmt: skip


_ACTIVITY_KINDS = {normalize_name(key): value for key, value in _ACTIVITY_KINDS.items()}


def _activity_kind(value: Any) -> str | None:
    if not value:
        return ActivityKind.TASK.value
    return _ACTIVITY_KINDS.get(normalize_name(value))


_FORECAST = {
    "pipeline": "pipeline", "best case": "best_case", "bestcase": "best_case", "commit": "commit",
    "omitted": "omitted", "closed": "closed", "most likely": "commit",
}  # fmt: skip


_FORECAST = {normalize_name(key): value for key, value in _FORECAST.items()}


def _forecast_category(value: Any) -> str:
    if not value:
        return ""
    return _FORECAST.get(normalize_name(value), "")
