"""/api/v1/people: surveys, answers, thresholded results and CSV, eNPS trend, one-on-ones."""

import csv
import datetime as dt
import io

import pytest
from icalendar import Calendar

from dealflow.accounts.services import token_create
from dealflow.people import services
from dealflow.people.models import SealedResponse, Survey, SurveyResponse
from dealflow.people.tests.factories import (
    OneOnOneSeriesFactory,
    answer_values,
    responses_publish_directly,
)

BASE = "/api/v1/people"


def bearer(user, scope="write"):
    _token, secret = token_create(user=user, name="test", scope=scope)
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def answer_many(run, users, scores):
    for user, score in zip(users, scores, strict=True):
        services.survey_response_submit(
            run=run, user=user, answers=answer_values(run, enps=score, text=f"t{score}")
        )


def test_library_in_both_languages(client, rep):
    body = client.get(f"{BASE}/questions/library", **bearer(rep)).json()
    enps = next(item for item in body if item["key"] == "enps")
    assert enps["kind"] == "enps"
    assert enps["text_en"].startswith("How likely") and enps["text_nl"].startswith("Hoe waarschijnlijk")
    assert {item["topic"] for item in body} >= {
        "workload",
        "recognition",
        "tools",
        "manager support",
        "growth",
    }


def test_create_survey_and_the_ten_question_limit(client, today, manager, team, sales_team):
    headers = bearer(manager)
    payload = {
        "title": "API pulse",
        "team_ids": [team.pk],
        "questions": [{"kind": "rating", "text": f"Q{number}?"} for number in range(11)],
    }
    response = client.post(f"{BASE}/surveys", payload, content_type="application/json", **headers)
    assert response.status_code == 400
    assert response.json()["field"] == "questions" and "at most 10 questions" in response.json()["detail"]
    payload["questions"] = [
        {"library_key": "enps"},
        {"kind": "choice", "text": "Pick", "choices": ["a", "b"]},
    ]
    response = client.post(f"{BASE}/surveys", payload, content_type="application/json", **headers)
    assert response.status_code == 201
    body = response.json()
    assert [question["kind"] for question in body["questions"]] == ["enps", "choice"]
    runs = client.get(f"{BASE}/surveys/{body['id']}/runs", **headers).json()
    assert [(run["invited"], run["answered"]) for run in runs] == [(6, 0)]


def test_reps_cannot_create_surveys(client, today, rep, team):
    payload = {"title": "Mine", "team_ids": [team.pk], "questions": [{"library_key": "enps"}]}
    response = client.post(f"{BASE}/surveys", payload, content_type="application/json", **bearer(rep))
    assert response.status_code == 403
    assert not Survey.objects.exists()


def test_answer_once_through_the_api(client, run, sales_team):
    headers = bearer(sales_team[0])
    pending = client.get(f"{BASE}/invitations", **headers).json()
    assert [item["run_id"] for item in pending] == [run.pk]
    form = client.get(f"{BASE}/runs/{run.pk}/questions", **headers).json()
    assert len(form["questions"]) == 4 and not form["is_answered"]
    payload = {"answers": {str(key): value for key, value in answer_values(run, enps=10).items()}}
    assert (
        client.post(
            f"{BASE}/runs/{run.pk}/responses", payload, content_type="application/json", **headers
        ).status_code
        == 204
    )
    again = client.post(
        f"{BASE}/runs/{run.pk}/responses", payload, content_type="application/json", **headers
    )
    assert again.status_code == 409
    assert SealedResponse.objects.count() == 1 and not SurveyResponse.objects.exists()  # waits for 4 more
    assert client.get(f"{BASE}/invitations", **headers).json() == []


def test_answer_is_404_when_not_invited(client, run, manager):
    payload = {"answers": {str(key): value for key, value in answer_values(run).items()}}
    response = client.post(
        f"{BASE}/runs/{run.pk}/responses", payload, content_type="application/json", **bearer(manager)
    )
    assert response.status_code == 404


