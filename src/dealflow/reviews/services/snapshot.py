"""Freeze a review's snapshot: every open deal in scope as of a moment, with its probabilities, flags and
priority values, the period's forecast range, the waterfall against the last review and the bottlenecks.

The deals are rebuilt from the DealEvent log as of ``at`` with the forecast's own machinery
(``forecasting.engine.history_load`` and ``calculations.states_as_of``), and their probabilities come
from the forecast's fitted models (``calculations.predict``), so a review started now and one backdated
for the demo use the same code, and a review agrees with the Forecast page about every deal.
Everything computed from the arrays lives in ``reviews.calculations``; this module only loads data.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from django.db.models import Max, Q, Sum
from django.utils import timezone

from dealflow.accounts.models import Membership, Team, User
from dealflow.core.errors import ApplicationError
from dealflow.core.periods import Period, period_containing
from dealflow.deals.models import (
    Activity,
    Deal,
    DealStatus,
    Pipeline,
    Stage,
)
from dealflow.deals.selectors import base_currency
from dealflow.forecasting import calculations as forecast_calc
from dealflow.forecasting import engine
from dealflow.forecasting.selectors import DRAWS, SEED, TargetBook, method_default
from dealflow.reviews import calculations as calc
from dealflow.reviews.models import ScopeKind
from dealflow.reviews.services.bottlenecks import bottlenecks_build, bottlenecks_live
from dealflow.reviews.services.thresholds import stage_thresholds


@dataclass(frozen=True)
class ReviewScope:
    """Which deals a review covers: a team's, a rep's, or a pipeline's (optionally one team's)."""

    kind: str
    team: Team | None = None
    rep: User | None = None
    pipeline: Pipeline | None = None

    def owner_ids(self) -> frozenset[int] | None:
        """The owners in scope; None for a pipeline review of everybody."""
        if self.kind == ScopeKind.REP and self.rep is not None:
            return frozenset([self.rep.pk])
        if self.team is not None:
            return frozenset(Membership.objects.filter(team=self.team).values_list("user_id", flat=True))
        return None

    def deals_q(self, owners: frozenset[int] | None, owner_field: str = "owner_id") -> Q:
        condition = Q()
        if owners is not None:
            condition &= Q(**{f"{owner_field}__in": sorted(owners)})
        if self.pipeline is not None:
            condition &= Q(pipeline_id=self.pipeline.pk)
        return condition


@dataclass
class SnapshotResult:
    as_of: dt.datetime
    as_of_on: dt.date
    currency: str
    method: str
    level: str
    horizon: int
    draws: int
    seed: int
    closed_minor: int
    expected_open_minor: int
    expected_new_minor: int
    mean_minor: int
    p10_minor: int
    p50_minor: int
    p90_minor: int
    quota_minor: int | None
    p_quota: float | None
    new_samples: list[float]
    thresholds: dict[str, dict[str, Any]]
    bottlenecks: list[dict[str, Any]]
    deals: list[dict[str, Any]] = field(default_factory=list)


def horizon_of(period: Period, *, as_of_on: dt.date) -> int:
    """How many periods ahead of the as-of period the review's period lies (0 = the current one)."""
    current = period_containing(as_of_on, kind=period.kind)
    for horizon in range(engine.HORIZONS):
        if current.key == period.key:
            return horizon
        current = current.next()
    return -1


def _touch_times(
    history: forecast_calc.History, moment: int
) -> tuple[dict[int, list[tuple[int, int, int]]], dict[int, float]]:
    """Per deal index: its stage events up to ``moment`` (time, stage id, status) and its peak amount."""
    stages: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for deal, time, stage, status in zip(
        history.stage_deal.tolist(),
        history.stage_time.tolist(),
        history.stage_stage.tolist(),
        history.stage_status.tolist(),
        strict=True,
    ):
        if time <= moment:
            stages[deal].append((time, stage, status))
    peaks: dict[int, float] = {}
    for deal, time, value in zip(
        history.amount_deal.tolist(), history.amount_time.tolist(), history.amount_value.tolist(), strict=True
    ):
        if time <= moment and value > peaks.get(deal, -1.0):
            peaks[deal] = value
    return stages, peaks


