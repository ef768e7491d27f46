"""Writes of the notifications app: notify (once per occasion, by the user's chosen channel), mark read,
preferences, the calendar feed's secret, and the watch cursors."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import translation
from django.utils.functional import Promise

from dealflow.accounts.models import User
from dealflow.accounts.services import audit_record
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.notifications.calculations import CursorState, cursor_advance
from dealflow.notifications.models import (
    DEFAULT_CHANNELS,
    DIGEST_KINDS,
    CalendarFeed,
    Channel,
    Notification,
    NotificationKind,
    NotificationPreference,
    WatchCursor,
)

logger = logging.getLogger(__name__)

FEED_PREFIX = "cal_"
GAP_WAIT = dt.timedelta(seconds=60)


def channel_for(*, user: User, kind: str, preferences: dict[tuple[int, str], str] | None = None) -> str:
    """The channel the user chose for this kind, else the default (``preferences`` may be pre-read)."""
    if preferences is not None and (user.pk, kind) in preferences:
        return preferences[(user.pk, kind)]
    if preferences is None:
        chosen = (
            NotificationPreference.objects.filter(user=user, kind=kind)
            .values_list("channel", flat=True)
            .first()
        )
        if chosen:
            return chosen
    return DEFAULT_CHANNELS.get(kind, Channel.IN_APP)


@dataclass(frozen=True)
class Message:
    """What to say, as translatable text and its values, so each recipient reads it in their language."""

    title: Any  # a gettext_lazy string with %(name)s placeholders
    values: dict[str, Any]
    body: Any = ""  # a gettext_lazy string filled like the title, or plain text (a note) kept as it is
    url: str = ""

    def render(self, language: str) -> tuple[str, str]:
        """The title (and a translatable body) filled in; a plain-text body (a note) is left as written."""
        with translation.override(language or settings.LANGUAGE_CODE):
            title = str(self.title) % self.values if self.values else str(self.title)
            body = str(self.body)
            if isinstance(self.body, Promise) and self.values:
                body = body % self.values
        return title[:200], body


@dataclass(frozen=True)
class NotificationDraft:
    """One notification to make: to whom, of which kind, for which occasion (``key``), saying what."""

    user: User
    kind: str
    key: str
    message: Message
    deal_id: int | None = None


def _row(draft: NotificationDraft, channel: str) -> Notification:
    """The notification as stored: written in the recipient's language, shown in the bell unless e-mail only."""
    title, body = draft.message.render(draft.user.language)
    return Notification(
        user=draft.user,
        kind=draft.kind,
        key=draft.key[:120],
        title=title,
        body=body,
        url=draft.message.url[:300],
        deal_id=draft.deal_id,
        is_shown=channel in (Channel.IN_APP, Channel.BOTH),
        created_at=clock.now(),
    )


def _check_kind(kind: str) -> None:
    if kind not in NotificationKind.values:
        raise ApplicationError(f"Unknown notification kind {kind!r}.", field="kind")


def _wants_email(channel: str, user: User) -> bool:
    return channel in (Channel.EMAIL, Channel.BOTH) and bool(user.email)


def notify(
    *,
    user: User,
    kind: str,
    key: str,
    message: Message,
    deal_id: int | None = None,
    preferences: dict[tuple[int, str], str] | None = None,
) -> Notification | None:
    """Notify ``user`` once for ``key``: in the app, by e-mail, both or not at all, as they chose.

    Returns the new notification, or None when this occasion was already notified. A row is kept even
    for "off" so a later pass does not reconsider the occasion.
    """
    _check_kind(kind)
    if not user.is_active:
        return None
    channel = channel_for(user=user, kind=kind, preferences=preferences)
    notification = _row(
        NotificationDraft(user=user, kind=kind, key=key, message=message, deal_id=deal_id), channel
    )
    try:
        with transaction.atomic():
            notification.save()
    except IntegrityError:
        return None  # notified before: each occasion once
    if _wants_email(channel, user):
        _email(notification, user)
    return notification


def notify_many(
    *, drafts: Iterable[NotificationDraft], preferences: dict[tuple[int, str], str] | None = None
) -> int:
    """``notify`` for many occasions at once (one read of those already notified, one insert, then the
    e-mails); returns how many notifications are new. The worker's sources hand in a batch at a time."""
    chosen: dict[tuple[int, str], tuple[NotificationDraft, str]] = {}
    for draft in drafts:
        _check_kind(draft.kind)
        if draft.user.is_active and (draft.user.pk, draft.key[:120]) not in chosen:
            channel = channel_for(user=draft.user, kind=draft.kind, preferences=preferences)
            chosen[(draft.user.pk, draft.key[:120])] = (draft, channel)
    if not chosen:
        return 0
    done = set(
        Notification.objects.filter(
            user_id__in={user_id for user_id, _key in chosen}, key__in={key for _user_id, key in chosen}
        ).values_list("user_id", "key")
    )
    new = [(draft, channel) for pair, (draft, channel) in chosen.items() if pair not in done]
    # A concurrent writer of the same key (another worker) wins the constraint; the row is skipped.
    Notification.objects.bulk_create(
        [_row(draft, channel) for draft, channel in new], ignore_conflicts=True, batch_size=500
    )
    emailed = {
        (draft.user.pk, draft.key[:120]): draft.user
        for draft, channel in new
        if _wants_email(channel, draft.user)
    }
    if emailed:
        for notification in Notification.objects.filter(
            user_id__in={user_id for user_id, _key in emailed},
            key__in={key for _user_id, key in emailed},
            emailed_at__isnull=True,
        ):
            user = emailed.get((notification.user_id, notification.key))
            if user is not None:
                _email(notification, user)
    return len(new)


