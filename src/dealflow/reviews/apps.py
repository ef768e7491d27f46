import datetime as dt

from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "dealflow.reviews"
    label = "reviews"
    verbose_name = "Pipeline reviews"

    def ready(self) -> None:
        from dealflow.core.schedule import periodic_register

        # Checked hourly; a series starts its next review once a week has passed since the last one.
        periodic_register(
            name="reviews.start_due",
            task_path="dealflow.reviews.tasks.reviews_start_due",
            every=dt.timedelta(hours=1),
        )
