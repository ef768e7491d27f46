"""Survey services: creation rules, runs and invitations, reminders, and one answer per invitation."""

import datetime as dt

import pytest

from dealflow.core.errors import ApplicationError, ConflictError, PermissionDeniedError
from dealflow.people import services
from dealflow.people.models import (
    QuestionKind,
    SealedResponse,
    SurveyAnswer,
    SurveyInvitation,
    SurveyResponse,
    SurveyRun,
)
from dealflow.people.sealing import unseal
from dealflow.people.tests.factories import SurveyFactory, answer_values


def _questions(count):
    return [services.QuestionSpec(kind="rating", text=f"Question {number}?") for number in range(count)]


def test_a_survey_holds_at_most_ten_questions(today, manager, team):
    with pytest.raises(ApplicationError) as error:
        SurveyFactory(by=manager, teams=[team], questions=_questions(11), starts_on=today)
    assert error.value.field == "questions"
    assert "at most 10 questions" in error.value.message
    assert "Remove 1" in error.value.message
    survey = SurveyFactory(by=manager, teams=[team], questions=_questions(10), starts_on=today)
    assert survey.questions.count() == 10


def test_survey_needs_questions_title_and_a_valid_cadence(today, manager, team):
    with pytest.raises(ApplicationError, match="at least one question"):
        SurveyFactory(by=manager, teams=[team], questions=[])
    with pytest.raises(ApplicationError, match="title"):
        SurveyFactory(by=manager, teams=[team], title="  ")
    with pytest.raises(ApplicationError, match="Cadence"):
        SurveyFactory(by=manager, teams=[team], cadence="daily")
    with pytest.raises(ApplicationError, match="between 1 and 7 days"):
        SurveyFactory(by=manager, teams=[team], cadence="weekly", open_days=8)


def test_question_rules(today, manager, team):
    with pytest.raises(ApplicationError, match="2 to 10 options"):
        SurveyFactory(
            by=manager,
            teams=[team],
            questions=[services.QuestionSpec(kind="choice", text="A?", choices=["x"])],
        )
    with pytest.raises(ApplicationError, match="under 100 characters"):
        SurveyFactory(
            by=manager,
            teams=[team],
            questions=[services.QuestionSpec(kind="choice", text="A?", choices=["x", "y" * 101])],
        )
    with pytest.raises(ApplicationError, match="no library question"):
        SurveyFactory(by=manager, teams=[team], questions=[services.QuestionSpec(library_key="nope")])
    with pytest.raises(ApplicationError, match="eNPS question at most once"):
        SurveyFactory(
            by=manager,
            teams=[team],
            questions=[
                services.QuestionSpec(library_key="enps"),
                services.QuestionSpec(kind="enps", text="Again?"),
            ],
        )


def test_library_questions_read_in_the_readers_language(today, manager, team):
    from django.utils import translation

    survey = SurveyFactory(by=manager, teams=[team], questions=[services.QuestionSpec(library_key="enps")])
    question = survey.questions.get()
    assert question.kind == QuestionKind.ENPS
    with translation.override("nl"):
        assert question.display_text.startswith("Hoe waarschijnlijk")
    with translation.override("en"):
        assert question.display_text.startswith("How likely")


def test_only_managers_of_the_team_or_admins_create_surveys(
    today, manager, rep, outsider, other_team, admin_user, team
):
    with pytest.raises(PermissionDeniedError):
        SurveyFactory(by=rep, teams=[team])
    with pytest.raises(PermissionDeniedError):
        SurveyFactory(by=manager, teams=[other_team])
    with pytest.raises(PermissionDeniedError):
        SurveyFactory(by=outsider, teams=[team])
    assert SurveyFactory(by=admin_user, teams=[team, other_team]).teams.count() == 2


