"""Decisions in a review, and the adjustments they make through the normal deal services.

Every adjustment carries ``origin="review:<id>"`` and the decision's note, so it becomes a DealEvent (a
next step becomes a task, ``Activity.origin`` likewise) and the deal's history shows where it was decided.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.http import Http404

from dealflow.accounts.models import User
from dealflow.accounts.selectors import user_get_assignable_for_user
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.deals import services as deal_services
from dealflow.deals.models import ActivityKind, Deal, DealEvent, ForecastCategory
from dealflow.deals.selectors import deal_get_for_user, lost_reason_get, stage_get
from dealflow.forecasting import engine
from dealflow.reviews.models import (
    DecisionKind,
    DecisionStatus,
    PipelineReview,
    ReviewDeal,
    ReviewDecision,
)
from dealflow.reviews.selectors import review_scope_check

NOTE_LIMIT = 500
NEXT_STEP_HOUR = 9  # a next step "by 20 Nov" is due at 09:00 that day


def _date(value: Any, *, field: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value or "").strip())
    except ValueError as error:
        raise ApplicationError("Give a date (YYYY-MM-DD).", field=field) from error


def _integer(value: Any, *, field: str) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError) as error:
        raise ApplicationError("Pick one from the list.", field=field) from error


def decision_params_clean(*, kind: str, params: dict[str, Any], deal: Deal, by: User) -> dict[str, Any]:
    """Check and normalise a decision's values (JSON-safe), naming the input at fault."""
    if kind not in DecisionKind.values:
        raise ApplicationError(f"Decision must be one of {', '.join(DecisionKind.values)}.", field="kind")
    params = params or {}
    if kind == DecisionKind.PUSH_CLOSE_DATE:
        if params.get("days") not in (None, ""):
            days = _integer(params["days"], field="days")
            if not 1 <= days <= 3650:
                raise ApplicationError("Push by 1 to 3650 days.", field="days")
            start = deal.expected_close_on or clock.today()
            return {"expected_close_on": (start + dt.timedelta(days=days)).isoformat(), "days": days}
        return {
            "expected_close_on": _date(params.get("expected_close_on"), field="expected_close_on").isoformat()
        }
    if kind == DecisionKind.MOVE_STAGE:
        stage = stage_get(stage_id=_integer(params.get("stage_id"), field="stage_id"), field="stage_id")
        if stage.pipeline_id != deal.pipeline_id or stage.is_closed or not stage.is_active:
            raise ApplicationError("Pick an open stage of this deal's pipeline.", field="stage_id")
        return {"stage_id": stage.pk, "stage": stage.name}
    if kind == DecisionKind.CHANGE_AMOUNT:
        try:
            amount = Decimal(str(params.get("amount", "")).strip().replace(",", "."))
        except InvalidOperation as error:
            raise ApplicationError("Give an amount.", field="amount") from error
        if not amount.is_finite() or amount < 0:
            raise ApplicationError("Give an amount of 0 or more.", field="amount")
        return {"amount": str(amount), "currency": deal.currency}
    if kind == DecisionKind.CHANGE_CATEGORY:
        category = str(params.get("category") or "")
        if category not in {
            ForecastCategory.PIPELINE,
            ForecastCategory.BEST_CASE,
            ForecastCategory.COMMIT,
            ForecastCategory.OMITTED,
        }:
            raise ApplicationError("Pick pipeline, best case, commit or omitted.", field="category")
        return {"category": category}
    if kind == DecisionKind.CHANGE_PROBABILITY:
        probability = _integer(params.get("probability"), field="probability")
        if not 0 <= probability <= 100:
            raise ApplicationError("Probability must be from 0 to 100.", field="probability")
        return {"probability": probability}
    if kind == DecisionKind.REASSIGN:
        owner = user_get_assignable_for_user(
            user_id=_integer(params.get("owner_id"), field="owner_id"), user=by, field="owner_id"
        )
        return {"owner_id": owner.pk, "owner": owner.display_name}
    if kind == DecisionKind.MARK_LOST:
        reason = lost_reason_get(
            reason_id=_integer(params.get("reason_id"), field="reason_id"), field="reason_id"
        )
        return {"reason_id": reason.pk, "reason": reason.name}
    if kind == DecisionKind.ADD_NEXT_STEP:
        text = str(params.get("next_step") or "").strip()
        if not text:
            raise ApplicationError("Describe the next step.", field="next_step")
        due = params.get("next_step_on")
        return {
            "next_step": text[:200],
            "next_step_on": _date(due, field="next_step_on").isoformat() if due not in (None, "") else None,
        }
    return {}


def _review_deal(review: PipelineReview, deal_id: int) -> ReviewDeal:
    row = ReviewDeal.objects.filter(review=review, deal_id=deal_id).first()
    if row is None:
        raise Http404("This deal is not in the review.")
    return row


def _check_open(review: PipelineReview, by: User) -> None:
    review_scope_check(user=by, team=review.team, rep=review.rep, pipeline=review.pipeline)
    if not review.is_open:
        raise ApplicationError("This review is finished; start a new one to decide again.", field="review")


