import datetime as dt

from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "dealflow.automation"
    label = "automation"
    verbose_name = "Automation and webhooks"

    def ready(self) -> None:
        from dealflow.core.schedule import periodic_register

        # The dispatch reads new DealEvents, leads and done activities, runs the rules and queues webhook
        # deliveries, then enqueues a delivery run; the delivery job also runs alone for retries that fall due.
        periodic_register(
            name="automation.dispatch",
            task_path="dealflow.automation.tasks.automation_dispatch",
            every=dt.timedelta(seconds=10),
        )
        periodic_register(
            name="automation.deliver",
            task_path="dealflow.automation.tasks.webhooks_deliver",
            every=dt.timedelta(seconds=10),
        )
