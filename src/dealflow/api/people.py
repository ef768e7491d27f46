"""Team pulse under /api/v1/people: surveys, anonymous answers, thresholded results, eNPS, one-on-ones.

Results come from ``people.selectors`` only; a result hidden by the anonymity threshold answers with
``visible: false`` and no answer-derived numbers, and the CSV export is refused (400) the same way.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status

from dealflow.accounts.models import Team, User
from dealflow.api.base import ApiRequest
from dealflow.core.errors import ApplicationError
from dealflow.people import selectors, services
from dealflow.people.calculations import Enps
from dealflow.people.calendar import meeting_ics, series_ics
from dealflow.people.exports import results_csv
from dealflow.people.library import LIBRARY, library_choices, library_text
from dealflow.people.models import ActionItem, AgendaItem, OneOnOneMeeting, OneOnOneSeries, Question, Survey

router = Router(tags=["People"])


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


def _run_out(row: selectors.RunRow) -> dict[str, Any]:
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


def _enps_out(enps: Enps | None) -> dict[str, Any] | None:
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


def _results_out(results: selectors.RunResults) -> dict[str, Any]:
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
        "enps": _enps_out(results.enps),
        "previous_run_id": results.previous_run.pk if results.previous_run else None,
        "previous_enps": _enps_out(results.previous_enps),
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
                "enps": _enps_out(row.enps),
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


def _meeting_out(meeting: OneOnOneMeeting) -> dict[str, Any]:
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


# --- Surveys ------------------------------------------------------------------------------------


@router.get("/questions/library", response=list[LibraryQuestionOut])
def list_library(request: ApiRequest):
    """Ready questions (workload, recognition, tools, manager support, growth, eNPS), in English and Dutch."""
    language = translation.get_language()
    return [
        {
            "key": question.key,
            "kind": question.kind,
            "topic": question.topic,
            "text": library_text(question.key, language),
            "text_en": question.text["en"],
            "text_nl": question.text["nl"],
            "choices": library_choices(question.key, language),
        }
        for question in LIBRARY
    ]


@router.get("/surveys", response=list[SurveyOut])
def list_surveys(request: ApiRequest):
    """Surveys of the teams you manage (all for admins)."""
    return list(selectors.survey_list_for_user(user=request.user)[:500])


@router.post("/surveys", response={201: SurveyOut})
def create_survey(request: ApiRequest, payload: SurveyIn):
    """Create a survey for teams you manage; at most 10 questions. The first run opens when it starts today."""
    teams = list(Team.objects.filter(pk__in=payload.team_ids))
    if len(teams) != len(set(payload.team_ids)):
        raise ApplicationError(_("Some team ids do not exist."), field="team_ids")
    survey = services.survey_create(
        title=payload.title,
        teams=teams,
        questions=[services.QuestionSpec.from_mapping(question.dict()) for question in payload.questions],
        cadence=payload.cadence,
        starts_on=payload.starts_on,
        open_days=payload.open_days,
        by=request.user,
    )
    return Status(201, survey)


@router.get("/surveys/{survey_id}", response=SurveyOut)
def get_survey(request: ApiRequest, survey_id: int):
    return selectors.survey_get_for_user(survey_id=survey_id, user=request.user)


@router.post("/surveys/{survey_id}/stop", response=SurveyOut)
def stop_survey(request: ApiRequest, survey_id: int):
    """Open no further runs of this survey."""
    survey = selectors.survey_get_for_user(survey_id=survey_id, user=request.user)
    return services.survey_deactivate(survey=survey, by=request.user)


@router.get("/surveys/{survey_id}/runs", response=list[RunOut])
def list_runs(request: ApiRequest, survey_id: int):
    """Runs, newest first, with invited and answered counts (never who answered)."""
    return [
        _run_out(row) for row in selectors.survey_run_list_for_user(survey_id=survey_id, user=request.user)
    ]


@router.get("/surveys/{survey_id}/enps", response=PulseTrendOut)
def enps_trend(request: ApiRequest, survey_id: int, query: Query[TeamQuery]):
    """eNPS per run, oldest first; runs below the anonymity threshold carry no score."""
    trend = selectors.survey_enps_trend_for_user(survey_id=survey_id, user=request.user, team_id=query.team)
    return {
        "survey_id": trend.survey.pk,
        "team_id": trend.team.pk if trend.team else None,
        "threshold": trend.threshold,
        "has_enps_question": trend.has_enps_question,
        "points": [
            {
                "run_id": point.run.pk,
                "opens_on": point.run.opens_on,
                "invited": point.invited,
                "answered": point.answered,
                "response_rate": point.response_rate,
                "enps": _enps_out(point.enps),
            }
            for point in trend.points
        ],
    }


@router.get("/runs/{run_id}/results", response=ResultsOut)
def run_results(request: ApiRequest, run_id: int, query: Query[TeamQuery]):
    """Results of a run; `visible: false` below the threshold; a team filter that would narrow below it is a 400."""
    return _results_out(
        selectors.survey_run_results_for_user(run_id=run_id, user=request.user, team_id=query.team)
    )


@router.get("/runs/{run_id}/results.csv")
def run_results_csv(request: ApiRequest, run_id: int, query: Query[TeamQuery]):
    """The results as CSV (aggregates only); 400 while they are hidden by the threshold."""
    results = selectors.survey_run_results_for_user(run_id=run_id, user=request.user, team_id=query.team)
    response = HttpResponse(results_csv(results=results), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="survey-run-{run_id}.csv"'
    return response


@router.post("/runs/{run_id}/close", response=RunOut)
def close_run(request: ApiRequest, run_id: int):
    """Stop accepting answers today."""
    run = selectors.survey_run_get_for_user(run_id=run_id, user=request.user)
    services.survey_run_close(run=run, by=request.user)
    row = next(
        row
        for row in selectors.survey_run_list_for_user(survey_id=run.survey_id, user=request.user)
        if row.run.pk == run.pk
    )
    return _run_out(row)


@router.get("/invitations", response=list[InvitationOut])
def list_invitations(request: ApiRequest):
    """Open surveys waiting for your answer."""
    return [
        {
            "run_id": invitation.run_id,
            "survey": invitation.run.survey.title,
            "opens_on": invitation.run.opens_on,
            "last_day": invitation.run.last_day,
        }
        for invitation in selectors.invitation_list_pending_for_user(user=request.user)
    ]


@router.get("/runs/{run_id}/questions", response=AnswerFormOut)
def run_questions(request: ApiRequest, run_id: int):
    """The questions of a run you are invited to."""
    page = selectors.survey_run_get_for_respondent(run_id=run_id, user=request.user)
    return {
        "run_id": page.run.pk,
        "survey": page.run.survey.title,
        "is_open": page.is_open,
        "is_answered": page.is_answered,
        "last_day": page.run.last_day,
        "questions": page.questions,
    }


@router.post("/runs/{run_id}/responses", response={204: None})
def submit_response(request: ApiRequest, run_id: int, payload: ResponseIn):
    """Answer a run once, anonymously: `answers` maps question id to a number (option index for a choice) or text."""
    page = selectors.survey_run_get_for_respondent(run_id=run_id, user=request.user)
    services.survey_response_submit(run=page.run, user=request.user, answers=payload.answers)
    return Status(204, None)


# --- One-on-ones --------------------------------------------------------------------------------


@router.get("/one-on-ones", response=list[SeriesOut])
def list_series(request: ApiRequest):
    """Your one-on-one series (as manager or rep)."""
    return list(selectors.one_on_one_series_list_for_user(user=request.user)[:500])


@router.post("/one-on-ones", response={201: SeriesDetailOut})
def create_series(request: ApiRequest, payload: SeriesIn):
    """Plan recurring one-on-ones with someone in a team you manage."""
    manager: User | None = request.user
    if payload.manager_id is not None and payload.manager_id != request.user.pk:
        manager = User.objects.filter(pk=payload.manager_id, is_active=True).first()
    if manager is None:
        raise ApplicationError(_("No such manager."), field="manager_id")
    rep = User.objects.filter(pk=payload.rep_id, is_active=True).first()
    if rep is None:
        raise ApplicationError(_("No such person."), field="rep_id")
    series = services.one_on_one_series_create(
        manager=manager,
        rep=rep,
        first_meeting_at=payload.first_meeting_at,
        cadence=payload.cadence,
        duration_minutes=payload.duration_minutes,
        by=request.user,
    )
    return Status(201, series)


@router.get("/one-on-ones/{series_id}", response=SeriesDetailOut)
def get_series(request: ApiRequest, series_id: int):
    return selectors.one_on_one_series_get_for_user(series_id=series_id, user=request.user)


@router.get("/one-on-ones/{series_id}/calendar.ics")
def series_calendar(request: ApiRequest, series_id: int):
    """The series as a recurring iCalendar event."""
    series = selectors.one_on_one_series_get_for_user(series_id=series_id, user=request.user)
    upcoming = selectors.meeting_next_for_series(series=series)
    body = series_ics(series=series, starts_at=upcoming.scheduled_at if upcoming else series.first_meeting_at)
    return HttpResponse(body, content_type="text/calendar; charset=utf-8")


@router.get("/meetings/{meeting_id}", response=MeetingOut)
def get_meeting(request: ApiRequest, meeting_id: int):
    """A meeting's shared agenda, shared notes and action items (private notes have their own endpoint)."""
    return _meeting_out(selectors.meeting_get_for_user(meeting_id=meeting_id, user=request.user))


