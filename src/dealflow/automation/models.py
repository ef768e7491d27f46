"""Automation rules and webhook subscriptions, with the record of every run and delivery.

Both are fed by the worker's dispatch (``dispatch.py``), which reads the DealEvent log and the leads and
activities tables through cursors; nothing here is called from a request, so no request waits for a rule
or a webhook.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from dealflow.core.models import BaseModel


class Trigger(models.TextChoices):
    STAGE_ENTERED = "stage_entered", _("A deal enters a stage")
    WON = "won", _("A deal is won")
    LOST = "lost", _("A deal is lost")
    ROTTING = "rotting", _("A deal sits in its stage for N days")
    AMOUNT_ABOVE = "amount_above", _("A deal's amount rises above X")
    LEAD_SOURCE = "lead_source", _("A lead arrives from a source")


class Action(models.TextChoices):
    CREATE_ACTIVITY = "create_activity", _("Create an activity")
    ASSIGN_OWNER = "assign_owner", _("Assign an owner (round robin within a team)")
    SET_FIELD = "set_field", _("Set a field")
    NOTIFY = "notify", _("Notify someone")
    WEBHOOK = "webhook", _("Send a webhook")


class Rule(BaseModel):
    """When <trigger> then <action>. A rule with a team acts only on that team's deals and leads."""

    name = models.CharField(max_length=120)
    is_active = models.BooleanField(default=True)
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    pipeline = models.ForeignKey(
        "deals.Pipeline", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    stage = models.ForeignKey(
        "deals.Stage", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    days = models.PositiveIntegerField(null=True, blank=True)
    amount_minor = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    source = models.ForeignKey(
        "deals.LeadSource", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    params = models.JSONField(default=dict, blank=True)
    round_robin_last_user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class RunStatus(models.TextChoices):
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    SKIPPED_LOOP = "skipped_loop", _("Skipped: loop guard")


class RuleRun(models.Model):
    """A rule fired on one occasion (``key``: ``event:<id>``, ``lead:<id>``, ``rot:<deal>:<since>``), once."""

    rule = models.ForeignKey("automation.Rule", on_delete=models.CASCADE, related_name="runs")
    key = models.CharField(max_length=80)
    deal = models.ForeignKey("deals.Deal", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    lead = models.ForeignKey("deals.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=14, choices=RunStatus.choices)
    depth = models.PositiveSmallIntegerField(default=0)  # 0: a person's change; n: n rules in a chain before
    detail = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["rule", "key"], name="rule_run_once_per_occasion")]
        indexes = [models.Index(fields=["deal", "created_at"])]

    def __str__(self) -> str:
        return f"{self.rule_id} on {self.key}: {self.status}"


class WebhookEventType(models.TextChoices):
    DEAL_CREATED = "deal.created", _("Deal created")
    DEAL_MOVED = "deal.moved", _("Deal moved to another stage")
    DEAL_WON = "deal.won", _("Deal won")
    DEAL_LOST = "deal.lost", _("Deal lost")
    DEAL_AMOUNT_CHANGED = "deal.amount_changed", _("Deal amount changed")
    LEAD_CREATED = "lead.created", _("Lead created")
    LEAD_CONVERTED = "lead.converted", _("Lead converted into a deal")
    ACTIVITY_DONE = "activity.done", _("Activity done")
    RULE_FIRED = "rule.fired", _("An automation rule sent it")


class WebhookSubscription(BaseModel):
    """An HTTPS endpoint that receives the chosen event types, signed with this subscription's secret."""

    owner = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=80)  # kept readable: every delivery is signed with it
    event_types = models.JSONField(default=list)
    # Created by an admin: carries every record. Otherwise only records its owner may see, checked per delivery.
    is_company_wide = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed (gave up)")


class WebhookDelivery(models.Model):
    """One event for one subscription: the outbox row the worker sends, retries and logs."""

    subscription = models.ForeignKey(
        "automation.WebhookSubscription", on_delete=models.CASCADE, related_name="deliveries"
    )
    key = models.CharField(max_length=80)  # the occasion, e.g. deal_event:123; one delivery per key
    event_id = models.UUIDField()  # sent as Dealflow-Event-Id; the same for every retry
    event_type = models.CharField(max_length=24, choices=WebhookEventType.choices)
    deal_id = models.BigIntegerField(null=True, blank=True)  # one deal's deliveries go out in order
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "key"], name="webhook_delivery_once_per_key")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"], condition=Q(status="pending"), name="webhook_delivery_due"
            ),
            models.Index(
                fields=["subscription", "deal_id", "id"],
                condition=Q(status="pending"),
                name="webhook_delivery_deal_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.subscription_id}: {self.status}"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery: the answer's status (or the error) and how long it took."""

    delivery = models.ForeignKey("automation.WebhookDelivery", on_delete=models.CASCADE, related_name="log")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField()
    error = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.at}: {self.status_code or self.error}"
