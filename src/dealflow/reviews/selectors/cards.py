"""A deal's card in a review (its rows across the series' reviews) and the what-if of changing it."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connections
from django.db.models import Q
from django.http import Http404

from dealflow.accounts.models import Membership, User
from dealflow.core.errors import ApplicationError
from dealflow.deals.models import Activity, Deal, DealEvent, Stage, StageKind
from dealflow.deals.selectors import deal_get_for_user, lost_reason_list
from dealflow.forecasting import calculations as forecast_calc
from dealflow.reviews import calculations as calc
from dealflow.reviews.models import (
    PipelineReview,
    ReviewDeal,
    ReviewDecision,
)
from dealflow.reviews.selectors.access import review_get_for_user, review_list_for_user
from dealflow.reviews.selectors.workspace import (
    AGENDA_SIZE,
    agenda_order,
    close_candidates,
    owner_names,
    rescue_candidates,
    review_decisions,
    review_rows,
)


# ------------------------------------------------------------------------------------------- deal card
@dataclass
class DealHistoryEntry:
    review: PipelineReview
    row: ReviewDeal | None
    decisions: list[ReviewDecision]

    @property
    def reasons(self) -> list[str]:
        return [calc.flag_text(flag) for flag in self.row.flags] if self.row else []


@dataclass
class DealCard:
    review: PipelineReview
    row: ReviewDeal
    deal: Deal | None
    owner: str
    reasons: list[str]
    events: list[DealEvent]
    activities: list[Activity]
    stage_definition: str
    decisions: list[ReviewDecision]
    history: list[DealHistoryEntry]
    position: int
    count: int
    previous_id: int | None
    next_id: int | None
    list_name: str
    stages: list[Stage]
    assignees: list[User]
    lost_reasons: list[Any]


def _walk_ids(review: PipelineReview, list_name: str, decisions: list[ReviewDecision]) -> list[int]:
    """The deal ids of the list the card walks, ranked by the database (no frozen row is loaded)."""
    if list_name == "close":
        return list(close_candidates(review).values_list("deal_id", flat=True))
    if list_name == "rescue":
        return list(rescue_candidates(review).values_list("deal_id", flat=True))
    if list_name == "all":
        return _all_ids(review)
    carried = [decision.deal_id for decision in decisions if decision.carried_from_id is not None]
    short_close = list(close_candidates(review)[:AGENDA_SIZE])
    short_rescue = list(rescue_candidates(review)[:AGENDA_SIZE])
    return agenda_order(short_close, short_rescue, carried)


def _all_ids(review: PipelineReview) -> list[int]:
    """Every deal of the review, largest amount first."""
    return list(
        ReviewDeal.objects.filter(review=review)
        .order_by("-amount_minor", "deal_id")
        .values_list("deal_id", flat=True)
    )


def review_deal_card_for_user(
    *, review_id: int, deal_id: int, user: User, list_name: str = "agenda"
) -> DealCard:
    """One deal in a review: the frozen row, the deal now, its history, activities, the stage's definition
    of done, this review's decisions, how earlier reviews discussed it, and its neighbours in the walk."""
    review = review_get_for_user(review_id=review_id, user=user)
    row = ReviewDeal.objects.filter(review=review, deal_id=deal_id).first()
    if row is None:
        raise Http404("This deal is not in the review.")
    try:
        deal: Deal | None = deal_get_for_user(deal_id=deal_id, user=user)
    except Http404:
        deal = None  # reassigned out of the user's sight since: the frozen row still shows
    decisions = review_decisions(review=review)
    walk = _walk_ids(review, list_name, decisions)
    if deal_id not in walk:
        walk = _all_ids(review)
        list_name = "all"
    position = walk.index(deal_id)
    stage = Stage.objects.filter(pk=row.stage_id).values_list("definition_of_done", flat=True).first() or ""
    owners = owner_names({row.owner_id})
    team_members = (
        Membership.objects.filter(team_id=review.team_id).values("user_id")
        if review.team_id
        else Membership.objects.values("user_id")
    )
    return DealCard(
        review=review,
        row=row,
        deal=deal,
        owner=owners.get(row.owner_id, str(row.owner_id)),
        reasons=[calc.flag_text(flag) for flag in row.flags],
        events=list(
            DealEvent.objects.filter(deal_id=deal_id)
            .select_related("actor", "from_stage", "to_stage")
            .order_by("-occurred_at", "-id")[:25]
        ),
        activities=list(
            Activity.objects.filter(deal_id=deal_id)
            .select_related("owner")
            .order_by("done_at", "-due_at", "-id")[:15]
        ),
        stage_definition=stage,
        decisions=[decision for decision in decisions if decision.deal_id == deal_id],
        history=deal_review_history_for_user(deal_id=deal_id, user=user, exclude_review_id=review.pk),
        position=position + 1,
        count=len(walk),
        previous_id=walk[position - 1] if position > 0 else None,
        next_id=walk[position + 1] if position + 1 < len(walk) else None,
        list_name=list_name,
        stages=list(
            Stage.objects.filter(pipeline_id=row.pipeline_id, kind=StageKind.OPEN, is_active=True).order_by(
                "order"
            )
        ),
        assignees=list(
            User.objects.filter(pk__in=team_members, is_active=True).order_by("first_name", "username")
        ),
        lost_reasons=list(lost_reason_list()),
    )