@router.get("/meetings/{meeting_id}/calendar.ics")
def meeting_calendar(request: ApiRequest, meeting_id: int):
    meeting = selectors.meeting_get_for_user(meeting_id=meeting_id, user=request.user)
    return HttpResponse(meeting_ics(meeting=meeting), content_type="text/calendar; charset=utf-8")


@router.post("/meetings/{meeting_id}/agenda", response={201: AgendaItemOut})
def add_agenda_item(request: ApiRequest, meeting_id: int, payload: TextIn):
    meeting = selectors.meeting_get_for_user(meeting_id=meeting_id, user=request.user)
    return Status(201, services.agenda_item_add(meeting=meeting, text=payload.text, by=request.user))


@router.patch("/agenda/{item_id}", response=AgendaItemOut)
def update_agenda_item(request: ApiRequest, item_id: int, payload: DoneIn):
    item: AgendaItem = selectors.agenda_item_get_for_user(item_id=item_id, user=request.user)
    return services.agenda_item_set_done(item=item, is_done=payload.is_done, by=request.user)


@router.put("/meetings/{meeting_id}/shared-notes", response=MeetingOut)
def set_shared_notes(request: ApiRequest, meeting_id: int, payload: TextIn):
    meeting = selectors.meeting_get_for_user(meeting_id=meeting_id, user=request.user)
    return _meeting_out(
        services.meeting_shared_notes_set(meeting=meeting, text=payload.text, by=request.user)
    )