def test_first_run_opens_at_once_and_invites_the_reps_with_mail(
    today, manager, team, sales_team, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        survey = SurveyFactory(by=manager, teams=[team], starts_on=today, open_days=5)
    run = survey.runs.get()
    assert (run.opens_on, run.closes_on) == (today, dt.date(2026, 3, 6))
    invited = set(SurveyInvitation.objects.filter(run=run).values_list("user__username", flat=True))
    assert invited == {f"sales{number}" for number in range(1, 7)}  # the manager is not invited
    assert len(mailoutbox) == 6
    assert f"/people/runs/{run.pk}/answer/" in mailoutbox[0].body
    assert mailoutbox[0].subject.startswith("New pulse survey")


def test_future_survey_opens_when_the_periodic_job_reaches_its_day(manager, team, sales_team, time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC), tick=False)
    survey = SurveyFactory(by=manager, teams=[team], starts_on=dt.date(2026, 3, 9), cadence="monthly")
    assert services.survey_runs_open_due(today=dt.date(2026, 3, 8)) == []
    opened = services.survey_runs_open_due(today=dt.date(2026, 3, 9))
    assert [run.opens_on for run in opened] == [dt.date(2026, 3, 9)]
    assert services.survey_runs_open_due(today=dt.date(2026, 3, 10)) == []  # no second run the next day
    opened = services.survey_runs_open_due(today=dt.date(2026, 4, 9))
    assert [run.opens_on for run in opened] == [dt.date(2026, 4, 9)]
    assert survey.runs.count() == 2


def test_once_survey_runs_once_and_inactive_survey_stops(manager, team, sales_team, time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC), tick=False)
    once = SurveyFactory(by=manager, teams=[team], starts_on=dt.date(2026, 3, 2), cadence="once")
    monthly = SurveyFactory(by=manager, teams=[team], starts_on=dt.date(2026, 3, 2), cadence="monthly")
    services.survey_deactivate(survey=monthly, by=manager)
    assert services.survey_runs_open_due(today=dt.date(2026, 4, 2)) == []
    assert once.runs.count() == 1 and monthly.runs.count() == 1


def test_periodic_jobs_are_registered():
    from dealflow.core.schedule import PERIODIC_JOBS

    assert PERIODIC_JOBS["people.survey_runs_open"].task_path == "dealflow.people.tasks.survey_runs_open_due"
    assert (
        PERIODIC_JOBS["people.survey_runs_remind"].task_path == "dealflow.people.tasks.survey_runs_remind_due"
    )


def test_tasks_run_the_jobs(manager, team, sales_team, time_machine):
    from dealflow.people import tasks

    time_machine.move_to(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC), tick=False)
    SurveyFactory(by=manager, teams=[team], starts_on=dt.date(2026, 3, 3), cadence="weekly", open_days=5)
    time_machine.move_to(dt.datetime(2026, 3, 3, 9, tzinfo=dt.UTC), tick=False)
    assert tasks.survey_runs_open_due.enqueue().return_value == 1
    time_machine.move_to(dt.datetime(2026, 3, 6, 9, tzinfo=dt.UTC), tick=False)  # closes on the 7th
    assert tasks.survey_runs_remind_due.enqueue().return_value == 1
    assert tasks.survey_runs_remind_due.enqueue().return_value == 0


def test_one_reminder_on_the_second_to_last_day_to_those_who_have_not_answered(run, sales_team, mailoutbox):
    services.survey_response_submit(run=run, user=sales_team[0], answers=answer_values(run))
    # 7 days from Monday 2 March: the last day is Sunday 8 March, the reminder goes on Saturday 7.
    assert services.survey_runs_remind_due(today=dt.date(2026, 3, 6)) == []
    assert services.survey_runs_remind_due(today=dt.date(2026, 3, 7)) == [run]
    assert len(mailoutbox) == 5
    assert "sales1@example.com" not in {message.to[0] for message in mailoutbox}
    assert mailoutbox[0].subject.startswith("Reminder")
    assert services.survey_runs_remind_due(today=dt.date(2026, 3, 8)) == []
    run.refresh_from_db()
    assert run.reminded_on == dt.date(2026, 3, 7)


def test_an_invitation_is_answered_once(run, sales_team):
    respondent = sales_team[0]
    services.survey_response_submit(run=run, user=respondent, answers=answer_values(run, enps=9))
    with pytest.raises(ConflictError, match="already answered"):
        services.survey_response_submit(run=run, user=respondent, answers=answer_values(run, enps=2))
    sealed = list(SealedResponse.objects.filter(run=run).values_list("sealed", flat=True))
    assert len(sealed) == 1 and not SurveyResponse.objects.filter(run=run).exists()
    assert 9 in [number for _question, number, _text in unseal(sealed[0])]
    assert 2 not in [number for _question, number, _text in unseal(sealed[0])]


