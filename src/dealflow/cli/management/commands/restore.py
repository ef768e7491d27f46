"""`dealflow restore out.zip`: load a backup into an empty (freshly migrated) database."""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext as _

from dealflow.cli.base import DealflowCommand
from dealflow.core.errors import ApplicationError
from dealflow.importers.backup import restore_read


class Command(DealflowCommand):
    help = _("Restore a `dealflow backup` ZIP into an empty database (run `dealflow migrate` first).")

    def add_arguments(self, parser):
        parser.add_argument("file", help=_("The backup ZIP file."))

    def handle(self, *args, file: str, **options):
        path = Path(file)
        if not path.is_file():
            raise ApplicationError(_("There is no file %(path)s.") % {"path": path}, field="file")
        counts = restore_read(path=path)
        self.stdout.write(
            self.style.SUCCESS(
                _("Restored %(rows)s rows of %(tables)s tables from %(path)s.")
                % {"rows": sum(counts.values()), "tables": len(counts), "path": file}
            )
        )
