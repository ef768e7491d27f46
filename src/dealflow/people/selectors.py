"""Reads of the people app. Every access gate and the anonymity threshold live here, so each door
(page, API, CSV export, CLI) shows exactly what these functions return and nothing more."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, F, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from dealflow.accounts.models import Membership, Team, User
from dealflow.accounts.selectors import user_access_scope
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.people.calculations import (
    Enps,
    enps_from_counts,
    group_is_reportable,
    mean_from_counts,
    response_rate,
    subgroup_is_reportable,
)
from dealflow.people.models import (
    ActionItem,
    AgendaItem,
    OneOnOneMeeting,
    OneOnOneSeries,
    PrivateNote,
    Question,
    QuestionKind,
    Survey,
    SurveyAnswer,
    SurveyInvitation,
    SurveyResponse,
    SurveyRun,
)
from dealflow.people.services.surveys import anonymity_threshold

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


def _run_rows(runs: QuerySet[SurveyRun]) -> list[RunRow]:
    counted = runs.select_related("survey").annotate(
        invited=Count("invitations"),
        answered=Count("invitations", filter=Q(invitations__is_answered=True)),
    )
    return [RunRow(run=run, invited=run.invited, answered=run.answered) for run in counted]


def survey_run_list_for_user(*, survey_id: int, user: User) -> list[RunRow]:
    """A survey's runs, newest first, with invitation and answer counts (never who answered)."""
    survey = survey_get_for_user(survey_id=survey_id, user=user)
    return _run_rows(SurveyRun.objects.filter(survey=survey).order_by("-opens_on"))


def survey_latest_runs_for_user(*, user: User, survey_ids: list[int]) -> dict[int, RunRow]:
    """The newest run of each of these surveys the user manages, keyed by survey id (one query)."""
    visible = survey_list_for_user(user=user).filter(pk__in=survey_ids).values("pk")
    latest: dict[int, RunRow] = {}
    for row in _run_rows(SurveyRun.objects.filter(survey__in=visible).order_by("survey_id", "-opens_on")):
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


# --- Survey results, behind the anonymity threshold -----------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    count: int
    share: float  # percent of those who answered the question


@dataclass
class QuestionResult:
    question: Question
    count: int  # people who answered this question
    is_visible: bool
    bars: list[Bar] = field(default_factory=list)
    mean: float | None = None
    previous_mean: float | None = None
    enps: Enps | None = None
    texts: list[str] = field(default_factory=list)

    @property
    def change(self) -> float | None:
        if self.mean is None or self.previous_mean is None:
            return None
        return round(self.mean - self.previous_mean, 2)


@dataclass
class TeamRow:
    team: Team
    invited: int
    answered: int | None  # None: too few invited to show even the count
    enps: Enps | None  # None: the team's answers (or the rest's) are below the threshold

    @property
    def response_rate(self) -> float | None:
        if self.answered is None:
            return None
        return response_rate(answered=self.answered, invited=self.invited)


@dataclass
class RunResults:
    """What anyone may see of a run. When ``is_visible`` is false, no answer-derived field is filled."""

    run: SurveyRun
    team: Team | None
    threshold: int
    invited: int
    answered: int
    is_visible: bool
    questions: list[QuestionResult] = field(default_factory=list)
    enps: Enps | None = None
    previous_run: SurveyRun | None = None
    previous_enps: Enps | None = None
    teams: list[TeamRow] = field(default_factory=list)

    @property
    def response_rate(self) -> float | None:
        return response_rate(answered=self.answered, invited=self.invited)

    @property
    def hidden_reason(self) -> str:
        if self.is_visible:
            return ""
        return _(
            "Results show once at least %(threshold)d people have answered; %(count)d have so far. "
            "This keeps every answer anonymous."
        ) % {"threshold": self.threshold, "count": self.answered}


@dataclass
class _GroupAnswers:
    respondents: int
    counts: dict[int, dict[int, int]]  # question id -> value -> how many
    texts: dict[int, list[str]]


