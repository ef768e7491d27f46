"""Forecast: the period forecast per scope, snapshots, calls, quotas, accuracy, calibration and backtests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status

from dealflow.accounts.models import Team, User
from dealflow.api.base import ApiRequest
from dealflow.forecasting import selectors, services
from dealflow.forecasting.models import BacktestRun

router = Router(tags=["Forecast"])


class ScopeQuery(Schema):
    kind: str = "month"
    scope: str | None = None  # company, team or rep
    id: int | None = None
    method: str | None = None


class ChildOut(Schema):
    label: str
    scope_kind: str
    scope_id: int
    closed: float
    mean: float
    p10: float
    p90: float
    quota: float | None
    p_quota: float | None
    call_commit: float | None


class PeriodOut(Schema):
    period: str
    start: dt.date
    end: dt.date
    closed: float
    commit: float
    best_case: float
    pipeline: float
    weighted: float
    expected_open: float
    expected_new: float
    mean: float
    p10: float
    p50: float
    p90: float
    quota: float | None
    p_quota: float | None
    call_commit: float | None
    call_best_case: float | None
    children: list[ChildOut]
    method: str  # the method behind mean and range for this period (the backtest's default per horizon)
    calibrated: bool  # the range comes from the method's own backtest errors; false: wider, uncalibrated
    attainment: float | None  # closed so far / quota, this period only


class DealExplanationOut(Schema):
    deal_id: int
    title: str
    owner: str
    stage: str
    age_days: int
    amount: float
    expected_close_on: dt.date | None
    category: str
    configured: float
    p_win: float
    p_period: float
    expected_value: float
    source: str
    reason: str


class ForecastOut(Schema):
    scope: str
    scope_label: str
    kind: str
    method: str
    method_reason: str
    level: str
    currency: str
    as_of: dt.datetime
    changed_since: bool  # computed before a change (or over ten minutes ago): the worker is recomputing it
    draws: int
    seed: int
    open_deals: int
    fitted_on: dt.date  # probabilities learned from history up to this day
    later_method: str  # the default for the periods after this one
    calibrated: bool
    coverage: float | None  # measured P10-P90 coverage of the method in the latest backtest
    periods: list[PeriodOut]
    deals: list[DealExplanationOut]


def _forecast_out(view: selectors.ForecastView) -> dict:
    return {
        "scope": view.scope.key,
        "scope_label": view.scope.label,
        "kind": view.kind,
        "method": view.method,
        "method_reason": view.method_reason,
        "level": view.level,
        "currency": view.currency,
        "as_of": view.as_of,
        "changed_since": view.changed_since,
        "draws": view.draws,
        "seed": view.seed,
        "open_deals": view.open_deals,
        "fitted_on": view.fitted_on,
        "later_method": view.later_method,
        "calibrated": view.calibrated,
        "coverage": view.coverage,
        "periods": [
            {
                **vars(period),
                "period": period.period.key,
                "start": period.period.start,
                "end": period.period.end,
            }
            for period in view.periods
        ],
        "deals": [vars(deal) for deal in view.deals],
    }


@router.get("", response=ForecastOut)
def forecast(request: ApiRequest, query: Query[ScopeQuery]):
    """This period and the next three: closed, categories, weighted, mean, P10/P50/P90, P(quota), per-deal reasons."""
    view = selectors.forecast_for_user(
        user=request.user, kind=query.kind, scope_kind=query.scope, scope_id=query.id, method=query.method
    )
    return _forecast_out(view)


class SnapshotOut(Schema):
    id: int
    run_key: str
    as_of: dt.datetime
    period_key: str
    scope_kind: str
    team_id: int | None
    owner_id: int | None
    method: str
    level: str
    currency: str
    closed_to_date_minor: int
    expected_open_minor: int
    expected_new_minor: int
    weighted_minor: int
    commit_minor: int
    best_case_minor: int
    pipeline_minor: int
    mean_minor: int
    p10_minor: int
    p50_minor: int
    p90_minor: int
    quota_minor: int | None
    p_quota: float | None
    call_commit_minor: int | None
    call_best_case_minor: int | None
    open_deals: int
    draws: int
    seed: int
    origin: str


class SnapshotDealOut(Schema):
    deal_id: int
    stage: str
    age_days: float
    amount_minor: int
    expected_close_on: dt.date | None
    category: str
    configured_probability: float
    p_win: float
    p_by_period: dict[str, float]
    source: str
    level: str

    @staticmethod
    def resolve_stage(row) -> str:
        return row.stage.name


class SnapshotDetailOut(Schema):
    snapshot: SnapshotOut
    deals: list[SnapshotDealOut]


class SnapshotQuery(Schema):
    scope: str | None = None
    id: int | None = None
    period: str | None = None
    limit: int = 50


class SnapshotIn(Schema):
    kind: str = "month"


@router.get("/snapshots", response=list[SnapshotOut])
def snapshot_list(request: ApiRequest, query: Query[SnapshotQuery]):
    """Snapshots of a scope (default: the widest you may see), newest first."""
    snapshots = selectors.snapshot_list_for_user(
        user=request.user, scope_kind=query.scope, scope_id=query.id, period=query.period
    )
    return list(snapshots[: max(1, min(query.limit, 500))])


@router.get("/snapshots/{snapshot_id}", response=SnapshotDetailOut)
def snapshot_detail(request: ApiRequest, snapshot_id: int):
    """One snapshot with the open deals it saw (those you may see)."""
    snapshot = selectors.snapshot_get_for_user(snapshot_id=snapshot_id, user=request.user)
    return {
        "snapshot": snapshot,
        "deals": list(selectors.snapshot_deals_for_user(snapshot=snapshot, user=request.user)),
    }


@router.post("/snapshots", response={201: list[SnapshotOut]})
def snapshot_create(request: ApiRequest, payload: SnapshotIn):
    """Take a snapshot now (managers and admins); snapshots are never edited afterwards."""
    return Status(201, services.snapshot_take(origin="api", by=request.user, kind=payload.kind))


class CallOut(Schema):
    id: int
    period_key: str
    kind: str
    user_id: int | None
    team_id: int | None
    commit_minor: int
    best_case_minor: int
    currency: str
    note: str
    submitted_by_id: int | None
    created_at: dt.datetime


class CallIn(Schema):
    period: str
    commit: Decimal
    best_case: Decimal
    user_id: int | None = None
    team_id: int | None = None  # set for a manager's adjustment of the team's call
    note: str = ""


@router.get("/calls", response=list[CallOut])
def call_list(request: ApiRequest, period: str | None = None):
    """Calls of the teams and reps you may see, newest first (the newest per scope counts)."""
    return list(
        selectors.call_list_for_user(user=request.user, period_keys=[period] if period else None)[:500]
    )


@router.post("/calls", response={201: CallOut})
def call_create(request: ApiRequest, payload: CallIn):
    """Submit a rep call, or (with team_id and a note) adjust the team's call as its manager."""
    if payload.team_id is not None:
        team = get_object_or_404(Team, pk=payload.team_id)
        call = services.call_adjust(
            by=request.user,
            team=team,
            period=payload.period,
            commit=payload.commit,
            best_case=payload.best_case,
            note=payload.note,
        )
    else:
        user = get_object_or_404(User, pk=payload.user_id) if payload.user_id else None
        call = services.call_submit(
            by=request.user,
            user=user,
            period=payload.period,
            commit=payload.commit,
            best_case=payload.best_case,
            note=payload.note,
        )
    return Status(201, call)


