"""`dealflow serve`: the web server alone (gunicorn; whitenoise serves the static files)."""

from __future__ import annotations

import os

from django.utils.translation import gettext as _

from dealflow.cli.base import DealflowCommand
from dealflow.cli.processes import default_bind, default_web_threads, default_web_workers, gunicorn_command


class Command(DealflowCommand):
    help = _("Serve Dealflow with gunicorn. Run `dealflow migrate` and `dealflow collectstatic` first.")

    def add_arguments(self, parser):
        parser.add_argument(
            "--bind", default=default_bind(), help=_("Address to listen on (default: %(default)s).")
        )
        parser.add_argument(
            "--workers", type=int, default=default_web_workers(), help=_("Web worker processes.")
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=default_web_threads(),
            help=_("Threads per web worker, so slow clients do not hold the server (default: %(default)s)."),
        )

    def handle(self, *args, bind: str, workers: int, threads: int, **options):
        command = gunicorn_command(bind=bind, workers=workers, threads=threads)
        self.stdout.write(_("Serving Dealflow on http://%(bind)s") % {"bind": bind})
        self.stdout.flush()
        os.execv(command[0], command)  # noqa: S606 - gunicorn takes over this process and its signals
