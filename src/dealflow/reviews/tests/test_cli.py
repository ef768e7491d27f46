"""`dealflow review`: start, list, show, report (md/csv), finish; errors are one line with exit status 2."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from dealflow.cli import main
from dealflow.core.errors import ApplicationError
from dealflow.reviews.models import PipelineReview, ReviewStatus

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    stdout = io.StringIO()
    call_command(*args, stdout=stdout, stderr=io.StringIO())
    return stdout.getvalue()


@pytest.fixture
def keep_test_connection(monkeypatch):
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)


def test_start_show_report_finish(team_deals, manager, frozen_now, tmp_path):
    out = run("review", "start", "--team", "benelux", "--period", "2026-11", "--user", "manager")
    review = PipelineReview.objects.get()
    assert out.startswith(f"Review {review.pk} of Benelux for 2026-11: 4 open deals frozen.")
    assert f"{review.pk:>6}" in run("review", "list", "--user", "manager")
    shown = run("review", "show", str(review.pk), "--user", "manager")
    close_part = shown.split("Close this period:")[1].split("Rescue:")[0]
    assert close_part.index("Negotiation deal") < close_part.index("Proposal deal")
    assert "no next step" in shown.split("Rescue:")[1]
    markdown = run("review", "report", str(review.pk), "--format", "md", "--user", "manager")
    assert markdown.startswith("# Pipeline review: Benelux, 2026-11")
    target = tmp_path / "review.csv"
    run("review", "report", str(review.pk), "--format", "csv", "--output", str(target), "--user", "manager")
    assert target.read_text().splitlines()[0].startswith("deal_id,title")
    run("review", "finish", str(review.pk), "--summary", "All clear", "--user", "manager")
    review.refresh_from_db()
    assert review.status == ReviewStatus.FINISHED and review.summary == "All clear"


def test_rep_scope_and_weekly(team_deals, manager, rep, frozen_now):
    run("review", "start", "--rep", "rep", "--period", "2026-11", "--weekly", "--user", "manager")
    review = PipelineReview.objects.get()
    assert review.rep == rep and review.series is not None


def test_errors_are_application_errors(team_deals, manager, outsider, frozen_now):
    with pytest.raises(ApplicationError, match="no team"):
        run("review", "start", "--team", "Atlantis", "--period", "2026-11", "--user", "manager")
    run("review", "start", "--team", "Benelux", "--period", "2026-11", "--user", "manager")
    review = PipelineReview.objects.get()
    with pytest.raises(ApplicationError):
        run("review", "report", str(review.pk), "--user", "outsider")  # not theirs: like a missing review


def test_exit_status_two_on_the_command_line(team_deals, manager, capsys, keep_test_connection, frozen_now):
    with pytest.raises(SystemExit) as exit_info:
        main(["review", "--skip-checks", "start", "--period", "2026-11", "--user", "manager"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "Pick a team, a rep or a pipeline to review. (scope)\n"
