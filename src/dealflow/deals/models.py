"""Pipelines, stages, leads, deals and their append-only history.

Write-time derived fields (``cycle_days``, ``closed_on``, ``amount_base_minor``, ``StageSpell``) exist so
that analytics read stored numbers instead of replaying events or doing date arithmetic in SQL
(GUIDE.md, performance habits). Only ``dealflow.deals.services`` writes them.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from dealflow.core.models import BaseModel, TrashableModel
from dealflow.deals.choices import ActivityKind as ActivityKind
from dealflow.deals.choices import DealStatus as DealStatus
from dealflow.deals.choices import EventKind as EventKind
from dealflow.deals.choices import ForecastCategory as ForecastCategory
from dealflow.deals.choices import SpellExit as SpellExit
from dealflow.deals.choices import StageKind as StageKind


class Pipeline(BaseModel):
    name = models.CharField(max_length=120, unique=True)
    order = models.PositiveIntegerField(default=0)
    is_default = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name


class Stage(BaseModel):
    pipeline = models.ForeignKey("deals.Pipeline", on_delete=models.PROTECT, related_name="stages")
    name = models.CharField(max_length=120)
    order = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=8, choices=StageKind.choices, default=StageKind.OPEN)
    probability = models.PositiveSmallIntegerField(default=10)
    rotting_days = models.PositiveIntegerField(default=30)
    forecast_category = models.CharField(
        max_length=12, choices=ForecastCategory.choices, default=ForecastCategory.PIPELINE
    )
    definition_of_done = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)  # a "deleted" stage is deactivated; history keeps it

    class Meta:
        ordering = ["pipeline_id", "order", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(probability__lte=100), name="stage_probability_0_100"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.kind != StageKind.OPEN


class LostReason(BaseModel):
    name = models.CharField(max_length=120, unique=True)
    is_active = models.BooleanField(default=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name


class LeadSource(BaseModel):
    """Where a lead came from; a managed list (extensible) seeded by a data migration."""

    key = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name


class ExchangeRate(BaseModel):
    """One unit of ``currency`` is worth ``rate`` units of the base currency from ``valid_from`` on."""

    currency = models.CharField(max_length=3)
    rate = models.DecimalField(max_digits=18, decimal_places=8)
    valid_from = models.DateField()

    class Meta:
        ordering = ["currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "valid_from"], name="exchange_rate_unique_day"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchange_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.rate} from {self.valid_from}"


class LeadStatus(models.TextChoices):
    NEW = "new", _("New")
    WORKING = "working", _("Working")
    QUALIFIED = "qualified", _("Qualified")
    DISQUALIFIED = "disqualified", _("Disqualified")
    CONVERTED = "converted", _("Converted")


class Lead(TrashableModel, BaseModel):
    """A prospect not yet qualified. Converting it creates a Deal that keeps its source and date."""

    title = models.CharField(max_length=200)
    source = models.ForeignKey("deals.LeadSource", on_delete=models.PROTECT, related_name="leads")
    status = models.CharField(
        max_length=14, choices=LeadStatus.choices, default=LeadStatus.NEW, db_index=True
    )
    owner = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="leads")
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    organization = models.ForeignKey(
        "contacts.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    person = models.ForeignKey(
        "contacts.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    # Qualification (BANT): budget, authority/decision process, need, timeline.
    has_budget = models.BooleanField(default=False)
    has_authority = models.BooleanField(default=False)
    has_need = models.BooleanField(default=False)
    has_timeline = models.BooleanField(default=False)
    qualification_notes = models.TextField(blank=True, default="")
    disqualified_reason = models.CharField(max_length=300, blank=True, default="")
    qualified_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)  # converted or disqualified
    created_on = models.DateField(db_index=True)  # date key of created_at, for period filters
    external_source = models.CharField(max_length=40, blank=True, default="")
    external_id = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["deleted_at"], condition=Q(deleted_at__isnull=False), name="lead_in_trash"),
            models.Index(fields=["external_source", "external_id"]),
            models.Index(fields=["owner", "status"]),
            # Lead conversion counts leads per period from this index alone (metrics).
            # (created_on, source) first: SQLite groups leads per day and source in index order, no sort.
            # deleted_at last: the default manager hides the trash, and the index still covers the count.
            models.Index(
                fields=["created_on", "source", "owner", "team", "deleted_at"], name="lead_created_by_source"
            ),
            # A team's leads in date order, an owner at a time (deals.selectors.lead_page_rows).
            models.Index(fields=["owner", "created_at", "id"], name="lead_owner_created"),
            # The leads inbox, a source at a time, newest first (deals.selectors.lead_inbox_rows).
            models.Index(
                fields=["source", "created_at", "id"],
                condition=Q(status__in=["new", "working", "qualified"], deleted_at__isnull=True),
                name="lead_inbox_by_source",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def qualification_score(self) -> int:
        return sum([self.has_budget, self.has_authority, self.has_need, self.has_timeline])


class Deal(TrashableModel, BaseModel):
    title = models.CharField(max_length=200)
    organization = models.ForeignKey(
        "contacts.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    person = models.ForeignKey(
        "contacts.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    owner = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="deals")
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pipeline = models.ForeignKey("deals.Pipeline", on_delete=models.PROTECT, related_name="deals")
    stage = models.ForeignKey("deals.Stage", on_delete=models.PROTECT, related_name="deals")
    status = models.CharField(max_length=8, choices=DealStatus.choices, default=DealStatus.OPEN)
    amount_minor = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, default="EUR")
    expected_close_on = models.DateField(null=True, blank=True)
    probability_override = models.PositiveSmallIntegerField(null=True, blank=True)
    forecast_category_override = models.CharField(
        max_length=12, choices=ForecastCategory.choices, blank=True, default=""
    )
    source = models.ForeignKey(
        "deals.LeadSource", null=True, blank=True, on_delete=models.PROTECT, related_name="deals"
    )
    lead = models.OneToOneField(
        "deals.Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="deal"
    )
    lead_created_at = models.DateTimeField(null=True, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="upsells"
    )
    lost_reason = models.ForeignKey(
        "deals.LostReason", null=True, blank=True, on_delete=models.PROTECT, related_name="deals"
    )
    lost_note = models.TextField(blank=True, default="")
    next_step = models.CharField(max_length=200, blank=True, default="")
    next_step_on = models.DateField(null=True, blank=True)
    stage_entered_at = models.DateTimeField()
    won_at = models.DateTimeField(null=True, blank=True)
    lost_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    # Write-time derived values for analytics (set by services when the deal closes / is created).
    created_on = models.DateField(db_index=True)
    closed_on = models.DateField(null=True, blank=True)
    cycle_days = models.IntegerField(null=True, blank=True)  # creation -> close, whole days
    lead_cycle_days = models.IntegerField(null=True, blank=True)  # lead creation -> close
    amount_base_minor = models.BigIntegerField(null=True, blank=True)  # in base currency at close-date rate
    external_source = models.CharField(max_length=40, blank=True, default="")
    external_id = models.CharField(max_length=120, blank=True, default="")
    # Purged from the trash: the words and links are gone; the row stays for its append-only history.
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gte=0), name="deal_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(probability_override__isnull=True) | Q(probability_override__lte=100),
                name="deal_probability_override_0_100",
            ),
            models.CheckConstraint(
                condition=~Q(status="lost") | Q(lost_reason__isnull=False), name="deal_lost_has_reason"
            ),
        ]
        indexes = [
            models.Index(fields=["deleted_at"], condition=Q(deleted_at__isnull=False), name="deal_in_trash"),
            models.Index(fields=["pipeline", "status", "stage"]),
            models.Index(fields=["owner", "status"]),
            models.Index(fields=["status", "closed_on"]),
            models.Index(fields=["status", "expected_close_on"]),
            models.Index(fields=["external_source", "external_id"]),
            # The deals list sorted by amount (either way): the page read from the index, not a sort of
            # every visible deal (1.3 s at 1M deals).
            models.Index(fields=["amount_minor", "id"], name="deal_list_by_amount"),
            # Stale open deals per stage past its rotting threshold, from this index alone (metrics).
            models.Index(
                fields=[
                    "status",
                    "stage",
                    "last_activity_at",
                    "stage_entered_at",
                    "currency",
                    "amount_minor",
                    "deleted_at",  # the default manager hides the trash; the index still covers the query
                ],
                name="deal_stale_by_stage",
            ),
            # The dashboard's stale list (the longest-quiet open deals first): an ordered walk that stops at
            # the tenth stale deal instead of sorting every stale one (28 ms -> 0.1 ms at 200k deals).
            models.Index(
                fields=[
                    "last_activity_at",
                    "id",
                    "stage",
                    "stage_entered_at",
                    "owner",
                    "team",
                    "source",
                    "pipeline",
                ],
                condition=Q(status="open", deleted_at__isnull=True),
                name="deal_open_by_quiet",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status == DealStatus.OPEN

    @property
    def probability(self) -> int:
        """Win probability in percent: the rep's override, else the stage's default."""
        return deal_probability(self.status, self.probability_override, self.stage.probability)

    @property
    def forecast_category(self) -> str:
        return deal_forecast_category(
            self.status, self.forecast_category_override, self.stage.forecast_category
        )


def deal_probability(status: str, override: int | None, stage_probability: int) -> int:
    """Win probability in percent from the columns: 100 won, 0 lost, else the override or the stage's."""
    if status == DealStatus.WON:
        return 100
    if status == DealStatus.LOST:
        return 0
    return override if override is not None else stage_probability


