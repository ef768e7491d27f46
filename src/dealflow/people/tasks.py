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


@task()
def survey_run_invitations_send(run_id: int) -> int:
    """E-mail a new run's invitations; returns how many were sent."""
    from dealflow.people.models import SurveyRun

    run = SurveyRun.objects.select_related("survey").filter(pk=run_id).first()
    return services.survey_run_send_mail(run=run, reminder=False) if run else 0


@task()
def survey_runs_publish_closed() -> int:
    """Publish sealed answers that are ready, and pool the rest of closed runs; returns how many were published."""
    return services.survey_runs_publish_closed()
