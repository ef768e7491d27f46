"""Quotas, calls, immutable forecast snapshots, stored model fits and backtest runs.

Snapshots are append-only: no code path updates or deletes them, the model refuses a second save and
database triggers (migration 0002) refuse UPDATE and DELETE on both engines, like the DealEvent log.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from dealflow.core.models import AppendOnlyModel, BaseModel


class ScopeKind(models.TextChoices):
    COMPANY = "company", _("Company")
    TEAM = "team", _("Team")
    REP = "rep", _("Rep")


class Method(models.TextChoices):
    """Forecast methods. Baselines: run-rate, last year and the weighted pipeline (configured); every method
    gets a range calibrated from its backtest errors (calibration.py)."""

    DEALFLOW = "dealflow", _("Dealflow (within-period conversion + run-rate)")
    LEARNED = "learned", _("Learned win rates x close date")
    CONFIGURED = "configured", _("Weighted pipeline (configured stage probability x close date)")
    RUN_RATE = "run_rate", _("Run-rate")
    LAST_YEAR = "last_year", _("Same period last year")
    BLEND = "blend", _("Blend of the methods, weighted by their backtest accuracy")


class Quota(BaseModel):
    """A revenue target for a rep or a team in one period (amount in the base currency's minor units)."""

    period_key = models.CharField(max_length=24)
    period_start = models.DateField()
    period_end = models.DateField()  # exclusive
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    set_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["period_start", "team_id", "user_id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gte=0), name="quota_amount_not_negative"),
            models.CheckConstraint(
                condition=(Q(team__isnull=False) & Q(user__isnull=True))
                | (Q(team__isnull=True) & Q(user__isnull=False)),
                name="quota_team_xor_user",
            ),
            models.UniqueConstraint(fields=["period_key", "team"], name="quota_unique_team_period"),
            models.UniqueConstraint(fields=["period_key", "user"], name="quota_unique_user_period"),
        ]

    def __str__(self) -> str:
        return f"quota {self.period_key} {self.team_id or ''}{self.user_id or ''}"


class CallKind(models.TextChoices):
    REP = "rep", _("Rep call")
    ADJUSTMENT = "adjustment", _("Manager adjustment")


class ForecastCall(BaseModel):
    """A human call (commit and best case) for a period. Never edited: a new call supersedes the last one.

    A rep's call has ``user``; a manager's adjustment of the team's call has ``team`` and a note.
    """

    period_key = models.CharField(max_length=24)
    period_start = models.DateField()
    period_end = models.DateField()
    kind = models.CharField(max_length=12, choices=CallKind.choices)
    user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    commit_minor = models.BigIntegerField()
    best_case_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    note = models.CharField(max_length=500, blank=True, default="")
    submitted_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["period_start", "-created_at", "-id"]
        indexes = [models.Index(fields=["period_key", "kind", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(commit_minor__gte=0) & Q(best_case_minor__gte=0), name="call_not_negative"
            ),
            models.CheckConstraint(
                condition=(Q(kind="rep") & Q(user__isnull=False) & Q(team__isnull=True))
                | (Q(kind="adjustment") & Q(team__isnull=False) & Q(user__isnull=True)),
                name="call_scope_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"call {self.period_key} {self.kind}"


class ForecastSnapshot(AppendOnlyModel):
    """The forecast for one period and scope as it stood at ``as_of`` (money in base minor units)."""

    run_key = models.CharField(max_length=40, db_index=True)  # groups the periods/scopes of one taking
    as_of = models.DateTimeField()
    as_of_on = models.DateField()
    period_key = models.CharField(max_length=24)
    period_start = models.DateField()
    period_end = models.DateField()
    scope_kind = models.CharField(max_length=8, choices=ScopeKind.choices)
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
    )
    owner = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
    )
    method = models.CharField(max_length=12, choices=Method.choices)
    level = models.CharField(max_length=4)  # L0..L3: the probability model that answered
    currency = models.CharField(max_length=3)
    closed_to_date_minor = models.BigIntegerField()
    expected_open_minor = models.BigIntegerField()
    expected_new_minor = models.BigIntegerField()
    weighted_minor = models.BigIntegerField()  # amount x configured probability, dated in period
    commit_minor = models.BigIntegerField()  # open Commit-category deals dated in period
    best_case_minor = models.BigIntegerField()
    pipeline_minor = models.BigIntegerField()
    mean_minor = models.BigIntegerField()
    p10_minor = models.BigIntegerField()
    p50_minor = models.BigIntegerField()
    p90_minor = models.BigIntegerField()
    quota_minor = models.BigIntegerField(null=True, blank=True)
    p_quota = models.FloatField(null=True, blank=True)
    call_commit_minor = models.BigIntegerField(null=True, blank=True)
    call_best_case_minor = models.BigIntegerField(null=True, blank=True)
    open_deals = models.PositiveIntegerField()
    draws = models.PositiveIntegerField()
    seed = models.BigIntegerField()
    origin = models.CharField(max_length=20)  # schedule, cli, web, api, demo
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-as_of", "period_start", "scope_kind", "id"]
        indexes = [
            models.Index(fields=["period_key", "scope_kind", "as_of"]),
            models.Index(fields=["as_of_on"]),
        ]

    def __str__(self) -> str:
        return f"snapshot {self.period_key} {self.scope_kind} at {self.as_of:%Y-%m-%d}"


class SnapshotDeal(AppendOnlyModel):
    """One open deal as the forecast saw it at ``as_of``: for explanation, calibration and diffs."""

    run_key = models.CharField(max_length=40, db_index=True)
    as_of = models.DateTimeField()
    deal = models.ForeignKey("deals.Deal", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False)
    owner_id_at = models.BigIntegerField()
    stage = models.ForeignKey(
        "deals.Stage", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    age_days = models.FloatField()
    amount_minor = models.BigIntegerField()  # base currency
    expected_close_on = models.DateField(null=True, blank=True)
    category = models.CharField(max_length=12)
    configured_probability = models.FloatField()
    p_win = models.FloatField()
    p_by_period = models.JSONField(default=dict)  # {"2026-11": 0.31, ...}
    source = models.CharField(max_length=12)  # configured, learned, overridden
    level = models.CharField(max_length=4)

    class Meta:
        ordering = ["run_key", "deal_id"]

    def __str__(self) -> str:
        return f"{self.run_key} deal {self.deal_id}"


class CalibrationSample(models.Model):
    """The first snapshot row that saw a deal in a stage: calibration counts each deal once per stage.

    Derived from SnapshotDeal at write time (``snapshot_take``); a snapshot taken later but dated earlier
    (a backfill) replaces the sample, so it stays the earliest. The calibration table aggregates these
    rows in SQL instead of reading every snapshot row (hundreds of thousands after a year of weeks).
    """

    deal = models.ForeignKey("deals.Deal", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False)
    stage = models.ForeignKey(
        "deals.Stage", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    as_of = models.DateTimeField()
    configured_probability = models.FloatField()
    p_win = models.FloatField()

    class Meta:
        ordering = ["deal_id", "stage_id"]
        constraints = [models.UniqueConstraint(fields=["deal", "stage"], name="calibration_sample_unique")]
        indexes = [models.Index(fields=["as_of"])]

    def __str__(self) -> str:
        return f"deal {self.deal_id} in stage {self.stage_id} at {self.as_of:%Y-%m-%d}"


class ForecastFit(models.Model):
    """Fitted model parameters for one day, so the page does not refit on every request; also other
    once-a-day results under their own key (the calibration table per set of visible owners)."""

    as_of_on = models.DateField()
    data_key = models.CharField(max_length=80)  # changes when the closed history changes
    params = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-as_of_on", "-id"]
        indexes = [models.Index(fields=["as_of_on", "data_key"])]

    def __str__(self) -> str:
        return f"fit {self.as_of_on}"


class BacktestStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class BacktestRun(BaseModel):
    """One backtest: its range, progress (polled by the page) and the result table."""

    period_from = models.CharField(max_length=24)
    period_to = models.CharField(max_length=24)
    period_kind = models.CharField(max_length=8, default="month")
    status = models.CharField(max_length=8, choices=BacktestStatus.choices, default=BacktestStatus.QUEUED)
    steps_total = models.PositiveIntegerField(default=0)
    steps_done = models.PositiveIntegerField(default=0)
    requested_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"backtest {self.period_from}..{self.period_to} {self.status}"

    @property
    def percent(self) -> int:
        if not self.steps_total:
            return 0 if self.status != BacktestStatus.DONE else 100
        return min(100, round(100 * self.steps_done / self.steps_total))


class KeptForecast(models.Model):
    """A forecast as computed for one scope, period kind, method and language: the page and the API read it
    while the data it depends on (``version``) is unchanged, and show it with its time while the worker
    recomputes it (docs/forecasting.md, "The kept forecast"). ``payload`` is the pickled ForecastView,
    written only by ``forecasting.selectors.forecast``."""

    key = models.CharField(max_length=200, unique=True)
    version = models.TextField()
    computed_at = models.DateTimeField()
    open_deals = models.PositiveIntegerField()
    payload = models.BinaryField()
    refresh_requested_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"kept forecast {self.key}"