def test_only_invited_members_answer_and_only_while_open(run, manager, outsider, sales_team):
    with pytest.raises(PermissionDeniedError):
        services.survey_response_submit(run=run, user=manager, answers=answer_values(run))
    with pytest.raises(PermissionDeniedError):
        services.survey_response_submit(run=run, user=outsider, answers=answer_values(run))
    with pytest.raises(ApplicationError, match="closed"):
        services.survey_response_submit(
            run=run, user=sales_team[0], answers=answer_values(run), today=dt.date(2026, 3, 9)
        )
    services.survey_run_close(run=run, by=manager, today=dt.date(2026, 3, 3))
    with pytest.raises(ApplicationError, match="closed"):
        services.survey_response_submit(
            run=run, user=sales_team[0], answers=answer_values(run), today=dt.date(2026, 3, 4)
        )
    assert not SurveyInvitation.objects.filter(is_answered=True).exists()


def test_answers_are_validated_and_a_refusal_leaves_the_invitation_open(run, sales_team):
    respondent = sales_team[0]
    values = answer_values(run)
    enps_id = run.survey.questions.get(kind="enps").pk
    for wrong, message in ((11, "between 0 and 10"), ("x", "Pick one"), (None, "Please answer")):
        with pytest.raises(ApplicationError, match=message) as error:
            services.survey_response_submit(run=run, user=respondent, answers={**values, enps_id: wrong})
        assert error.value.field == f"question_{enps_id}"
    choice_id = run.survey.questions.get(kind="choice").pk
    with pytest.raises(ApplicationError, match="between 0 and 1"):
        services.survey_response_submit(run=run, user=respondent, answers={**values, choice_id: 2})
    with pytest.raises(ApplicationError, match="no question"):
        services.survey_response_submit(run=run, user=respondent, answers={**values, 999999: 1})
    assert not SurveyInvitation.objects.get(run=run, user=respondent).is_answered
    services.survey_response_submit(run=run, user=respondent, answers={**values, choice_id: 1})
    assert SurveyInvitation.objects.get(run=run, user=respondent).is_answered


def test_free_text_is_optional(run, sales_team):
    values = answer_values(run)
    text_id = run.survey.questions.get(kind="text").pk
    del values[text_id]
    services.survey_response_submit(run=run, user=sales_team[0], answers=values)
    assert not SurveyAnswer.objects.filter(question_id=text_id).exists()


def test_response_keeps_the_team_only_when_it_is_large_enough(today, manager, team, sales_team, rep):
    from dealflow.people.tests.factories import team_with_reps

    small, (lonely,) = team_with_reps("Tiny", size=1, manager=manager)
    survey = SurveyFactory(by=manager, teams=[team, small], starts_on=today)
    run = survey.runs.get()
    assert SurveyInvitation.objects.filter(run=run).count() == 8  # rep + sales1..6 + lonely
    services.survey_response_submit(run=run, user=lonely, answers=answer_values(run))
    services.survey_response_submit(run=run, user=rep, answers=answer_values(run))
    teams = sorted(str(team_id) for team_id in SealedResponse.objects.values_list("team_id", flat=True))
    # The lonely rep's team of one is never written next to the answers.
    assert teams == sorted(["None", str(team.pk)])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_of_one_invitation_record_one_response(manager, team, sales_team):
    """Two requests of the same person race; exactly one response is stored (PostgreSQL row locks)."""
    import threading

    from django.db import connection

    survey = SurveyFactory(by=manager, teams=[team])
    run = survey.runs.get()
    respondent = sales_team[0]
    values = answer_values(run)
    barrier = threading.Barrier(4)
    outcomes = []

    def submit():
        try:
            barrier.wait()
            services.survey_response_submit(run=run, user=respondent, answers=values)
            outcomes.append("ok")
        except ConflictError:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "ok"]
    assert SealedResponse.objects.filter(run=run).count() == 1
    assert SurveyRun.objects.get(pk=run.pk).invitations.filter(is_answered=True).count() == 1