def deal_review_history_for_user(
    *, deal_id: int, user: User, exclude_review_id: int | None = None
) -> list[DealHistoryEntry]:
    """How the reviews the user may open saw and decided a deal, newest first (week after week).

    404 when no review the user may open holds the deal (unless ``exclude_review_id`` is given: the deal
    card asks for the *other* reviews, which may be none).
    """
    # Reviews that froze or decided the deal, by two indexed lookups (an OR across the two joins, made
    # distinct, compared whole rows of every review the user may open).
    reviews = review_list_for_user(user=user).filter(
        Q(pk__in=ReviewDeal.objects.filter(deal_id=deal_id).values("review_id"))
        | Q(pk__in=ReviewDecision.objects.filter(deal_id=deal_id).values("review_id"))
    )
    if exclude_review_id is not None:
        reviews = reviews.exclude(pk=exclude_review_id)
    review_list = list(reviews.order_by("-created_at", "-id"))
    if not review_list and exclude_review_id is None:
        raise Http404("No review holds this deal.")
    ids = [review.pk for review in review_list]
    rows = {row.review_id: row for row in ReviewDeal.objects.filter(review_id__in=ids, deal_id=deal_id)}
    decisions: dict[int, list[ReviewDecision]] = defaultdict(list)
    for decision in (
        ReviewDecision.objects.filter(review_id__in=ids, deal_id=deal_id)
        .select_related("decided_by", "applied_by")
        .order_by("created_at", "id")
    ):
        decisions[decision.review_id].append(decision)
    return [
        DealHistoryEntry(review, rows.get(review.pk), decisions.get(review.pk, [])) for review in review_list
    ]


# --------------------------------------------------------------------------------------------- what-if
@dataclass
class WhatIfResult:
    deal_id: int
    currency: str
    before: dict[str, float]
    after: dict[str, float]
    expected_change_minor: int
    amount_minor: int
    p_period: float


@dataclass(frozen=True)
class FrozenDraws:
    """A review's simulation as its snapshot froze it: the rows' deal ids in deal order and the draws."""

    deal_ids: np.ndarray
    draws: np.ndarray


# Recently simulated reviews of this process. A snapshot never changes (a database trigger refuses it), so
# its draws stay true; the key carries the frozen summary too, so a reused id of a rolled-back test row
# cannot match another review's draws.
_FROZEN_DRAWS: OrderedDict[tuple[Any, ...], FrozenDraws] = OrderedDict()
FROZEN_DRAWS_KEPT = 8  # reviews; each 8 bytes per draw and per frozen deal (0.7 MB for 74,000 deals)
_FROZEN_DRAWS_LOCK = threading.Lock()