def test_results_hidden_with_four_answers_in_every_endpoint(client, run, manager, sales_team):
    answer_many(run, sales_team[:4], [10, 10, 10, 10])
    headers = bearer(manager)
    body = client.get(f"{BASE}/runs/{run.pk}/results", **headers).json()
    assert body["visible"] is False and body["answered"] == 0 and body["invited"] == 6  # none published
    assert body["enps"] is None and body["questions"] == [] and body["teams"] == []
    assert "batches of at least 5" in body["hidden_reason"]
    export = client.get(f"{BASE}/runs/{run.pk}/results.csv", **headers)
    assert export.status_code == 400 and "batches of at least 5" in export.json()["detail"]
    trend = client.get(f"{BASE}/surveys/{run.survey_id}/enps", **headers).json()
    assert [point["enps"] for point in trend["points"]] == [None]


def test_results_with_five_answers(client, run, manager, sales_team):
    answer_many(run, sales_team[:5], [10, 10, 10, 7, 3])  # 3 promoters, 1 passive, 1 detractor
    headers = bearer(manager, scope="read")
    body = client.get(f"{BASE}/runs/{run.pk}/results", **headers).json()
    assert body["visible"] is True and body["response_rate"] == 83.3
    assert body["enps"]["score"] == 40.0 and body["enps"]["promoter_share"] == 60.0
    text = next(question for question in body["questions"] if question["kind"] == "text")
    assert text["texts"] == ["t10", "t10", "t10", "t3", "t7"]
    enps = next(question for question in body["questions"] if question["kind"] == "enps")
    assert enps["mean"] == 8.0 and sum(bar["count"] for bar in enps["distribution"]) == 5
    rows = list(
        csv.reader(io.StringIO(client.get(f"{BASE}/runs/{run.pk}/results.csv", **headers).content.decode()))
    )
    assert ["enps", "score", "enps", "", "5", "40.0", "", ""] in rows
    trend = client.get(f"{BASE}/surveys/{run.survey_id}/enps", **headers).json()
    assert [point["enps"]["score"] for point in trend["points"]] == [40.0]


def test_results_refuse_a_narrowing_team_filter(client, today, manager, team, sales_team, second_team):
    from dealflow.people.tests.factories import SurveyFactory

    north, north_reps = second_team
    run = SurveyFactory(by=manager, teams=[team, north], starts_on=today).runs.get()
    answer_many(run, north_reps, [10] * 5)
    responses_publish_directly(run, team=team, scores=[0, 0])
    headers = bearer(manager)
    for path in ("results", "results.csv"):
        response = client.get(f"{BASE}/runs/{run.pk}/{path}", {"team": north.pk}, **headers)
        assert response.status_code == 400 and response.json()["field"] == "team"
    whole = client.get(f"{BASE}/runs/{run.pk}/results", **headers).json()
    assert whole["visible"] and whole["enps"]["score"] == pytest.approx(100 * (5 - 2) / 7, abs=0.05)


def test_results_are_404_for_reps_and_outsiders(client, run, rep, outsider, sales_team):
    answer_many(run, sales_team[:5], [9] * 5)
    for user in (rep, outsider, sales_team[0]):
        headers = bearer(user)
        assert client.get(f"{BASE}/runs/{run.pk}/results", **headers).status_code == 404
        assert client.get(f"{BASE}/runs/{run.pk}/results.csv", **headers).status_code == 404
        assert client.get(f"{BASE}/surveys/{run.survey_id}/enps", **headers).status_code == 404
        assert client.get(f"{BASE}/surveys", **headers).json() == []


