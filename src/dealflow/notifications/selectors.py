"""Reads of the notifications app: a user only ever reads their own notifications and settings."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import Http404

from dealflow.accounts.models import User
from dealflow.notifications.models import (
    DEFAULT_CHANNELS,
    CalendarFeed,
    Channel,
    Notification,
    NotificationKind,
    NotificationPreference,
)


def notification_list_for_user(*, user: User, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's own notifications shown in the app, newest first."""
    notifications = Notification.objects.filter(user=user, is_shown=True)
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications.order_by("-created_at", "-id")


def notification_unread_count(*, user: User) -> int:
    """The number on the bell."""
    return Notification.objects.filter(user=user, is_shown=True, read_at__isnull=True).count()


def notification_get_for_user(*, notification_id: int, user: User) -> Notification:
    """One of the user's notifications, or 404 (someone else's is "missing" too)."""
    notification = Notification.objects.filter(pk=notification_id, user=user, is_shown=True).first()
    if notification is None:
        raise Http404("No such notification.")
    return notification


@dataclass(frozen=True)
class PreferenceRow:
    kind: str
    label: str
    channel: str
    is_digest: bool


def preference_list_for_user(*, user: User) -> list[PreferenceRow]:
    """Every kind with the channel the user chose, or the default."""
    from dealflow.notifications.models import DIGEST_KINDS

    chosen = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "channel"))
    return [
        PreferenceRow(
            kind=kind.value,
            label=str(kind.label),
            channel=chosen.get(kind.value, DEFAULT_CHANNELS.get(kind.value, Channel.IN_APP)),
            is_digest=kind in DIGEST_KINDS,
        )
        for kind in NotificationKind
    ]


def calendar_feed_active_for_user(*, user: User) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at").first()
