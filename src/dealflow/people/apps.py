import datetime as dt

from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "dealflow.people"
    label = "people"
    verbose_name = "Team pulse"

    def ready(self) -> None:
        from dealflow.core.schedule import periodic_register

        periodic_register(
            name="people.survey_runs_open",
            task_path="dealflow.people.tasks.survey_runs_open_due",
            every=dt.timedelta(hours=1),
        )
        periodic_register(
            name="people.survey_runs_remind",
            task_path="dealflow.people.tasks.survey_runs_remind_due",
            every=dt.timedelta(hours=1),
        )
        periodic_register(
            name="people.survey_runs_publish",
            task_path="dealflow.people.tasks.survey_runs_publish_closed",
            every=dt.timedelta(hours=1),
        )