@transaction.atomic
def review_decision_record(
    *,
    review: PipelineReview,
    deal_id: int,
    kind: str,
    by: User,
    params: dict[str, Any] | None = None,
    note: str = "",
    apply: bool = False,
) -> ReviewDecision:
    """Record a decision about a deal of the review (and apply it at once when ``apply``).

    "Keep as is" needs no adjustment and counts as applied when recorded. A decision left to do when the
    review finishes is carried over to the next review.
    """
    _check_open(review, by)
    _review_deal(review, deal_id)
    deal = deal_get_for_user(deal_id=deal_id, user=by, for_write=True)
    cleaned = decision_params_clean(kind=kind, params=params or {}, deal=deal, by=by)
    decision = ReviewDecision.objects.create(
        review=review,
        deal=deal,
        kind=kind,
        params=cleaned,
        note=(note or "").strip()[:NOTE_LIMIT],
        decided_by=by,
    )
    if kind == DecisionKind.KEEP:
        decision.status = DecisionStatus.APPLIED
        decision.applied_by = by
        decision.applied_at = decision.created_at
        decision.save(update_fields=["status", "applied_by", "applied_at", "updated_at"])
        return decision
    if apply:
        return review_decision_apply(decision=decision, by=by)
    return decision


@transaction.atomic
def review_decision_apply(*, decision: ReviewDecision, by: User) -> ReviewDecision:
    """Make a recorded decision's adjustment through the deal services, with the review as origin."""
    review = decision.review
    _check_open(review, by)
    if decision.status == DecisionStatus.APPLIED:
        raise ApplicationError("This decision is applied already.", field="status")
    if decision.status != DecisionStatus.PENDING:
        raise ApplicationError("Only a decision still to do can be applied.", field="status")
    deal = deal_get_for_user(deal_id=decision.deal_id, user=by, for_write=True)
    if not deal.is_open:
        raise ApplicationError(
            f"{deal.title} is {deal.get_status_display().lower()} since the review began; nothing to adjust.",
            field="deal",
        )
    first_event = (
        DealEvent.objects.filter(deal=deal).order_by("-id").values_list("id", flat=True).first() or 0
    )
    if decision.kind == DecisionKind.PUSH_CLOSE_DATE:
        params = dict(decision.params)  # a push "by N days" keeps the date it was decided with
    else:
        params = decision_params_clean(kind=decision.kind, params=decision.params, deal=deal, by=by)
    origin = review.origin
    note = decision.note[:300]
    kind = decision.kind
    activity_id = None
    if kind == DecisionKind.PUSH_CLOSE_DATE:
        deal_services.deal_update(
            deal=deal,
            data={"expected_close_on": _date(params["expected_close_on"], field="expected_close_on")},
            note=note,
            by=by,
            origin=origin,
        )
    elif kind == DecisionKind.MOVE_STAGE:
        deal_services.deal_move_to_stage(
            deal=deal, stage=stage_get(stage_id=params["stage_id"]), note=note, by=by, origin=origin
        )
    elif kind == DecisionKind.CHANGE_AMOUNT:
        deal_services.deal_update(
            deal=deal, data={"amount": Decimal(params["amount"])}, note=note, by=by, origin=origin
        )
    elif kind == DecisionKind.CHANGE_CATEGORY:
        deal_services.deal_update(
            deal=deal,
            data={"forecast_category_override": params["category"]},
            note=note,
            by=by,
            origin=origin,
        )
    elif kind == DecisionKind.CHANGE_PROBABILITY:
        deal_services.deal_update(
            deal=deal, data={"probability_override": params["probability"]}, note=note, by=by, origin=origin
        )
    elif kind == DecisionKind.REASSIGN:
        owner = user_get_assignable_for_user(user_id=params["owner_id"], user=by, field="owner_id")
        deal_services.deal_update(deal=deal, data={"owner": owner}, note=note, by=by, origin=origin)
    elif kind == DecisionKind.MARK_LOST:
        reason = lost_reason_get(reason_id=params["reason_id"], field="reason_id")
        deal_services.deal_mark_lost(deal=deal, reason=reason, note=decision.note, by=by, origin=origin)
    elif kind == DecisionKind.ADD_NEXT_STEP:
        due_on = _date(params["next_step_on"], field="next_step_on") if params.get("next_step_on") else None
        deal_services.deal_update(
            deal=deal, data={"next_step": params["next_step"], "next_step_on": due_on}, by=by, origin=origin
        )
        activity = deal_services.activity_create(
            owner=deal.owner,
            subject=params["next_step"],
            kind=ActivityKind.TASK,
            by=by,
            deal=deal,
            notes=decision.note,
            due_at=engine.midnight(due_on) + dt.timedelta(hours=NEXT_STEP_HOUR) if due_on else None,
            origin=review.origin,
        )
        activity_id = activity.pk
    decision.params = params
    decision.status = DecisionStatus.APPLIED
    decision.applied_by = by
    decision.applied_at = clock.now()
    decision.event_ids = list(
        DealEvent.objects.filter(deal=deal, id__gt=first_event, origin=review.origin)
        .order_by("id")
        .values_list("id", flat=True)
    )
    decision.activity_id = activity_id
    decision.error = ""
    decision.save(
        update_fields=[
            "params",
            "status",
            "applied_by",
            "applied_at",
            "event_ids",
            "activity_id",
            "error",
            "updated_at",
        ]
    )
    return decision


@transaction.atomic
def review_decisions_bulk(
    *,
    review: PipelineReview,
    deal_ids: list[int],
    kind: str,
    by: User,
    params: dict[str, Any] | None = None,
    note: str = "",
    apply: bool = True,
) -> list[ReviewDecision]:
    """The same decision for many deals (e.g. push every selected close date by 14 days), all or nothing."""
    if not deal_ids:
        raise ApplicationError("Select at least one deal.", field="deal_ids")
    if kind == DecisionKind.MARK_LOST and len(deal_ids) > 50:
        raise ApplicationError("Mark at most 50 deals lost at once.", field="deal_ids")
    return [
        review_decision_record(
            review=review, deal_id=deal_id, kind=kind, by=by, params=params, note=note, apply=apply
        )
        for deal_id in dict.fromkeys(deal_ids)
    ]
