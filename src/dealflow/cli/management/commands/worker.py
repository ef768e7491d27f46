"""`dealflow worker`: run queued background tasks (django_tasks_db's db_worker) and the periodic scheduler."""

from __future__ import annotations

import threading

from django.core.management import call_command
from django.utils.translation import gettext as _

from dealflow.cli.base import DealflowCommand
from dealflow.cli.scheduler import scheduler_thread_start


class Command(DealflowCommand):
    help = _(
        "Run background tasks and enqueue periodic jobs when they fall due. Start several for more throughput."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--queue-name", default="*", help=_("Queues to process, comma-separated (default: all).")
        )
        parser.add_argument(
            "--interval", type=float, default=1.0, help=_("Seconds to wait when the queue is empty.")
        )
        parser.add_argument("--tick", type=float, default=60.0, help=_("Seconds between scheduler runs."))
        parser.add_argument(
            "--no-scheduler", action="store_true", help=_("Only run tasks; enqueue no periodic jobs.")
        )

    def handle(self, *args, queue_name: str, interval: float, tick: float, no_scheduler: bool, **options):
        stop = threading.Event()
        if not no_scheduler:
            scheduler_thread_start(tick_seconds=tick, stop=stop, report=self.stdout.write)
        try:
            call_command(
                "db_worker",
                queue_name=queue_name,
                interval=interval,
                reload=False,
                startup_delay=False,
                verbosity=options["verbosity"],
            )
        finally:
            stop.set()
