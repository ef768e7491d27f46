"""`dealflow worker`: run queued background tasks (django_tasks_db's db_worker) and the periodic scheduler.

When the database goes away (PostgreSQL restarts, a failover), the worker does not exit: it closes its
connections, waits (1 s, doubling up to 30 s) and starts again. A task it had claimed but could not
finish is put back in the queue first, so no job is lost (a job may run twice after an outage, never
zero times; the periodic jobs and the import jobs are written to be run again).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from django.core.management import call_command
from django.db import InterfaceError, OperationalError, connections
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _

from dealflow.cli.base import DealflowCommand
from dealflow.cli.scheduler import scheduler_thread_start
from dealflow.core.taskqueue import tasks_requeue_unfinished

logger = logging.getLogger("dealflow.worker")

FIRST_WAIT = 1.0
LONGEST_WAIT = 30.0
DATABASE_GONE = (OperationalError, InterfaceError)


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
        worker_id = get_random_string(32)
        wait = FIRST_WAIT
        try:
            while True:
                started = time.monotonic()
                try:
                    tasks_requeue_unfinished(worker_id=worker_id)
                    call_command(
                        "db_worker",
                        queue_name=queue_name,
                        interval=interval,
                        reload=False,
                        startup_delay=False,
                        worker_id=worker_id,
                        verbosity=options["verbosity"],
                    )
                    return
                except DATABASE_GONE as error:
                    if time.monotonic() - started > LONGEST_WAIT:
                        wait = FIRST_WAIT  # it had been running fine: a new outage starts short
                    for connection in connections.all():
                        with contextlib.suppress(*DATABASE_GONE):
                            connection.close()
                    message = _("The database is unavailable (%(error)s); trying again in %(seconds)s s.") % {
                        "error": str(error).strip().splitlines()[0]
                        if str(error).strip()
                        else type(error).__name__,
                        "seconds": f"{wait:g}",
                    }
                    logger.warning(message)
                    self.stderr.write(message)
                    time.sleep(wait)
                    wait = min(wait * 2, LONGEST_WAIT)
        finally:
            stop.set()
