"""Statement PDFs kept ready: drawn by the worker when a statement changes, served as a read afterwards.

WeasyPrint lays out and draws a 186-line statement in 1.5-2.0 s (1M-deal demo; the HTML takes 53 ms), so a
download that drew the PDF on request could not answer in 300 ms (issue #19). A kept PDF is served only while
it is the statement's PDF now: its fingerprint is the SHA-256 of the HTML it was drawn from, compared with
the HTML of the statement as it is (figures, lines, status, the person's name and language, translations and
the template). Nothing stale is ever served; what is not ready is drawn by the worker while the page waits,
or by the request itself when no worker has taken it within RENDER_WAIT_SECONDS.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from dealflow.commissions import exports
from dealflow.commissions.models import Statement, StatementDocument
from dealflow.core import clock
from dealflow.core.downloads import Download

RENDER_WAIT_SECONDS = 20  # a request draws the PDF itself when the worker has not drawn it within this long
RENDER_CHUNK = (
    25  # statements per worker task (a task of a quarter's 2,000 statements would hold a worker an hour)
)


@dataclass(frozen=True)
class StatementPdf:
    """A statement's PDF as it is now: ``pdf`` when it is ready, else None and since when it is being drawn."""

    statement: Statement
    fingerprint: str
    pdf: bytes | None
    requested_at: dt.datetime | None = None

    def download(self) -> Download:
        if self.pdf is None:
            raise ValueError("The PDF is not ready.")
        return Download(
            content=self.pdf,
            filename=exports.statement_filename(statement=self.statement),
            content_type="application/pdf",
            etag=self.fingerprint,
        )

    @property
    def waited_seconds(self) -> int:
        if self.requested_at is None:
            return 0
        return max(0, int((clock.now() - self.requested_at).total_seconds()))


def fingerprint_of(html: str) -> str:
    return hashlib.sha256(html.encode("utf-8")).hexdigest()


def _current(statement: Statement) -> tuple[str, str, bytes | None]:
    """The statement's HTML now, its fingerprint, and the kept PDF drawn from that HTML (None: missing or
    stale; a row that only records a request has an empty fingerprint and never matches)."""
    html = exports.statement_html(statement=statement)
    fingerprint = fingerprint_of(html)
    return html, fingerprint, _kept(statement.pk, fingerprint)


def _kept(statement_id: int, fingerprint: str) -> bytes | None:
    row = (
        StatementDocument.objects.filter(statement_id=statement_id, fingerprint=fingerprint)
        .values_list("pdf", flat=True)
        .first()
    )
    return bytes(row) if row is not None else None


def _draw_and_keep(statement: Statement, html: str, fingerprint: str) -> bytes:
    pdf = exports.pdf_from_html(html)
    StatementDocument.objects.update_or_create(
        statement_id=statement.pk,
        defaults={"fingerprint": fingerprint, "pdf": pdf, "rendered_at": clock.now(), "requested_at": None},
    )
    return pdf


def statement_pdf_render(*, statement: Statement) -> bytes:
    """The statement's PDF now, drawn here if the kept one is missing or stale (the CLI, the worker, and a
    request that waited too long)."""
    html, fingerprint, kept = _current(statement)
    return kept if kept is not None else _draw_and_keep(statement, html, fingerprint)


def statement_pdfs_render(*, statement_ids: Iterable[int]) -> int:
    """Draw the PDFs of the statements given whose kept PDF is missing or stale; returns how many were drawn."""
    drawn = 0
    for statement in Statement.objects.filter(pk__in=sorted(set(statement_ids))).select_related("user"):
        html, fingerprint, kept = _current(statement)
        if kept is None:
            _draw_and_keep(statement, html, fingerprint)
            drawn += 1
    return drawn


def statement_pdf_get(*, statement: Statement) -> StatementPdf:
    """The statement's PDF if the kept one is current; otherwise ask the worker to draw it (once) and say since
    when it is asked. A request that has waited RENDER_WAIT_SECONDS draws it itself (no worker runs, or the
    queue is long)."""
    html, fingerprint, kept = _current(statement)
    if kept is not None:
        return StatementPdf(statement, fingerprint, kept)
    moment = clock.now()
    asked = (
        StatementDocument.objects.filter(statement_id=statement.pk)
        .values_list("requested_at", flat=True)
        .first()
    )
    if asked is not None and (moment - asked).total_seconds() >= RENDER_WAIT_SECONDS:
        return StatementPdf(statement, fingerprint, _draw_and_keep(statement, html, fingerprint))
    if asked is None:
        claimed = StatementDocument.objects.filter(
            statement_id=statement.pk, requested_at__isnull=True
        ).update(requested_at=moment)
        if not claimed:
            _, created = StatementDocument.objects.get_or_create(
                statement_id=statement.pk, defaults={"requested_at": moment}
            )
            claimed = int(created)
        if claimed:
            _enqueue([statement.pk])
            # The immediate backend (tests, DEALFLOW_TASKS_IMMEDIATE) has drawn it already.
            kept = _kept(statement.pk, fingerprint)
            if kept is not None:
                return StatementPdf(statement, fingerprint, kept)
        asked = moment
    return StatementPdf(statement, fingerprint, None, asked)


def statement_pdfs_prepare(*, statement_ids: Iterable[int]) -> None:
    """After the transaction that changed these statements commits, have the worker draw their PDFs (when
    settings.COMMISSIONS_PDFS_AHEAD is on: the default; the test settings switch it off)."""
    ids = sorted(set(statement_ids))
    if ids and getattr(settings, "COMMISSIONS_PDFS_AHEAD", True):
        transaction.on_commit(lambda: _enqueue(ids))


def _enqueue(ids: list[int]) -> None:
    from dealflow.commissions.tasks import statement_pdfs_render_task

    for start in range(0, len(ids), RENDER_CHUNK):
        statement_pdfs_render_task.enqueue(statement_ids=ids[start : start + RENDER_CHUNK])
