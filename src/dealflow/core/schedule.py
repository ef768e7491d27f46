"""Periodic jobs: apps register them here, and `dealflow worker` enqueues each when it falls due.

django-tasks runs queued tasks but has no clock of its own; the worker's scheduler loop calls
``periodic_due(now=...)`` every minute and enqueues the due tasks. The last run of each job is kept in
the database (``core.PeriodicRun``) so several worker processes do not run a job twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task_path: str  # dotted path to a django-tasks Task object
    every: dt.timedelta


PERIODIC_JOBS: dict[str, PeriodicJob] = {}


def periodic_register(*, name: str, task_path: str, every: dt.timedelta) -> None:
    """Register a periodic job (call from an AppConfig.ready())."""
    PERIODIC_JOBS[name] = PeriodicJob(name=name, task_path=task_path, every=every)
