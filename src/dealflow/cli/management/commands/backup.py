"""`dealflow backup out.zip`: every record and event of every Dealflow table, for `dealflow restore`."""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext as _

from dealflow.cli.base import DealflowCommand
from dealflow.importers.backup import backup_write


class Command(DealflowCommand):
    help = _(
        "Write every Dealflow record and event to a ZIP file that `dealflow restore` reads back exactly."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help=_("The ZIP file to write."))

    def handle(self, *args, file: str, **options):
        counts = backup_write(path=Path(file))
        self.stdout.write(
            self.style.SUCCESS(
                _("Backed up %(rows)s rows of %(tables)s tables to %(path)s.")
                % {"rows": sum(counts.values()), "tables": len(counts), "path": file}
            )
        )
