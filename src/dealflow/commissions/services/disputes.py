"""Disputes: a rep questions a statement line, the thread goes back and forth, a manager resolves it into
an adjustment line or a note."""

from __future__ import annotations

from django.db import transaction

from dealflow.accounts.models import User
from dealflow.accounts.services import audit_record
from dealflow.commissions import selectors
from dealflow.commissions.models import Dispute, DisputeMessage, DisputeStatus, Statement, StatementLine
from dealflow.commissions.services import save_fields
from dealflow.commissions.services.statements import statement_adjust
from dealflow.core import clock
from dealflow.core.errors import ApplicationError, PermissionDeniedError


def _body(text: str) -> str:
    body = (text or "").strip()
    if not body:
        raise ApplicationError("Write a message.", field="body")
    if len(body) > 5000:
        raise ApplicationError("Keep the message under 5,000 characters.", field="body")
    return body


@transaction.atomic
def dispute_open(*, statement: Statement, line: StatementLine | None, body: str, by: User) -> Dispute:
    """The statement's person questions a line (or the statement as a whole)."""
    if statement.user_id != by.pk:
        raise PermissionDeniedError("Only the person on the statement opens a dispute on it.")
    if line is not None and line.statement_id != statement.pk:
        raise ApplicationError("That line is not on this statement.", field="line")
    text = _body(body)
    summary = f"{line.get_kind_display()} {line.deal_title} {line.commission_minor}" if line else ""
    dispute = Dispute.objects.create(statement=statement, line=line, line_text=summary[:300], opened_by=by)
    DisputeMessage.objects.create(dispute=dispute, author=by, body=text, created_at=clock.now())
    audit_record(
        actor=by,
        action="commissions.dispute_opened",
        target=str(statement.pk),
        detail={"dispute": dispute.pk, "line": line.pk if line else None},
    )
    return dispute


@transaction.atomic
def dispute_reply(*, dispute: Dispute, body: str, by: User) -> DisputeMessage:
    """A message in the thread, by the person or a manager who may manage the statement."""
    if dispute.status != DisputeStatus.OPEN:
        raise ApplicationError("The dispute is resolved; open a new one.", field="status")
    if by.pk != dispute.statement.user_id and not selectors.statement_can_manage(
        statement=dispute.statement, user=by
    ):
        raise PermissionDeniedError("Only the person and their managers write in this thread.")
    return DisputeMessage.objects.create(dispute=dispute, author=by, body=_body(body), created_at=clock.now())


@transaction.atomic
def dispute_resolve(*, dispute: Dispute, by: User, note: str, adjustment_minor: int | None = None) -> Dispute:
    """Resolve with a note, or with an adjustment line (the note is its reason) on the draft statement."""
    if dispute.status != DisputeStatus.OPEN:
        raise ApplicationError("The dispute is already resolved.", field="status")
    if not selectors.statement_can_manage(statement=dispute.statement, user=by):
        raise PermissionDeniedError("Only a manager of this person's team or an admin resolves a dispute.")
    text = _body(note)
    if adjustment_minor:
        statement_adjust(statement=dispute.statement, amount_minor=adjustment_minor, reason=text, by=by)
        dispute.status = DisputeStatus.ADJUSTED
    else:
        dispute.status = DisputeStatus.NOTED
    DisputeMessage.objects.create(dispute=dispute, author=by, body=text, created_at=clock.now())
    dispute.resolved_by = by
    dispute.resolved_at = clock.now()
    save_fields(dispute, ["status", "resolved_by", "resolved_at"])
    audit_record(
        actor=by,
        action="commissions.dispute_resolved",
        target=str(dispute.statement_id),
        detail={"dispute": dispute.pk, "status": dispute.status, "adjustment": adjustment_minor},
    )
    return dispute
