"""Results behind the anonymity threshold: visibility, worked numbers, team filters, trend, access."""

import datetime as dt

import pytest
from django.http import Http404
from django.test import override_settings

from dealflow.core.errors import ApplicationError
from dealflow.people import selectors, services
from dealflow.people.tests.factories import SurveyFactory, answer_values, responses_publish_directly

FEBRUARY = dt.date(2026, 2, 2)


def answer_all(run, users, *, enps, workload=None, choice=None, text=None, today=None):
    for index, user in enumerate(users):
        values = answer_values(
            run,
            enps=enps[index],
            workload=workload[index] if workload else 3,
            choice=choice[index] if choice else 0,
            text=text[index] if text else "",
        )
        services.survey_response_submit(run=run, user=user, answers=values, today=today)


def by_kind(results, kind):
    return next(item for item in results.questions if item.question.kind == kind)


def test_four_answers_show_nothing(run, manager, sales_team):
    answer_all(run, sales_team[:4], enps=[10, 10, 10, 10], text=["a", "b", "c", "d"])
    results = selectors.survey_run_results_for_user(run_id=run.pk, user=manager)
    assert not results.is_visible
    assert (results.invited, results.answered, results.response_rate) == (6, 0, 0.0)  # four wait sealed
    assert results.questions == [] and results.enps is None and results.teams == []
    assert "batches of at least 5" in results.hidden_reason


def test_five_answers_show_the_worked_numbers(run, manager, sales_team):
    answer_all(
        run,
        sales_team[:5],
        enps=[10, 9, 9, 7, 3],
        workload=[5, 4, 4, 2, 3],
        choice=[0, 0, 1, 0, 1],
        text=["More leads", "Better CRM", "Fewer meetings", "Quieter office", "Coffee"],
    )
    results = selectors.survey_run_results_for_user(run_id=run.pk, user=manager)
    assert results.is_visible
    assert (results.answered, results.response_rate) == (5, 83.3)
    # 3 promoters (10, 9, 9), 1 passive (7), 1 detractor (3): 60 % - 20 % = +40.
    assert (results.enps.promoters, results.enps.passives, results.enps.detractors) == (3, 1, 1)
    assert results.enps.score == 40.0
    workload = by_kind(results, "agreement")
    assert workload.mean == 3.6  # (5 + 4 + 4 + 2 + 3) / 5
    assert [(bar.value, bar.count, bar.share) for bar in workload.bars] == [
        (1, 0, 0.0),
        (2, 1, 20.0),
        (3, 1, 20.0),
        (4, 2, 40.0),
        (5, 1, 20.0),
    ]
    choice = by_kind(results, "choice")
    assert [(bar.label, bar.count, bar.share) for bar in choice.bars] == [
        ("Monday", 3, 60.0),
        ("Friday", 2, 40.0),
    ]
    assert choice.mean is None
    text = by_kind(results, "text")
    assert text.texts == sorted(["More leads", "Better CRM", "Fewer meetings", "Quieter office", "Coffee"])


def test_free_text_needs_the_threshold_of_its_own(run, manager, sales_team):
    answer_all(run, sales_team[:5], enps=[8] * 5, text=["one", "two", "three", "four", ""])
    results = selectors.survey_run_results_for_user(run_id=run.pk, user=manager)
    text = by_kind(results, "text")
    assert results.is_visible and not text.is_visible
    assert text.texts == [] and text.count == 4


def test_comparison_with_the_previous_run(survey, manager, sales_team):
    earlier = services.survey_run_open(survey=survey, opens_on=FEBRUARY, notify=False)
    answer_all(earlier, sales_team[:5], enps=[10] * 5, workload=[3] * 5, today=FEBRUARY)
    run = survey.runs.get(opens_on=dt.date(2026, 3, 2))
    answer_all(run, sales_team[:5], enps=[10, 9, 9, 7, 3], workload=[5, 4, 4, 2, 3])
    results = selectors.survey_run_results_for_user(run_id=run.pk, user=manager)
    workload = by_kind(results, "agreement")
    assert (workload.previous_mean, workload.change) == (3.0, 0.6)
    assert results.previous_run == earlier
    assert results.previous_enps.score == 100.0


def test_previous_run_below_the_threshold_is_not_compared(survey, manager, sales_team):
    earlier = services.survey_run_open(survey=survey, opens_on=FEBRUARY, notify=False)
    answer_all(earlier, sales_team[:4], enps=[10] * 4, today=FEBRUARY)
    run = survey.runs.get(opens_on=dt.date(2026, 3, 2))
    answer_all(run, sales_team[:5], enps=[10] * 5)
    results = selectors.survey_run_results_for_user(run_id=run.pk, user=manager)
    assert results.previous_enps is None
    assert by_kind(results, "agreement").previous_mean is None


