"""Statement PDFs kept ready: drawn once per content, never served stale, asked of the worker once, drawn by
the request when no worker came, and prepared when a statement changes. The pages and the API answer from
the kept PDF (ETag, 304), with 202 while it is being drawn."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from dealflow.commissions import exports
from dealflow.commissions.models import StatementDocument
from dealflow.commissions.services import documents, statements
from dealflow.commissions.tests.factories import plan_for, won_deal
from dealflow.core.periods import parse_period

pytestmark = pytest.mark.django_db
Q4 = parse_period("2026-Q4")
NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


@pytest.fixture
def drawn(monkeypatch):
    """Every PDF drawing, in order (the HTML it was drawn from); a fake PDF instead of WeasyPrint's."""
    calls: list[str] = []

    def fake(html: str) -> bytes:
        calls.append(html)
        return b"%PDF-fake " + str(len(calls)).encode()

    monkeypatch.setattr(exports, "pdf_from_html", fake)
    return calls


@pytest.fixture
def queue(monkeypatch):
    """The worker's queue when no worker runs: the statement ids asked for, nothing drawn."""
    asked: list[list[int]] = []
    monkeypatch.setattr(documents, "_enqueue", lambda ids: asked.append(list(ids)))
    return asked


@pytest.fixture
def statement(rep):
    plan_for(rep)
    won_deal(rep, "1000", dt.date(2026, 10, 3), title="Acme BV")
    return statements.statement_recompute(user=rep, period=Q4)


@time_machine.travel(NOW, tick=False)
def test_drawn_once_then_served_from_the_kept_copy(statement, drawn):
    first = documents.statement_pdf_get(statement=statement)  # the immediate backend draws it at once
    again = documents.statement_pdf_get(statement=statement)
    assert first.pdf == again.pdf == b"%PDF-fake 1" and len(drawn) == 1
    kept = StatementDocument.objects.get(statement=statement)
    assert kept.fingerprint == documents.fingerprint_of(exports.statement_html(statement=statement))
    assert kept.requested_at is None and kept.rendered_at == NOW


@time_machine.travel(NOW, tick=False)
def test_a_changed_statement_or_name_is_drawn_again_never_served_stale(statement, drawn, manager, rep):
    assert documents.statement_pdf_get(statement=statement).pdf == b"%PDF-fake 1"
    statements.statement_adjust(statement=statement, amount_minor=2500, reason="Bonus", by=manager)
    statement.refresh_from_db()
    after_adjustment = documents.statement_pdf_get(statement=statement)
    assert after_adjustment.pdf == b"%PDF-fake 2" and "Bonus" in drawn[-1]
    rep.first_name = "Henriëtte"  # not a statement change, but the PDF shows the name
    rep.save()
    statement.refresh_from_db()
    statement.user.refresh_from_db()
    renamed = documents.statement_pdf_get(statement=statement)
    assert renamed.pdf == b"%PDF-fake 3" and "Henriëtte" in drawn[-1]
    assert StatementDocument.objects.count() == 1  # one kept PDF per statement, the current one


def test_asked_of_the_worker_once_and_drawn_by_the_request_when_no_worker_came(statement, drawn, queue):
    with time_machine.travel(NOW, tick=False):
        waiting = documents.statement_pdf_get(statement=statement)
        assert waiting.pdf is None and waiting.requested_at == NOW and queue == [[statement.pk]]
    with time_machine.travel(NOW + dt.timedelta(seconds=documents.RENDER_WAIT_SECONDS - 1), tick=False):
        still = documents.statement_pdf_get(statement=statement)
        assert still.pdf is None and still.waited_seconds == documents.RENDER_WAIT_SECONDS - 1
        assert queue == [[statement.pk]] and drawn == []  # asked once, not once per poll
    with time_machine.travel(NOW + dt.timedelta(seconds=documents.RENDER_WAIT_SECONDS), tick=False):
        inline = documents.statement_pdf_get(statement=statement)
        assert inline.pdf == b"%PDF-fake 1" and len(drawn) == 1
    assert StatementDocument.objects.get(statement=statement).requested_at is None


def test_the_worker_task_draws_only_what_is_missing_or_stale(statement, drawn, rep, rep2):
    plan_for(rep2, name="Second")
    won_deal(rep2, "500", dt.date(2026, 10, 4))
    other = statements.statement_recompute(user=rep2, period=Q4)
    assert documents.statement_pdfs_render(statement_ids=[statement.pk, other.pk]) == 2
    assert documents.statement_pdfs_render(statement_ids=[statement.pk, other.pk]) == 0
    assert len(drawn) == 2