def _close_pushes(history: forecast_calc.History, moment: int) -> dict[int, list[tuple[dt.date, dt.date]]]:
    """Per deal index: every close-date change up to ``moment`` that moved a date later, in order."""
    pushes: dict[int, list[tuple[dt.date, dt.date]]] = defaultdict(list)
    for deal, time, before, after in zip(
        history.close_deal.tolist(),
        history.close_time.tolist(),
        history.close_from.tolist(),
        history.close_to.tolist(),
        strict=True,
    ):
        if (
            time <= moment
            and before != forecast_calc.NO_DATE
            and after != forecast_calc.NO_DATE
            and after > before
        ):
            pushes[deal].append((dt.date.fromordinal(before), dt.date.fromordinal(after)))
    return pushes


def _fit_for(kind: str, history: forecast_calc.History, fit_result: forecast_calc.Fit | None):
    if fit_result is not None:
        return fit_result
    fitted = engine.fit_for_today(kind=kind)
    if fitted.stage_ids != [int(stage) for stage in history.stage_ids]:
        fitted = engine.fit_refresh(kind=kind)  # stages were added since the day's fit
    return fitted


def snapshot_build(
    *,
    scope: ReviewScope,
    period: Period,
    at: dt.datetime,
    fit_result: forecast_calc.Fit | None = None,
    use_current_next_step: bool = True,
    user: User | None = None,
    draws: int = DRAWS,
    seed: int = SEED,
) -> SnapshotResult:
    """Every open deal in scope as of ``at`` with probabilities, flags and priorities; the period's range.

    ``fit_result``: the forecast models fitted as of ``at`` (default: today's cached fit).
    ``use_current_next_step``: the snapshot is taken now: judge "has a next step" from the deal's next-step
    field too (it keeps no history, so a backdated snapshot looks at activities only), and take the
    bottlenecks from the Dashboard's stage times as ``user`` sees them (they only know "now").
    """
    as_of_on = timezone.localdate(at)
    horizon = horizon_of(period, as_of_on=as_of_on)
    if horizon < 0:
        raise ApplicationError(
            "Review this period or one of the next three: the forecast looks no further.", field="period"
        )
    owners = scope.owner_ids()
    moment = engine.moment_of(at)
    deals_q = (
        scope.deals_q(owners)
        & Q(created_at__lte=at)
        & (Q(status=DealStatus.OPEN) | Q(closed_on__gte=as_of_on - dt.timedelta(days=1)))
    )
    history = engine.history_load(deals_q=deals_q)
    states = forecast_calc.states_as_of(history, [moment])
    fitted = _fit_for(period.kind, history, fit_result)
    method = method_default()[0]
    calendar, predictions = _predictions(
        fitted, states, period=period, as_of_on=as_of_on, moment=moment, method=method
    )
    context = _DealContext.load(deals_q=deals_q, at=at)
    pipeline_ids = sorted(
        {context.stages[int(history.stage_ids[stage])][3] for stage in states.stage.tolist()}
    )
    if scope.pipeline is not None and scope.pipeline.pk not in pipeline_ids:
        pipeline_ids.append(scope.pipeline.pk)
    thresholds = stage_thresholds(pipeline_ids=pipeline_ids, as_of=at)
    stage_events, peaks = _touch_times(history, moment)
    pushes = _close_pushes(history, moment)
    rows = [
        _deal_row(
            row_index,
            deal_index,
            history=history,
            states=states,
            predictions=predictions,
            context=context,
            stage_events=stage_events,
            peaks=peaks,
            pushes=pushes,
            thresholds=thresholds,
            period=period,
            as_of_on=as_of_on,
            moment=moment,
            horizon=horizon,
            use_current_next_step=use_current_next_step,
        )
        for row_index, deal_index in enumerate(states.deal.tolist())
    ]

    # The period's range: closed so far + the open deals' draws + the run-rate of deals not yet created.
    closed = _closed_so_far(scope, owners, period, as_of_on=as_of_on, at=at) if horizon == 0 else 0
    samples = [
        round(value, 2)
        for value in _run_rate_samples(fitted, calendar, moment, owners, scope, horizon, method)
    ]
    summary_draws = calc.simulate_rows(
        amounts=[row["amount_minor"] for row in rows],
        p_period=[row["p_period"] for row in rows],
        new_samples=samples,
        draws=draws,
        seed=seed,
    )
    quota = _quota(scope, period, at)
    summary = forecast_calc.summarise(summary_draws, closed=float(closed), quota=quota)
    expected_open = sum(row["amount_minor"] * row["p_period"] for row in rows)
    if user is not None and use_current_next_step:
        bottlenecks = bottlenecks_live(user=user, scope=scope, at=at, rows=rows, pipeline_ids=pipeline_ids)
    else:
        bottlenecks = bottlenecks_build(
            scope=scope, owners=owners, at=at, rows=rows, pipeline_ids=pipeline_ids, thresholds=thresholds
        )
    prediction = predictions["actual"]
    return SnapshotResult(
        as_of=at,
        as_of_on=as_of_on,
        currency=base_currency(),
        method=method,
        level=prediction.level,
        horizon=horizon,
        draws=draws,
        seed=seed,
        closed_minor=int(closed),
        expected_open_minor=round(expected_open),
        expected_new_minor=round(sum(samples) / len(samples)) if samples else 0,
        mean_minor=round(summary.mean),
        p10_minor=round(summary.p10),
        p50_minor=round(summary.p50),
        p90_minor=round(summary.p90),
        quota_minor=quota,
        p_quota=summary.p_quota,
        new_samples=samples,
        thresholds={str(stage_id): threshold.as_dict() for stage_id, threshold in thresholds.items()},
        bottlenecks=bottlenecks,
        deals=rows,
    )


