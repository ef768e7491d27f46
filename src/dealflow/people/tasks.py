"""Background jobs of the people app (django-tasks); PeopleConfig.ready() registers them as periodic."""

from __future__ import annotations

from django_tasks import task

from dealflow.people import services


@task()
def survey_runs_open_due() -> int:
    """Open the survey runs that fall due today and invite their teams; returns how many opened."""
    return len(services.survey_runs_open_due())


@task()
def survey_runs_remind_due() -> int:
    """Send the one reminder of each run on its second-to-last day; returns how many runs were reminded."""
    return len(services.survey_runs_remind_due())
