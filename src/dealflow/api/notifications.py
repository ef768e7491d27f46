"""Notifications: the bell's list and count, mark read, per-kind preferences, the calendar feed's URL."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from ninja import Query, Router, Schema, Status

from dealflow.api.base import ApiRequest, paginate
from dealflow.api.schemas import Id, Offset, PageOut
from dealflow.notifications.selectors import (
    calendar_feed_active_for_user,
    notification_get_for_user,
    notification_list_for_user,
    notification_unread_count,
    preference_list_for_user,
)
from dealflow.notifications.services import (
    calendar_feed_create,
    calendar_feed_revoke,
    notification_mark_all_read,
    notification_mark_read,
    preferences_set,
)

router = Router(tags=["Notifications"])


class NotificationOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    url: str
    deal_id: int | None
    created_at: dt.datetime
    read_at: dt.datetime | None


class NotificationQuery(Schema):
    unread: bool = False
    limit: int = 50
    offset: Offset = 0


class CountOut(Schema):
    unread: int


class PreferenceOut(Schema):
    kind: str
    label: str
    channel: str
    is_digest: bool


class PreferencesIn(Schema):
    """Kind -> channel (in_app, email, both, off); kinds left out keep their setting."""

    channels: dict[str, str]


class CalendarFeedOut(Schema):
    is_active: bool
    prefix: str | None = None
    created_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None
    url: str | None = None  # only in the answer that creates it: the secret is not stored


@router.get("/notifications", response=PageOut[NotificationOut])
def list_notifications(request: ApiRequest, query: Query[NotificationQuery]):
    """Your notifications shown in the app, newest first (``unread=true`` for the unread ones)."""
    notifications = notification_list_for_user(user=request.user, unread_only=query.unread)
    return paginate(notifications, limit=query.limit, offset=query.offset)


@router.get("/notifications/count", response=CountOut)
def count_notifications(request: ApiRequest):
    """The number on the bell."""
    return {"unread": notification_unread_count(user=request.user)}


@router.post("/notifications/{notification_id}/read", response=NotificationOut)
def read_notification(request: ApiRequest, notification_id: Id):
    notification = notification_get_for_user(notification_id=notification_id, user=request.user)
    return notification_mark_read(notification=notification, by=request.user)


@router.post("/notifications/read-all", response=CountOut)
def read_all_notifications(request: ApiRequest):
    """Mark every notification read; answers how many were unread."""
    return {"unread": notification_mark_all_read(user=request.user)}


@router.get("/notifications/preferences", response=list[PreferenceOut])
def list_preferences(request: ApiRequest):
    """Every kind of notification with the channel you chose (or the default)."""
    return preference_list_for_user(user=request.user)


@router.put("/notifications/preferences", response=list[PreferenceOut])
def set_preferences(request: ApiRequest, payload: PreferencesIn):
    preferences_set(user=request.user, channels=payload.channels)
    return preference_list_for_user(user=request.user)


@router.get("/notifications/calendar-feed", response=CalendarFeedOut)
def get_calendar_feed(request: ApiRequest):
    feed = calendar_feed_active_for_user(user=request.user)
    if feed is None:
        return {"is_active": False}
    return {
        "is_active": True,
        "prefix": feed.prefix,
        "created_at": feed.created_at,
        "last_used_at": feed.last_used_at,
    }


@router.post("/notifications/calendar-feed", response={201: CalendarFeedOut})
def create_calendar_feed(request: ApiRequest):
    """A new secret .ics URL of your activities and one-on-ones; the previous URL stops working."""
    feed, secret = calendar_feed_create(user=request.user)
    url = request.build_absolute_uri(reverse("web:calendar_feed", args=[secret]))
    return Status(201, {"is_active": True, "prefix": feed.prefix, "created_at": feed.created_at, "url": url})


@router.delete("/notifications/calendar-feed", response={204: None})
def revoke_calendar_feed(request: ApiRequest):
    calendar_feed_revoke(user=request.user)
    return Status(204, None)