class QuotaOut(Schema):
    id: int
    period_key: str
    team_id: int | None
    user_id: int | None
    amount_minor: int
    currency: str


class QuotaIn(Schema):
    period: str
    amount: Decimal
    team_id: int | None = None
    user_id: int | None = None


@router.get("/quotas", response=list[QuotaOut])
def quota_list(request: ApiRequest, period: str | None = None):
    """Quotas of the teams and reps you may see."""
    return list(
        selectors.quota_list_for_user(user=request.user, period_keys=[period] if period else None)[:1000]
    )


@router.put("/quotas", response=QuotaOut)
def quota_put(request: ApiRequest, payload: QuotaIn):
    """Set the quota of a team or a rep for a period (the team's manager or an admin)."""
    team = get_object_or_404(Team, pk=payload.team_id) if payload.team_id else None
    user = get_object_or_404(User, pk=payload.user_id) if payload.user_id else None
    return services.quota_set(
        by=request.user, period=payload.period, amount=payload.amount, team=team, user=user
    )


class AccuracyOut(Schema):
    period: str
    scope: str
    as_of: dt.datetime
    week: int
    method: str
    currency: str
    forecast: float
    p10: float
    p90: float
    actual: float
    accuracy: float | None
    covered: bool
    call_commit: float | None
    call_accuracy: float | None


class AccuracyTableOut(Schema):
    rows: list[AccuracyOut]
    by_week: list[dict]


@router.get("/accuracy", response=AccuracyTableOut)
def accuracy(request: ApiRequest, query: Query[ScopeQuery]):
    """Closed periods: the snapshot forecast per week of the period against the actual, model and human call."""
    table = selectors.forecast_accuracy_table_for_user(
        user=request.user, kind=query.kind, scope_kind=query.scope, scope_id=query.id
    )
    return {"rows": [vars(row) for row in table.rows], "by_week": table.by_week}


class StageCalibrationOut(Schema):
    stage: str
    count: int
    configured: float
    predicted: float
    observed: float
    brier_configured: float
    brier_model: float
    skill_model: float | None
    ece_model: float


@router.get("/calibration", response=list[StageCalibrationOut])
def calibration(request: ApiRequest):
    """Per stage: configured and model probabilities against observed win rates, Brier, skill, ECE."""
    return [vars(stage) for stage in selectors.forecast_calibration_for_user(user=request.user)["stages"]]


class BacktestIn(Schema):
    period_from: str | None = None  # default: the last 12 full months (4 quarters)
    period_to: str | None = None
    kind: str = "month"


class BacktestOut(Schema):
    id: int
    period_from: str
    period_to: str
    period_kind: str
    status: str
    percent: int
    steps_done: int
    steps_total: int
    error: str
    result: dict


@router.post("/backtests", response={202: BacktestOut})
def backtest_create(request: ApiRequest, payload: BacktestIn):
    """Queue a backtest (managers, analysts, admins); poll it for progress and the report."""
    run = services.backtest_start(
        by=request.user, period_from=payload.period_from, period_to=payload.period_to, kind=payload.kind
    )
    run.refresh_from_db()
    return Status(202, run)


@router.get("/backtests/{run_id}", response=BacktestOut)
def backtest_detail(request: ApiRequest, run_id: int):
    """A backtest's progress and, when done, its table of accuracy, WAPE, bias and coverage per method."""
    run: BacktestRun = selectors.backtest_get_for_user(run_id=run_id, user=request.user)
    return run
