"""The team pulse pages: builder, answering, thresholded results and CSV, eNPS trend, one-on-ones."""

import csv
import datetime as dt
import io

from django.urls import reverse
from icalendar import Calendar

from dealflow.people import services
from dealflow.people.models import SealedResponse, Survey, SurveyResponse
from dealflow.people.tests.factories import (
    OneOnOneSeriesFactory,
    answer_values,
    responses_publish_directly,
)

MONDAY_TEN = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def answer_many(run, users, scores):
    for user, score in zip(users, scores, strict=True):
        services.survey_response_submit(
            run=run, user=user, answers=answer_values(run, enps=score, text=f"note {score}")
        )


def test_home_lists_pending_surveys_and_the_managers_surveys(client, run, manager, sales_team):
    client.force_login(sales_team[0])
    page = client.get(reverse("web:people_home")).content.decode()
    assert reverse("web:people_answer", args=[run.pk]) in page
    assert reverse("web:people_survey_new") not in page
    client.force_login(manager)
    page = client.get(reverse("web:people_home")).content.decode()
    assert reverse("web:people_survey", args=[run.survey_id]) in page
    assert reverse("web:people_survey_new") in page


def test_builder_creates_a_survey_and_opens_its_first_run(client, today, manager, team, sales_team):
    client.force_login(manager)
    assert client.get(reverse("web:people_survey_new")).status_code == 200
    data = {
        "title": "March pulse",
        "teams": [team.pk],
        "cadence": "monthly",
        "starts_on": "2026-03-02",
        "open_days": "7",
        "library": ["enps", "workload"],
        "custom_kind_1": "choice",
        "custom_text_1": "Favourite lead source?",
        "custom_choices_1": "Website\nReferral\n",
    }
    response = client.post(reverse("web:people_survey_new"), data)
    survey = Survey.objects.get(title="March pulse")
    assert response.status_code == 302 and response["Location"] == reverse(
        "web:people_survey", args=[survey.pk]
    )
    assert [question.kind for question in survey.questions.order_by("position")] == [
        "enps",
        "agreement",
        "choice",
    ]
    assert survey.questions.get(kind="choice").choices == ["Website", "Referral"]
    assert survey.runs.get().invitations.count() == 6


def test_builder_shows_the_ten_question_limit(client, today, manager, team):
    client.force_login(manager)
    data = {
        "title": "Too long",
        "teams": [team.pk],
        "cadence": "monthly",
        "starts_on": "2026-03-02",
        "open_days": "7",
        "library": [  # all nine ready questions
            "enps",
            "workload",
            "workload_hours",
            "recognition",
            "tools",
            "tools_blocker",
            "manager_support",
            "growth",
            "improve",
        ],
        "custom_kind_1": "rating",
        "custom_text_1": "Energy?",
        "custom_kind_2": "text",
        "custom_text_2": "Anything else?",
    }
    response = client.post(reverse("web:people_survey_new"), data)
    assert response.status_code == 200
    assert "A survey holds at most 10 questions; this one has 11. Remove 1." in response.content.decode()
    assert not Survey.objects.exists()


def test_reps_cannot_open_the_builder(client, rep):
    client.force_login(rep)
    assert client.get(reverse("web:people_survey_new")).status_code == 404


def test_answer_page_takes_one_answer(client, run, sales_team):
    respondent = sales_team[0]
    client.force_login(respondent)
    url = reverse("web:people_answer", args=[run.pk])
    page = client.get(url).content.decode()
    assert "How likely is it that you would recommend this company" in page
    posted = {f"question_{key}": value for key, value in answer_values(run, enps=9).items()}
    wrong = {**posted, f"question_{run.survey.questions.get(kind='enps').pk}": ""}
    response = client.post(url, wrong)
    assert response.status_code == 400 and "Please answer" in response.content.decode()
    assert client.post(url, posted).status_code == 302
    assert SealedResponse.objects.count() == 1
    assert "You have answered this survey" in client.get(url).content.decode()
    client.post(url, posted)
    assert SealedResponse.objects.count() == 1 and not SurveyResponse.objects.exists()


def test_answer_page_is_404_for_those_not_invited(client, run, manager, outsider):
    for user in (manager, outsider):
        client.force_login(user)
        assert client.get(reverse("web:people_answer", args=[run.pk])).status_code == 404


def test_results_page_csv_and_trend_stay_hidden_with_four_answers(client, run, manager, sales_team):
    answer_many(run, sales_team[:4], [10, 10, 10, 10])
    client.force_login(manager)
    page = client.get(reverse("web:people_results", args=[run.pk])).content.decode()
    assert (
        "Answers are shown in batches of at least 5, so that no answer can be traced to one person; 0 are shown so far."
        in page
    )
    assert "data-enps>" not in page and "note 10" not in page and "data-question-result" not in page
    assert reverse("web:people_results_csv", args=[run.pk]) not in page
    export = client.get(reverse("web:people_results_csv", args=[run.pk]))
    assert export.status_code == 302 and export["Content-Type"].startswith("text/html")
    trend = client.get(reverse("web:people_enps", args=[run.survey_id])).content.decode()
    assert "too few answers to show" in trend and "100%" not in trend