def test_a_change_has_the_worker_draw_the_pdf_ahead(
    rep, rep2, manager, settings, drawn, django_capture_on_commit_callbacks
):
    settings.COMMISSIONS_PDFS_AHEAD = True
    plan_for(rep)
    plan_for(rep2, name="Second")
    won_deal(rep, "1000", dt.date(2026, 10, 3))
    won_deal(rep2, "400", dt.date(2026, 10, 5))
    with time_machine.travel(NOW, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            created = statements.statements_recompute(period=Q4)
        assert len(created) == 2 and len(drawn) == 2  # both new statements drawn after the commit
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            statements.statements_recompute(period=Q4)
        assert callbacks == [] and len(drawn) == 2  # nothing changed: nothing asked
        won_deal(rep, "300", dt.date(2026, 10, 9))
        with django_capture_on_commit_callbacks(execute=True):
            statements.statements_recompute(period=Q4)
        assert len(drawn) == 3 and "Rita" in drawn[-1]  # only the statement that changed
        mine = next(statement for statement in created if statement.user_id == rep.pk)
        with django_capture_on_commit_callbacks(execute=True):
            statements.statement_approve(statement=mine, by=manager)
        assert len(drawn) == 4
    mine.refresh_from_db()
    assert documents.statement_pdf_get(statement=mine).pdf == b"%PDF-fake 4"  # served, not drawn again
    assert len(drawn) == 4


def test_switched_off_nothing_is_asked(rep, settings, queue, django_capture_on_commit_callbacks):
    settings.COMMISSIONS_PDFS_AHEAD = False
    plan_for(rep)
    won_deal(rep, "1000", dt.date(2026, 10, 3))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        statements.statements_recompute(period=Q4)
    assert callbacks == [] and queue == []


# ------------------------------------------------------------------------------------ pages and API
def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@time_machine.travel(NOW, tick=False)
def test_page_waits_for_the_worker_then_serves_the_kept_pdf_with_an_etag(statement, rep, drawn, queue):
    client = signed_in(rep)
    url = f"/commissions/statements/{statement.pk}.pdf"
    waiting = client.get(url)
    assert waiting.status_code == 202 and b'data-statement-pdf="waiting"' in waiting.content
    assert f'hx-get="{url}"'.encode() in waiting.content and queue == [[statement.pk]]
    poll = client.get(url, HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and b'data-statement-pdf="waiting"' in poll.content
    documents.statement_pdfs_render(statement_ids=queue.pop())  # the worker
    ready = client.get(url, HTTP_HX_REQUEST="true")
    assert b'data-statement-pdf="ready"' in ready.content and b"hx-get" not in ready.content
    download = client.get(url)
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    assert download.content == b"%PDF-fake 1"
    assert download["Content-Disposition"] == f'attachment; filename="commission-{rep.username}-2026-Q4.pdf"'
    etag = download["ETag"]
    assert etag == f'"{StatementDocument.objects.get(statement=statement).fingerprint}"'
    unchanged = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert len(drawn) == 1


@time_machine.travel(NOW, tick=False)
def test_page_in_dutch_says_it_is_preparing(statement, rep, queue):
    rep.language = "nl"
    rep.save()
    client = signed_in(rep)
    response = client.get(f"/commissions/statements/{statement.pk}.pdf", HTTP_ACCEPT_LANGUAGE="nl")
    assert response.status_code == 202 and "De pdf wordt gemaakt" in response.content.decode()


@time_machine.travel(NOW, tick=False)
def test_api_202_with_retry_after_then_the_pdf(statement, rep, drawn, queue):
    client = signed_in(rep)
    url = f"/api/v1/commissions/statements/{statement.pk}/pdf"
    waiting = client.get(url)
    assert waiting.status_code == 202 and waiting["Retry-After"] == "2"
    assert waiting.json() == {"status": "preparing", "retry_after": 2, "waited_seconds": 0}
    documents.statement_pdfs_render(statement_ids=queue.pop())
    ready = client.get(url)
    assert ready.status_code == 200 and ready.content == b"%PDF-fake 1"
    assert client.get(url, HTTP_IF_NONE_MATCH=ready["ETag"]).status_code == 304


def test_others_statement_pdf_is_404_on_every_door(statement, rep2, drawn):
    client = signed_in(rep2)
    assert client.get(f"/commissions/statements/{statement.pk}.pdf").status_code == 404
    assert (
        client.get(f"/commissions/statements/{statement.pk}.pdf", HTTP_HX_REQUEST="true").status_code == 404
    )
    assert client.get(f"/api/v1/commissions/statements/{statement.pk}/pdf").status_code == 404
    assert drawn == [] and not StatementDocument.objects.exists()