def test_one_on_ones_through_the_api(client, today, manager, rep):
    headers = bearer(manager)
    payload = {"rep_id": rep.pk, "first_meeting_at": "2026-03-02T10:00:00+01:00", "cadence": "weekly"}
    series = client.post(f"{BASE}/one-on-ones", payload, content_type="application/json", **headers).json()
    assert series["duration_minutes"] == 60 and len(series["meetings"]) == 1
    meeting_id = series["meetings"][0]["id"]
    item = client.post(
        f"{BASE}/meetings/{meeting_id}/agenda",
        {"text": "Growth"},
        content_type="application/json",
        **bearer(rep),
    ).json()
    client.post(
        f"{BASE}/meetings/{meeting_id}/agenda",
        {"text": "Targets"},
        content_type="application/json",
        **headers,
    )
    client.patch(f"{BASE}/agenda/{item['id']}", {"is_done": True}, content_type="application/json", **headers)
    action = client.post(
        f"{BASE}/meetings/{meeting_id}/action-items",
        {"text": "Draft plan", "owner_id": rep.pk, "due_on": "2026-03-09"},
        content_type="application/json",
        **headers,
    )
    assert action.status_code == 201
    # No body at all (as `curl -X POST` sends): nothing typed to save.
    following = client.generic("POST", f"{BASE}/meetings/{meeting_id}/complete", b"", **headers).json()
    assert [entry["text"] for entry in following["agenda"]] == ["Targets"]
    assert following["scheduled_at"].startswith("2026-03-09")
    mine = client.get(f"{BASE}/action-items", **bearer(rep)).json()
    assert [entry["text"] for entry in mine] == ["Draft plan"]
    calendar = Calendar.from_ical(
        client.get(f"{BASE}/one-on-ones/{series['id']}/calendar.ics", **headers).content
    )
    assert calendar.walk("VEVENT")[0].decoded("dtstart") == dt.datetime(2026, 3, 9, 9, 0, tzinfo=dt.UTC)


def test_completing_a_meeting_through_the_api_keeps_the_notes_sent_with_it(client, today, manager, rep, rep2):
    from dealflow.people.models import OneOnOneMeeting, PrivateNote

    series = OneOnOneSeriesFactory(manager=manager, rep=rep)
    meeting = series.meetings.get()
    body = {"shared_notes": "Agreed: two demos a week.", "private_note": "Seems tired; ask about workload."}
    answer = client.post(
        f"{BASE}/meetings/{meeting.pk}/complete", body, content_type="application/json", **bearer(manager)
    )
    assert answer.status_code == 200, answer.content
    held = OneOnOneMeeting.objects.get(pk=meeting.pk)
    assert held.is_completed and held.shared_notes == "Agreed: two demos a week."
    assert PrivateNote.objects.get(meeting=held, author=manager).text == "Seems tired; ask about workload."
    assert answer.json()["id"] != meeting.pk  # the next meeting

    # A body that is not notes is refused, naming the field, and holds nothing.
    second = OneOnOneSeriesFactory(manager=manager, rep=rep2).meetings.get()
    refused = client.post(
        f"{BASE}/meetings/{second.pk}/complete",
        {"shared_notes": ["not", "text"]},
        content_type="application/json",
        **bearer(manager),
    )
    assert refused.status_code in (400, 422) and "shared_notes" in refused.content.decode()
    assert not OneOnOneMeeting.objects.get(pk=second.pk).is_completed


def test_one_on_ones_are_404_for_others(client, today, manager, rep, rep2):
    series = OneOnOneSeriesFactory(manager=manager, rep=rep)
    meeting = series.meetings.get()
    headers = bearer(rep2)
    assert client.get(f"{BASE}/one-on-ones/{series.pk}", **headers).status_code == 404
    assert client.get(f"{BASE}/meetings/{meeting.pk}", **headers).status_code == 404
    assert (
        client.post(
            f"{BASE}/meetings/{meeting.pk}/agenda", {"text": "x"}, content_type="application/json", **headers
        ).status_code
        == 404
    )
    payload = {"rep_id": rep2.pk, "first_meeting_at": "2026-03-02T10:00:00+01:00"}
    assert (
        client.post(
            f"{BASE}/one-on-ones", payload, content_type="application/json", **bearer(rep)
        ).status_code
        == 400
    )


@pytest.mark.parametrize("junk", [[1, 2], {"a": 1}, True, "7.5", 10**12, None])
def test_hostile_answers_are_a_400_never_a_500(client, run, sales_team, junk):
    values = {str(key): value for key, value in answer_values(run).items()}
    enps_id = str(run.survey.questions.get(kind="enps").pk)
    text_id = str(run.survey.questions.get(kind="text").pk)
    headers = bearer(sales_team[0])
    for target in (enps_id, text_id):
        if target == text_id and (junk is None or isinstance(junk, str)):
            continue  # an empty or textual answer to the optional free-text question is fine
        payload = {"answers": {**values, target: junk}}
        response = client.post(
            f"{BASE}/runs/{run.pk}/responses", payload, content_type="application/json", **headers
        )
        assert response.status_code == 400, response.content
        assert response.json()["field"] == f"question_{target}"
    assert SurveyResponse.objects.count() == 0