def _email(notification: Notification, user: User) -> None:
    link = (
        f"{str(settings.DEALFLOW.get('SITE_URL', '')).rstrip('/')}{notification.url}"
        if notification.url
        else ""
    )
    text = "\n\n".join(part for part in (notification.body, link) if part)
    try:
        send_mail(notification.title, text or notification.title, None, [user.email])
    except Exception:  # the SMTP server is away: the bell still has it; logged for the operator
        logger.exception("Could not e-mail notification %s to user %s.", notification.pk, user.pk)
        return
    Notification.objects.filter(pk=notification.pk).update(emailed_at=clock.now())


def notification_mark_read(*, notification: Notification, by: User) -> Notification:
    """Mark one of the user's notifications read (again changes nothing)."""
    if notification.read_at is None:
        notification.read_at = clock.now()
        notification.save(update_fields=["read_at", "updated_at"])
    return notification


def notification_mark_all_read(*, user: User) -> int:
    """Mark every unread notification of the user read; returns how many."""
    return Notification.objects.filter(user=user, is_shown=True, read_at__isnull=True).update(
        read_at=clock.now(), updated_at=clock.now()
    )


def preference_set(*, user: User, kind: str, channel: str) -> NotificationPreference:
    """Choose how the user hears about one kind: in_app, email, both or off (digests: email or off)."""
    if kind not in NotificationKind.values:
        raise ApplicationError(
            f"Unknown notification kind {kind!r}; one of {', '.join(NotificationKind.values)}.", field="kind"
        )
    if channel not in Channel.values:
        raise ApplicationError(f"Channel must be one of {', '.join(Channel.values)}.", field="channel")
    if kind in DIGEST_KINDS and channel in (Channel.IN_APP, Channel.BOTH):
        raise ApplicationError("A digest is an e-mail: choose email or off.", field="channel")
    preference, _ = NotificationPreference.objects.update_or_create(
        user=user, kind=kind, defaults={"channel": channel}
    )
    return preference


@transaction.atomic
def preferences_set(*, user: User, channels: dict[str, str]) -> list[NotificationPreference]:
    """Set several kinds at once; nothing is saved if one is refused."""
    return [preference_set(user=user, kind=kind, channel=channel) for kind, channel in channels.items()]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def calendar_feed_create(*, user: User) -> tuple[CalendarFeed, str]:
    """A new secret feed URL token for the user; the old one stops working. The secret is shown once."""
    now = clock.now()
    CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now, updated_at=now)
    secret = FEED_PREFIX + secrets.token_urlsafe(32)
    feed = CalendarFeed.objects.create(user=user, prefix=secret[:10], token_hash=_hash(secret))
    audit_record(actor=user, action="calendar_feed.created", target=f"user:{user.pk}")
    return feed, secret


def calendar_feed_revoke(*, user: User) -> int:
    """Stop the user's feed URL from working; returns how many were active (0 or 1)."""
    now = clock.now()
    revoked = CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=now, updated_at=now
    )
    if revoked:
        audit_record(actor=user, action="calendar_feed.revoked", target=f"user:{user.pk}")
    return revoked


def calendar_feed_authenticate(*, secret: str) -> User | None:
    """The active user whose live feed this secret opens, or None (wrong, revoked, inactive user)."""
    if not secret.startswith(FEED_PREFIX):
        return None
    feed = (
        CalendarFeed.objects.select_related("user")
        .filter(token_hash=_hash(secret), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if feed is None:
        return None
    now = clock.now()
    if feed.last_used_at is None or now - feed.last_used_at > dt.timedelta(minutes=5):
        CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=now)
    return feed.user


# --- Watch cursors: read a growing table once, in id order, without skipping late commits -----------------


def cursor_lock(*, name: str, start_at: int | None = None) -> WatchCursor:
    """The named cursor, locked until the end of the caller's transaction (one reader at a time).

    A new cursor starts at ``start_at`` (the newest id now), so a new watcher does not replay all history.
    """
    WatchCursor.objects.get_or_create(name=name, defaults={"high": start_at or 0})
    return WatchCursor.objects.select_for_update().get(name=name)


def cursor_filter(*, cursor: WatchCursor) -> Q:
    """The rows a cursor has not read yet: past its high-water mark, or missed below it."""
    missing = [int(key) for key in (cursor.missing or {})]
    condition = Q(pk__gt=cursor.high)
    return condition | Q(pk__in=missing) if missing else condition


def cursor_save(
    *, cursor: WatchCursor, read_ids: Iterable[int], now: dt.datetime | None = None
) -> WatchCursor:
    """Advance the cursor over the ids just read (see ``calculations.cursor_advance``)."""
    moment = now or clock.now()
    state = cursor_advance(
        state=CursorState(cursor.high, {int(key): value for key, value in (cursor.missing or {}).items()}),
        read_ids=read_ids,
        now=moment,
        gap_wait=GAP_WAIT,
    )
    cursor.high = state.high
    cursor.missing = {str(key): value for key, value in state.missing.items()}
    cursor.updated_at = moment
    cursor.save(update_fields=["high", "missing", "updated_at"])
    return cursor
