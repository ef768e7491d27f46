"""Pipeline reviews: start, the frozen snapshot and its agenda, decisions (singly or in bulk), what-if,
finish, the report (JSON, Markdown, CSV) and a deal's reviews over time. Managers and admins of the
review's team; everybody else gets 404."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from ninja import Query, Router, Schema, Status

from dealflow.accounts.models import Team, User
from dealflow.api.base import ApiRequest, paginate
from dealflow.api.schemas import PageOut, PageQuery
from dealflow.core.errors import ApplicationError
from dealflow.core.money import to_minor
from dealflow.deals.models import Pipeline
from dealflow.reviews import calculations, exports, selectors, services

router = Router(tags=["Reviews"])


class ReviewOut(Schema):
    id: int
    scope_kind: str
    label: str
    team_id: int | None
    rep_id: int | None
    pipeline_id: int | None
    period_key: str
    status: str
    series_id: int | None
    previous_id: int | None
    started_by_id: int
    finished_by_id: int | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    summary: str

    @staticmethod
    def resolve_label(review) -> str:
        return selectors.review_label(review)


class ReviewForecastOut(Schema):
    as_of: dt.datetime
    currency: str
    method: str
    level: str
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


class ReviewStageTotalOut(Schema):
    stage: str
    count: int
    amount_minor: int
    expected_minor: int
    in_period_minor: int


class ReviewCategoryOut(Schema):
    category: str
    label: str
    count: int
    amount_minor: int
    expected_minor: int


class ReviewQualityOut(Schema):
    owner_id: int
    owner: str
    open_deals: int
    missing_amount: int
    missing_close_date: int
    missing_next_step: int
    past_close_date: int


class ReviewDetailOut(Schema):
    review: ReviewOut
    forecast: ReviewForecastOut
    stages: list[ReviewStageTotalOut]
    categories: list[ReviewCategoryOut]
    waterfall: dict[str, Any] | None
    bottlenecks: list[dict[str, Any]]
    data_quality: list[ReviewQualityOut]
    thresholds: dict[str, Any]
    open_deals: int
    flagged: int
    decided: int


class ReviewFlagOut(Schema):
    code: str
    text: str
    detail: dict[str, Any]


class ReviewDealOut(Schema):
    deal_id: int
    title: str
    owner_id: int
    stage_id: int
    stage: str
    days_in_stage: float
    amount_minor: int
    expected_close_on: dt.date | None
    category: str
    p_win: float
    p_entry: float
    p_model: float
    p_period: float
    is_overridden: bool
    days_since_activity: float
    has_next_step: bool
    close_date_pushes: int
    expected_value_minor: int
    expected_period_minor: int
    value_at_risk_minor: int
    value_per_day_minor: int
    flags: list[ReviewFlagOut]

    @staticmethod
    def resolve_stage(row) -> str:
        return row.stage_name

    @staticmethod
    def resolve_flags(row) -> list[dict[str, Any]]:
        return [
            {"code": flag["code"], "text": calculations.flag_text(flag), "detail": flag} for flag in row.flags
        ]


class ReviewAgendaOut(Schema):
    close_this_period: list[ReviewDealOut]
    rescue: list[ReviewDealOut]
    close_total: int
    rescue_total: int
    walk: list[int]


class ReviewDecisionOut(Schema):
    id: int
    review_id: int
    deal_id: int
    kind: str
    text: str
    params: dict[str, Any]
    note: str
    status: str
    decided_by_id: int
    applied_by_id: int | None
    applied_at: dt.datetime | None
    event_ids: list[int]
    activity_id: int | None
    carried_from_id: int | None
    created_at: dt.datetime

    @staticmethod
    def resolve_text(decision) -> str:
        return exports.decision_text(decision)


class ReviewStartIn(Schema):
    period: str
    team_id: int | None = None
    rep_id: int | None = None
    pipeline_id: int | None = None
    recurring: bool = False


class ReviewDecisionIn(Schema):
    deal_id: int
    kind: str
    params: dict[str, Any] = {}
    note: str = ""
    apply: bool = False


class ReviewBulkIn(Schema):
    deal_ids: list[int]
    kind: str
    params: dict[str, Any] = {}
    note: str = ""
    apply: bool = True


class ReviewFinishIn(Schema):
    summary: str = ""


class ReviewWhatIfIn(Schema):
    deal_id: int
    probability: int | None = None  # percent
    amount: Decimal | None = None  # in the review's currency
    expected_close_on: dt.date | None = None


class ReviewWhatIfOut(Schema):
    deal_id: int
    currency: str
    before: dict[str, float]
    after: dict[str, float]
    expected_change_minor: int
    amount_minor: int
    p_period: float


class ReviewListQuery(Schema):
    status: str | None = None
    team_id: int | None = None
    limit: int = 50
    offset: int = 0


class ReviewReportQuery(Schema):
    format: str = "json"


class ReviewHistoryEntryOut(Schema):
    review: ReviewOut
    row: ReviewDealOut | None
    decisions: list[ReviewDecisionOut]


@router.get("/deals/{deal_id}/history", response=list[ReviewHistoryEntryOut])
def review_deal_history(request: ApiRequest, deal_id: int):
    """How the reviews you may open saw and decided a deal, newest first."""
    return [
        {"review": entry.review, "row": entry.row, "decisions": entry.decisions}
        for entry in selectors.deal_review_history_for_user(deal_id=deal_id, user=request.user)
    ]


@router.get("", response=PageOut[ReviewOut])
def review_list(request: ApiRequest, query: Query[ReviewListQuery]):
    """Reviews you may open (managers: their teams'; admins: all), newest first."""
    reviews = selectors.review_list_for_user(user=request.user, team_id=query.team_id, status=query.status)
    return paginate(reviews, limit=query.limit, offset=query.offset)


@router.post("", response={201: ReviewOut})
def review_start(request: ApiRequest, payload: ReviewStartIn):
    """Start a review of a team, a rep or a pipeline for a period; freezes every open deal in scope."""

    def pick(model, pk):
        if pk is None:
            return None
        found = model.objects.filter(pk=pk).first()
        if found is None:
            raise ApplicationError(f"No such {model.__name__.lower()}.", field=f"{model.__name__.lower()}_id")
        return found

    review = services.review_start(
        by=request.user,
        period=payload.period,
        team=pick(Team, payload.team_id),
        rep=pick(User, payload.rep_id),
        pipeline=pick(Pipeline, payload.pipeline_id),
        recurring=payload.recurring,
    )
    return Status(201, review)


@router.get("/{review_id}", response=ReviewDetailOut)
def review_detail(request: ApiRequest, review_id: int):
    """Gather: the frozen forecast, totals by stage and category, waterfall, bottlenecks, data quality."""
    workspace = selectors.review_workspace_for_user(review_id=review_id, user=request.user)
    return {
        "review": workspace.review,
        "forecast": workspace.snapshot,
        "stages": [vars(stage) for stage in workspace.stages],
        "categories": workspace.categories,
        "waterfall": workspace.waterfall,
        "bottlenecks": workspace.bottlenecks,
        "data_quality": [{**vars(item.quality), "owner": item.owner} for item in workspace.quality],
        "thresholds": workspace.snapshot.thresholds,
        "open_deals": workspace.open_deals,
        "flagged": workspace.flagged,
        "decided": workspace.decided,
    }


@router.get("/{review_id}/deals", response=PageOut[ReviewDealOut])
def review_deals(request: ApiRequest, review_id: int, page: Query[PageQuery]):
    """The deals of the frozen snapshot in deal order, with their probabilities, priority values and flags,
    a page at a time like every list: ``limit`` 1-500 (default 50), ``offset``, and ``count`` (up to
    10,000; past that ``count_is_capped``). Every row in one file: ``/report?format=csv``."""
    review = selectors.review_get_for_user(review_id=review_id, user=request.user)
    return paginate(selectors.review_rows(review=review), limit=page.limit, offset=page.offset)


@router.get("/{review_id}/agenda", response=ReviewAgendaOut)
def review_agenda(request: ApiRequest, review_id: int, all: bool = False):
    """The two ranked lists: close this period (expected value in it) and rescue (value at risk)."""
    workspace = selectors.review_workspace_for_user(review_id=review_id, user=request.user, show_all=all)
    return {
        "close_this_period": [item.row for item in workspace.close_list],
        "rescue": [item.row for item in workspace.rescue_list],
        "close_total": workspace.close_total,
        "rescue_total": workspace.rescue_total,
        "walk": workspace.agenda_ids,
    }


@router.get("/{review_id}/decisions", response=list[ReviewDecisionOut])
def review_decisions(request: ApiRequest, review_id: int):
    """The review's decisions, oldest first."""
    review = selectors.review_get_for_user(review_id=review_id, user=request.user)
    return selectors.review_decisions(review=review)


@router.post("/{review_id}/decisions", response={201: ReviewDecisionOut})
def review_decide(request: ApiRequest, review_id: int, payload: ReviewDecisionIn):
    """Record a decision (``apply: true`` makes the adjustment now, as DealEvents with origin review:<id>)."""
    review = selectors.review_get_for_user(review_id=review_id, user=request.user)
    decision = services.review_decision_record(
        review=review,
        deal_id=payload.deal_id,
        kind=payload.kind,
        by=request.user,
        params=payload.params,
        note=payload.note,
        apply=payload.apply,
    )
    return Status(201, decision)


@router.post("/{review_id}/decisions/bulk", response={201: list[ReviewDecisionOut]})
def review_bulk(request: ApiRequest, review_id: int, payload: ReviewBulkIn):
    """The same decision for many deals, all or nothing (e.g. push close dates by 14 days)."""
    review = selectors.review_get_for_user(review_id=review_id, user=request.user)
    decisions = services.review_decisions_bulk(
        review=review,
        deal_ids=payload.deal_ids,
        kind=payload.kind,
        by=request.user,
        params=payload.params,
        note=payload.note,
        apply=payload.apply,
    )
    return Status(201, decisions)


@router.post("/{review_id}/decisions/{decision_id}/apply", response=ReviewDecisionOut)
def review_decision_apply(request: ApiRequest, review_id: int, decision_id: int):
    """Apply a recorded or carried-over decision."""
    decision = selectors.decision_get_for_user(
        review_id=review_id, decision_id=decision_id, user=request.user
    )
    return services.review_decision_apply(decision=decision, by=request.user)


@router.post("/{review_id}/what-if", response=ReviewWhatIfOut)
def review_what_if(request: ApiRequest, review_id: int, payload: ReviewWhatIfIn):
    """The period forecast with one deal changed (nothing is written)."""
    review = selectors.review_get_for_user(review_id=review_id, user=request.user)
    result = selectors.review_what_if_for_user(
        review_id=review_id,
        deal_id=payload.deal_id,
        user=request.user,
        probability=payload.probability / 100 if payload.probability is not None else None,
        amount_minor=to_minor(payload.amount, review.snapshot.currency)
        if payload.amount is not None
        else None,
        expected_close_on=payload.expected_close_on,
    )
    return vars(result)


@router.post("/{review_id}/finish", response=ReviewOut)
def review_finish(request: ApiRequest, review_id: int, payload: ReviewFinishIn):
    """Finish the review; decisions still to do carry over to the next review of the scope."""
    review = selectors.review_get_for_user(review_id=review_id, user=request.user)
    return services.review_finish(review=review, by=request.user, summary=payload.summary)


@router.get("/{review_id}/report", response=dict)
def review_report(request: ApiRequest, review_id: int, query: Query[ReviewReportQuery]):
    """The report: ``format=md`` or ``csv`` for a file, ``json`` (default) for its parts."""
    report = selectors.review_report_for_user(review_id=review_id, user=request.user)
    if query.format in ("md", "csv"):
        response: HttpResponseBase
        if query.format == "md":
            response = HttpResponse(
                exports.report_markdown(report), content_type="text/markdown; charset=utf-8"
            )
        else:  # every frozen row, streamed as the database returns it
            response = StreamingHttpResponse(
                exports.report_csv(report), content_type="text/csv; charset=utf-8"
            )
        response["Content-Disposition"] = f'attachment; filename="review-{review_id}.{query.format}"'
        return response
    if query.format != "json":
        raise ApplicationError("format must be json, md or csv.", field="format")
    return {
        "review": ReviewOut.from_orm(report.workspace.review).model_dump(mode="json"),
        "markdown": exports.report_markdown(report),
        "decisions": [
            ReviewDecisionOut.from_orm(item).model_dump(mode="json") for item in report.workspace.decisions
        ],
        "adjustments": [
            {
                "event_id": item.event.pk,
                "deal_id": item.event.deal_id,
                "kind": item.event.kind,
                "text": exports.event_text(item.event),
                "note": item.event.note,
                "actor_id": item.event.actor_id,
                "occurred_at": item.event.occurred_at.isoformat(),
                "decision_id": item.decision.pk if item.decision else None,
            }
            for item in report.adjustments
        ],
        "tasks": [
            {"activity_id": item.pk, "deal_id": item.deal_id, "subject": item.subject}
            for item in report.activities
        ],
    }
