"""Background jobs of pipeline reviews (django-tasks); ReviewsConfig.ready() registers them as periodic."""

from __future__ import annotations

from django_tasks import task

from dealflow.reviews import services


@task()
def reviews_start_due() -> int:
    """Start this week's review of every weekly series that is due; returns how many started."""
    return len(services.reviews_start_due())
