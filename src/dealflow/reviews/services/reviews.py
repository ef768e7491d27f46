"""Start a review (freeze its snapshot, carry the last review's open items over), finish it, and the weekly
series that starts reviews by itself."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from dealflow.accounts.models import Team, User
from dealflow.accounts.services import audit_record
from dealflow.core import clock
from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.core.periods import Period, parse_period, period_containing
from dealflow.deals.models import Deal, DealStatus, Pipeline
from dealflow.forecasting import calculations as forecast_calc
from dealflow.forecasting import engine
from dealflow.reviews import calculations as calc
from dealflow.reviews.models import (
    DecisionStatus,
    PipelineReview,
    ReviewDeal,
    ReviewDecision,
    ReviewSeries,
    ReviewSnapshot,
    ReviewStatus,
    ScopeKind,
)
from dealflow.reviews.selectors import review_scope_check, scope_reviews
from dealflow.reviews.services.snapshot import ReviewScope, SnapshotResult, snapshot_build

PERIOD_KINDS = ("month", "quarter")


def _period(value: str | Period) -> Period:
    period = parse_period(value) if isinstance(value, str) else value
    if period.kind not in PERIOD_KINDS:
        raise ApplicationError("A review covers a month (2026-11) or a quarter (2026-Q4).", field="period")
    return period


def _waterfall(
    *, previous: PipelineReview | None, result: SnapshotResult, scope: ReviewScope, period: Period
) -> dict[str, Any] | None:
    """What changed in the period's pipeline since the last review (calculations.waterfall defines it)."""
    if previous is None or not hasattr(previous, "snapshot"):
        return None
    factors = engine.currency_factors()
    before = {
        row.deal_id: calc.WaterfallDeal(row.deal_id, row.title, row.amount_minor, row.expected_close_on)
        for row in ReviewDeal.objects.filter(review=previous).only(
            "deal_id", "title", "amount_minor", "expected_close_on"
        )
    }
    now = {
        row["deal_id"]: calc.WaterfallDeal(
            row["deal_id"], row["title"], row["amount_minor"], row["expected_close_on"]
        )
        for row in result.deals
    }
    wanted = Deal.objects.filter(pk__in=[deal_id for deal_id in before if deal_id not in now])
    won_since = Deal.objects.filter(
        scope.deals_q(scope.owner_ids()),
        status=DealStatus.WON,
        won_at__gt=previous.snapshot.as_of,
        won_at__lte=result.as_of,
        closed_on__gte=period.start,
        closed_on__lt=period.end,
    )
    since: dict[int, calc.WaterfallDeal] = {}
    for deal in (
        (wanted | won_since)
        .distinct()
        .only(
            "id",
            "title",
            "status",
            "amount_minor",
            "currency",
            "expected_close_on",
            "closed_on",
            "won_at",
            "lost_at",
        )
    ):
        closed_at = deal.won_at or deal.lost_at
        status = deal.status if closed_at is not None and closed_at <= result.as_of else "gone"
        if status == DealStatus.OPEN:
            status = "gone"
        since[deal.pk] = calc.WaterfallDeal(
            deal.pk,
            deal.title,
            round(deal.amount_minor * factors.get(deal.currency, 1.0)),
            deal.expected_close_on,
            status=status,
            closed_on=deal.closed_on,
        )
    waterfall = calc.waterfall(
        previous=before, current=now, since=since, period_start=period.start, period_end=period.end
    )
    return {**waterfall.as_dict(), "since": previous.pk, "since_as_of": previous.snapshot.as_of.isoformat()}


def _carry_over(*, review: PipelineReview, previous: PipelineReview | None, deal_ids: set[int]) -> int:
    """Open a copy of each item the last review left unresolved whose deal is still in scope and open."""
    if previous is None:
        return 0
    carried = ReviewDecision.objects.filter(review=previous, status=DecisionStatus.CARRIED_OVER)
    copies = [
        ReviewDecision(
            review=review,
            deal_id=item.deal_id,
            kind=item.kind,
            params=item.params,
            note=item.note,
            status=DecisionStatus.PENDING,
            decided_by_id=item.decided_by_id,
            carried_from=item,
            created_at=review.created_at,
        )
        for item in carried.order_by("created_at", "id")
        if item.deal_id in deal_ids
    ]
    ReviewDecision.objects.bulk_create(copies)
    return len(copies)


def _lock_scope(scope: ReviewScope) -> None:
    """Serialise two starts of the same scope (PostgreSQL row lock; SQLite serialises writers anyway), so
    the "one review in progress per scope" check cannot pass twice."""
    if scope.kind == ScopeKind.REP and scope.rep is not None:
        User.objects.select_for_update().filter(pk=scope.rep.pk).exists()
    elif scope.team is not None:
        Team.objects.select_for_update().filter(pk=scope.team.pk).exists()
    elif scope.pipeline is not None:
        Pipeline.objects.select_for_update().filter(pk=scope.pipeline.pk).exists()