def _group_answers(*, run: SurveyRun, team_id: int | None, with_texts: bool) -> _GroupAnswers:
    responses = SurveyResponse.objects.filter(run=run)
    answers = SurveyAnswer.objects.filter(response__run=run)
    if team_id is not None:
        responses = responses.filter(team_id=team_id)
        answers = answers.filter(response__team_id=team_id)
    counts: dict[int, dict[int, int]] = {}
    for question_id, number, how_many in (
        answers.filter(number__isnull=False).values_list("question_id", "number").annotate(n=Count("*"))
    ):
        counts.setdefault(question_id, {})[number] = how_many
    texts: dict[int, list[str]] = {}
    if with_texts:
        # Sorted by text, not by storage order, so the list says nothing about who wrote when.
        for question_id, text in answers.exclude(text="").values_list("question_id", "text").order_by("text"):
            texts.setdefault(question_id, []).append(text)
    return _GroupAnswers(respondents=responses.count(), counts=counts, texts=texts)


def _group_visible(*, group: _GroupAnswers, total: int, team_id: int | None, threshold: int) -> bool:
    if team_id is None:
        return group_is_reportable(count=group.respondents, threshold=threshold)
    return subgroup_is_reportable(count=group.respondents, total=total, threshold=threshold)


def _bars(question: Question, counts: dict[int, int]) -> list[Bar]:
    answered = sum(counts.values())
    if question.kind == QuestionKind.CHOICE:
        labels = question.display_choices
        values = list(range(len(labels)))
    else:
        low, high = (1, 5) if question.kind == QuestionKind.AGREEMENT else (0, 10)
        values = list(range(low, high + 1))
        labels = [str(value) for value in values]
    return [
        Bar(
            label=label,
            value=value,
            count=counts.get(value, 0),
            share=round(100 * counts.get(value, 0) / answered, 1) if answered else 0.0,
        )
        for label, value in zip(labels, values, strict=True)
    ]


def _team_rows(
    *, run: SurveyRun, user: User, total: int, threshold: int, enps_question: Question | None
) -> list[TeamRow]:
    manageable = set(survey_team_list_manageable(user=user).values_list("pk", flat=True))
    invited = dict(
        SurveyInvitation.objects.filter(run=run).values_list("team_id").annotate(n=Count("*")).order_by()
    )
    answered = dict(
        SurveyInvitation.objects.filter(run=run, is_answered=True)
        .values_list("team_id")
        .annotate(n=Count("*"))
        .order_by()
    )
    responses = dict(
        SurveyResponse.objects.filter(run=run, team__isnull=False)
        .values_list("team_id")
        .annotate(n=Count("*"))
        .order_by()
    )
    enps_counts: dict[int, dict[int, int]] = {}
    if enps_question is not None:
        for team_id, number, how_many in (
            SurveyAnswer.objects.filter(
                question=enps_question, response__run=run, response__team__isnull=False
            )
            .values_list("response__team_id", "number")
            .annotate(n=Count("*"))
            .order_by()
        ):
            enps_counts.setdefault(team_id, {})[number] = how_many
    rows = []
    for team in run.survey.teams.order_by("name"):
        if team.pk not in manageable:
            continue
        team_invited = invited.get(team.pk, 0)
        large_enough = group_is_reportable(count=team_invited, threshold=threshold)
        reportable = subgroup_is_reportable(count=responses.get(team.pk, 0), total=total, threshold=threshold)
        enps = None
        if reportable and enps_question is not None:
            team_enps = enps_from_counts(enps_counts.get(team.pk, {}))
            if group_is_reportable(count=team_enps.total, threshold=threshold):
                enps = team_enps
        rows.append(
            TeamRow(
                team=team,
                invited=team_invited,
                answered=answered.get(team.pk, 0) if large_enough else None,
                enps=enps,
            )
        )
    return rows


