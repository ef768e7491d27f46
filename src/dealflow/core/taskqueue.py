"""The background task queue (django-tasks' database backend): recovery after a lost database connection."""

from __future__ import annotations


def tasks_requeue_unfinished(*, worker_id: str) -> int:
    """Put back in the queue the tasks this worker claimed and never finished; returns how many."""
    from django_tasks_db.models import DBTaskResult

    try:
        from django_tasks.base import TaskResultStatus
    except ImportError:  # pragma: no cover - older django-tasks
        from django_tasks.task import ResultStatus as TaskResultStatus  # type: ignore[no-redef]

    running = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).values_list("pk", "worker_ids")
    mine = [pk for pk, worker_ids in running if worker_ids and worker_ids[-1] == worker_id]
    if not mine:
        return 0
    return DBTaskResult.objects.filter(pk__in=mine, status=TaskResultStatus.RUNNING).update(
        status=TaskResultStatus.READY, started_at=None
    )
