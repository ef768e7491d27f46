import datetime as dt

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "dealflow.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from dealflow.core.schedule import periodic_register

        # The watch reads what happened since its last pass (events, notes, leads) and what fell due; the
        # worker's scheduler tick (60 s by default, `dealflow worker --tick`) sets how soon a bell rings.
        periodic_register(
            name="notifications.watch",
            task_path="dealflow.notifications.tasks.notifications_watch",
            every=dt.timedelta(seconds=30),
        )
        periodic_register(
            name="notifications.digests",
            task_path="dealflow.notifications.tasks.notifications_digests",
            every=dt.timedelta(minutes=30),
        )