@dataclass
class _DealContext:
    """What the deal rows read besides the event log: stages, deal fields and activities as of ``at``."""

    stages: dict[int, tuple]  # id -> (id, name, order, pipeline_id, rotting_days)
    deals: dict[int, tuple]  # id -> (id, title, pipeline_id, next_step, next_step_on)
    last_done: dict[int, dt.datetime]  # deal id -> its last activity done at or before ``at``
    planned: set[int]  # deals with an activity planned (created, not done) at ``at``

    @classmethod
    def load(cls, *, deals_q: Q, at: dt.datetime) -> _DealContext:
        stages = {
            row[0]: row
            for row in Stage.objects.values_list("id", "name", "order", "pipeline_id", "rotting_days")
        }
        deals = {
            row[0]: row
            for row in Deal.objects.filter(deals_q).values_list(
                "id", "title", "pipeline_id", "next_step", "next_step_on"
            )
        }
        scope_deals = Deal.objects.filter(deals_q).values("id")
        last_done = dict(
            Activity.objects.filter(deal_id__in=scope_deals, done_at__lte=at)
            .values("deal_id")
            .annotate(last=Max("done_at"))
            .values_list("deal_id", "last")
        )
        planned = set(
            Activity.objects.filter(deal_id__in=scope_deals, created_at__lte=at)
            .filter(Q(done_at__isnull=True) | Q(done_at__gt=at))
            .values_list("deal_id", flat=True)
            .distinct()
        )
        return cls(stages, deals, last_done, planned)