@override_settings(DEALFLOW={"SURVEY_ANONYMITY_THRESHOLD": 2})
def test_threshold_setting_never_goes_below_three(run, manager, sales_team):
    answer_all(run, sales_team[:2], enps=[10, 10])
    assert not selectors.survey_run_results_for_user(run_id=run.pk, user=manager).is_visible
    answer_all(run, sales_team[2:3], enps=[10])
    assert selectors.survey_run_results_for_user(run_id=run.pk, user=manager).is_visible


@override_settings(DEALFLOW={"SURVEY_ANONYMITY_THRESHOLD": 6})
def test_threshold_setting_can_be_raised(run, manager, sales_team):
    answer_all(run, sales_team[:5], enps=[10] * 5)
    results = selectors.survey_run_results_for_user(run_id=run.pk, user=manager)
    assert not results.is_visible and results.threshold == 6


@pytest.fixture
def two_team_run(today, manager, team, sales_team, second_team):
    north, north_reps = second_team
    survey = SurveyFactory(by=manager, teams=[team, north], starts_on=today)
    return survey.runs.get(), north, north_reps


def test_team_filter_when_both_sides_are_large_enough(two_team_run, manager, sales_team, team):
    run, north, north_reps = two_team_run
    answer_all(run, north_reps, enps=[10, 10, 10, 10, 0])  # (4 - 1) / 5 = +60
    answer_all(run, sales_team[:5], enps=[0, 0, 0, 8, 9])  # (1 - 3) / 5 = -40
    whole = selectors.survey_run_results_for_user(run_id=run.pk, user=manager)
    assert whole.enps.score == 10.0  # (5 - 4) / 10
    assert {row.team.name: row.enps.score for row in whole.teams} == {"Benelux": -40.0, "North": 60.0}
    assert {row.team.name: row.response_rate for row in whole.teams} == {"Benelux": 83.3, "North": 100.0}
    north_only = selectors.survey_run_results_for_user(run_id=run.pk, user=manager, team_id=north.pk)
    assert (north_only.invited, north_only.answered, north_only.enps.score) == (5, 5, 60.0)
    assert north_only.teams == []


def test_team_filter_refused_when_the_rest_would_be_exposed(two_team_run, manager, sales_team, team):
    run, north, north_reps = two_team_run
    answer_all(run, north_reps, enps=[10] * 5)
    responses_publish_directly(run, team=team, scores=[0])
    whole = selectors.survey_run_results_for_user(run_id=run.pk, user=manager)
    assert whole.is_visible and whole.answered == 6
    # North alone (5) next to the whole (6) would give away the one Benelux answer.
    with pytest.raises(ApplicationError, match="narrow the results below 5") as error:
        selectors.survey_run_results_for_user(run_id=run.pk, user=manager, team_id=north.pk)
    assert error.value.field == "team"
    with pytest.raises(ApplicationError):
        selectors.survey_run_results_for_user(run_id=run.pk, user=manager, team_id=team.pk)
    assert all(row.enps is None for row in whole.teams)


def test_team_filter_refused_below_the_threshold(two_team_run, manager, sales_team):
    run, north, north_reps = two_team_run
    answer_all(run, north_reps[:4], enps=[10] * 4)
    answer_all(run, sales_team[:5], enps=[10] * 5)
    with pytest.raises(ApplicationError):
        selectors.survey_run_results_for_user(run_id=run.pk, user=manager, team_id=north.pk)


def test_team_filter_must_be_a_managed_team_of_the_survey(run, manager, other_team, admin_user):
    with pytest.raises(ApplicationError, match="teams that you manage"):
        selectors.survey_run_results_for_user(run_id=run.pk, user=manager, team_id=other_team.pk)
    with pytest.raises(ApplicationError):
        selectors.survey_run_results_for_user(run_id=run.pk, user=admin_user, team_id=other_team.pk)


def test_results_are_for_managers_of_the_survey_and_admins_only(
    run, manager, rep, outsider, admin_user, analyst, sales_team
):
    answer_all(run, sales_team[:5], enps=[10] * 5)
    for user in (rep, outsider, analyst, sales_team[0]):
        with pytest.raises(Http404):
            selectors.survey_run_results_for_user(run_id=run.pk, user=user)
        with pytest.raises(Http404):
            selectors.survey_get_for_user(survey_id=run.survey_id, user=user)
    assert selectors.survey_run_results_for_user(run_id=run.pk, user=admin_user).is_visible
    assert selectors.survey_run_results_for_user(run_id=run.pk, user=manager).is_visible


