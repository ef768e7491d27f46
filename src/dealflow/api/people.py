"""Team pulse under /api/v1/people: surveys, anonymous answers, thresholded results, eNPS, one-on-ones.

Results come from ``people.selectors`` only; a result hidden by the anonymity threshold answers with
``visible: false`` and no answer-derived numbers, and the CSV export is refused (400) the same way.
The shapes (schemas and the functions that fill them) are in people_schemas.py.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from dealflow.accounts.models import Team, User
from dealflow.api.base import ApiRequest
from dealflow.api.people_schemas import (
    ActionItemIn,
    ActionItemOut,
    AgendaItemOut,
    AnswerFormOut,
    CompleteIn,
    DoneIn,
    InvitationOut,
    LibraryQuestionOut,
    MeetingOut,
    PrivateNoteOut,
    PulseTrendOut,
    ResponseIn,
    ResultsOut,
    RunOut,
    SeriesDetailOut,
    SeriesIn,
    SeriesOut,
    SurveyIn,
    SurveyOut,
    TeamQuery,
    TextIn,
    enps_out,
    meeting_out,
    results_out,
    run_out,
)
from dealflow.core.errors import ApplicationError
from dealflow.people import selectors, services
from dealflow.people.calendar import meeting_ics, series_ics
from dealflow.people.exports import results_csv
from dealflow.people.library import LIBRARY, library_choices, library_text
from dealflow.people.models import ActionItem, AgendaItem

router = Router(tags=["People"])


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
        run_out(row) for row in selectors.survey_run_list_for_user(survey_id=survey_id, user=request.user)
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
                "enps": enps_out(point.enps),
            }
            for point in trend.points
        ],
    }


@router.get("/runs/{run_id}/results", response=ResultsOut)
def run_results(request: ApiRequest, run_id: int, query: Query[TeamQuery]):
    """Results of a run; `visible: false` below the threshold; a team filter that would narrow below it is a 400."""
    return results_out(
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
    return run_out(row)


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
    return meeting_out(selectors.meeting_get_for_user(meeting_id=meeting_id, user=request.user))


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
    return meeting_out(services.meeting_shared_notes_set(meeting=meeting, text=payload.text, by=request.user))


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
    return meeting_out(
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
