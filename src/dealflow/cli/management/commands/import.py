"""`dealflow import FILE [--preset salesforce|pipedrive|hubspot] [--mapping map.toml] [--dry-run]`.

Reads a CSV, XLSX or ZIP, prints what it would create, update and skip with every problem (line,
column, value, reason) and every open question, and imports only when nothing is wrong (or, with
--keep-valid, the valid rows, writing the rejected ones to a CSV).
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.utils.translation import gettext as _

from dealflow.cli.base import DealflowCommand
from dealflow.core.errors import ApplicationError
from dealflow.importers.fields import Entity
from dealflow.importers.mapping import ImportOptions, options_from_toml
from dealflow.importers.planning import ImportPlan
from dealflow.importers.presets import PRESETS
from dealflow.importers.services import acting_user_get, import_mapping_save, import_preview, import_write

MAX_PROBLEMS_SHOWN = 50


def _pairs(values: list[str], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, separator, answer = value.partition("=")
        if not separator or not key.strip():
            raise ApplicationError(
                _("%(option)s takes NAME=ANSWER, got %(value)r.") % {"option": option, "value": value},
                field=option,
            )
        pairs[key.strip()] = answer.strip()
    return pairs


class Command(DealflowCommand):
    help = _(
        "Import deals (with history), leads, organizations, persons or activities from CSV, XLSX or ZIP."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help=_("A CSV, XLSX or ZIP file."))
        parser.add_argument(
            "--preset",
            choices=PRESETS,
            help=_("The CRM the export comes from (else recognised by its headers)."),
        )
        parser.add_argument(
            "--mapping", help=_("A TOML mapping file (columns, date orders, stages, owners).")
        )
        parser.add_argument(
            "--dry-run", action="store_true", help=_("Check the file and report; write nothing.")
        )
        parser.add_argument("--user", help=_("Act as this user (default: the first superuser)."))
        parser.add_argument(
            "--entity", choices=[entity.value for entity in Entity], help=_("What the file holds.")
        )
        parser.add_argument("--source", help=_("The source system's name; re-imports match records by it."))
        parser.add_argument("--date-order", choices=["dmy", "mdy"], help=_("Order of dates like 03/04/2024."))
        parser.add_argument("--decimal", choices=[",", "."], help=_("Decimal mark of amounts like 1.250."))
        parser.add_argument("--currency", help=_("Currency of amounts without one."))
        parser.add_argument(
            "--title-template",
            help=_('Title of deals when the file has no title column, e.g. "{organization} - {product}".'),
        )
        parser.add_argument(
            "--undated",
            metavar="ANSWER",
            help=_("Rows without a creation date: skip (default), first, today or date:YYYY-MM-DD."),
        )
        parser.add_argument(
            "--source-map",
            action="append",
            default=[],
            metavar="NAME=SOURCE",
            help=_("Map a lead source of the file to an existing one (or 'create')."),
        )
        parser.add_argument(
            "--stage",
            action="append",
            default=[],
            metavar="NAME=STAGE",
            help=_("Map a stage of the file to a stage (or 'create')."),
        )
        parser.add_argument(
            "--owner",
            action="append",
            default=[],
            metavar="NAME=USERNAME",
            help=_("Map an owner of the file to a user (or 'create')."),
        )
        parser.add_argument(
            "--create-stages",
            action="store_true",
            help=_("Create stages and pipelines the file names and Dealflow lacks."),
        )
        parser.add_argument(
            "--create-owners", action="store_true", help=_("Create unknown owners as inactive users.")
        )
        parser.add_argument(
            "--default-owner", help=_("Owner of rows without one (default: the acting user).")
        )
        parser.add_argument(
            "--keep-valid",
            action="store_true",
            help=_("Import the valid rows and write the rejected ones to --rejects."),
        )
        parser.add_argument(
            "--rejects", help=_("Where --keep-valid writes rejected rows (default: FILE.rejected.csv).")
        )
        parser.add_argument(
            "--save-mapping", metavar="NAME", help=_("Save this file's mapping under a name for next time.")
        )
        parser.add_argument("--no-progress", action="store_true", help=_("Do not draw a progress bar."))

    def options_from(self, arguments: dict) -> ImportOptions:
        if arguments.get("mapping"):
            path = Path(arguments["mapping"])
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as error:
                raise ApplicationError(
                    _("Cannot read the mapping file %(path)s.") % {"path": path}, field="mapping"
                ) from error
            options = options_from_toml(text, name=path.name)
        else:
            options = ImportOptions()
        if arguments.get("preset"):
            options.preset = arguments["preset"]
        if arguments.get("entity"):
            options.sheet.entity = arguments["entity"]
        for key in ("source", "default_owner", "currency"):
            if arguments.get(key):
                setattr(options, key, arguments[key] if key != "currency" else arguments[key].upper())
        if arguments.get("date_order"):
            options.sheet.dates = {"*": arguments["date_order"], **options.sheet.dates}
        if arguments.get("decimal"):
            options.sheet.decimal = {"*": arguments["decimal"], **options.sheet.decimal}
        if arguments.get("title_template"):
            options.title_template = arguments["title_template"]
        if arguments.get("undated"):
            options.undated = {"*": arguments["undated"]}
        options.sources.update(_pairs(arguments["source_map"], "--source-map"))
        options = ImportOptions.from_json(options.as_json())  # checks the answers, naming the one at fault
        options.stages.update(_pairs(arguments["stage"], "--stage"))
        options.owners.update(_pairs(arguments["owner"], "--owner"))
        options.create_stages = options.create_stages or arguments["create_stages"]
        options.create_owners = options.create_owners or arguments["create_owners"]
        options.keep_valid = arguments["keep_valid"]
        return options

    def handle(self, *args, **arguments):
        path = Path(arguments["file"])
        if not path.is_file():
            raise ApplicationError(_("There is no file %(path)s.") % {"path": path}, field="file")
        user = acting_user_get(username=arguments.get("user"))
        options = self.options_from(arguments)
        progress = None if arguments["no_progress"] or not sys.stderr.isatty() else _Bar()
        try:
            if arguments["dry_run"]:
                plan = import_preview(path=path, by=user, options=options, progress=progress)
                self.report(plan)
                if arguments.get("save_mapping"):
                    import_mapping_save(name=arguments["save_mapping"], plan=plan, by=user)
                self.refuse_if_not_ready(plan, dry_run=True)
                self.stdout.write(
                    self.style.SUCCESS(_("Dry run: the file can be imported; nothing was written."))
                )
                return
            rejects = (
                Path(arguments["rejects"]) if arguments.get("rejects") else path.with_suffix(".rejected.csv")
            )
            plan = import_preview(path=path, by=user, options=options, progress=progress, for_writing=True)
            self.report(plan)
            self.refuse_if_not_ready(plan, dry_run=False)
            result = import_write(plan=plan, progress=progress, rejects_path=rejects)
        finally:
            if progress is not None:
                progress.close()
        if arguments.get("save_mapping"):
            import_mapping_save(name=arguments["save_mapping"], plan=plan, by=user)
        created = ", ".join(f"{count} {name}" for name, count in result.created.items()) or "-"
        updated = ", ".join(f"{count} {name}" for name, count in result.updated.items()) or "-"
        self.stdout.write(
            self.style.SUCCESS(
                _("Imported. Created: %(created)s. Updated: %(updated)s.")
                % {"created": created, "updated": updated}
            )
        )
        if result.rejected:
            self.stdout.write(
                self.style.WARNING(
                    _("%(count)s row(s) rejected; they are in %(path)s.")
                    % {"count": len(result.rejected), "path": rejects}
                )
            )

    def refuse_if_not_ready(self, plan: ImportPlan, *, dry_run: bool) -> None:
        if plan.blocking_questions:
            raise ApplicationError(
                _(
                    "%(count)s question(s) to answer first: use --stage, --owner, --date-order, --decimal or a --mapping file."
                )
                % {"count": len(plan.blocking_questions)},
                field="questions",
            )
        if plan.error_count and not plan.options.keep_valid:
            raise ApplicationError(
                _(
                    "%(count)s problem(s); nothing %(verb)s imported. Fix the file, or pass --keep-valid to import the valid rows."
                )
                % {"count": plan.error_count, "verb": _("would be") if dry_run else _("was")},
                field="file",
            )

    def report(self, plan: ImportPlan) -> None:
        write = self.stdout.write
        for parsed in plan.sheets:
            write(
                _("%(sheet)s: %(rows)s rows of %(entity)s (%(how)s)")
                % {
                    "sheet": parsed.name,
                    "rows": parsed.size,
                    "entity": parsed.entity.value,
                    "how": parsed.how,
                }
            )
        waiting = plan.waiting
        for entity, counts in plan.counts.items():
            line = (
                _("create %(create)s, update %(update)s, skip %(skip)s, reject %(reject)s") % counts.as_json()
            )
            if waiting.get(entity):
                line += ", " + _("waiting for an answer %(count)s") % {"count": waiting[entity]}
            write(f"  {entity.value:<14} {line}")
        for notice in plan.notices:
            write(self.style.NOTICE(f"  {notice}"))
        problems = sorted(
            plan.problems.items,
            key=lambda problem: (problem.severity != "error", problem.sheet, problem.line or 0),
        )
        for problem in problems[:MAX_PROBLEMS_SHOWN]:
            where = f"{problem.sheet}:{problem.line}" if problem.line else problem.sheet
            column = f" [{problem.column}]" if problem.column else ""
            value = f" {problem.value!r}" if problem.value else ""
            style = self.style.ERROR if problem.severity == "error" else self.style.WARNING
            write(style(f"  {where}{column}{value}: {problem.reason}"))
        hidden = len(problems) - MAX_PROBLEMS_SHOWN + plan.problems.hidden
        if hidden > 0:
            write(_("  ... and %(count)s more.") % {"count": hidden})
        for question in plan.questions:
            choices = ", ".join(value for value, _label in question.choices[:12])
            if question.default:
                choices += " " + _("(unanswered: %(default)s)") % {"default": question.default}
            write(
                self.style.WARNING(f"  ? {question.message} [{question.kind}: {question.key!r} -> {choices}]")
            )


class _Bar:
    """A tqdm progress bar fed by the importer's (done, total, label) callbacks."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=1, unit="", file=sys.stderr, leave=False, dynamic_ncols=True)

    def __call__(self, done: int, total: int, label: str) -> None:
        self.bar.total = total
        self.bar.n = done
        self.bar.set_description(str(label)[:30])
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()