def _team_filter(*, run: SurveyRun, user: User, team_id: int | None) -> Team | None:
    if team_id is None:
        return None
    team = run.survey.teams.filter(pk=team_id).first()
    if team is None or not survey_team_list_manageable(user=user).filter(pk=team_id).exists():
        raise ApplicationError(_("Pick one of this survey's teams that you manage."), field="team")
    return team


def survey_run_results_for_user(*, run_id: int, user: User, team_id: int | None = None) -> RunResults:
    """A run's results for a manager of its survey, whole or for one team.

    Anonymity rules (threshold t = settings.DEALFLOW["SURVEY_ANONYMITY_THRESHOLD"], never below 3):
    nothing derived from answers is returned unless at least t people answered; a question, its
    free-text answers and the eNPS need t answers of their own; a team filter is refused unless both
    the team and the rest of the run have t answers (or the rest has none), so no subtraction of two
    visible figures isolates fewer than t people. The previous run is compared under the same rules.
    """
    run = survey_run_get_for_user(run_id=run_id, user=user)
    team = _team_filter(run=run, user=user, team_id=team_id)
    threshold = anonymity_threshold()
    invitations = SurveyInvitation.objects.filter(run=run)
    if team is not None:
        invitations = invitations.filter(team=team)
    invited = invitations.count()
    group = _group_answers(run=run, team_id=team_id, with_texts=True)
    total = group.respondents if team_id is None else SurveyResponse.objects.filter(run=run).count()
    answered = group.respondents if team is not None else total
    results = RunResults(
        run=run, team=team, threshold=threshold, invited=invited, answered=answered, is_visible=False
    )
    if team is not None and not _group_visible(
        group=group, total=total, team_id=team_id, threshold=threshold
    ):
        raise ApplicationError(
            _(
                "Showing this team alone would narrow the results below %(threshold)d answers "
                "(for the team or for the rest of the survey), so this filter is not available."
            )
            % {"threshold": threshold},
            field="team",
        )
    if not _group_visible(group=group, total=total, team_id=team_id, threshold=threshold):
        return results
    results.is_visible = True
    questions = list(run.survey.questions.order_by("position"))
    previous = (
        SurveyRun.objects.filter(survey=run.survey, opens_on__lt=run.opens_on).order_by("-opens_on").first()
    )
    previous_group = None
    if previous is not None:
        candidate = _group_answers(run=previous, team_id=team_id, with_texts=False)
        previous_total = (
            candidate.respondents if team_id is None else SurveyResponse.objects.filter(run=previous).count()
        )
        if _group_visible(group=candidate, total=previous_total, team_id=team_id, threshold=threshold):
            previous_group = candidate
    results.previous_run = previous
    for question in questions:
        results.questions.append(_question_result(question, group, previous_group, threshold))
        if question.kind == QuestionKind.ENPS:
            current = results.questions[-1]
            results.enps = current.enps
            if previous_group is not None:
                earlier = enps_from_counts(previous_group.counts.get(question.pk, {}))
                results.previous_enps = (
                    earlier if group_is_reportable(count=earlier.total, threshold=threshold) else None
                )
    enps_question = next((question for question in questions if question.kind == QuestionKind.ENPS), None)
    if team is None:
        results.teams = _team_rows(
            run=run, user=user, total=total, threshold=threshold, enps_question=enps_question
        )
    return results


def _question_result(
    question: Question, group: _GroupAnswers, previous: _GroupAnswers | None, threshold: int
) -> QuestionResult:
    if question.kind == QuestionKind.TEXT:
        texts = group.texts.get(question.pk, [])
        visible = group_is_reportable(count=len(texts), threshold=threshold)
        return QuestionResult(
            question=question, count=len(texts), is_visible=visible, texts=texts if visible else []
        )
    counts = group.counts.get(question.pk, {})
    answered = sum(counts.values())
    if not group_is_reportable(count=answered, threshold=threshold):
        return QuestionResult(question=question, count=answered, is_visible=False)
    result = QuestionResult(question=question, count=answered, is_visible=True, bars=_bars(question, counts))
    if question.kind != QuestionKind.CHOICE:
        result.mean = mean_from_counts(counts)
        if previous is not None:
            earlier = previous.counts.get(question.pk, {})
            if group_is_reportable(count=sum(earlier.values()), threshold=threshold):
                result.previous_mean = mean_from_counts(earlier)
    if question.kind == QuestionKind.ENPS:
        result.enps = enps_from_counts(counts)
    return result