def test_a_manager_of_another_team_sees_nothing(run, outsider, other_team):
    from dealflow.accounts.models import Role
    from dealflow.accounts.tests.factories import MembershipFactory, UserFactory

    boss = UserFactory(username="otherboss")
    MembershipFactory(user=boss, team=other_team, role=Role.MANAGER)
    assert not selectors.survey_list_for_user(user=boss).exists()
    with pytest.raises(Http404):
        selectors.survey_run_results_for_user(run_id=run.pk, user=boss)


def test_run_list_counts_answers_but_never_names(survey, run, manager, sales_team):
    answer_all(run, sales_team[:2], enps=[9, 9])
    rows = selectors.survey_run_list_for_user(survey_id=survey.pk, user=manager)
    assert [(row.invited, row.answered, row.response_rate) for row in rows] == [(6, 0, 0.0)]  # sealed
    answer_all(run, sales_team[2:5], enps=[9, 9, 9])
    rows = selectors.survey_run_list_for_user(survey_id=survey.pk, user=manager)
    assert [(row.invited, row.answered, row.response_rate) for row in rows] == [(6, 5, 83.3)]


def test_enps_trend_over_runs_hides_runs_below_the_threshold(survey, manager, sales_team):
    january = services.survey_run_open(survey=survey, opens_on=dt.date(2026, 1, 2), notify=False)
    answer_all(january, sales_team[:5], enps=[10] * 5, today=dt.date(2026, 1, 3))
    february = services.survey_run_open(survey=survey, opens_on=FEBRUARY, notify=False)
    answer_all(february, sales_team[:4], enps=[0] * 4, today=FEBRUARY)
    march = survey.runs.get(opens_on=dt.date(2026, 3, 2))
    # The first five form a batch: (3 - 0) / 5 = +60; the sixth waits sealed for four more.
    answer_all(march, sales_team, enps=[9, 9, 9, 8, 8, 2])
    trend = selectors.survey_enps_trend_for_user(survey_id=survey.pk, user=manager)
    assert [
        (point.run.opens_on.month, point.enps.score if point.enps else None) for point in trend.points
    ] == [
        (1, 100.0),
        (2, None),
        (3, 60.0),
    ]
    assert [point.response_rate for point in trend.points] == [83.3, 0.0, 83.3]


def test_enps_trend_per_team(two_team_run, manager, sales_team):
    run, north, north_reps = two_team_run
    answer_all(run, north_reps, enps=[10, 10, 10, 10, 0])
    answer_all(run, sales_team[:5], enps=[0] * 5)
    trend = selectors.survey_enps_trend_for_user(survey_id=run.survey_id, user=manager, team_id=north.pk)
    assert [point.enps.score for point in trend.points] == [60.0]
    with pytest.raises(ApplicationError):
        selectors.survey_enps_trend_for_user(survey_id=run.survey_id, user=manager, team_id=999999)


def test_pending_invitations_are_the_in_app_notice(run, sales_team, manager):
    respondent = sales_team[0]
    assert [invitation.run for invitation in selectors.invitation_list_pending_for_user(user=respondent)] == [
        run
    ]
    services.survey_response_submit(run=run, user=respondent, answers=answer_values(run))
    assert not selectors.invitation_list_pending_for_user(user=respondent).exists()
    assert not selectors.invitation_list_pending_for_user(user=manager).exists()
    assert not selectors.invitation_list_pending_for_user(
        user=sales_team[1], today=dt.date(2026, 3, 9)
    ).exists()


def test_results_read_a_fixed_number_of_queries(survey, manager, sales_team, django_assert_num_queries):
    """The query count does not grow with questions, answers or runs (no N+1)."""
    earlier = services.survey_run_open(survey=survey, opens_on=FEBRUARY, notify=False)
    answer_all(earlier, sales_team[:5], enps=[10] * 5, today=FEBRUARY)
    run = survey.runs.get(opens_on=dt.date(2026, 3, 2))
    answer_all(run, sales_team, enps=[9, 9, 9, 8, 8, 2], text=["a", "b", "c", "d", "e", "f"])
    manager_fresh = type(manager).objects.get(pk=manager.pk)
    with django_assert_num_queries(17):
        results = selectors.survey_run_results_for_user(run_id=run.pk, user=manager_fresh)
    assert results.is_visible and len(results.questions) == 4
    with django_assert_num_queries(8):
        trend = selectors.survey_enps_trend_for_user(survey_id=survey.pk, user=manager_fresh)
    assert len(trend.points) == 2
