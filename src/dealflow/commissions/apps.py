from django.apps import AppConfig


class CommissionsConfig(AppConfig):
    name = "dealflow.commissions"
    label = "commissions"
    verbose_name = "Commissions"

    def ready(self) -> None:
        from dealflow.commissions.services import credits
        from dealflow.commissions.tasks import register

        register()
        credits.register()