def deal_forecast_category(status: str, override: str, stage_category: str) -> str:
    """Forecast category from the columns: closed for a closed deal, else the override or the stage's."""
    if status != DealStatus.OPEN:
        return ForecastCategory.CLOSED
    return override or stage_category


class DealEvent(models.Model):
    """Append-only history. No code path updates or deletes a row; a database trigger refuses it."""

    deal = models.ForeignKey(
        "deals.Deal", on_delete=models.DO_NOTHING, related_name="events", db_constraint=True
    )
    kind = models.CharField(max_length=24, choices=EventKind.choices)
    field = models.CharField(max_length=40, blank=True, default="")
    from_value = models.CharField(max_length=200, blank=True, default="")
    to_value = models.CharField(max_length=200, blank=True, default="")
    from_stage = models.ForeignKey(
        "deals.Stage", null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+"
    )
    to_stage = models.ForeignKey(
        "deals.Stage", null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+"
    )
    amount_minor = models.BigIntegerField(null=True, blank=True)  # deal amount after the event
    currency = models.CharField(max_length=3, blank=True, default="")
    actor = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+"
    )
    origin = models.CharField(max_length=40, blank=True, default="")  # web, api, cli, import, review:<id>
    note = models.CharField(max_length=300, blank=True, default="")
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            models.Index(fields=["deal", "occurred_at"]),
            models.Index(fields=["kind", "occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_value}->{self.to_value}"


class StageSpell(models.Model):
    """One stay of a deal in an open stage, kept in step with DealEvent in the same transaction."""

    deal = models.ForeignKey("deals.Deal", on_delete=models.CASCADE, related_name="spells")
    stage = models.ForeignKey("deals.Stage", on_delete=models.PROTECT, related_name="spells")
    pipeline = models.ForeignKey("deals.Pipeline", on_delete=models.PROTECT, related_name="+")
    owner = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField()
    entered_on = models.DateField()
    exited_at = models.DateTimeField(null=True, blank=True)
    exited_on = models.DateField(null=True, blank=True)
    exit_kind = models.CharField(max_length=8, choices=SpellExit.choices, blank=True, default="")
    next_stage = models.ForeignKey(
        "deals.Stage", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    duration_days = models.FloatField(null=True, blank=True)  # set on exit

    class Meta:
        ordering = ["entered_at", "id"]
        indexes = [
            models.Index(fields=["stage", "exited_on"]),
            models.Index(fields=["stage", "entered_on"]),
            models.Index(fields=["deal", "entered_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.deal_id} in {self.stage_id} from {self.entered_at:%Y-%m-%d}"


class Activity(TrashableModel, BaseModel):
    kind = models.CharField(max_length=8, choices=ActivityKind.choices, default=ActivityKind.TASK)
    subject = models.CharField(max_length=200)
    notes = models.TextField(blank=True, default="")
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    done_at = models.DateTimeField(null=True, blank=True)
    owner = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="activities")
    deal = models.ForeignKey(
        "deals.Deal", null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    lead = models.ForeignKey(
        "deals.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    person = models.ForeignKey(
        "contacts.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    origin = models.CharField(max_length=40, blank=True, default="")  # e.g. "one_on_one:12", "post_sale"
    external_source = models.CharField(max_length=40, blank=True, default="")
    external_id = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name_plural = "activities"
        indexes = [
            models.Index(
                fields=["deleted_at"], condition=Q(deleted_at__isnull=False), name="activity_in_trash"
            ),
            models.Index(fields=["owner", "done_at", "due_at"]),
            models.Index(fields=["deal", "done_at", "due_at"]),
            # My activities: a user's open ones by due time. Without it PostgreSQL walked the due_at index of
            # every activity looking for the user's (2.3 s at 1M deals for an admin with none due).
            models.Index(
                fields=["owner", "due_at", "id"],
                condition=Q(done_at__isnull=True, deleted_at__isnull=True),
                name="activity_open_by_owner",
            ),
            # The activity list's order (deals.selectors.activity_list_for_user): its first page read from
            # the index instead of sorting every visible activity (API activities, 1.8 s at 1M deals).
            # Open ones first (done_at NULL): SQLite sorts NULLs first in ascending order and refuses NULLS
            # FIRST in an index; on PostgreSQL migration deals 0013 builds this index as "done_at ASC NULLS
            # FIRST", the order the selector asks for, so the first page is still read from the index.
            models.Index(
                fields=["done_at", "due_at", "id"],
                condition=Q(deleted_at__isnull=True),
                name="activity_list_order",
            ),
        ]

    def __str__(self) -> str:
        return self.subject

    @property
    def is_done(self) -> bool:
        return self.done_at is not None


# --- Derived analytics tables (docs/decisions/0002-metrics-derived-tables.md) -----------------------
# Written only by dealflow.deals.services.derived, in the same transaction as the change they mirror,
# and rebuilt from the tables above by derived_rebuild() after a bulk load. Metrics read these, never
# the event log, so a dashboard at a million deals scans narrow, covering indexes instead of joining.


class DealFact(models.Model):
    """One row per deal: what metrics filter and sum on, plus what Deal lacks (furthest stage, pushes)."""

    deal = models.OneToOneField("deals.Deal", primary_key=True, on_delete=models.CASCADE, related_name="fact")
    pipeline = models.ForeignKey(
        "deals.Pipeline", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    stage = models.ForeignKey(
        "deals.Stage", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    owner = models.ForeignKey(
        "accounts.User", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    source = models.ForeignKey(
        "deals.LeadSource",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    status = models.CharField(max_length=8)
    created_on = models.DateField()
    closed_on = models.DateField(null=True)
    expected_close_on = models.DateField(null=True)
    cycle_days = models.IntegerField(null=True)
    lead_cycle_days = models.IntegerField(null=True)
    amount_minor = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    amount_base_minor = models.BigIntegerField(null=True)
    # The open stage of highest order the deal ever entered (won deals count as past every stage).
    furthest_stage = models.ForeignKey(
        "deals.Stage", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    # The lead the deal came from, frozen at conversion (a converted lead can no longer change).
    lead_created_on = models.DateField(null=True)
    lead_owner = models.ForeignKey(
        "accounts.User",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    lead_team = models.ForeignKey(
        "accounts.Team",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    lead_source = models.ForeignKey(
        "deals.LeadSource",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    close_date_pushes = models.PositiveIntegerField(default=0)  # expected close date moved later
    last_pushed_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [
            # Index keys carry every column the metric reads, so both engines answer from the index alone
            # (SQLite has no INCLUDE). Chosen from EXPLAIN output at 1M deals; see docs/benchmarks.md.
            models.Index(
                fields=[
                    "closed_on",
                    "pipeline",
                    "status",
                    "owner",
                    "team",
                    "source",
                    "amount_base_minor",
                    "cycle_days",
                    "lead_cycle_days",
                ],
                name="dealfact_closed",
            ),
            models.Index(
                fields=[
                    "pipeline",
                    "created_on",
                    "furthest_stage",
                    "status",
                    "currency",
                    "owner",
                    "team",
                    "source",
                    "amount_minor",
                    "amount_base_minor",
                ],
                name="dealfact_cohort",
            ),
            models.Index(
                fields=[
                    "lead_created_on",
                    "pipeline",
                    "status",
                    "lead_owner",
                    "lead_team",
                    "lead_source",
                ],
                name="dealfact_lead",
            ),
            models.Index(
                fields=[
                    "pipeline",
                    "stage",
                    "owner",
                    "team",
                    "source",
                    "expected_close_on",
                    "last_pushed_at",
                    "currency",
                    "amount_minor",
                    "status",  # see stayfact_won_stays
                ],
                condition=Q(status="open"),
                name="dealfact_open_deals_only",
            ),
            # The dashboard's largest slipped deals: walked from the largest amount down, from the index
            # alone, until ten match (17 ms -> 0.03 ms at 200k deals; it read every open deal's row).
            models.Index(
                fields=[
                    "amount_minor",
                    "deal",
                    "pipeline",
                    "owner",
                    "team",
                    "source",
                    "expected_close_on",
                    "last_pushed_at",
                    "close_date_pushes",
                ],
                condition=Q(status="open"),
                name="dealfact_open_by_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"fact of deal {self.deal_id}"


class StayFact(models.Model):
    """One row per stage spell, with the deal's current owner, team, source and status beside it."""

    spell = models.OneToOneField(
        "deals.StageSpell", primary_key=True, on_delete=models.CASCADE, related_name="fact"
    )
    deal = models.ForeignKey(
        "deals.Deal", on_delete=models.DO_NOTHING, db_constraint=False, db_index=True, related_name="+"
    )
    pipeline = models.ForeignKey(
        "deals.Pipeline", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    stage = models.ForeignKey(
        "deals.Stage", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    next_stage = models.ForeignKey(
        "deals.Stage",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    owner = models.ForeignKey(
        "accounts.User", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    source = models.ForeignKey(
        "deals.LeadSource",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    deal_status = models.CharField(max_length=8)
    entry_kind = models.CharField(max_length=8)  # created, forward, back, reopened
    entered_on = models.DateField()
    exited_on = models.DateField(null=True)
    days = models.IntegerField(null=True)  # exited_on - entered_on in calendar days; NULL while open
    exit_kind = models.CharField(max_length=8, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(
                fields=["pipeline", "entered_on", "stage", "days", "entry_kind", "owner", "team", "source"],
                name="stayfact_by_entry",
            ),
            models.Index(
                fields=[
                    "pipeline",
                    "exited_on",
                    "stage",
                    "next_stage",
                    "exit_kind",
                    "owner",
                    "team",
                    "source",
                ],
                name="stayfact_by_exit",
            ),
            models.Index(
                # deal_status too, though the condition fixes it: SQLite covers a query from an index only
                # when every column it names is in the key.
                fields=["pipeline", "exited_on", "stage", "days", "owner", "team", "source", "deal_status"],
                condition=Q(deal_status="won"),
                name="stayfact_won_stays",
            ),
        ]

    def __str__(self) -> str:
        return f"fact of spell {self.spell_id}"


class DealMonthlyTotals(models.Model):
    """Additive monthly totals per pipeline, owner, team and source (0 = none): the 24-month trends.

    created/won/lost count deals by the month of their creation or close, under the deal's current owner;
    lead_deals/lead_won count deals by the month their lead was created, under the lead's owner and source.
    """

    month = models.DateField()  # first day of the month
    pipeline_id = models.BigIntegerField()
    owner_id = models.BigIntegerField()
    team_id = models.BigIntegerField()
    source_id = models.BigIntegerField()
    created = models.IntegerField(default=0)
    won = models.IntegerField(default=0)
    won_amount_base_minor = models.BigIntegerField(default=0)
    won_cycle_days = models.BigIntegerField(default=0)
    won_lead_cycle_days = models.BigIntegerField(default=0)
    won_from_lead = models.IntegerField(default=0)
    lost = models.IntegerField(default=0)
    lost_amount_base_minor = models.BigIntegerField(default=0)
    lead_deals = models.IntegerField(default=0)
    lead_won = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["month", "pipeline_id", "owner_id", "team_id", "source_id"],
                name="dealmonthlytotals_cell",
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} pipeline {self.pipeline_id} owner {self.owner_id}"


class DealGroupTotals(models.Model):
    """Additive counts of DealFact and StayFact rows per group a metrics page shows (issue #19).

    Each row adds up the facts of one group: a ``measure`` (what is counted), the pipeline, the owner
    (0 = every owner, kept beside the per-owner rows so a company-wide page reads one row per group
    instead of one per owner), a day (the first of the month, or the day itself for open stays), and the
    group's columns. The services keep it in step in the same transaction as the facts, the bulk writer
    adds the cells of the deals it writes, and derived_rebuild() recomputes it; a test compares the
    three after random histories. Rows are never deleted by the services: a group can fall back to 0.
    """

    measure = models.CharField(max_length=8)  # see deals.services.derived_cells, GROUP_MEASURES
    pipeline_id = models.BigIntegerField()
    owner_id = models.BigIntegerField()
    day = models.DateField()
    stage_id = models.BigIntegerField()  # stage of the stay, furthest stage of the deal (cohort)
    other_id = models.BigIntegerField()  # next stage of an exit; 0 otherwise
    label = models.CharField(max_length=8)  # status (cohort), exit or entry kind; "" otherwise
    currency = models.CharField(max_length=3)  # cohort and open deals; "" otherwise
    days = models.IntegerField()  # a finished stay's length in calendar days; -1 otherwise
    count = models.BigIntegerField(default=0)
    amount_minor = models.BigIntegerField(default=0)
    amount_base_minor = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            # Also the read path: measure, pipeline and owner pick the rows, then a range of days.
            models.UniqueConstraint(
                fields=[
                    "measure",
                    "pipeline_id",
                    "owner_id",
                    "day",
                    "stage_id",
                    "other_id",
                    "label",
                    "currency",
                    "days",
                ],
                name="dealgrouptotals_cell",
            ),
        ]
        indexes = [
            # Time in stage and the won-deal benchmark (day, stage, days, count) from the index alone, on
            # both engines: a manager's team sums a few thousand cells per owner, which from the table's
            # pages took 190-270 ms at 200k deals and from this index 30-55 ms (docs/benchmarks.md).
            models.Index(
                fields=["measure", "pipeline_id", "owner_id", "day", "stage_id", "days", "count"],
                name="dealgrouptotals_days",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.measure} {self.day} pipeline {self.pipeline_id} owner {self.owner_id}"


class LeadMonthlyTotals(models.Model):
    """Leads outside the trash per month of creation, owner, team (0 = none) and source (issue #19).

    The lead counts of the metrics (lead conversion, the 24-month trend, the breakdown) for whole months,
    read as a few hundred cells instead of a million leads. The lead services keep it in step in their own
    transaction (create, a change of owner, team or source, trash and restore), the bulk writer adds the
    leads it writes, and derived_rebuild() recomputes it; a test compares the three after random histories.
    Rows are never deleted by the services: a cell can fall back to 0.
    """

    month = models.DateField()  # first day of the month the lead was created (its created_on)
    owner_id = models.BigIntegerField()
    team_id = models.BigIntegerField()
    source_id = models.BigIntegerField()
    count = models.IntegerField(default=0)

    class Meta:
        constraints = [
            # Also the read path: a range of months, then the owner, team and source filters.
            models.UniqueConstraint(
                fields=["month", "owner_id", "team_id", "source_id"], name="leadmonthlytotals_cell"
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} owner {self.owner_id} source {self.source_id}: {self.count} leads"