@dataclass(frozen=True)
class TrendPoint:
    run: SurveyRun
    invited: int
    answered: int | None  # None: a team too small to show even its response count
    enps: Enps | None  # None when this run's group is below the threshold

    @property
    def response_rate(self) -> float | None:
        if self.answered is None:
            return None
        return response_rate(answered=self.answered, invited=self.invited)


@dataclass
class EnpsTrend:
    survey: Survey
    team: Team | None
    threshold: int
    has_enps_question: bool
    points: list[TrendPoint]


def survey_enps_trend_for_user(*, survey_id: int, user: User, team_id: int | None = None) -> EnpsTrend:
    """eNPS per run, oldest first, whole or for one team; a run below the threshold shows no score."""
    survey = survey_get_for_user(survey_id=survey_id, user=user)
    team = None
    if team_id is not None:
        team = survey.teams.filter(pk=team_id).first()
        if team is None or not survey_team_list_manageable(user=user).filter(pk=team_id).exists():
            raise ApplicationError(_("Pick one of this survey's teams that you manage."), field="team")
    threshold = anonymity_threshold()
    question = survey.questions.filter(kind=QuestionKind.ENPS).first()
    runs = list(SurveyRun.objects.filter(survey=survey).order_by("opens_on"))
    invitations = SurveyInvitation.objects.filter(run__survey=survey)
    if team is not None:
        invitations = invitations.filter(team=team)
    invited = {
        run_id: (how_many, answered)
        for run_id, how_many, answered in invitations.values_list("run_id")
        .annotate(n=Count("*"), answered=Count("pk", filter=Q(is_answered=True)))
        .order_by()
    }
    responses: dict[int, dict[int | None, int]] = {}
    for run_id, response_team_id, how_many in (
        SurveyResponse.objects.filter(run__survey=survey)
        .values_list("run_id", "team_id")
        .annotate(n=Count("*"))
        .order_by()
    ):
        responses.setdefault(run_id, {})[response_team_id] = how_many
    scores: dict[int, dict[int, int]] = {}
    if question is not None:
        answers = SurveyAnswer.objects.filter(question=question, number__isnull=False)
        if team is not None:
            answers = answers.filter(response__team=team)
        for run_id, number, how_many in (
            answers.values_list("response__run_id", "number").annotate(n=Count("*")).order_by()
        ):
            scores.setdefault(run_id, {})[number] = how_many
    points = []
    for run in runs:
        by_team = responses.get(run.pk, {})
        total = sum(by_team.values())
        if team is None:
            visible = group_is_reportable(count=total, threshold=threshold)
        else:
            visible = subgroup_is_reportable(count=by_team.get(team.pk, 0), total=total, threshold=threshold)
        enps = enps_from_counts(scores.get(run.pk, {})) if visible and question is not None else None
        if enps is not None and not group_is_reportable(count=enps.total, threshold=threshold):
            enps = None
        how_many, answered_count = invited.get(run.pk, (0, 0))
        answered: int | None = answered_count
        if team is not None and not group_is_reportable(count=how_many, threshold=threshold):
            answered = None
        points.append(TrendPoint(run=run, invited=how_many, answered=answered, enps=enps))
    return EnpsTrend(
        survey=survey, team=team, threshold=threshold, has_enps_question=question is not None, points=points
    )


# --- One-on-ones ----------------------------------------------------------------------------------


