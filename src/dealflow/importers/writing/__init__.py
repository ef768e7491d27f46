"""Execute an import plan in one transaction: all rows or none (or, when asked, all valid rows).

New deals go through ``dealflow.deals.services`` when there are few of them, and through the bulk
writer (``dealflow.deals.bulk``, which writes exactly what the services would) when there are many;
the derived analytics tables are rebuilt after a bulk load. Changes to records that exist already
always go through the services, so each change records its DealEvent like an edit in the UI would.

Owners created by the import are inactive users. The services refuse inactive owners, so inside the
transaction those users (and inactive users the file names as owners) are active while their records
are written, and inactive again before it commits; nobody can sign in as them in between.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from dealflow.accounts.services import audit_record, users_active_set
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.importers.planning import ImportPlan
from dealflow.importers.writing.base import BULK_CHUNK, DEFER_INDEXES_FROM, ORIGIN
from dealflow.importers.writing.bulk import BulkPart
from dealflow.importers.writing.result import Rejection, WriteResult, rejects_write

__all__ = [
    "BULK_CHUNK",
    "DEFER_INDEXES_FROM",
    "ORIGIN",
    "Rejection",
    "WriteResult",
    "bulk_threshold",
    "plan_check_writable",
    "plan_write",
    "rejects_write",
]


def bulk_threshold() -> int:
    return int(str(settings.DEALFLOW.get("IMPORT_BULK_THRESHOLD", 500)))


def plan_check_writable(plan: ImportPlan) -> None:
    """Refuse to write a plan with open questions, or with problems unless only valid rows are wanted."""
    if plan.blocking_questions:
        raise ApplicationError(
            _("Answer the %(count)s open question(s) of the preview first.")
            % {"count": len(plan.blocking_questions)},
            field="questions",
        )
    if plan.error_count and not plan.options.keep_valid:
        raise ApplicationError(
            _(
                "%(count)s problem(s) in the file; nothing was imported. Fix them, or import only the valid rows (the rejected ones come back as a file)."
            )
            % {"count": plan.error_count},
            field="file",
        )


def plan_write(
    plan: ImportPlan,
    *,
    progress: Callable[[int, int, str], None] | None = None,
    use_bulk: bool | None = None,
) -> WriteResult:
    """Write the plan atomically; with ``keep_valid`` a failing row is rejected instead of the whole file."""
    plan_check_writable(plan)
    if plan.stream is not None and plan.stream.creates is None:
        raise ApplicationError(
            "This plan was built for a preview only and kept none of its rows; build it with for_writing=True.",
            field="file",
        )  # a programming error, said plainly instead of importing nothing
    started = clock.now()
    result = WriteResult()
    reasons_by_row: dict[tuple[str, int | None], list[str]] = {}
    for problem in plan.problems.items:
        if problem.severity == "error":
            reasons_by_row.setdefault((problem.sheet, problem.line), []).append(problem.reason)
    for sheet, line in plan.rejected_rows():
        reasons = reasons_by_row.get((sheet, line), [])
        result.rejected.append(Rejection(sheet, line, "; ".join(reasons[:3]) or _("Rejected.")))
    if use_bulk is None:
        use_bulk = plan.deals_create_count + len(plan.leads) > bulk_threshold()
    with transaction.atomic():
        writer = _Writer(plan, result, progress, use_bulk=use_bulk)
        writer.run()
        audit_record(
            actor=plan.by,
            action="import.applied",
            target=f"file:{plan.workbook.name}"[:200],
            detail={
                "source": plan.source,
                "created": result.created,
                "updated": result.updated,
                "rejected": len(result.rejected),
                "bulk": use_bulk,
            },
        )
    result.used_bulk = use_bulk
    result.seconds = (clock.now() - started).total_seconds()
    return result


class _Writer(BulkPart):
    """Writes a plan: reference data, accounts, contacts, leads and deals (services or bulk), activities."""

    def run(self) -> None:
        self.phase(_("Reference data"))
        self.reference_data()
        self.roster()
        self.new_users()
        self.phase(_("Organizations"))
        self.organizations()
        self.phase(_("Persons"))
        self.persons()
        if self.use_bulk:
            self.phase(_("Deals"))
            self.bulk_leads_and_deals()
        else:
            self.phase(_("Leads"))
            self.leads()
            self.phase(_("Deals"))
            self.deals()
        self.deal_changes()
        self.phase(_("Activities"))
        self.activities()
        if self.to_deactivate:
            users_active_set(user_ids=self.to_deactivate, is_active=False)
