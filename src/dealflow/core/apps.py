from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "dealflow.core"
    label = "core"

    def ready(self) -> None:
        from dealflow.core.statistics import analyse_new_indexes

        # Once per migrate (the core app's signal), after every app's migrations: new indexes get statistics.
        post_migrate.connect(analyse_new_indexes, sender=self, dispatch_uid="core.analyse_new_indexes")