@router.get("/meetings/{meeting_id}/private-note", response=PrivateNoteOut)
def get_private_note(request: ApiRequest, meeting_id: int):
    """Your own private note on the meeting; nobody else's is ever returned."""
    meeting = selectors.meeting_get_for_user(meeting_id=meeting_id, user=request.user)
    return {
        "meeting_id": meeting.pk,
        "text": selectors.private_note_text_for_user(meeting=meeting, user=request.user),
    }


@router.put("/meetings/{meeting_id}/private-note", response=PrivateNoteOut)
def set_private_note(request: ApiRequest, meeting_id: int, payload: TextIn):
    meeting = selectors.meeting_get_for_user(meeting_id=meeting_id, user=request.user)
    note = services.private_note_set(meeting=meeting, text=payload.text, by=request.user)
    return {"meeting_id": meeting.pk, "text": note.text}


@router.post("/meetings/{meeting_id}/complete", response=MeetingOut)
def complete_meeting(request: ApiRequest, meeting_id: int, payload: CompleteIn | None = None):
    """Mark the meeting held; returns the next meeting, with the unchecked agenda items carried over.

    The body is optional: ``shared_notes`` and ``private_note``, when given, are saved first in the same
    transaction (as the page does with what was typed), so marking the meeting held never drops them."""
    meeting = selectors.meeting_get_for_user(meeting_id=meeting_id, user=request.user)
    typed = payload or CompleteIn()
    return _meeting_out(
        services.meeting_complete(
            meeting=meeting,
            by=request.user,
            shared_notes=typed.shared_notes,
            private_note=typed.private_note,
        )
    )


@router.post("/meetings/{meeting_id}/action-items", response={201: ActionItemOut})
def add_action_item(request: ApiRequest, meeting_id: int, payload: ActionItemIn):
    meeting = selectors.meeting_get_for_user(meeting_id=meeting_id, user=request.user)
    owner = User.objects.filter(pk=payload.owner_id).first()
    if owner is None:
        raise ApplicationError(_("No such person."), field="owner_id")
    item = services.action_item_add(
        meeting=meeting, text=payload.text, owner=owner, due_on=payload.due_on, by=request.user
    )
    return Status(201, item)


@router.patch("/action-items/{item_id}", response=ActionItemOut)
def update_action_item(request: ApiRequest, item_id: int, payload: DoneIn):
    item: ActionItem = selectors.action_item_get_for_user(item_id=item_id, user=request.user)
    return services.action_item_set_done(item=item, is_done=payload.is_done, by=request.user)


@router.get("/action-items", response=list[ActionItemOut])
def list_action_items(request: ApiRequest):
    """Your open action items from one-on-ones, soonest due first."""
    return list(selectors.action_item_list_open_for_user(user=request.user)[:500])
