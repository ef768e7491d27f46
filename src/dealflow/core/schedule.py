"""Periodic jobs: apps register them here, and `dealflow worker` enqueues each when it falls due.

django-tasks runs queued tasks but has no clock of its own; the worker's scheduler loop calls
``periodic_due(now=...)`` every minute and enqueues the due tasks. The last run of each job is kept in
the database (``core.PeriodicRun``) so several worker processes do not run a job twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task_path: str  # dotted path to a django-tasks Task object
    every: dt.timedelta


PERIODIC_JOBS: dict[str, PeriodicJob] = {}


def periodic_register(*, name: str, task_path: str, every: dt.timedelta) -> None:
    """Register a periodic job (call from an AppConfig.ready())."""
    PERIODIC_JOBS[name] = PeriodicJob(name=name, task_path=task_path, every=every)


def periodic_due(*, now: dt.datetime) -> list[PeriodicJob]:
    """The registered jobs that never ran or whose last run lies at least ``every`` before ``now``."""
    from dealflow.core.models import PeriodicRun

    last_runs = dict(PeriodicRun.objects.values_list("name", "last_run_at"))
    return [job for job in PERIODIC_JOBS.values() if _is_due(job, last_runs.get(job.name), now)]


def _is_due(job: PeriodicJob, last_run_at: dt.datetime | None, now: dt.datetime) -> bool:
    return last_run_at is None or now - last_run_at >= job.every


def periodic_enqueue_due(*, now: dt.datetime) -> list[str]:
    """Enqueue every due job once, even with several workers calling this at the same moment.

    A worker claims a run with a conditional UPDATE (``WHERE last_run_at`` still holds the value it
    read). On PostgreSQL the second of two concurrent UPDATEs waits for the first one's row lock,
    re-reads the row and matches nothing; SQLite serialises writers. Only the claimer enqueues, in the
    same transaction, so a failed enqueue gives the claim back.
    """
    from django.db import transaction
    from django.utils.module_loading import import_string

    from dealflow.core.models import PeriodicRun

    enqueued: list[str] = []
    for job in periodic_due(now=now):
        run, _ = PeriodicRun.objects.get_or_create(name=job.name)
        if not _is_due(job, run.last_run_at, now):
            continue
        try:
            with transaction.atomic():
                # ``last_run_at=None`` becomes ``IS NULL`` in Django, so a first run is claimed the same way.
                claimed = PeriodicRun.objects.filter(pk=run.pk, last_run_at=run.last_run_at)
                if claimed.update(last_run_at=now) != 1:
                    continue
                import_string(job.task_path).enqueue()
        except Exception:  # one broken job must not stop the others; the claim was rolled back
            logger.exception("Could not enqueue the periodic job %s.", job.name)
            continue
        enqueued.append(job.name)
    return enqueued
