"""Pipeline reviews: a frozen snapshot of the deals in scope, the agenda built from it and the decisions.

A review's snapshot (``ReviewSnapshot`` and one ``ReviewDeal`` per open deal) is written once when the
review starts and never changed: the model refuses a second save and database triggers (migration
0002) refuse UPDATE and DELETE on both engines, so the review and its report show what was true then,
however the deals move afterwards. Decisions are the living part: recorded, applied through the deal
services (``origin="review:<id>"``) or carried over to the next review of the same scope.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from dealflow.core.models import AppendOnlyModel, BaseModel
from dealflow.deals.models import ForecastCategory


class ScopeKind(models.TextChoices):
    TEAM = "team", _("Team")
    REP = "rep", _("Rep")
    PIPELINE = "pipeline", _("Pipeline")


class ReviewStatus(models.TextChoices):
    OPEN = "open", _("In progress")
    FINISHED = "finished", _("Finished")


class ReviewSeries(BaseModel):
    """A weekly review that starts itself (the ``reviews.start_due`` job) for the same scope."""

    scope_kind = models.CharField(max_length=10, choices=ScopeKind.choices)
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    rep = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    pipeline = models.ForeignKey(
        "deals.Pipeline", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    period_kind = models.CharField(max_length=8, default="month")  # each review covers the current one
    created_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"review series {self.pk} ({self.scope_kind})"


class PipelineReview(BaseModel):
    """One review of a scope (a team, a rep or a pipeline) for one period.

    ``team`` is the team whose managers may open the review: the team reviewed, the rep's team, or the
    team a pipeline review is limited to (a pipeline review without a team covers everybody: admins only).
    """

    scope_kind = models.CharField(max_length=10, choices=ScopeKind.choices)
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rep = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    pipeline = models.ForeignKey(
        "deals.Pipeline", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    period_key = models.CharField(max_length=24)
    period_start = models.DateField()
    period_end = models.DateField()  # exclusive
    status = models.CharField(max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.OPEN)
    series = models.ForeignKey(
        "reviews.ReviewSeries", null=True, blank=True, on_delete=models.SET_NULL, related_name="reviews"
    )
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )  # the last review of the same scope before this one: the waterfall's start, the carried items
    started_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    finished_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    summary = models.TextField(blank=True, default="")  # the reviewer's closing words, in the report

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["scope_kind", "team", "rep", "pipeline", "created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(scope_kind="team") | Q(team__isnull=False), name="review_team_scope_has_team"
            ),
            models.CheckConstraint(
                condition=~Q(scope_kind="rep") | Q(rep__isnull=False), name="review_rep_scope_has_rep"
            ),
            models.CheckConstraint(
                condition=~Q(scope_kind="pipeline") | Q(pipeline__isnull=False),
                name="review_pipeline_scope_has_pipeline",
            ),
        ]

    def __str__(self) -> str:
        return f"review {self.pk} {self.scope_kind} {self.period_key}"

    @property
    def is_open(self) -> bool:
        return self.status == ReviewStatus.OPEN

    @property
    def origin(self) -> str:
        """The origin every change made from this review carries (DealEvent.origin, Activity.origin)."""
        return f"review:{self.pk}"


class ReviewSnapshot(AppendOnlyModel):
    """What the review froze at its start: the forecast range, thresholds, waterfall and bottlenecks.

    Money is in the base currency's minor units. ``new_samples`` holds the run-rate draws (bookings of
    deals not yet created) so the what-if re-runs exactly the Monte Carlo that gave the frozen range.
    """

    review = models.OneToOneField(
        "reviews.PipelineReview", on_delete=models.DO_NOTHING, related_name="snapshot", db_constraint=True
    )
    as_of = models.DateTimeField()
    as_of_on = models.DateField()
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=12)
    level = models.CharField(max_length=4)
    horizon = models.PositiveSmallIntegerField()  # the review period's index from the as-of period (0..3)
    draws = models.PositiveIntegerField()
    seed = models.BigIntegerField()
    closed_minor = models.BigIntegerField()  # won in the period up to as_of
    expected_open_minor = models.BigIntegerField()
    expected_new_minor = models.BigIntegerField()
    mean_minor = models.BigIntegerField()
    p10_minor = models.BigIntegerField()
    p50_minor = models.BigIntegerField()
    p90_minor = models.BigIntegerField()
    quota_minor = models.BigIntegerField(null=True, blank=True)
    p_quota = models.FloatField(null=True, blank=True)
    new_samples = models.JSONField(default=list)
    thresholds = models.JSONField(default=dict)  # per stage: stale and stuck days, and where they came from
    waterfall = models.JSONField(null=True, blank=True)  # None for the first review of a scope
    bottlenecks = models.JSONField(default=list)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-as_of", "-id"]

    def __str__(self) -> str:
        return f"snapshot of review {self.review_id}"


class ReviewDeal(AppendOnlyModel):
    """One open deal in scope as the review saw it (money in the base currency's minor units)."""

    review = models.ForeignKey(
        "reviews.PipelineReview", on_delete=models.DO_NOTHING, related_name="deals", db_constraint=True
    )
    deal = models.ForeignKey("deals.Deal", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False)
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        "accounts.User", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    pipeline = models.ForeignKey(
        "deals.Pipeline", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    stage = models.ForeignKey(
        "deals.Stage", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    stage_name = models.CharField(max_length=120)
    stage_order = models.PositiveIntegerField()
    days_in_stage = models.FloatField()
    amount_minor = models.BigIntegerField()
    expected_close_on = models.DateField(null=True, blank=True)
    category = models.CharField(max_length=12)
    configured_probability = models.FloatField()
    p_win = models.FloatField()  # eventual win probability (the owner's override when set)
    p_entry = models.FloatField()  # the model's probability on the day the deal entered its stage
    p_model = models.FloatField()  # the model's probability now, without the owner's override
    p_period = models.FloatField()  # won inside the review period
    p_period_in = models.FloatField()  # ... were its close date inside the period (for the what-if)
    p_period_out = models.FloatField()  # ... were it outside the period
    is_overridden = models.BooleanField(default=False)
    days_since_activity = models.FloatField()
    has_next_step = models.BooleanField(default=False)
    next_step = models.CharField(max_length=200, blank=True, default="")
    close_date_pushes = models.PositiveIntegerField(default=0)
    peak_amount_minor = models.BigIntegerField()
    flags = models.JSONField(default=list)  # [{"code": "stale", ...numbers behind it}]
    expected_value_minor = models.BigIntegerField()  # p_win x amount
    expected_period_minor = models.BigIntegerField()  # p_period x amount
    value_at_risk_minor = models.BigIntegerField()  # amount x max(0, p_entry - p_model)
    value_per_day_minor = models.BigIntegerField()  # p_win x amount / max(7, days to close)

    class Meta:
        ordering = ["review_id", "-amount_minor", "deal_id"]
        constraints = [models.UniqueConstraint(fields=["review", "deal"], name="review_deal_once")]

    def __str__(self) -> str:
        return f"review {self.review_id} deal {self.deal_id}"

    @property
    def flag_codes(self) -> list[str]:
        return [flag["code"] for flag in self.flags]

    @property
    def category_label(self) -> str:
        return str(dict(ForecastCategory.choices).get(self.category, self.category))


class DecisionKind(models.TextChoices):
    KEEP = "keep", _("Keep as is")
    PUSH_CLOSE_DATE = "push_close_date", _("Push close date")
    MOVE_STAGE = "move_stage", _("Move stage")
    CHANGE_AMOUNT = "change_amount", _("Change amount")
    CHANGE_CATEGORY = "change_category", _("Change forecast category")
    CHANGE_PROBABILITY = "change_probability", _("Change probability")
    REASSIGN = "reassign", _("Reassign")
    MARK_LOST = "mark_lost", _("Mark lost")
    ADD_NEXT_STEP = "add_next_step", _("Add next step")


class DecisionStatus(models.TextChoices):
    PENDING = "pending", _("To do")  # recorded, not applied yet
    APPLIED = "applied", _("Applied")
    CARRIED_OVER = "carried_over", _("Carried over")  # still pending when its review finished


class ReviewDecision(BaseModel):
    """What the review decided about one deal, with a note; ``params`` hold the adjustment's values.

    Applying it calls the deal services with ``origin=review.origin``; ``event_ids`` (DealEvent) and
    ``activity_id`` (a next step's task) point at what it wrote. A decision still pending when the review
    finishes becomes ``carried_over`` and a copy (``carried_from``) opens in the next review of the scope.
    """

    review = models.ForeignKey("reviews.PipelineReview", on_delete=models.CASCADE, related_name="decisions")
    deal = models.ForeignKey("deals.Deal", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=DecisionKind.choices)
    params = models.JSONField(default=dict, blank=True)
    note = models.CharField(max_length=500, blank=True, default="")
    status = models.CharField(max_length=14, choices=DecisionStatus.choices, default=DecisionStatus.PENDING)
    decided_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    applied_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    applied_at = models.DateTimeField(null=True, blank=True)
    event_ids = models.JSONField(default=list, blank=True)
    activity_id = models.BigIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True, default="")  # why the last apply failed
    carried_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="carried_to"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["review", "deal"]),
            models.Index(fields=["deal", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on deal {self.deal_id} in review {self.review_id}"

    @property
    def is_pending(self) -> bool:
        return self.status == DecisionStatus.PENDING