def _predictions(
    fitted: forecast_calc.Fit,
    states: forecast_calc.States,
    *,
    period: Period,
    as_of_on: dt.date,
    moment: int,
    method: str,
) -> tuple[forecast_calc.Calendar, dict[str, forecast_calc.Prediction]]:
    """The deals' probabilities as they are ("actual"), without the owners' overrides ("model"), at the
    stage's entry ("entry"), and with the close date inside ("inside") or without one ("outside")."""
    periods_start = period_containing(as_of_on, kind=period.kind)
    last = periods_start
    for _ in range(engine.HORIZONS - 1):
        last = last.next()
    calendar = engine.calendar_build(kind=period.kind, first=periods_start.start, last=last.start)

    def predict(candidate: forecast_calc.States) -> forecast_calc.Prediction:
        return forecast_calc.predict(
            fitted, candidate, calendar, moment, method=method, horizons=engine.HORIZONS
        )

    no_override = replace(states, probability_override=np.full(len(states), np.nan))
    inside_close = np.full(len(states), period.start.toordinal(), dtype=np.int64)
    return calendar, {
        "actual": predict(states),
        "model": predict(no_override),
        "entry": predict(replace(no_override, age_days=np.zeros(len(states)))),
        "inside": predict(replace(states, close_on=inside_close)),
        "outside": predict(
            replace(states, close_on=np.full(len(states), forecast_calc.NO_DATE, dtype=np.int64))
        ),
    }


def _closed_so_far(scope: ReviewScope, owners, period: Period, *, as_of_on: dt.date, at: dt.datetime) -> int:
    """Won in the period up to ``at`` (base currency, minor units)."""
    return int(
        Deal.objects.filter(
            scope.deals_q(owners),
            status=DealStatus.WON,
            closed_on__gte=period.start,
            closed_on__lte=as_of_on,
            won_at__lte=at,
        ).aggregate(total=Sum("amount_base_minor"))["total"]
        or 0
    )


