"""The worker's clock: every tick it enqueues the periodic jobs that fell due (core.schedule)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import connection

from dealflow.core import clock
from dealflow.core.schedule import periodic_enqueue_due

logger = logging.getLogger("dealflow.scheduler")


def scheduler_tick(*, report: Callable[[str], None] | None = None) -> list[str]:
    """Enqueue what is due now; never raises, so one bad job or a database hiccup does not stop the clock."""
    try:
        names = periodic_enqueue_due(now=clock.now())
    except Exception:  # the database is away, say; try again next tick
        logger.exception("The scheduler could not enqueue the due periodic jobs.")
        return []
    for name in names:
        if report:
            report(f"Enqueued periodic job {name}.")
    return names


def scheduler_thread_start(
    *, tick_seconds: float, stop: threading.Event, report: Callable[[str], None] | None = None
) -> threading.Thread:
    """Run ``scheduler_tick`` now and then every ``tick_seconds`` in a daemon thread until ``stop`` is set."""

    def loop() -> None:
        while not stop.is_set():
            scheduler_tick(report=report)
            connection.close()  # this thread's connection; the next tick opens a fresh one
            stop.wait(tick_seconds)

    thread = threading.Thread(target=loop, name="dealflow-scheduler", daemon=True)
    thread.start()
    return thread