def test_results_page_and_csv_with_five_answers(client, run, manager, sales_team):
    answer_many(run, sales_team[:5], [10, 9, 9, 8, 2])  # 3 promoters, 1 passive, 1 detractor: +40
    client.force_login(manager)
    page = client.get(reverse("web:people_results", args=[run.pk])).content.decode()
    assert "data-enps>+40</div>" in page
    assert "60% · 20% · 20%" in page
    assert "note 2" in page and "note 9" in page
    export = client.get(reverse("web:people_results_csv", args=[run.pk]))
    assert export["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert ["enps", "score", "enps", "", "5", "40.0", "", ""] in rows
    assert ["answered", "", "", "", "5", "83.3", "", ""] in rows
    assert all("sales" not in cell for row in rows for cell in row)


def test_results_page_refuses_a_narrowing_team_filter(client, today, manager, team, sales_team, second_team):
    from dealflow.people.tests.factories import SurveyFactory

    north, north_reps = second_team
    run = SurveyFactory(by=manager, teams=[team, north], starts_on=today).runs.get()
    answer_many(run, north_reps, [10] * 5)
    responses_publish_directly(run, team=team, scores=[0])
    client.force_login(manager)
    response = client.get(reverse("web:people_results", args=[run.pk]), {"team": north.pk})
    assert response.status_code == 400
    assert "this filter is not available" in response.content.decode()
    assert client.get(reverse("web:people_results_csv", args=[run.pk]), {"team": north.pk}).status_code == 302


def test_results_pages_are_404_for_reps_and_outsiders(client, run, rep, outsider, sales_team):
    answer_many(run, sales_team[:5], [10] * 5)
    for user in (rep, outsider, sales_team[0]):
        client.force_login(user)
        for name in ("web:people_results", "web:people_results_csv"):
            assert client.get(reverse(name, args=[run.pk])).status_code == 404
        assert client.get(reverse("web:people_enps", args=[run.survey_id])).status_code == 404
        assert client.get(reverse("web:people_survey", args=[run.survey_id])).status_code == 404


def test_one_on_one_pages(client, today, manager, rep):
    client.force_login(manager)
    response = client.post(
        reverse("web:people_one_on_ones"),
        {
            "rep": rep.pk,
            "first_meeting_at": "2026-03-02T10:00",
            "cadence": "biweekly",
            "duration_minutes": "60",
        },
    )
    series = rep.one_on_ones.get()
    assert response["Location"] == reverse("web:people_series", args=[series.pk])
    meeting = series.meetings.get()
    client.post(reverse("web:people_agenda_add", args=[meeting.pk]), {"text": "Coaching"})
    partial = client.post(
        reverse("web:people_agenda_add", args=[meeting.pk]), {"text": "Targets"}, HTTP_HX_REQUEST="true"
    )
    assert partial.status_code == 200 and 'id="meeting-agenda"' in partial.content.decode()
    assert "<html" not in partial.content.decode()
    coaching = meeting.agenda.get(text="Coaching")
    client.post(reverse("web:people_agenda_toggle", args=[coaching.pk]), {"is_done": "1"})
    client.post(
        reverse("web:people_action_add", args=[meeting.pk]),
        {"text": "Send report", "owner": rep.pk, "due_on": "2026-03-01"},
    )
    response = client.post(reverse("web:people_meeting_complete", args=[meeting.pk]))
    following = series.meetings.get(completed_at__isnull=True)
    assert response["Location"] == reverse("web:people_meeting", args=[following.pk])
    assert list(following.agenda.values_list("text", flat=True)) == ["Targets"]

    client.force_login(rep)
    page = client.get(reverse("web:people_meeting", args=[meeting.pk])).content.decode()
    assert "Send report" in page and "Coaching" in page
    items = client.get(reverse("web:people_action_items")).content.decode()
    assert "Send report" in items and "overdue" in items and "<html" not in items
    item = rep.action_items.get()
    done = client.post(
        reverse("web:people_action_toggle", args=[item.pk]),
        {"is_done": "1", "from": "activities"},
        HTTP_HX_REQUEST="true",
    )
    assert "Send report" not in done.content.decode()
    ics = client.get(reverse("web:people_series_ics", args=[series.pk]))
    assert ics["Content-Type"].startswith("text/calendar")
    assert Calendar.from_ical(ics.content).walk("VEVENT")[0]["rrule"]["INTERVAL"] == [2]
    ics = client.get(reverse("web:people_meeting_ics", args=[following.pk]))
    assert len(Calendar.from_ical(ics.content).walk("VEVENT")) == 1


def test_one_on_one_pages_are_404_for_others(client, today, manager, rep, rep2, outsider):
    series = OneOnOneSeriesFactory(manager=manager, rep=rep, first_meeting_at=MONDAY_TEN)
    meeting = series.meetings.get()
    for user in (rep2, outsider):
        client.force_login(user)
        assert client.get(reverse("web:people_series", args=[series.pk])).status_code == 404
        assert client.get(reverse("web:people_meeting", args=[meeting.pk])).status_code == 404
        assert (
            client.post(reverse("web:people_agenda_add", args=[meeting.pk]), {"text": "x"}).status_code == 404
        )
        assert client.get(reverse("web:people_meeting_ics", args=[meeting.pk])).status_code == 404


def test_home_reads_the_latest_runs_in_a_fixed_number_of_queries(client, today, manager, team, sales_team):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dealflow.people.tests.factories import SurveyFactory

    client.force_login(manager)
    counts = []
    for number in range(4):
        SurveyFactory(by=manager, teams=[team], starts_on=today, title=f"Pulse {number}")
        with CaptureQueriesContext(connection) as queries:
            page = client.get(reverse("web:people_home")).content.decode()
        counts.append(len(queries))
    assert page.count("Last run") == 4 and "0 of 6 answered" in page
    assert len(set(counts[1:])) == 1, counts  # a survey more costs no query more
