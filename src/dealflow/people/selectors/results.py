"""Survey results and the eNPS trend, behind the anonymity threshold: a group smaller than it shows nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count
from django.utils.translation import gettext as _

from dealflow.accounts.models import Team, User
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
    Question,
    QuestionKind,
    Survey,
    SurveyAnswer,
    SurveyInvitation,
    SurveyResponse,
    SurveyRun,
)
from dealflow.people.selectors.surveys import (
    survey_get_for_user,
    survey_part_for_user,
    survey_run_get_for_user,
    survey_team_list_manageable,
)
from dealflow.people.services.surveys import anonymity_threshold

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
            "Answers are shown in batches of at least %(threshold)d, so that no answer can be "
            "traced to one person; %(count)d are shown so far."
        ) % {"threshold": self.threshold, "count": self.answered}


@dataclass
class _GroupAnswers:
    respondents: int
    counts: dict[int, dict[int, int]]  # question id -> value -> how many
    texts: dict[int, list[str]]


def _group_answers(*, run: SurveyRun, team_ids: frozenset[int] | None, with_texts: bool) -> _GroupAnswers:
    responses = SurveyResponse.objects.filter(run=run)
    answers = SurveyAnswer.objects.filter(response__run=run)
    if team_ids is not None:
        responses = responses.filter(team_id__in=team_ids)
        answers = answers.filter(response__team_id__in=team_ids)
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
    *,
    run: SurveyRun,
    user: User,
    part: frozenset[int] | None,
    total: int,
    threshold: int,
    enps_question: Question | None,
) -> list[TeamRow]:
    manageable = set(survey_team_list_manageable(user=user).values_list("pk", flat=True))
    invited = dict(
        SurveyInvitation.objects.filter(run=run).values_list("team_id").annotate(n=Count("*")).order_by()
    )
    # Answered = published responses of the team: they grow in batches of the threshold, so the
    # counter never moves when one person answers.
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
        if team.pk not in manageable or (part is not None and team.pk not in part):
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
                answered=responses.get(team.pk, 0) if large_enough else None,
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


def _visible_group(
    *, run: SurveyRun, part: frozenset[int] | None, team_id: int | None, with_texts: bool, threshold: int
) -> tuple[_GroupAnswers, int, bool]:
    """The answers of the group asked for, the size of the whole the user reads, and whether it shows."""
    chosen = part if team_id is None else frozenset({team_id})
    group = _group_answers(run=run, team_ids=chosen, with_texts=with_texts)
    if team_id is None:
        return group, group.respondents, group_is_reportable(count=group.respondents, threshold=threshold)
    whole = SurveyResponse.objects.filter(run=run)
    if part is not None:
        whole = whole.filter(team_id__in=part)
    total = whole.count()
    return group, total, subgroup_is_reportable(count=group.respondents, total=total, threshold=threshold)


def survey_run_results_for_user(*, run_id: int, user: User, team_id: int | None = None) -> RunResults:
    """A run's results for a manager of its survey, whole or for one team.

    Anonymity rules (threshold t = settings.DEALFLOW["SURVEY_ANONYMITY_THRESHOLD"], never below 3):
    only published responses count, and they are published in batches of at least t per group
    (services.survey_run_publish_ready), so no figure here moves when one person answers; nothing
    derived from answers is returned unless at least t people answered; a question, its free-text
    answers and the eNPS need t answers of their own; a team filter is refused unless both the team and
    the rest of what the user reads have t answers (or the rest has none), so no subtraction of two
    visible figures isolates fewer than t people. A manager of some of a survey's teams reads only
    their teams' part (survey_part_for_user). The previous run is compared under the same rules.
    """
    run = survey_run_get_for_user(run_id=run_id, user=user)
    team = _team_filter(run=run, user=user, team_id=team_id)
    part = survey_part_for_user(survey=run.survey, user=user)
    threshold = anonymity_threshold()
    invitations = SurveyInvitation.objects.filter(run=run)
    if team is not None:
        invitations = invitations.filter(team=team)
    elif part is not None:
        invitations = invitations.filter(team_id__in=part)
    invited = invitations.count()
    group, total, visible = _visible_group(
        run=run, part=part, team_id=team_id, with_texts=True, threshold=threshold
    )
    results = RunResults(
        run=run, team=team, threshold=threshold, invited=invited, answered=group.respondents, is_visible=False
    )
    if team is not None and not visible:
        raise ApplicationError(
            _(
                "Showing this team alone would narrow the results below %(threshold)d answers "
                "(for the team or for the rest of the survey), so this filter is not available."
            )
            % {"threshold": threshold},
            field="team",
        )
    if not visible:
        return results
    results.is_visible = True
    questions = list(run.survey.questions.order_by("position"))
    previous = (
        SurveyRun.objects.filter(survey=run.survey, opens_on__lt=run.opens_on).order_by("-opens_on").first()
    )
    previous_group = None
    if previous is not None:
        candidate, _previous_total, previous_visible = _visible_group(
            run=previous, part=part, team_id=team_id, with_texts=False, threshold=threshold
        )
        if previous_visible:
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
            run=run, user=user, part=part, total=total, threshold=threshold, enps_question=enps_question
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
    part = survey_part_for_user(survey=survey, user=user)
    question = survey.questions.filter(kind=QuestionKind.ENPS).first()
    runs = list(SurveyRun.objects.filter(survey=survey).order_by("opens_on"))
    invitations = SurveyInvitation.objects.filter(run__survey=survey)
    if team is not None:
        invitations = invitations.filter(team=team)
    elif part is not None:
        invitations = invitations.filter(team_id__in=part)
    invited = dict(invitations.values_list("run_id").annotate(n=Count("*")).order_by())
    responses: dict[int, dict[int | None, int]] = {}
    for run_id, response_team_id, how_many in (
        SurveyResponse.objects.filter(run__survey=survey)
        .values_list("run_id", "team_id")
        .annotate(n=Count("*"))
        .order_by()
    ):
        if part is None or response_team_id in part:
            responses.setdefault(run_id, {})[response_team_id] = how_many
    scores: dict[int, dict[int, int]] = {}
    if question is not None:
        answers = SurveyAnswer.objects.filter(question=question, number__isnull=False)
        if team is not None:
            answers = answers.filter(response__team=team)
        elif part is not None:
            answers = answers.filter(response__team_id__in=part)
        for run_id, number, how_many in (
            answers.values_list("response__run_id", "number").annotate(n=Count("*")).order_by()
        ):
            scores.setdefault(run_id, {})[number] = how_many
    points = []
    for run in runs:
        by_team = responses.get(run.pk, {})
        total = sum(by_team.values())
        # Answered = published responses (they grow in batches of the threshold, never one at a time).
        answered: int | None = total if team is None else by_team.get(team.pk, 0)
        if team is None:
            visible = group_is_reportable(count=total, threshold=threshold)
        else:
            visible = subgroup_is_reportable(count=by_team.get(team.pk, 0), total=total, threshold=threshold)
        enps = enps_from_counts(scores.get(run.pk, {})) if visible and question is not None else None
        if enps is not None and not group_is_reportable(count=enps.total, threshold=threshold):
            enps = None
        how_many = invited.get(run.pk, 0)
        if team is not None and not group_is_reportable(count=how_many, threshold=threshold):
            answered = None
        points.append(TrendPoint(run=run, invited=how_many, answered=answered, enps=enps))
    return EnpsTrend(
        survey=survey, team=team, threshold=threshold, has_enps_question=question is not None, points=points
    )
