"""The Team pulse demo data: a year of monthly runs per team, plausible eNPS, one-on-ones, determinism."""

import datetime as dt
import io

from dealflow.accounts.models import Role
from dealflow.accounts.tests.factories import MembershipFactory, UserFactory
from dealflow.demo import people as demo_people
from dealflow.people import selectors
from dealflow.people.models import (
    ActionItem,
    OneOnOneSeries,
    Survey,
    SurveyAnswer,
    SurveyInvitation,
    SurveyResponse,
)

TODAY = dt.date(2026, 3, 18)


def _fingerprint():
    return (
        sorted(SurveyAnswer.objects.values_list("question__library_key", "number", "text")),
        sorted(SurveyResponse.objects.values_list("id", flat=True)),
        sorted(ActionItem.objects.values_list("text", "due_on")),
    )


def test_demo_pulse_and_one_on_ones(team, manager, admin_user, other_team, time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 18, 12, tzinfo=dt.UTC), tick=False)
    for number in range(10):
        MembershipFactory(user=UserFactory(username=f"demo{number}"), team=team, role=Role.REP)
    out = io.StringIO()
    demo_people.seed(seed=7, today=TODAY, stdout=out)
    assert "24 survey runs" in out.getvalue()  # the company pulse and Benelux's own (10 reps)

    assert Survey.objects.get(title="Company pulse").teams.count() == 2
    survey = Survey.objects.get(title="Team pulse · Benelux")
    runs = list(survey.runs.order_by("opens_on"))
    assert len(runs) == 12 and runs[0].opens_on.year == 2025 and runs[-1].opens_on.month == 3
    for run in runs:
        answered = SurveyInvitation.objects.filter(run=run, is_answered=True).count()
        assert SurveyResponse.objects.filter(run=run).count() == answered
    trend = selectors.survey_enps_trend_for_user(survey_id=survey.pk, user=manager)
    scores = [point.enps.score for point in trend.points if point.enps]
    assert len(scores) >= 9  # most months reach the threshold with 10 reps
    assert all(-100 <= score <= 100 for score in scores)
    assert max(scores) - min(scores) < 120  # a trend, not noise from end to end

    series = OneOnOneSeries.objects.filter(manager=manager)
    assert series.count() == 10
    assert all(3 <= item.meetings.filter(completed_at__isnull=False).count() <= 5 for item in series)
    assert all(item.meetings.filter(completed_at__isnull=True).count() == 1 for item in series)
    assert ActionItem.objects.filter(done_at__isnull=True).exists()

    first = _fingerprint()
    Survey.objects.all().delete()
    OneOnOneSeries.objects.all().delete()
    demo_people.seed(seed=7, today=TODAY, stdout=None)
    assert _fingerprint() == first
