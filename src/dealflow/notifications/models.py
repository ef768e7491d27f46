"""In-app notifications, per-kind preferences, the personal calendar feed and digest bookkeeping."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from dealflow.core.models import BaseModel


class NotificationKind(models.TextChoices):
    DEAL_ASSIGNED = "deal_assigned", _("A deal assigned to me")
    LEAD_ASSIGNED = "lead_assigned", _("A lead assigned to me")
    MENTION = "mention", _("An @mention in a note")
    ACTIVITY_DUE = "activity_due", _("An activity due within the hour")
    ACTIVITY_OVERDUE = "activity_overdue", _("An activity overdue")
    DEAL_ROTTING = "deal_rotting", _("A deal of mine starting to rot")
    FORECAST_CALL_DUE = "forecast_call_due", _("A forecast call due")
    REVIEW_SCHEDULED = "review_scheduled", _("A pipeline review scheduled")
    SURVEY_OPEN = "survey_open", _("A survey open for me")
    ONE_ON_ONE_TOMORROW = "one_on_one_tomorrow", _("A one-on-one tomorrow")
    RULE = "rule", _("A message from an automation rule")
    WEBHOOK_PAUSED = "webhook_paused", _("A webhook of mine paused after failures")
    DIGEST_DAILY = "digest_daily", _("Daily digest (reps)")
    DIGEST_WEEKLY = "digest_weekly", _("Weekly digest (managers)")


# Digests are e-mails only: "in-app" or "off" for them means no e-mail.
DIGEST_KINDS = frozenset({NotificationKind.DIGEST_DAILY, NotificationKind.DIGEST_WEEKLY})


class Channel(models.TextChoices):
    IN_APP = "in_app", _("In the app")
    EMAIL = "email", _("E-mail")
    BOTH = "both", _("In the app and by e-mail")
    OFF = "off", _("Off")


# What a user gets before choosing: the bell for everything, e-mail for what must not be missed.
DEFAULT_CHANNELS: dict[str, str] = {
    NotificationKind.ACTIVITY_OVERDUE: Channel.BOTH,
    NotificationKind.WEBHOOK_PAUSED: Channel.BOTH,
    NotificationKind.DIGEST_DAILY: Channel.EMAIL,
    NotificationKind.DIGEST_WEEKLY: Channel.EMAIL,
}


class Notification(BaseModel):
    """One message to one user. ``key`` makes each occasion notify once (e.g. ``activity_overdue:42``)."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    key = models.CharField(max_length=120)
    title = models.CharField(max_length=200)  # written in the recipient's language when it is created
    body = models.TextField(blank=True, default="")
    url = models.CharField(max_length=300, blank=True, default="")
    deal = models.ForeignKey("deals.Deal", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    is_shown = models.BooleanField(default=True)  # False: sent by e-mail only, kept for de-duplication
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="notification_once_per_key")]
        indexes = [
            models.Index(fields=["user", "read_at"], condition=Q(is_shown=True), name="notification_unread"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}: {self.title}"


class NotificationPreference(models.Model):
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_once")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: {self.channel}"


class CalendarFeed(BaseModel):
    """A secret URL serving the user's activities and one-on-ones as iCalendar; only a hash is stored."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    prefix = models.CharField(max_length=12)
    token_hash = models.CharField(max_length=64, unique=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"calendar feed {self.prefix}… of {self.user_id}"


class DigestSent(models.Model):
    """A digest went out for this user and period (``2026-12-06`` daily, ``2026-W49`` weekly)."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    period_key = models.CharField(max_length=12)
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "period_key"], name="digest_once_per_period")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.period_key} to {self.user_id}"


class WatchCursor(models.Model):
    """How far a watcher has read a growing table, by id (``calculations.cursor_advance``).

    Ids are handed out before commit, so a transaction that commits late can leave a lower id behind one
    already read: such ids wait in ``missing`` (id -> when first missed) and are read again for a minute.
    """

    name = models.CharField(max_length=60, unique=True)
    high = models.BigIntegerField(default=0)
    missing = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.high}"
