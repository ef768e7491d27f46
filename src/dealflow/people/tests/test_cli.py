"""`dealflow people ...`: create a survey, list runs, print results behind the threshold."""

import io

import pytest
from django.core.management import call_command

from dealflow.core.errors import ApplicationError
from dealflow.people import services
from dealflow.people.models import Survey
from dealflow.people.tests.factories import answer_values


def run_command(*args) -> str:
    out = io.StringIO()
    call_command("people", *args, stdout=out)
    return out.getvalue()


def test_survey_create_opens_the_first_run(today, manager, team, sales_team):
    out = run_command(
        "survey-create",
        "--user",
        "manager",
        "--title",
        "CLI pulse",
        "--team",
        "benelux",
        "--question",
        "enps",
        "--question",
        "rating:How was your week?",
        "--question",
        "choice:Best day?:Mon|Fri",
        "--starts-on",
        "2026-03-02",
    )
    survey = Survey.objects.get(title="CLI pulse")
    assert f"Created survey {survey.pk}: CLI pulse" in out
    assert "6 people invited" in out
    assert survey.questions.get(kind="choice").choices == ["Mon", "Fri"]


def test_survey_create_refuses_eleven_questions(today, manager, team):
    questions = []
    for number in range(11):
        questions += ["--question", f"rating:Question {number}?"]
    with pytest.raises(ApplicationError, match="at most 10 questions"):
        run_command("survey-create", "--user", "manager", "--title", "Long", "--team", "Benelux", *questions)


def test_runs_and_results_hidden_then_shown(run, manager, sales_team):
    for user, score in zip(sales_team[:4], [10, 10, 9, 3], strict=True):
        services.survey_response_submit(run=run, user=user, answers=answer_values(run, enps=score))
    # Four answers wait sealed for the fifth: none is counted or shown yet.
    assert f"{run.pk}  2026-03-02 .. 2026-03-08  0/6  0.0%" in run_command(
        "runs", str(run.survey_id), "--user", "manager"
    )
    hidden = run_command("results", str(run.pk), "--user", "manager")
    assert (
        "Answers are shown in batches of at least 5, so that no answer can be traced to one person; 0 are shown so far."
        in hidden
    )
    assert "eNPS" not in hidden
    with pytest.raises(ApplicationError):
        run_command("results", str(run.pk), "--user", "manager", "--csv")
    services.survey_response_submit(run=run, user=sales_team[4], answers=answer_values(run, enps=7))
    shown = run_command("results", str(run.pk), "--user", "manager")
    # 10, 10, 9 promote, 7 is passive, 3 detracts: 60 % - 20 % = +40.
    assert "eNPS +40.0  (promoters 60.0%, passives 20.0%, detractors 20.0%; 5 answers)" in shown
    assert "enps,score,enps,,5,40.0,," in run_command("results", str(run.pk), "--user", "manager", "--csv")
    assert "eNPS +40.0" in run_command("enps", str(run.survey_id), "--user", "manager")


def test_results_are_not_found_for_a_rep(run, rep):
    from django.http import Http404

    with pytest.raises(Http404):
        run_command("results", str(run.pk), "--user", "rep")


def test_an_error_is_one_line_on_stderr_and_exit_status_two(db, capsys):
    """From the shell, an ApplicationError ends the command with one line on stderr and status 2."""
    from django.core.management import load_command_class

    with pytest.raises(SystemExit) as exit_info:
        load_command_class("dealflow.cli", "people").run_from_argv(
            ["dealflow", "people", "--skip-checks", "surveys", "--user", "nobody"]
        )
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == "There is no user 'nobody'. (username)"


def test_publish_answers_pools_the_rest_of_a_closed_run(run, manager, sales_team):
    for user in sales_team[:5]:
        services.survey_response_submit(run=run, user=user, answers=answer_values(run, enps=9))
    services.survey_response_submit(run=run, user=sales_team[5], answers=answer_values(run, enps=0))
    # The first five were published as a batch; the sixth waits, and one is too few to pool.
    out = run_command("publish-answers")
    assert "Published 0 survey answers." in out
