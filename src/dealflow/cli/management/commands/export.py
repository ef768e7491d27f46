"""`dealflow export deals out.csv [--format xlsx] [--user U] [--filter status=won ...]`: what the user may see."""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext as _

from dealflow.cli.base import DealflowCommand
from dealflow.core.errors import ApplicationError
from dealflow.deals.selectors import DealFilters
from dealflow.importers.export import EXPORT_ENTITIES, FORMATS
from dealflow.importers.services import acting_user_get, export_to_file


class Command(DealflowCommand):
    help = _("Export deals, leads, organizations, persons, activities or events as CSV or XLSX.")

    def add_arguments(self, parser):
        parser.add_argument("entity", choices=EXPORT_ENTITIES)
        parser.add_argument(
            "file", help=_("Where to write (the format follows the extension unless --format).")
        )
        parser.add_argument("--format", choices=FORMATS, help=_("csv (UTF-8 with BOM) or xlsx."))
        parser.add_argument("--user", help=_("Export what this user may see (default: the first superuser)."))
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help=_(
                "A deal list filter: pipeline, stage, owner, team, status, source, close_from, close_to, q."
            ),
        )

    def handle(self, *args, entity: str, file: str, **options):
        path = Path(file)
        file_format = options.get("format") or ("xlsx" if path.suffix.lower() == ".xlsx" else "csv")
        values = {}
        for item in options["filter"]:
            name, separator, value = item.partition("=")
            if not separator:
                raise ApplicationError(
                    _("--filter takes NAME=VALUE, got %(value)r.") % {"value": item}, field="filter"
                )
            values[name.strip()] = value.strip()
        filters = DealFilters.from_mapping(values) if values else None
        count = export_to_file(
            entity=entity,
            user=acting_user_get(username=options.get("user")),
            path=path,
            file_format=file_format,
            filters=filters,
        )
        self.stdout.write(
            self.style.SUCCESS(
                _("Wrote %(count)s %(entity)s to %(path)s.")
                % {"count": count, "entity": entity, "path": path}
            )
        )
