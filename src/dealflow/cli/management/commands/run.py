"""`dealflow run` (what `make run` calls): migrate, load the demo the first time, serve, and run the worker."""

from __future__ import annotations

import os

from django.core.management import call_command
from django.utils.translation import gettext as _

from dealflow.cli.base import DealflowCommand
from dealflow.cli.processes import (
    children_run,
    default_bind,
    default_web_workers,
    gunicorn_command,
    worker_command,
)
from dealflow.cli.static import static_collect_if_changed
from dealflow.demo.generate import demo_load_if_empty
from dealflow.demo.world import DEMO_LOGINS, DEMO_PASSWORD


class Command(DealflowCommand):
    help = _(
        "Migrate, load demo data on the first start, then serve Dealflow and run its worker until Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--bind", default=default_bind(), help=_("Address to listen on (default: %(default)s).")
        )
        parser.add_argument(
            "--workers", type=int, default=default_web_workers(), help=_("Web worker processes.")
        )
        parser.add_argument(
            "--demo-deals",
            type=int,
            default=int(os.environ.get("DEALFLOW_DEMO_DEALS", "3000")),
            help=_("Deals in the demo data loaded on the first start (default: %(default)s)."),
        )
        parser.add_argument("--no-demo", action="store_true", help=_("Never load demo data."))
        parser.add_argument(
            "--no-worker", action="store_true", help=_("Serve only; run no background worker.")
        )

    def handle(
        self, *args, bind: str, workers: int, demo_deals: int, no_demo: bool, no_worker: bool, **options
    ):
        self.stdout.write(_("Migrating the database..."))
        call_command("migrate", interactive=False, verbosity=0)
        static_collect_if_changed()
        if not no_demo:
            self.stdout.write(_("Checking for demo data (loaded on the first start only)..."))
            if demo_load_if_empty(deals=demo_deals, stdout=self.stdout) is not None:
                self.stdout.write(_("Demo data loaded."))
        self.stdout.write(self.style.SUCCESS(_("Dealflow is at http://%(bind)s/") % {"bind": bind}))
        self.stdout.write(_("Demo logins (password %(password)s for each):") % {"password": DEMO_PASSWORD})
        for username, role in DEMO_LOGINS:
            self.stdout.write(f"  {username:<10} {role}")
        self.stdout.write(_("Press Ctrl-C to stop."))
        commands = [gunicorn_command(bind=bind, workers=workers)]
        if not no_worker:
            commands.append(worker_command())
        raise SystemExit(children_run(commands))