def one_on_one_partner_list(*, manager: User) -> QuerySet[User]:
    """People a manager may hold one-on-ones with: members of the teams they manage (everyone for admins)."""
    scope = user_access_scope(user=manager)
    users = User.objects.filter(is_active=True).exclude(pk=manager.pk)
    if scope.is_admin:
        return users
    if not scope.managed_team_ids:
        return users.none()
    members = Membership.objects.filter(team_id__in=scope.managed_team_ids).values("user_id")
    return users.filter(pk__in=members)


def one_on_one_series_list_for_user(*, user: User) -> QuerySet[OneOnOneSeries]:
    """Series the user takes part in (as manager or rep); admins see every series, never private notes."""
    scope = user_access_scope(user=user)
    series = OneOnOneSeries.objects.select_related("manager", "rep")
    if scope.user_id is None:
        return series.none()
    if not scope.is_admin:
        series = series.filter(Q(manager_id=scope.user_id) | Q(rep_id=scope.user_id))
    return series.order_by("-is_active", "rep__first_name", "rep__username", "id")


def one_on_one_series_get_for_user(*, series_id: int, user: User) -> OneOnOneSeries:
    series = one_on_one_series_list_for_user(user=user).filter(pk=series_id).first()
    if series is None:
        raise Http404("No such one-on-one.")
    return series


def meeting_list_for_series(*, series: OneOnOneSeries) -> QuerySet[OneOnOneMeeting]:
    return OneOnOneMeeting.objects.filter(series=series).order_by("-scheduled_at")


def meeting_next_for_series(*, series: OneOnOneSeries) -> OneOnOneMeeting | None:
    """The first meeting not yet held."""
    return (
        OneOnOneMeeting.objects.filter(series=series, completed_at__isnull=True)
        .order_by("scheduled_at")
        .first()
    )


def meeting_get_for_user(*, meeting_id: int, user: User) -> OneOnOneMeeting:
    """A meeting of a series the user may read (participants, admins), or 404."""
    meeting = (
        OneOnOneMeeting.objects.filter(
            pk=meeting_id, series__in=one_on_one_series_list_for_user(user=user).values("pk")
        )
        .select_related("series__manager", "series__rep")
        .first()
    )
    if meeting is None:
        raise Http404("No such meeting.")
    return meeting


def agenda_list_for_meeting(*, meeting: OneOnOneMeeting) -> QuerySet[AgendaItem]:
    return (
        AgendaItem.objects.filter(meeting=meeting).select_related("added_by", "carried_from").order_by("id")
    )


def agenda_item_get_for_user(*, item_id: int, user: User) -> AgendaItem:
    item = (
        AgendaItem.objects.filter(
            pk=item_id, meeting__series__in=one_on_one_series_list_for_user(user=user).values("pk")
        )
        .select_related("meeting__series")
        .first()
    )
    if item is None:
        raise Http404("No such agenda item.")
    return item


def private_note_text_for_user(*, meeting: OneOnOneMeeting, user: User) -> str:
    """The user's own private note on a meeting. There is deliberately no way to read anyone else's."""
    return (
        PrivateNote.objects.filter(meeting=meeting, author_id=user.pk).values_list("text", flat=True).first()
        or ""
    )


def action_item_list_for_meeting(*, meeting: OneOnOneMeeting) -> QuerySet[ActionItem]:
    return (
        ActionItem.objects.filter(meeting=meeting).select_related("owner").order_by("done_at", "due_on", "id")
    )


def action_item_list_open_for_user(*, user: User) -> QuerySet[ActionItem]:
    """The user's open action items from their one-on-ones, soonest due first (for "My activities")."""
    return (
        ActionItem.objects.filter(owner_id=user.pk, done_at__isnull=True)
        .select_related("meeting__series__manager", "meeting__series__rep")
        .order_by(F("due_on").asc(nulls_last=True), "id")
    )


def action_item_get_for_user(*, item_id: int, user: User) -> ActionItem:
    item = (
        ActionItem.objects.filter(
            pk=item_id, meeting__series__in=one_on_one_series_list_for_user(user=user).values("pk")
        )
        .select_related("meeting__series", "owner")
        .first()
    )
    if item is None:
        raise Http404("No such action item.")
    return item