def review_frozen_draws(*, review: PipelineReview) -> FrozenDraws:
    """The review's own simulation over its frozen rows (``calc.simulate_rows``: the snapshot's mean, P10-P90
    come from it), run once per review and process and then kept (``FROZEN_DRAWS_KEPT`` reviews)."""
    snapshot = review.snapshot
    key = (
        connections[ReviewDeal.objects.db].settings_dict["NAME"],
        snapshot.pk,
        snapshot.as_of,
        snapshot.seed,
        snapshot.draws,
        snapshot.mean_minor,
        snapshot.p10_minor,
        snapshot.p50_minor,
        snapshot.p90_minor,
        snapshot.expected_open_minor,
    )
    with _FROZEN_DRAWS_LOCK:
        kept = _FROZEN_DRAWS.get(key)
        if kept is not None:
            _FROZEN_DRAWS.move_to_end(key)
            return kept
    columns = list(review_rows(review=review).values_list("deal_id", "amount_minor", "p_period"))
    frozen = FrozenDraws(
        deal_ids=np.fromiter((row[0] for row in columns), dtype=np.int64, count=len(columns)),
        draws=calc.simulate_rows(
            amounts=[row[1] for row in columns],
            p_period=[row[2] for row in columns],
            new_samples=list(snapshot.new_samples),
            draws=snapshot.draws,
            seed=snapshot.seed,
        ),
    )
    with _FROZEN_DRAWS_LOCK:
        _FROZEN_DRAWS[key] = frozen
        while len(_FROZEN_DRAWS) > FROZEN_DRAWS_KEPT:
            _FROZEN_DRAWS.popitem(last=False)
    return frozen


def review_what_if_for_user(
    *,
    review_id: int,
    deal_id: int,
    user: User,
    probability: float | None = None,
    amount_minor: int | None = None,
    expected_close_on: dt.date | None = None,
) -> WhatIfResult:
    """The period forecast (mean, P10, P50, P90) with one deal changed, against the frozen one.

    The review's own Monte Carlo (same rows, seed and run-rate draws: ``review_frozen_draws``) with the deal's
    amount and in-period probability as the change would make them (calculations.what_if_row); the changed
    deal's part of each draw comes from its own random numbers (``calc.simulate_rows_change``), so after
    the first what-if of a review only its row is read. Nothing is written.
    """
    review = review_get_for_user(review_id=review_id, user=user)
    snapshot = review.snapshot
    if probability is not None and not 0 <= probability <= 1:
        raise ApplicationError("Probability must be from 0 to 100 %.", field="probability")
    if amount_minor is not None and amount_minor < 0:
        raise ApplicationError("Amount cannot be negative.", field="amount")
    row = ReviewDeal.objects.filter(review=review, deal_id=deal_id).first()
    if row is None:
        raise Http404("This deal is not in the review.")
    new_amount, new_p = calc.what_if_row(
        calc.WhatIfRow(
            row.amount_minor,
            row.p_win,
            row.p_period,
            row.p_period_in,
            row.p_period_out,
            row.expected_close_on,
        ),
        period_start=review.period_start,
        period_end=review.period_end,
        horizon=snapshot.horizon,
        probability=probability,
        amount_minor=amount_minor,
        expected_close_on=expected_close_on,
    )
    frozen = review_frozen_draws(review=review)
    change = calc.simulate_rows_change(
        position=int(np.searchsorted(frozen.deal_ids, deal_id)),
        before=(row.amount_minor, row.p_period),
        after=(new_amount, new_p),
        draws=snapshot.draws,
        seed=snapshot.seed,
    )

    def summary(draws: np.ndarray) -> dict[str, float]:
        result = forecast_calc.summarise(
            draws, closed=float(snapshot.closed_minor), quota=snapshot.quota_minor
        )
        return {
            "mean": result.mean,
            "p10": result.p10,
            "p50": result.p50,
            "p90": result.p90,
            "p_quota": result.p_quota if result.p_quota is not None else -1.0,
        }

    return WhatIfResult(
        deal_id=deal_id,
        currency=snapshot.currency,
        before=summary(frozen.draws),
        after=summary(frozen.draws + change),
        expected_change_minor=round(new_amount * new_p - row.amount_minor * row.p_period),
        amount_minor=new_amount,
        p_period=new_p,
    )
