"""Surveys: who may manage and read them, their runs, and the respondent's side (pending invitations, the answer form)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from dealflow.accounts.models import Team, User
from dealflow.accounts.selectors import user_access_scope
from dealflow.core import clock
from dealflow.people.calculations import (
    response_rate,
)
from dealflow.people.models import (
    Question,
    Survey,
    SurveyInvitation,
    SurveyResponse,
    SurveyRun,
)

# --- Surveys: who may manage and read them ------------------------------------------------------


def survey_team_list_manageable(*, user: User) -> QuerySet[Team]:
    """Teams the user may survey and read results for: managed teams, every team for admins."""
    scope = user_access_scope(user=user)
    if scope.user_id is None:
        return Team.objects.none()
    if scope.is_admin:
        return Team.objects.all()
    return Team.objects.filter(pk__in=scope.managed_team_ids)


def survey_list_for_user(*, user: User) -> QuerySet[Survey]:
    """Surveys the user may manage: those covering a team they manage (all for admins)."""
    scope = user_access_scope(user=user)
    surveys = Survey.objects.prefetch_related("teams")
    if scope.user_id is None:
        return surveys.none()
    if not scope.is_admin:
        surveys = surveys.filter(
            Q(teams__in=scope.managed_team_ids) | Q(created_by_id=scope.user_id)
        ).distinct()
    return surveys.order_by("-starts_on", "-id")


def survey_get_for_user(*, survey_id: int, user: User) -> Survey:
    """One survey the user manages, or 404."""
    survey = survey_list_for_user(user=user).filter(pk=survey_id).first()
    if survey is None:
        raise Http404("No such survey.")
    return survey


@dataclass(frozen=True)
class RunRow:
    run: SurveyRun
    invited: int
    answered: int

    @property
    def response_rate(self) -> float | None:
        return response_rate(answered=self.answered, invited=self.invited)


def survey_part_for_user(
    *, survey: Survey, user: User, manageable: set[int] | None = None
) -> frozenset[int] | None:
    """The teams of a survey whose part the user may read: None for the whole survey (an admin, or
    someone who manages every team it covers), else the ids of the teams they manage. A manager of one
    team of a company-wide survey reads that team's part only, never the whole nor another team's."""
    if manageable is None:
        manageable = set(survey_team_list_manageable(user=user).values_list("pk", flat=True))
    team_ids = {team.pk for team in survey.teams.all()}
    if team_ids <= manageable:
        return None
    return frozenset(team_ids & manageable)


def _counts_by_run_and_team(model, run_ids: list[int]) -> dict[tuple[int, int | None], int]:
    return {
        (run_id, team_id): how_many
        for run_id, team_id, how_many in model.objects.filter(run_id__in=run_ids)
        .values_list("run_id", "team_id")
        .annotate(n=Count("*"))
        .order_by()
    }


def _part_sum(counts: dict[tuple[int, int | None], int], run_id: int, part: frozenset[int] | None) -> int:
    return sum(
        how_many
        for (counted_run, team_id), how_many in counts.items()
        if counted_run == run_id and (part is None or team_id in part)
    )


def _run_rows(runs: QuerySet[SurveyRun], *, user: User) -> list[RunRow]:
    """Invited and answered per run, for the part the user may read. "Answered" counts the published
    responses, which grow only in batches of at least the threshold (never one person at a time)."""
    listed = list(runs.select_related("survey").prefetch_related("survey__teams"))
    run_ids = [run.pk for run in listed]
    invited = _counts_by_run_and_team(SurveyInvitation, run_ids)
    answered = _counts_by_run_and_team(SurveyResponse, run_ids)
    manageable = set(survey_team_list_manageable(user=user).values_list("pk", flat=True))
    parts: dict[int, frozenset[int] | None] = {}
    rows = []
    for run in listed:
        if run.survey_id not in parts:
            parts[run.survey_id] = survey_part_for_user(survey=run.survey, user=user, manageable=manageable)
        part = parts[run.survey_id]
        rows.append(
            RunRow(
                run=run, invited=_part_sum(invited, run.pk, part), answered=_part_sum(answered, run.pk, part)
            )
        )
    return rows


def survey_run_list_for_user(*, survey_id: int, user: User) -> list[RunRow]:
    """A survey's runs, newest first, with invitation and answer counts (never who answered)."""
    survey = survey_get_for_user(survey_id=survey_id, user=user)
    return _run_rows(SurveyRun.objects.filter(survey=survey).order_by("-opens_on"), user=user)


def survey_latest_runs_for_user(*, user: User, survey_ids: list[int]) -> dict[int, RunRow]:
    """The newest run of each of these surveys the user manages, keyed by survey id."""
    visible = survey_list_for_user(user=user).filter(pk__in=survey_ids).values("pk")
    latest: dict[int, RunRow] = {}
    for row in _run_rows(
        SurveyRun.objects.filter(survey__in=visible).order_by("survey_id", "-opens_on"), user=user
    ):
        latest.setdefault(row.run.survey_id, row)
    return latest


def survey_run_get_for_user(*, run_id: int, user: User) -> SurveyRun:
    """One run of a survey the user manages, or 404."""
    run = (
        SurveyRun.objects.filter(pk=run_id, survey__in=survey_list_for_user(user=user).values("pk"))
        .select_related("survey")
        .first()
    )
    if run is None:
        raise Http404("No such survey run.")
    return run


# --- Surveys: the respondent's side ---------------------------------------------------------------


def _open_on(day: dt.date) -> Q:
    return Q(run__opens_on__lte=day, run__closes_on__gte=day) & (
        Q(run__closed_early_on__isnull=True) | Q(run__closed_early_on__gte=day)
    )


def invitation_list_pending_for_user(
    *, user: User, today: dt.date | None = None
) -> QuerySet[SurveyInvitation]:
    """The in-app notice: runs open today that the user is invited to and has not answered."""
    day = today or clock.today()
    return (
        SurveyInvitation.objects.filter(_open_on(day), user_id=user.pk, is_answered=False)
        .select_related("run__survey")
        .order_by("run__closes_on", "run_id")
    )


@dataclass(frozen=True)
class AnswerForm:
    run: SurveyRun
    questions: list[Question]
    is_answered: bool
    is_open: bool


def survey_run_get_for_respondent(*, run_id: int, user: User, today: dt.date | None = None) -> AnswerForm:
    """The answer page of a run the user is invited to (404 for anyone else)."""
    day = today or clock.today()
    invitation = (
        SurveyInvitation.objects.filter(run_id=run_id, user_id=user.pk).select_related("run__survey").first()
    )
    if invitation is None:
        raise Http404("No such survey.")
    run = invitation.run
    return AnswerForm(
        run=run,
        questions=list(run.survey.questions.order_by("position")),
        is_answered=invitation.is_answered,
        is_open=run.is_open_on(day),
    )