def _deal_row(
    row_index: int,
    deal_index: int,
    *,
    history: forecast_calc.History,
    states: forecast_calc.States,
    predictions: dict[str, forecast_calc.Prediction],
    context: _DealContext,
    stage_events,
    peaks,
    pushes,
    thresholds,
    period: Period,
    as_of_on: dt.date,
    moment: int,
    horizon: int,
    use_current_next_step: bool,
) -> dict[str, Any]:
    """One open deal's row: its probabilities, activity, flags and priority values."""
    prediction, model, entry = predictions["actual"], predictions["model"], predictions["entry"]
    deal_id = int(history.deal_ids[deal_index])
    stage_id = int(history.stage_ids[states.stage[row_index]])
    stage = context.stages[stage_id]
    events = stage_events.get(deal_index, [])
    touches = [int(history.deal_created[deal_index])] + [time for time, _stage, _status in events]
    done = context.last_done.get(deal_id)
    if done is not None:
        touches.append(int(done.timestamp()))
    quiet_days = max(0.0, (moment - max(touches)) / forecast_calc.DAY)
    previous_stage = None
    if len(events) >= 2:
        (_time, before_stage, before_status), (_now, _stage_now, _status_now) = events[-2], events[-1]
        before = context.stages.get(before_stage)
        if before_status == forecast_calc.OPEN and before is not None and before[2] > stage[2]:
            previous_stage = before[1]
    deal_row = context.deals.get(deal_id)
    next_step_text = deal_row[3] if deal_row and use_current_next_step else ""
    next_step_on = deal_row[4] if deal_row and use_current_next_step else None
    has_next_step = deal_id in context.planned or bool(
        next_step_text and (next_step_on is None or next_step_on >= as_of_on)
    )
    close_ordinal = int(states.close_on[row_index])
    close_on = dt.date.fromordinal(close_ordinal) if close_ordinal != forecast_calc.NO_DATE else None
    amount = round(float(states.amount[row_index]))
    p_win = float(prediction.p_win[row_index])
    p_period = float(prediction.p_period[row_index, horizon])
    p_model = float(model.p_win[row_index])
    p_entry = float(entry.p_win[row_index])
    threshold = thresholds.get(stage_id) or calc.StageThreshold(stage[4], "stage", 2 * stage[4], "stage")
    facts = calc.DealFacts(
        as_of_on=as_of_on,
        period_kind=period.kind,
        stage_name=stage[1],
        days_in_stage=float(states.age_days[row_index]),
        days_since_activity=quiet_days,
        expected_close_on=close_on,
        close_pushes=pushes.get(deal_index, []),
        previous_stage_name=previous_stage,
        amount_minor=amount,
        peak_amount_minor=round(peaks.get(deal_index, float(amount))),
        has_next_step=has_next_step,
        p_entry=p_entry,
        p_model=p_model,
    )
    priority = calc.priority_values(
        amount_minor=amount,
        p_win=p_win,
        p_period=p_period,
        p_entry=p_entry,
        p_model=p_model,
        expected_close_on=close_on,
        as_of_on=as_of_on,
    )
    category_code = int(states.category[row_index])
    return {
        "deal_id": deal_id,
        "title": (deal_row[1] if deal_row else str(deal_id))[:200],
        "owner_id": int(states.owner[row_index]),
        "pipeline_id": stage[3],
        "stage_id": stage_id,
        "stage_name": stage[1],
        "stage_order": stage[2],
        "days_in_stage": round(float(states.age_days[row_index]), 3),
        "amount_minor": amount,
        "expected_close_on": close_on,
        "category": forecast_calc.CATEGORIES[category_code] if category_code >= 0 else "",
        "configured_probability": float(history.stage_probability[states.stage[row_index]]),
        "p_win": round(p_win, 6),
        "p_entry": round(p_entry, 6),
        "p_model": round(p_model, 6),
        "p_period": round(p_period, 6),
        "p_period_in": round(float(predictions["inside"].p_period[row_index, horizon]), 6),
        "p_period_out": round(float(predictions["outside"].p_period[row_index, horizon]), 6),
        "is_overridden": not np.isnan(states.probability_override[row_index]),
        "days_since_activity": round(quiet_days, 3),
        "has_next_step": has_next_step,
        "next_step": next_step_text[:200] if next_step_text else "",
        "close_date_pushes": len(facts.close_pushes),
        "peak_amount_minor": facts.peak_amount_minor,
        "flags": calc.flags_for(facts, threshold),
        "expected_value_minor": priority.expected_value,
        "expected_period_minor": priority.expected_period,
        "value_at_risk_minor": priority.value_at_risk,
        "value_per_day_minor": priority.value_per_day,
    }


def _quota(scope: ReviewScope, period: Period, at: dt.datetime) -> int | None:
    book = TargetBook([period.key], at=at)
    if scope.kind == ScopeKind.TEAM and scope.team is not None:
        return book.team(period.key, scope.team.pk).quota
    if scope.kind == ScopeKind.REP and scope.rep is not None:
        return book.rep(period.key, scope.rep.pk).quota
    return None  # quotas are per team and rep, not per pipeline


def _run_rate_samples(
    fitted: forecast_calc.Fit,
    calendar: forecast_calc.Calendar,
    moment: int,
    owners: frozenset[int] | None,
    scope: ReviewScope,
    horizon: int,
    method: str,
) -> list[float]:
    """Past bookings of deals created after a weekly point, summed over the scope's owners (the run-rate).

    The forecast adds it for its own method only, and per owner: a pipeline review has none (bookings
    are not kept per pipeline) and neither has a forecast by another method.
    """
    if method != "dealflow" or scope.kind == ScopeKind.PIPELINE or not owners:
        return []
    owner_array = np.array(sorted(owners), dtype=np.int64)
    matrices = forecast_calc.new_bookings_samples(
        fitted, owner_array, calendar.phase_of(moment), engine.HORIZONS, calendar.remaining_fraction(moment)
    )
    matrix = matrices[horizon]
    if not matrix.any():
        return []
    return [float(value) for value in matrix.sum(axis=1)]
