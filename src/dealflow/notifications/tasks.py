"""Background jobs of the notifications app (django-tasks); NotificationsConfig.ready() schedules them."""

from __future__ import annotations

from django_tasks import task


@task()
def notifications_watch() -> dict[str, int]:
    """One pass of the watch: assignments, mentions, new leads and reviews, what fell due."""
    from dealflow.notifications.watch import watch_pass

    return watch_pass()


@task()
def notifications_digests() -> dict[str, int]:
    """Send the daily and weekly digests that are due."""
    from dealflow.notifications.digests import digests_send_due

    return digests_send_due()