@transaction.atomic
def review_start(
    *,
    by: User,
    period: str | Period,
    team: Team | None = None,
    rep: User | None = None,
    pipeline: Pipeline | None = None,
    recurring: bool = False,
    series: ReviewSeries | None = None,
    at: dt.datetime | None = None,
    fit_result: forecast_calc.Fit | None = None,
    draws: int | None = None,
) -> PipelineReview:
    """Start a review of a team, a rep or a pipeline for a period: freeze every open deal in scope.

    Exactly one scope: ``team``; or ``rep``; or ``pipeline`` (optionally limited to ``team``). Refused
    while another review of the same scope is in progress. ``recurring`` starts a weekly series.
    ``at`` backdates the snapshot (demo data); the deals are then rebuilt from their events as of ``at``.
    """
    kind, team = review_scope_check(user=by, team=team, rep=rep, pipeline=pipeline)
    period = _period(period)
    scope = ReviewScope(kind=kind, team=team, rep=rep if kind == ScopeKind.REP else None, pipeline=pipeline)
    _lock_scope(scope)
    same_scope = scope_reviews(kind=kind, team=team, rep=scope.rep, pipeline=pipeline)
    in_progress = same_scope.filter(status=ReviewStatus.OPEN).first()
    if in_progress is not None:
        raise ApplicationError(
            f"Review {in_progress.pk} of this scope is still in progress; finish it first.", field="scope"
        )
    moment = at or clock.now()
    previous = same_scope.filter(created_at__lte=moment).order_by("-created_at", "-id").first()
    options: dict[str, Any] = {} if draws is None else {"draws": draws}
    result = snapshot_build(
        scope=scope,
        period=period,
        at=moment,
        fit_result=fit_result,
        use_current_next_step=at is None,
        user=by,
        **options,
    )
    if recurring and series is None:
        series = ReviewSeries.objects.create(
            scope_kind=kind,
            team=team,
            rep=scope.rep,
            pipeline=pipeline,
            period_kind=period.kind,
            created_by=by,
            created_at=moment,
        )
    review = PipelineReview.objects.create(
        scope_kind=kind,
        team=team,
        rep=scope.rep,
        pipeline=pipeline,
        period_key=period.key,
        period_start=period.start,
        period_end=period.end,
        series=series,
        previous=previous,
        started_by=by,
        created_at=moment,
    )
    ReviewSnapshot.objects.create(
        review=review,
        as_of=result.as_of,
        as_of_on=result.as_of_on,
        currency=result.currency,
        method=result.method,
        level=result.level,
        horizon=result.horizon,
        draws=result.draws,
        seed=result.seed,
        closed_minor=result.closed_minor,
        expected_open_minor=result.expected_open_minor,
        expected_new_minor=result.expected_new_minor,
        mean_minor=result.mean_minor,
        p10_minor=result.p10_minor,
        p50_minor=result.p50_minor,
        p90_minor=result.p90_minor,
        quota_minor=result.quota_minor,
        p_quota=result.p_quota,
        new_samples=result.new_samples,
        thresholds=result.thresholds,
        waterfall=_waterfall(previous=previous, result=result, scope=scope, period=period),
        bottlenecks=result.bottlenecks,
        created_at=clock.now(),
    )
    ReviewDeal.objects.bulk_create(
        [ReviewDeal(review=review, **row) for row in result.deals], batch_size=1000
    )
    _carry_over(review=review, previous=previous, deal_ids={row["deal_id"] for row in result.deals})
    audit_record(
        actor=by, action="review.started", target=f"review:{review.pk}", detail={"period": period.key}
    )
    return review


@transaction.atomic
def review_finish(
    *, review: PipelineReview, by: User, summary: str = "", at: dt.datetime | None = None
) -> PipelineReview:
    """Finish a review: items still to do are carried over to the next review of the same scope."""
    if not review.is_open:
        raise ApplicationError("This review is already finished.", field="status")
    review_scope_check(user=by, team=review.team, rep=review.rep, pipeline=review.pipeline)
    moment = at or clock.now()
    review.decisions.filter(status=DecisionStatus.PENDING).update(
        status=DecisionStatus.CARRIED_OVER, updated_at=clock.now()
    )
    review.status = ReviewStatus.FINISHED
    review.finished_by = by
    review.finished_at = moment
    review.summary = (summary or "").strip()[:5000]
    review.save(update_fields=["status", "finished_by", "finished_at", "summary", "updated_at"])
    audit_record(actor=by, action="review.finished", target=f"review:{review.pk}")
    return review


@transaction.atomic
def review_series_stop(*, series: ReviewSeries, by: User) -> ReviewSeries:
    """Stop a weekly series; its past reviews stay."""
    review_scope_check(user=by, team=series.team, rep=series.rep, pipeline=series.pipeline)
    series.is_active = False
    series.save(update_fields=["is_active", "updated_at"])
    return series


SERIES_EVERY = dt.timedelta(days=7)


def reviews_start_due(*, now: dt.datetime | None = None) -> list[PipelineReview]:
    """Start the next review of every active weekly series whose last review began a week ago or more.

    A series waits while its last review is still in progress (nothing is started over an open review);
    each review covers the period (month or quarter) that contains the day it starts.
    """
    moment = now or clock.now()
    started = []
    for series in ReviewSeries.objects.filter(is_active=True).select_related(
        "team", "rep", "pipeline", "created_by"
    ):
        last = series.reviews.order_by("-created_at", "-id").first()
        if last is not None and (last.is_open or moment - last.created_at < SERIES_EVERY):
            continue
        period = period_containing(timezone.localdate(moment), kind=series.period_kind)
        try:
            started.append(
                review_start(
                    by=series.created_by,
                    period=period,
                    team=series.team if series.scope_kind != ScopeKind.REP else None,
                    rep=series.rep,
                    pipeline=series.pipeline,
                    series=series,
                )
            )
        except (ApplicationError, PermissionDeniedError):
            continue  # e.g. the manager no longer manages the team: the series waits until fixed or stopped
    return started
