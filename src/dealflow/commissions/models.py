"""Commission plans, their assignments, deal splits, statements and their lines, disputes, gamification.

Money is integer minor units of the base currency (GUIDE.md); rates are percentages as decimals
(``10.0000`` means 10 %). Only ``dealflow.commissions.services`` writes these tables.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from dealflow.core.models import BaseModel


class PeriodKind(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")


class TierMode(models.TextChoices):
    NONE = "none", _("No tiers (base rate)")
    MARGINAL = "marginal", _("Marginal (each slice at its own rate)")
    RETROACTIVE = "retroactive", _("Retroactive (the whole at the reached rate)")


class CommissionPlan(BaseModel):
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True, default="")
    period_kind = models.CharField(max_length=8, choices=PeriodKind.choices, default=PeriodKind.QUARTER)
    base_rate_percent = models.DecimalField(max_digits=7, decimal_places=4, default=0)
    tier_mode = models.CharField(max_length=12, choices=TierMode.choices, default=TierMode.NONE)
    # Credit above 100 % attainment earns its rate times this multiplier (1 = no accelerator).
    accelerator_multiplier = models.DecimalField(max_digits=6, decimal_places=3, default=1)
    # Below this attainment at the end of the period, credit commission is multiplied by the decelerator.
    decelerator_floor_percent = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    decelerator_multiplier = models.DecimalField(max_digits=6, decimal_places=3, default=1)
    cap_minor = models.BigIntegerField(null=True, blank=True)  # per person per period, base currency
    clawback_days = models.PositiveIntegerField(default=90)
    is_archived = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(base_rate_percent__gte=0), name="plan_base_rate_not_negative"),
            models.CheckConstraint(condition=Q(accelerator_multiplier__gte=0), name="plan_accelerator_ok"),
            models.CheckConstraint(condition=Q(decelerator_multiplier__gte=0), name="plan_decelerator_ok"),
            models.CheckConstraint(
                condition=Q(cap_minor__isnull=True) | Q(cap_minor__gte=0), name="plan_cap_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PlanTier(models.Model):
    """From ``from_percent`` attainment on (inclusive), credit earns ``rate_percent``."""

    plan = models.ForeignKey("commissions.CommissionPlan", on_delete=models.CASCADE, related_name="tiers")
    from_percent = models.DecimalField(max_digits=7, decimal_places=2)
    rate_percent = models.DecimalField(max_digits=7, decimal_places=4)

    class Meta:
        ordering = ["plan_id", "from_percent"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "from_percent"], name="plan_tier_unique_threshold"),
            models.CheckConstraint(condition=Q(from_percent__gte=0), name="plan_tier_from_not_negative"),
            models.CheckConstraint(condition=Q(rate_percent__gte=0), name="plan_tier_rate_not_negative"),
        ]

    def __str__(self) -> str:
        return f"from {self.from_percent} %: {self.rate_percent} %"


class RuleKind(models.TextChoices):
    PRODUCT = "product", _("Product")
    PIPELINE = "pipeline", _("Pipeline")
    DEAL_TYPE = "deal_type", _("New business or upsell/renewal")


class DealType(models.TextChoices):
    NEW = "new", _("New business")
    UPSELL = "upsell", _("Upsell or renewal")


class PlanRateRule(models.Model):
    """A flat rate that replaces the tier or base rate for matching credit."""

    plan = models.ForeignKey("commissions.CommissionPlan", on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(max_length=12, choices=RuleKind.choices)
    product = models.ForeignKey(
        "products.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    pipeline = models.ForeignKey(
        "deals.Pipeline", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    deal_type = models.CharField(max_length=8, choices=DealType.choices, blank=True, default="")
    rate_percent = models.DecimalField(max_digits=7, decimal_places=4)

    class Meta:
        ordering = ["plan_id", "kind", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(rate_percent__gte=0), name="plan_rule_rate_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.rate_percent} %"


class Spiff(models.Model):
    """A bonus for credit on deals matching a filter, won between ``starts_on`` and ``ends_on`` (inclusive)."""

    plan = models.ForeignKey("commissions.CommissionPlan", on_delete=models.CASCADE, related_name="spiffs")
    name = models.CharField(max_length=120)
    starts_on = models.DateField()
    ends_on = models.DateField()
    pipeline = models.ForeignKey(
        "deals.Pipeline", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    product = models.ForeignKey(
        "products.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    deal_type = models.CharField(max_length=8, choices=DealType.choices, blank=True, default="")
    min_amount_minor = models.BigIntegerField(default=0)  # the deal's base-currency value at least this
    bonus_minor = models.BigIntegerField(default=0)  # fixed, times the person's share
    rate_percent = models.DecimalField(max_digits=7, decimal_places=4, default=0)  # of the credit

    class Meta:
        ordering = ["plan_id", "starts_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="spiff_dates_ordered"
            ),
            models.CheckConstraint(condition=Q(bonus_minor__gte=0), name="spiff_bonus_not_negative"),
            models.CheckConstraint(condition=Q(rate_percent__gte=0), name="spiff_rate_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name


class PlanAssignment(BaseModel):
    """A plan for a user, a team or a role from ``effective_from`` until ``effective_to`` (exclusive)."""

    plan = models.ForeignKey(
        "commissions.CommissionPlan", on_delete=models.PROTECT, related_name="assignments"
    )
    user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    role = models.CharField(max_length=12, blank=True, default="")
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["effective_from", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(team__isnull=True) & Q(role=""))
                | (Q(user__isnull=True) & Q(team__isnull=False) & Q(role=""))
                | (Q(user__isnull=True) & Q(team__isnull=True) & ~Q(role="")),
                name="plan_assignment_one_assignee",
            ),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=models.F("effective_from")),
                name="plan_assignment_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan} from {self.effective_from}"


class DealSplit(models.Model):
    """One person's share of a deal's credit while ``valid_from <= t < valid_to``; history is kept."""

    deal = models.ForeignKey("deals.Deal", on_delete=models.CASCADE, related_name="commission_splits")
    user = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    share_percent = models.DecimalField(max_digits=5, decimal_places=2)
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True)
    set_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["deal_id", "valid_from", "id"]
        indexes = [models.Index(fields=["deal", "valid_from"]), models.Index(fields=["user", "valid_from"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(share_percent__gt=0) & Q(share_percent__lte=100), name="deal_split_share_0_100"
            ),
        ]

    def __str__(self) -> str:
        return f"deal {self.deal_id}: user {self.user_id} {self.share_percent} %"


# A kept credit's columns in the order the crediting rule writes them (services/credits.py); a period reads
# the same without won_at (selectors/periods.py).
CREDIT_ENTRY_COLUMNS = (
    "won_event_id",
    "deal_id",
    "user_id",
    "won_at",
    "won_on",
    "title",
    "credit_minor",
    "share_percent",
    "deal_minor",
    "pipeline_id",
    "deal_type",
)


class CreditEntry(models.Model):
    """One person's credit for one WON event, kept at write time (services/credits.py): exactly what
    ``History.shares_at`` and the RateBook make of the deal history now, so a period reads rows by person and
    day instead of crediting a quarter's events per request. A deal in the trash has none. Only
    ``credits_sync`` and ``credits_rebuild`` write it (docs/decisions/0003-commission-credits-kept.md)."""

    # No database constraints: the rows are recomputed from the history, never the other way round.
    won_event = models.ForeignKey(
        "deals.DealEvent", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    deal = models.ForeignKey("deals.Deal", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    user = models.ForeignKey(
        "accounts.User", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    won_at = models.DateTimeField()
    won_on = models.DateField()  # the local day of won_at
    title = models.CharField(max_length=200, blank=True, default="")  # the deal's, kept in step
    credit_minor = models.BigIntegerField()  # deal_minor times the share, rounded
    share_percent = models.DecimalField(max_digits=5, decimal_places=2)
    deal_minor = models.BigIntegerField()  # the whole deal in the base currency at the won day's rate
    pipeline_id = models.BigIntegerField()
    deal_type = models.CharField(max_length=8, choices=DealType.choices)

    class Meta:
        indexes = [
            models.Index(fields=["user", "won_on"], name="credit_entry_user_won_on"),
            models.Index(fields=["won_on"], name="credit_entry_won_on"),
        ]

    def __str__(self) -> str:
        return f"event {self.won_event_id}: user {self.user_id} {self.credit_minor}"


class StatementStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    APPROVED = "approved", _("Approved")
    PAID = "paid", _("Paid and locked")


class Statement(BaseModel):
    """One person's commission for one period; lines are recomputed while it is a draft, never after."""

    user = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    period_key = models.CharField(max_length=24)
    period_start = models.DateField()
    period_end = models.DateField()  # exclusive
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=8, choices=StatementStatus.choices, default=StatementStatus.DRAFT)
    plan = models.ForeignKey(
        "commissions.CommissionPlan", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    quota_minor = models.BigIntegerField(null=True, blank=True)
    credit_minor = models.BigIntegerField(default=0)  # credited won amount (attainment numerator)
    commission_minor = models.BigIntegerField(default=0)  # computed lines
    adjustment_minor = models.BigIntegerField(default=0)  # manager adjustments
    total_minor = models.BigIntegerField(default=0)  # sum of every line
    attainment_percent = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period_start", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "period_key"], name="statement_unique_user_period"),
        ]
        indexes = [models.Index(fields=["period_key", "status"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.period_key}"

    @property
    def is_locked(self) -> bool:
        return self.status == StatementStatus.PAID

    @property
    def is_draft(self) -> bool:
        return self.status == StatementStatus.DRAFT


class StatementDocument(models.Model):
    """A statement's PDF, kept so that a download is a read: WeasyPrint lays out a 186-line statement in
    1.5-2.0 s (issue #19). It is the statement's PDF only while ``fingerprint``, the SHA-256 of the HTML
    it was drawn from, equals that of the statement's HTML now (figures, lines, status, name, language)."""

    statement = models.OneToOneField(
        "commissions.Statement", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    fingerprint = models.CharField(max_length=64, blank=True, default="")
    pdf = models.BinaryField(default=b"")
    rendered_at = models.DateTimeField(null=True, blank=True)
    # A drawing asked of the worker and not done yet: the pages wait for it (and draw it themselves when the
    # worker has not within documents.RENDER_WAIT_SECONDS).
    requested_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.statement_id} {self.fingerprint[:12]}"


class LineKind(models.TextChoices):
    CREDIT = "credit", _("Credit")
    SPIFF = "spiff", _("SPIFF")
    CLAWBACK = "clawback", _("Clawback")
    DECELERATOR = "decelerator", _("Decelerator")
    CAP = "cap", _("Cap")
    ADJUSTMENT = "adjustment", _("Adjustment")


class StatementLine(models.Model):
    statement = models.ForeignKey("commissions.Statement", on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=12, choices=LineKind.choices)
    position = models.PositiveIntegerField(default=0)
    deal = models.ForeignKey(
        "deals.Deal",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    deal_title = models.CharField(max_length=200, blank=True, default="")
    source_event_id = models.BigIntegerField(null=True, blank=True)  # the WON or REOPENED DealEvent
    occurred_on = models.DateField(null=True, blank=True)
    credit_minor = models.BigIntegerField(default=0)
    share_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    rule = models.CharField(max_length=200, blank=True, default="")
    tier = models.CharField(max_length=80, blank=True, default="")
    rate_percent = models.DecimalField(max_digits=9, decimal_places=4, null=True, blank=True)
    commission_minor = models.BigIntegerField(default=0)
    reason = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["statement_id", "position", "id"]
        indexes = [models.Index(fields=["source_event_id"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.commission_minor}"


class DisputeStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ADJUSTED = "adjusted", _("Resolved with an adjustment")
    NOTED = "noted", _("Resolved with a note")


class Dispute(BaseModel):
    """A rep's question about one statement line, answered in a thread and resolved by a manager."""

    statement = models.ForeignKey("commissions.Statement", on_delete=models.CASCADE, related_name="disputes")
    line = models.ForeignKey(
        "commissions.StatementLine", null=True, blank=True, on_delete=models.SET_NULL, related_name="disputes"
    )
    line_text = models.CharField(max_length=300, blank=True, default="")  # what the line said when disputed
    opened_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=DisputeStatus.choices, default=DisputeStatus.OPEN)
    resolved_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"dispute {self.pk} ({self.status})"


class DisputeMessage(models.Model):
    dispute = models.ForeignKey("commissions.Dispute", on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"message {self.pk}"


class LeaderboardVisibility(models.TextChoices):
    TEAM = "team", _("Team only")
    COMPANY = "company", _("Company")
    OFF = "off", _("Off")


class Measure(models.TextChoices):
    WON_REVENUE = "won_revenue", _("Won revenue")
    ATTAINMENT = "attainment", _("Attainment")
    ACTIVITIES = "activities", _("Activities done")
    DATA_QUALITY = "data_quality", _("Data quality")


class CommissionSettings(models.Model):
    """The one row of company-wide settings (pk 1)."""

    leaderboard_visibility = models.CharField(
        max_length=8, choices=LeaderboardVisibility.choices, default=LeaderboardVisibility.TEAM
    )

    def __str__(self) -> str:
        return "commission settings"


class CommissionPreference(models.Model):
    """One user's choices: leaderboard opt-out, the win celebration, what-if on board cards."""

    user = models.OneToOneField(
        "accounts.User", on_delete=models.CASCADE, related_name="commission_preference"
    )
    is_leaderboard_opt_out = models.BooleanField(default=False)
    is_celebration_on = models.BooleanField(default=True)
    is_board_what_if_on = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"


class Contest(BaseModel):
    """A time-boxed target on a measure for people (or whole teams), with a prize text."""

    name = models.CharField(max_length=120)
    measure = models.CharField(max_length=16, choices=Measure.choices)
    starts_on = models.DateField()
    ends_on = models.DateField()  # inclusive
    target = models.BigIntegerField()  # minor units for revenue, percent for attainment/quality, a count else
    is_for_teams = models.BooleanField(default=False)
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    prize = models.CharField(max_length=300, blank=True, default="")
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-starts_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="contest_dates_ordered"
            ),
            models.CheckConstraint(condition=Q(target__gt=0), name="contest_target_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class BadgeKind(models.TextChoices):
    FIRST_DEAL = "first_deal", _("First deal won")
    QUOTA_REACHED = "quota_reached", _("Quota reached")
    CLEAN_MONTH = "clean_month", _("A month without stale deals")


class Badge(models.Model):
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=BadgeKind.choices)
    key = models.CharField(max_length=24, blank=True, default="")  # the period earned in ("" for once-only)
    awarded_on = models.DateField()

    class Meta:
        ordering = ["-awarded_on", "id"]
        constraints = [models.UniqueConstraint(fields=["user", "kind", "key"], name="badge_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"
