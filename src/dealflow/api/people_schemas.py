"""The shapes of /api/v1/people: what the endpoints in api/people.py take and return, and the functions that
fill the result shapes from the people selectors.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Schema

from dealflow.accounts.models import User
from dealflow.people import selectors
from dealflow.people.calculations import Enps
from dealflow.people.models import OneOnOneMeeting, OneOnOneSeries, Question, Survey

# --- Shapes -------------------------------------------------------------------------------------


class PeopleUserOut(Schema):
    id: int
    username: str
    name: str

    @staticmethod
    def resolve_name(user: User) -> str:
        return user.display_name


class LibraryQuestionOut(Schema):
    key: str
    kind: str
    topic: str
    text: str
    text_en: str
    text_nl: str
    choices: list[str]


class QuestionIn(Schema):
    library_key: str = ""
    kind: str = ""
    text: str = ""
    choices: list[str] = []
    is_required: bool | None = None


class QuestionOut(Schema):
    id: int
    position: int
    kind: str
    text: str
    choices: list[str]
    library_key: str
    is_required: bool

    @staticmethod
    def resolve_text(question: Question) -> str:
        return question.display_text

    @staticmethod
    def resolve_choices(question: Question) -> list[str]:
        return question.display_choices


class SurveyIn(Schema):
    title: str
    team_ids: list[int]
    questions: list[QuestionIn]
    cadence: str = "monthly"
    starts_on: dt.date | None = None
    open_days: int = 7


class SurveyOut(Schema):
    id: int
    title: str
    cadence: str
    starts_on: dt.date
    open_days: int
    is_active: bool
    team_ids: list[int]
    questions: list[QuestionOut]

    @staticmethod
    def resolve_team_ids(survey: Survey) -> list[int]:
        return sorted(team.pk for team in survey.teams.all())

    @staticmethod
    def resolve_questions(survey: Survey) -> list[Question]:
        return list(survey.questions.order_by("position"))


class RunOut(Schema):
    id: int
    survey_id: int
    opens_on: dt.date
    closes_on: dt.date
    last_day: dt.date
    reminded_on: dt.date | None
    invited: int
    answered: int
    response_rate: float | None


def run_out(row: selectors.RunRow) -> dict[str, Any]:
    run = row.run
    return {
        "id": run.pk,
        "survey_id": run.survey_id,
        "opens_on": run.opens_on,
        "closes_on": run.closes_on,
        "last_day": run.last_day,
        "reminded_on": run.reminded_on,
        "invited": row.invited,
        "answered": row.answered,
        "response_rate": row.response_rate,
    }


class EnpsOut(Schema):
    score: float | None
    answers: int
    promoters: int
    passives: int
    detractors: int
    promoter_share: float
    passive_share: float
    detractor_share: float


def enps_out(enps: Enps | None) -> dict[str, Any] | None:
    if enps is None:
        return None
    return {
        "score": enps.score,
        "answers": enps.total,
        "promoters": enps.promoters,
        "passives": enps.passives,
        "detractors": enps.detractors,
        "promoter_share": enps.promoter_share,
        "passive_share": enps.passive_share,
        "detractor_share": enps.detractor_share,
    }


class BarOut(Schema):
    label: str
    value: int
    count: int
    share: float


class QuestionResultOut(Schema):
    question_id: int
    text: str
    kind: str
    visible: bool
    answers: int
    distribution: list[BarOut]
    mean: float | None
    previous_mean: float | None
    change: float | None
    texts: list[str]


class TeamResultOut(Schema):
    team_id: int
    team: str
    invited: int
    answered: int | None
    response_rate: float | None
    enps: EnpsOut | None


class ResultsOut(Schema):
    run_id: int
    survey_id: int
    team_id: int | None
    threshold: int
    visible: bool
    hidden_reason: str
    invited: int
    answered: int
    response_rate: float | None
    enps: EnpsOut | None
    previous_run_id: int | None
    previous_enps: EnpsOut | None
    questions: list[QuestionResultOut]
    teams: list[TeamResultOut]


def results_out(results: selectors.RunResults) -> dict[str, Any]:
    return {
        "run_id": results.run.pk,
        "survey_id": results.run.survey_id,
        "team_id": results.team.pk if results.team else None,
        "threshold": results.threshold,
        "visible": results.is_visible,
        "hidden_reason": results.hidden_reason,
        "invited": results.invited,
        "answered": results.answered,
        "response_rate": results.response_rate,
        "enps": enps_out(results.enps),
        "previous_run_id": results.previous_run.pk if results.previous_run else None,
        "previous_enps": enps_out(results.previous_enps),
        "questions": [
            {
                "question_id": item.question.pk,
                "text": item.question.display_text,
                "kind": item.question.kind,
                "visible": item.is_visible,
                "answers": item.count,
                "distribution": [bar.__dict__ for bar in item.bars],
                "mean": item.mean,
                "previous_mean": item.previous_mean,
                "change": item.change,
                "texts": item.texts,
            }
            for item in results.questions
        ],
        "teams": [
            {
                "team_id": row.team.pk,
                "team": row.team.name,
                "invited": row.invited,
                "answered": row.answered,
                "response_rate": row.response_rate,
                "enps": enps_out(row.enps),
            }
            for row in results.teams
        ],
    }


class TeamQuery(Schema):
    team: int | None = None


class TrendPointOut(Schema):
    run_id: int
    opens_on: dt.date
    invited: int
    answered: int | None
    response_rate: float | None
    enps: EnpsOut | None


class PulseTrendOut(Schema):
    survey_id: int
    team_id: int | None
    threshold: int
    has_enps_question: bool
    points: list[TrendPointOut]


class InvitationOut(Schema):
    run_id: int
    survey: str
    opens_on: dt.date
    last_day: dt.date


class AnswerFormOut(Schema):
    run_id: int
    survey: str
    is_open: bool
    is_answered: bool
    last_day: dt.date
    questions: list[QuestionOut]


class ResponseIn(Schema):
    answers: dict[str, Any]


class SeriesIn(Schema):
    rep_id: int
    first_meeting_at: dt.datetime
    cadence: str = "weekly"
    duration_minutes: int = 60
    manager_id: int | None = None  # admins may plan for a manager; others plan their own


class MeetingRef(Schema):
    id: int
    scheduled_at: dt.datetime
    duration_minutes: int
    completed_at: dt.datetime | None


class SeriesOut(Schema):
    id: int
    manager: PeopleUserOut
    rep: PeopleUserOut
    cadence: str
    duration_minutes: int
    first_meeting_at: dt.datetime
    is_active: bool


class SeriesDetailOut(SeriesOut):
    meetings: list[MeetingRef]

    @staticmethod
    def resolve_meetings(series: OneOnOneSeries) -> list[OneOnOneMeeting]:
        return list(selectors.meeting_list_for_series(series=series))


class AgendaItemOut(Schema):
    id: int
    meeting_id: int
    text: str
    added_by_id: int | None
    is_done: bool
    carried_from_id: int | None


class ActionItemOut(Schema):
    id: int
    meeting_id: int
    text: str
    owner: PeopleUserOut
    due_on: dt.date | None
    done_at: dt.datetime | None


class MeetingOut(Schema):
    id: int
    series_id: int
    scheduled_at: dt.datetime
    duration_minutes: int
    completed_at: dt.datetime | None
    shared_notes: str
    agenda: list[AgendaItemOut]
    action_items: list[ActionItemOut]


def meeting_out(meeting: OneOnOneMeeting) -> dict[str, Any]:
    return {
        "id": meeting.pk,
        "series_id": meeting.series_id,
        "scheduled_at": meeting.scheduled_at,
        "duration_minutes": meeting.duration_minutes,
        "completed_at": meeting.completed_at,
        "shared_notes": meeting.shared_notes,
        "agenda": list(selectors.agenda_list_for_meeting(meeting=meeting)),
        "action_items": list(selectors.action_item_list_for_meeting(meeting=meeting)),
    }


class TextIn(Schema):
    text: str


class CompleteIn(Schema):
    """What the participant typed and has not saved yet; each part given is saved first, when it changed."""

    shared_notes: str | None = None
    private_note: str | None = None


class PrivateNoteOut(Schema):
    meeting_id: int
    text: str


class DoneIn(Schema):
    is_done: bool


class ActionItemIn(Schema):
    text: str
    owner_id: int
    due_on: dt.date | None = None
