from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from dealflow.core.models import BaseModel


class User(AbstractUser):
    """A person who signs in: rep, manager, analyst or admin (roles live on Membership)."""

    language = models.CharField(max_length=8, choices=[("en", "English"), ("nl", "Nederlands")], default="en")
    external_source = models.CharField(max_length=40, blank=True, default="")
    external_id = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        ordering = ["username"]

    @property
    def initials(self) -> str:
        parts = [self.first_name, self.last_name] if (self.first_name or self.last_name) else [self.username]
        return "".join(part[:1].upper() for part in parts if part)[:3]

    @property
    def display_name(self) -> str:
        return display_name_of(self.username, self.first_name, self.last_name)


def display_name_of(username: str, first_name: str, last_name: str) -> str:
    """A user's name as the app shows it (full name, else username), from the columns alone."""
    return f"{first_name} {last_name}".strip() or username


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    MANAGER = "manager", _("Manager")
    REP = "rep", _("Rep")
    ANALYST = "analyst", _("Analyst")


class Team(BaseModel):
    name = models.CharField(max_length=120, unique=True)
    reps_see_team_deals = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(BaseModel):
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=12, choices=Role.choices, default=Role.REP)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="membership_unique_user_team")]
        indexes = [models.Index(fields=["team", "role"])]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} as {self.role}"


class TokenScope(models.TextChoices):
    READ = "read", _("Read")
    WRITE = "write", _("Read and write")


class ApiToken(BaseModel):
    """A bearer token for scripts; only its SHA-256 hash is stored, the secret is shown once."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=8, choices=TokenScope.choices, default=TokenScope.WRITE)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class AuditEntry(models.Model):
    """Who did what and when, for what is not already a DealEvent. Append-only."""

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=60, db_index=True)
    target = models.CharField(max_length=200, blank=True, default="")
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.target}"


class RateLimitCounter(models.Model):
    """Requests counted per key and fixed window, shared by every app server through the database."""

    key = models.CharField(max_length=120)
    window_start = models.BigIntegerField()  # unix seconds, multiple of the window length
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="rate_limit_unique_window")
        ]

    def __str__(self) -> str:
        return f"{self.key}@{self.window_start}: {self.count}"
