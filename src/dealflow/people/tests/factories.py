"""Factories for the people app; they go through the services, like the deal factories do."""

from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone

from dealflow.accounts.models import Role
from dealflow.accounts.tests.factories import MembershipFactory, TeamFactory, UserFactory
from dealflow.people import services
from dealflow.people.models import OneOnOneSeries, Survey

DEFAULT_QUESTIONS = [
    services.QuestionSpec(library_key="enps"),
    services.QuestionSpec(library_key="workload"),
    services.QuestionSpec(kind="choice", text="Best day for team meetings?", choices=["Monday", "Friday"]),
    services.QuestionSpec(library_key="improve"),
]


class SurveyFactory(factory.Factory):
    """``SurveyFactory(by=manager, teams=[team])`` creates a survey through ``survey_create``."""

    class Meta:
        model = Survey

    title = factory.Sequence(lambda number: f"Pulse {number}")
    questions = factory.LazyFunction(lambda: list(DEFAULT_QUESTIONS))
    cadence = "monthly"
    open_days = 7

    @classmethod
    def _create(cls, model_class, **kwargs):
        return services.survey_create(**kwargs)

    _build = _create


def team_with_reps(name: str, *, size: int, manager=None, prefix: str | None = None):
    """A team with ``size`` reps (usernames ``<prefix>1``...) and, if given, its manager."""
    team = TeamFactory(name=name)
    if manager is not None:
        MembershipFactory(user=manager, team=team, role=Role.MANAGER)
    stem = prefix or name.lower().replace(" ", "")
    reps = []
    for number in range(1, size + 1):
        user = UserFactory(username=f"{stem}{number}")
        MembershipFactory(user=user, team=team, role=Role.REP)
        reps.append(user)
    return team, reps


def answer_values(
    run, *, enps: int | None = None, workload: int = 3, choice: int = 0, text: str = ""
) -> dict:
    """Answers keyed by question id for a survey built from DEFAULT_QUESTIONS (override what matters)."""
    values: dict = {}
    for question in run.survey.questions.all():
        if question.library_key == "enps":
            values[question.pk] = enps if enps is not None else 8
        elif question.library_key == "workload":
            values[question.pk] = workload
        elif question.kind == "choice":
            values[question.pk] = choice
        elif question.kind == "text":
            values[question.pk] = text
    return values


class OneOnOneSeriesFactory(factory.Factory):
    class Meta:
        model = OneOnOneSeries

    cadence = "weekly"
    duration_minutes = 60
    first_meeting_at = factory.LazyFunction(
        lambda: timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(10, 0)))
    )

    @classmethod
    def _create(cls, model_class, **kwargs):
        kwargs.setdefault("by", kwargs["manager"])
        return services.one_on_one_series_create(**kwargs)

    _build = _create


def responses_publish_directly(run, *, team, scores: list[int]) -> None:
    """Published eNPS answers written straight to the tables, as a database from before answers were
    batched (or a restored backup of one) may hold them: the only way to get a group smaller than the
    threshold next to another, which the result selectors must still refuse to single out."""
    from dealflow.people.models import SurveyAnswer, SurveyResponse

    question = run.survey.questions.get(kind="enps")
    for score in scores:
        response = SurveyResponse.objects.create(run=run, team=team, submitted_on=run.opens_on)
        SurveyAnswer.objects.create(response=response, question=question, number=score)
