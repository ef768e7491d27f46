"""``plan_build``: a file read, parsed and matched into an ImportPlan, and the order entities are built in."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from dealflow.accounts.models import User
from dealflow.core.errors import ApplicationError
from dealflow.importers.fields import Entity
from dealflow.importers.mapping import ImportOptions
from dealflow.importers.models import ImportMapping
from dealflow.importers.parsing import (
    LINE,
    REJECTED,
    ParsedSheet,
    Problems,
    Question,
    sheet_decisions,
    sheet_parse,
)
from dealflow.importers.planning.activities import ActivitiesPart
from dealflow.importers.planning.operations import (
    Counts,
    ImportPlan,
    StreamedOperations,
)
from dealflow.importers.planning.sheets import _sheet_setup
from dealflow.importers.planning.words import (
    is_roster,
    title_render,
    undated_label,
)
from dealflow.importers.reading import Workbook, workbook_open
from dealflow.importers.values import normalize_name

# ------------------------------------------------------------------------------------------------ plan


STREAM_CHUNK = 5000  # rows parsed, matched and set aside at a time when a file is streamed


def stream_from_bytes() -> int:
    """From this size on, a single deals sheet is streamed (bounded memory) instead of held whole."""
    return int(str(settings.DEALFLOW.get("IMPORT_STREAM_FROM_BYTES", 8 * 1024 * 1024)))


def plan_build(
    *,
    path: str | Path,
    by: User,
    options: ImportOptions | None = None,
    name: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    for_writing: bool = False,
) -> ImportPlan:
    """Read, parse and match a file into an ImportPlan; writes nothing.

    A big file with one deals sheet is streamed: a first pass settles the column decisions, a second
    parses, matches and plans a chunk of rows at a time, keeping only counts, the problems, a sample and
    (``for_writing``) the operations in temporary files. Everything else holds the whole file's rows.
    """
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
    if (
        len(sheets) == 1
        and sheets[0].entity == Entity.DEALS
        and workbook.kind in ("csv", "zip")
        and workbook.size >= stream_from_bytes()
    ):
        return _plan_stream(
            workbook,
            sheets[0],
            options=options,
            by=by,
            source=source,
            problems=problems,
            questions=questions,
            notices=notices,
            progress=progress,
            for_writing=for_writing,
        )
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
    PlanBuilder(plan).build()
    for parsed in sheets:
        if parsed.entity in plan.counts:
            plan.counts[parsed.entity].reject = sum(1 for row in parsed.rows if row.get(REJECTED))
    return plan


def _plan_stream(
    workbook: Workbook,
    parsed: ParsedSheet,
    *,
    options: ImportOptions,
    by: User,
    source: str,
    problems: Problems,
    questions: list[Question],
    notices: list[str],
    progress: Callable[[int, int, str], None] | None,
    for_writing: bool,
) -> ImportPlan:
    total = 2 * max(1, workbook.size)

    def tick(offset: int, label: str) -> Callable[[], None]:
        def report() -> None:
            if progress is not None:
                progress(offset + parsed.sheet.position(), total, label)

        return report

    caches: dict[str, dict[Any, Any]] = {}  # the cells parsed so far, by column: one parse per distinct cell
    orders, marks = sheet_decisions(
        parsed,
        problems=problems,
        questions=questions,
        dates=parsed.dates,
        decimals=parsed.decimals,
        progress=tick(0, _("Checking the columns of %(sheet)s") % {"sheet": parsed.name}),
        caches=caches,
    )
    stream = StreamedOperations()
    if for_writing:
        # closed by import_write (StreamedOperations.close), or on failure below
        stream.creates, stream.changes = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115
    plan = ImportPlan(
        workbook=workbook,
        options=options,
        by=by,
        source=source,
        sheets=[parsed],
        problems=problems,
        questions=questions,
        notices=notices,
        counts={parsed.entity: Counts()},
        stream=stream,
    )
    builder = PlanBuilder(plan)
    counts = plan.counts[parsed.entity]
    reading = tick(workbook.size, _("Reading %(sheet)s") % {"sheet": parsed.name})
    sample: list[dict[str, Any]] = []
    row_count = 0
    rows = parsed.sheet.rows()
    try:
        while chunk := list(itertools.islice(rows, STREAM_CHUNK)):
            parsed.rows = []
            # The column decisions are settled; a chunk asks nothing again.
            sheet_parse(
                parsed,
                problems=problems,
                questions=[],
                dates=orders,
                decimals=marks,
                rows_in=chunk,
                caches=caches,
            )
            del chunk
            row_count += len(parsed.rows)
            sample = sample or parsed.rows[:5]
            builder.build_chunk()
            for row in parsed.rows:
                if row.get(REJECTED):
                    counts.reject += 1
                    stream.rejected.append((parsed.name, row[LINE]))
                elif row.get("_waiting"):
                    stream.waiting[parsed.entity] += 1
            for spec in plan.deals_create:
                if spec.lead is not None:
                    stream.conversions[spec.lead] = spec.created_at
            stream.spill(plan.deals_create, plan.deals_change)
            plan.deals_create, plan.deals_change = [], []
            builder.deal_rows.clear()  # one deals sheet: no other sheet refers to these rows
            builder.deal_by_id.clear()
            reading()
    except BaseException:
        stream.close()
        raise
    parsed.rows, parsed.row_count = sample, row_count
    builder.deal_notices()
    builder.collect_questions()
    plan.notices[:] = list(dict.fromkeys(plan.notices))  # a chunk repeats a sheet's notices
    return plan


class PlanBuilder(ActivitiesPart):
    """Turns parsed rows into operations, entity by entity, in the order they reference each other."""

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

    def build_chunk(self) -> None:
        """The deals of one chunk of a streamed deals sheet (the builder keeps what spans chunks)."""
        self.title_rows()
        self.synthesize_ids()
        self.check_duplicates(Entity.DEALS)
        self.build_deals()

    def title_rows(self) -> None:
        template = self.plan.options.title_template
        for parsed in self.by_entity[Entity.DEALS] if template else []:
            if "title" not in parsed.columns.values():
                for row in parsed.rows:
                    row["title"] = title_render(template, row, parsed)
                    row["_templated"] = True

    def build(self) -> None:
        self.title_rows()
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
                    "undated",
                    parsed.name,
                    parsed.name,
                    _(
                        "%(count)s row(s) of %(sheet)s have no date in %(header)s. Date them by another date of the row, by a fixed date, or skip them? Unanswered, they are skipped: dating them today would count old records as new this month."
                    )
                    % {"count": count, "sheet": parsed.name, "header": header},
                    [(choice, undated_label(choice)) for choice in ("skip", "first", "today", "date:")],
                    [],
                    count,
                    default="skip",
                )
            )
