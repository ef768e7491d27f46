import datetime as dt

import pytest

from dealflow.people.tests.factories import SurveyFactory, team_with_reps

TODAY = dt.date(2026, 3, 2)  # a Monday


@pytest.fixture
def today(time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False)
    return TODAY


@pytest.fixture
def sales_team(manager, team):
    """The root `team` (Benelux, managed by `manager`) plus six more reps: sales1..sales6."""
    from dealflow.accounts.models import Role
    from dealflow.accounts.tests.factories import MembershipFactory, UserFactory

    reps = []
    for number in range(1, 7):
        user = UserFactory(username=f"sales{number}")
        MembershipFactory(user=user, team=team, role=Role.REP)
        reps.append(user)
    return reps


@pytest.fixture
def survey(today, manager, team, sales_team):
    return SurveyFactory(by=manager, teams=[team], starts_on=today)


@pytest.fixture
def run(survey):
    return survey.runs.get()


@pytest.fixture
def second_team(manager):
    """Another team `manager` manages, with five reps: north1..north5."""
    return team_with_reps("North", size=5, manager=manager)
