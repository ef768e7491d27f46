import datetime as dt

from django.apps import AppConfig


class ImportersConfig(AppConfig):
    name = "dealflow.importers"
    label = "importers"

    def ready(self) -> None:
        from dealflow.core.schedule import periodic_register

        periodic_register(
            name="importers.expire_jobs",
            task_path="dealflow.importers.tasks.import_jobs_expire_task",
            every=dt.timedelta(minutes=5),
        )
