"""Background jobs of commissions (django-tasks); CommissionsConfig.ready() registers them as periodic."""

from __future__ import annotations

import datetime as dt

from django_tasks import task

from dealflow.commissions.services import documents, gamification, statements
from dealflow.core import clock
from dealflow.core.periods import period_containing


@task()
def statements_refresh() -> int:
    """Recompute this quarter's and this month's draft statements (approved and paid ones stay)."""
    today = clock.today()
    count = 0
    for kind in ("quarter", "month"):
        count += len(statements.statements_recompute(period=period_containing(today, kind=kind)))
    return count


@task()
def statement_pdfs_render_task(statement_ids: list[int]) -> int:
    """Draw the PDFs of these statements that are missing or stale (services.documents)."""
    return documents.statement_pdfs_render(statement_ids=statement_ids)


@task()
def badges_daily() -> int:
    """Award the badges earned so far."""
    return gamification.badges_award(today=clock.today())


def register() -> None:
    from dealflow.core.schedule import periodic_register

    periodic_register(
        name="commissions.statements_refresh",
        task_path="dealflow.commissions.tasks.statements_refresh",
        every=dt.timedelta(hours=1),
    )
    periodic_register(
        name="commissions.badges_daily",
        task_path="dealflow.commissions.tasks.badges_daily",
        every=dt.timedelta(days=1),
    )
