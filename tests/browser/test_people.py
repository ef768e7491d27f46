"""Team pulse in a real browser: a manager builds a survey, reps answer it, results appear at five answers."""

from __future__ import annotations

import pytest

from dealflow.accounts.models import Role

pytestmark = pytest.mark.browser

# eNPS answers of the five reps: 10, 9, 9 promote, 7 is passive, 3 detracts -> 60 % - 20 % = +40.
SCORES = [10, 9, 9, 7, 3]


@pytest.fixture
def reps(team):
    from dealflow.accounts.tests.factories import MembershipFactory, UserFactory

    people = []
    for number in range(1, 7):
        user = UserFactory(username=f"seller{number}", first_name="Seller", last_name=str(number))
        MembershipFactory(user=user, team=team, role=Role.REP)
        people.append(user)
    return people


def _answer(signed_in_page, user, run, questions, score: int) -> None:
    page = signed_in_page(user, path="/people/")
    page.click(f'a[href="/people/runs/{run.pk}/answer/"]')
    page.check(f'input[name="question_{questions["enps"].pk}"][value="{score}"]')
    page.check(f'input[name="question_{questions["workload"].pk}"][value="4"]')
    page.fill(f'textarea[name="question_{questions["improve"].pk}"]', f"Idea number {score}")
    page.click("[data-answer-form] button[type=submit]")
    page.wait_for_url("**/people/")
    assert "anonymously" in page.locator(".messages").inner_text()
    page.context.close()


def test_manager_creates_a_survey_reps_answer_and_results_show_at_five(
    signed_in_page, manager, team, reps, screenshot
):
    from dealflow.people.models import Survey

    page = signed_in_page(manager, path="/people/")
    page.click("text=New survey")
    page.fill("#id_title", "Spring pulse")
    page.check(f'input[name="teams"][value="{team.pk}"]')
    for key in ("enps", "workload", "improve"):
        page.check(f'input[name="library"][value="{key}"]')
    page.click("[data-survey-form] button[type=submit]")
    page.wait_for_url("**/people/surveys/*/")
    assert page.locator("h1").inner_text() == "Spring pulse"
    assert "0 / 6" in page.locator("[data-run]").inner_text()

    survey = Survey.objects.get(title="Spring pulse")
    run = survey.runs.get()
    questions = {question.library_key: question for question in survey.questions.all()}

    for user, score in zip(reps[:4], SCORES[:4], strict=True):
        _answer(signed_in_page, user, run, questions, score)
    page.goto(f"/people/runs/{run.pk}/results/")
    # Four answers wait sealed for the fifth: nothing about them shows, not even their count.
    assert page.locator("[data-answered]").inner_text() == "0 / 6"
    hidden = page.locator("[data-results-hidden]")
    assert "batches of at least 5" in hidden.inner_text()
    assert page.locator("[data-enps]").count() == 0
    assert page.locator("[data-export]").count() == 0
    assert "Idea number" not in page.content()

    _answer(signed_in_page, reps[4], run, questions, SCORES[4])
    page.reload()
    assert page.locator("[data-answered]").inner_text() == "5 / 6"
    assert page.locator("[data-enps]").inner_text() == "+40"
    assert page.locator("[data-enps-shares]").inner_text() == "60% · 20% · 20%"
    assert page.locator("[data-results-hidden]").count() == 0
    assert page.locator(".free-text li").count() == 5
    screenshot(page, "people-results")

    page.click("text=eNPS trend")
    page.wait_for_url("**/enps/")
    assert (
        "+40" in page.locator("[data-enps-trend]").inner_text()
        or "40" in page.locator("[data-enps-trend]").inner_text()
    )
    page.wait_for_selector("[data-plotly-rendered]")


def test_a_rep_cannot_open_the_results(signed_in_page, manager, team, reps):
    from dealflow.people import services

    survey = services.survey_create(
        title="Hidden", teams=[team], questions=[services.QuestionSpec(library_key="enps")], by=manager
    )
    run = survey.runs.get()
    page = signed_in_page(reps[0])
    response = page.goto(f"/people/runs/{run.pk}/results/")
    assert response.status == 404


def test_one_on_one_agenda_carries_over_and_action_items_reach_my_activities(
    signed_in_page, manager, rep, screenshot
):
    page = signed_in_page(manager, path="/people/one-on-ones/")
    page.select_option("#id_rep", str(rep.pk))
    page.fill("#id_first_meeting_at", "2026-03-02T10:00")
    page.select_option("#id_cadence", "biweekly")
    page.click("[data-series-form] button[type=submit]")
    page.wait_for_url("**/people/one-on-ones/*/")
    page.click("[data-next-meeting]")
    page.wait_for_url("**/people/meetings/*/")

    for topic in ("Q2 targets", "Training budget"):
        page.fill("#agenda-text", topic)
        page.click("#meeting-agenda button:has-text('Add')")
        page.wait_for_selector(f"#meeting-agenda li:has-text('{topic}')")
    page.click("#meeting-agenda li:has-text('Q2 targets') button")
    page.wait_for_selector("#meeting-agenda li.is-done:has-text('Q2 targets')")
    page.fill("#id_text", "Book the negotiation course")
    page.select_option("#id_owner", str(rep.pk))
    page.click("#meeting-actions button:has-text('Add')")
    page.wait_for_selector("#meeting-actions li:has-text('Book the negotiation course')")
    page.fill("textarea[name=text] >> nth=1", "Private: ready for a bigger territory")
    page.click("text=Save private notes")
    screenshot(page, "people-meeting")

    page.click("[data-complete]")
    page.wait_for_selector("text=Meeting held")
    agenda = page.locator("#meeting-agenda").inner_text()
    assert "Training budget" in agenda and "carried over" in agenda and "Q2 targets" not in agenda

    rep_page = signed_in_page(rep, path="/activities/")
    rep_page.wait_for_selector("[data-people-action-items] li:has-text('Book the negotiation course')")
    rep_page.click("[data-people-action-items] li button")
    rep_page.wait_for_selector("text=No open action items from one-on-ones.")
    rep_page.goto(page.url)
    assert "bigger territory" not in rep_page.content()
