"""Reads of pipeline reviews; the access gate lives here.

Access: a review belongs to a team (the team reviewed, the rep's team, or the team a pipeline review is
limited to). Admins see every review; a manager sees the reviews of the teams they manage; everybody
else gets a 404, as for a review that does not exist. A pipeline review of everybody is for admins.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.utils.translation import gettext as _

from dealflow.accounts.models import Membership, Team, User
from dealflow.accounts.selectors import user_access_scope
from dealflow.core.errors import ApplicationError
from dealflow.core.periods import parse_period, period_containing
from dealflow.deals.models import Activity, Deal, DealEvent, ForecastCategory, Pipeline, Stage, StageKind
from dealflow.deals.selectors import deal_get_for_user, lost_reason_list
from dealflow.forecasting import calculations as forecast_calc
from dealflow.reviews import calculations as calc
from dealflow.reviews.models import (
    DecisionKind,
    DecisionStatus,
    PipelineReview,
    ReviewDeal,
    ReviewDecision,
    ReviewSeries,
    ReviewSnapshot,
    ReviewStatus,
    ScopeKind,
)

AGENDA_SIZE = 20
CATEGORY_ORDER = (
    ForecastCategory.COMMIT,
    ForecastCategory.BEST_CASE,
    ForecastCategory.PIPELINE,
    ForecastCategory.OMITTED,
)


# ---------------------------------------------------------------------------------------------- access
def review_access_q(*, user: User, team_field: str = "team_id") -> Q:
    """Reviews the user may open: all for admins, their managed teams' for managers, none otherwise."""
    access = user_access_scope(user=user)
    if access.user_id is None:
        return Q(pk__in=[])
    if access.is_admin:
        return Q()
    if access.managed_team_ids:
        return Q(**{f"{team_field}__in": sorted(access.managed_team_ids)})
    return Q(pk__in=[])


def review_can_start(*, user: User) -> bool:
    access = user_access_scope(user=user)
    return access.is_admin or access.is_manager


def review_scope_check(
    *, user: User, team: Team | None = None, rep: User | None = None, pipeline: Pipeline | None = None
) -> tuple[str, Team | None]:
    """The scope kind and the team a review of these belongs to; 404 when it is not the user's to review.

    A rep's review belongs to the rep's team the user manages; a pipeline review without a team to the
    only team the user manages (admins: to nobody, covering every owner).
    """
    access = user_access_scope(user=user)
    if not (access.is_admin or access.is_manager):
        raise Http404("No such scope.")
    managed = access.managed_team_ids
    if rep is not None:
        teams = list(Membership.objects.filter(user=rep).order_by("id").values_list("team_id", flat=True))
        if team is not None:
            teams = [team.pk] if team.pk in teams else []
        allowed = teams if access.is_admin else [team_id for team_id in teams if team_id in managed]
        if not allowed and not (access.is_admin and not teams and team is None):
            raise Http404("No such rep.")
        return ScopeKind.REP, Team.objects.filter(pk=allowed[0]).first() if allowed else None
    if team is not None:
        if not (access.is_admin or team.pk in managed):
            raise Http404("No such team.")
        return ScopeKind.TEAM, team
    if pipeline is not None:
        if access.is_admin:
            return ScopeKind.PIPELINE, None
        if len(managed) != 1:
            raise ApplicationError("Pick the team whose part of the pipeline to review.", field="team")
        return ScopeKind.PIPELINE, Team.objects.get(pk=next(iter(managed)))
    raise ApplicationError("Pick a team, a rep or a pipeline to review.", field="scope")


def scope_reviews(
    *, kind: str, team: Team | None, rep: User | None, pipeline: Pipeline | None
) -> QuerySet[PipelineReview]:
    """Every review of exactly this scope (no access check: callers have done it)."""
    return PipelineReview.objects.filter(
        scope_kind=kind,
        team=team,
        rep=rep,
        pipeline=pipeline,
    )


def review_list_for_user(
    *, user: User, team_id: int | None = None, status: str | None = None, with_counts: bool = False
) -> QuerySet[PipelineReview]:
    """Reviews the user may open, newest first, with what a list shows (``deal_count`` with ``with_counts``)."""
    reviews = PipelineReview.objects.filter(review_access_q(user=user)).select_related(
        "team", "rep", "pipeline", "started_by", "finished_by", "snapshot", "series"
    )
    if team_id is not None:
        reviews = reviews.filter(team_id=team_id)
    if status:
        if status not in ReviewStatus.values:
            raise ApplicationError("status must be open or finished.", field="status")
        reviews = reviews.filter(status=status)
    if with_counts:
        reviews = reviews.annotate(
            deal_count=Subquery(
                ReviewDeal.objects.filter(review=OuterRef("pk"))
                .order_by()
                .values("review")
                .annotate(count=Count("id"))
                .values("count")[:1]
            )
        )
    return reviews.order_by("-created_at", "-id")


def review_get_for_user(*, review_id: int, user: User) -> PipelineReview:
    """One review, or 404 when it is missing or not the user's to open."""
    review = review_list_for_user(user=user).filter(pk=review_id).first()
    if review is None:
        raise Http404("No such review.")
    return review


def series_list_for_user(*, user: User) -> QuerySet[ReviewSeries]:
    return (
        ReviewSeries.objects.filter(review_access_q(user=user), is_active=True)
        .select_related("team", "rep", "pipeline")
        .order_by("-created_at")
    )


def series_get_for_user(*, series_id: int, user: User) -> ReviewSeries:
    series = ReviewSeries.objects.filter(review_access_q(user=user), pk=series_id).first()
    if series is None:
        raise Http404("No such series.")
    return series


def review_label(review: PipelineReview | ReviewSeries) -> str:
    """ "Benelux", "Rita Rep", "Sales pipeline (Benelux)"."""
    if review.scope_kind == ScopeKind.REP and review.rep is not None:
        return review.rep.display_name
    if review.scope_kind == ScopeKind.PIPELINE and review.pipeline is not None:
        if review.team is not None:
            return _("%(pipeline)s pipeline (%(team)s)") % {
                "pipeline": review.pipeline.name,
                "team": review.team.name,
            }
        return _("%(pipeline)s pipeline") % {"pipeline": review.pipeline.name}
    label = review.team.name if review.team else "?"
    if review.pipeline is not None:
        label += f" · {review.pipeline.name}"
    return label


@dataclass
class StartOptions:
    teams: list[Team]
    reps: list[User]
    pipelines: list[Pipeline]
    periods: list[str]


def review_start_options_for_user(*, user: User, today: dt.date) -> StartOptions:
    """What the start form offers: managed teams, their reps, pipelines, this period and the next ones."""
    access = user_access_scope(user=user)
    teams = Team.objects.all() if access.is_admin else Team.objects.filter(pk__in=access.managed_team_ids)
    members = Membership.objects.filter(team__in=teams).values("user_id")
    reps = User.objects.filter(pk__in=members, is_active=True).order_by("first_name", "last_name", "username")
    periods = []
    for kind in ("month", "quarter"):
        period = period_containing(today, kind=kind)
        for _index in range(2):
            periods.append(period.key)
            period = period.next()
    return StartOptions(
        teams=list(teams.order_by("name")),
        reps=list(reps),
        pipelines=list(Pipeline.objects.filter(is_active=True).order_by("order", "id")),
        periods=periods,
    )


# ------------------------------------------------------------------------------------------ workspace
@dataclass
class AgendaRow:
    row: ReviewDeal
    owner: str
    reasons: list[str]
    decision: ReviewDecision | None
    decisions: int


@dataclass
class StageTotal:
    stage: str
    order: int
    count: int
    amount_minor: int
    expected_minor: int
    in_period_minor: int


@dataclass
class QualityView:
    owner: str
    quality: calc.RepQuality


@dataclass
class Workspace:
    review: PipelineReview
    snapshot: ReviewSnapshot
    label: str
    rows: list[ReviewDeal]
    stages: list[StageTotal]
    categories: list[dict[str, Any]]
    close_list: list[AgendaRow]
    rescue_list: list[AgendaRow]
    close_total: int
    rescue_total: int
    agenda_ids: list[int]
    quality: list[QualityView]
    decisions: list[ReviewDecision]
    carried: list[ReviewDecision]
    waterfall: dict[str, Any] | None
    bottlenecks: list[dict[str, Any]]
    flagged: int
    decided: int
    owners: dict[int, str] = field(default_factory=dict)


def _in_period(row: ReviewDeal, review: PipelineReview) -> bool:
    return (
        row.expected_close_on is not None and review.period_start <= row.expected_close_on < review.period_end
    )


def _owner_names(owner_ids: set[int]) -> dict[int, str]:
    return {user.pk: user.display_name for user in User.objects.filter(pk__in=owner_ids)}


def review_rows(*, review: PipelineReview) -> list[ReviewDeal]:
    """The frozen rows of a review in deal order (the order its simulation used)."""
    return list(ReviewDeal.objects.filter(review=review).order_by("deal_id"))


def review_decisions(*, review: PipelineReview) -> list[ReviewDecision]:
    return list(
        ReviewDecision.objects.filter(review=review)
        .select_related("decided_by", "applied_by", "carried_from__review")
        .order_by("created_at", "id")
    )


def agenda_lists(
    rows: list[ReviewDeal], *, limit: int | None = AGENDA_SIZE
) -> tuple[list[ReviewDeal], list[ReviewDeal], int, int]:
    """The two ranked lists (calculations.rank_*), cut to ``limit``, with their full lengths."""
    close = calc.rank_close_this_period(rows)
    rescue = calc.rank_rescue(rows)
    if limit is None:
        return close, rescue, len(close), len(rescue)
    return close[:limit], rescue[:limit], len(close), len(rescue)


def agenda_order(close: list[ReviewDeal], rescue: list[ReviewDeal], carried_ids: list[int]) -> list[int]:
    """The deals a review walks through: carried items first, then "close this period", then "rescue"."""
    order: list[int] = []
    for deal_id in [*carried_ids, *(row.deal_id for row in close), *(row.deal_id for row in rescue)]:
        if deal_id not in order:
            order.append(deal_id)
    return order


def review_workspace_for_user(*, review_id: int, user: User, show_all: bool = False) -> Workspace:
    """The review page: gather (totals, range, waterfall), bottlenecks, the agenda, data quality, decisions.

    Queries: review with snapshot, rows, owners, decisions, stage order; the same for any number of deals.
    """
    review = review_get_for_user(review_id=review_id, user=user)
    snapshot = review.snapshot
    rows = review_rows(review=review)
    decisions = review_decisions(review=review)
    owners = _owner_names({row.owner_id for row in rows})
    by_deal: dict[int, list[ReviewDecision]] = defaultdict(list)
    for decision in decisions:
        by_deal[decision.deal_id].append(decision)

    def agenda_row(row: ReviewDeal) -> AgendaRow:
        items = by_deal.get(row.deal_id, [])
        return AgendaRow(
            row=row,
            owner=owners.get(row.owner_id, str(row.owner_id)),
            reasons=[calc.flag_text(flag) for flag in row.flags],
            decision=items[-1] if items else None,
            decisions=len(items),
        )

    close, rescue, close_total, rescue_total = agenda_lists(rows, limit=None if show_all else AGENDA_SIZE)
    carried = [decision for decision in decisions if decision.carried_from_id is not None]
    stages: dict[int, StageTotal] = {}
    categories: dict[str, dict[str, Any]] = {
        code: {"category": code, "count": 0, "amount_minor": 0, "expected_minor": 0}
        for code in CATEGORY_ORDER
    }
    for row in rows:
        total = stages.setdefault(row.stage_id, StageTotal(row.stage_name, row.stage_order, 0, 0, 0, 0))
        total.count += 1
        total.amount_minor += row.amount_minor
        total.expected_minor += row.expected_value_minor
        if _in_period(row, review):
            total.in_period_minor += row.amount_minor
            category = categories.setdefault(
                row.category, {"category": row.category, "count": 0, "amount_minor": 0, "expected_minor": 0}
            )
            category["count"] += 1
            category["amount_minor"] += row.amount_minor
            category["expected_minor"] += row.expected_period_minor
    labels = dict(ForecastCategory.choices)
    category_list = [{**values, "label": str(labels.get(code, code))} for code, values in categories.items()]
    quality = calc.data_quality(
        (
            calc.QualityRow(row.owner_id, row.amount_minor, row.expected_close_on, row.has_next_step)
            for row in rows
        ),
        as_of_on=snapshot.as_of_on,
    )
    return Workspace(
        review=review,
        snapshot=snapshot,
        label=review_label(review),
        rows=rows,
        stages=sorted(stages.values(), key=lambda total: total.order),
        categories=category_list,
        close_list=[agenda_row(row) for row in close],
        rescue_list=[agenda_row(row) for row in rescue],
        close_total=close_total,
        rescue_total=rescue_total,
        agenda_ids=agenda_order(close, rescue, [decision.deal_id for decision in carried]),
        quality=[QualityView(owners.get(item.owner_id, str(item.owner_id)), item) for item in quality],
        decisions=decisions,
        carried=carried,
        waterfall=snapshot.waterfall,
        bottlenecks=snapshot.bottlenecks,
        flagged=sum(1 for row in rows if row.flags),
        decided=len(by_deal),
        owners=owners,
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


def _walk_ids(
    review: PipelineReview, rows: list[ReviewDeal], list_name: str, decisions: list[ReviewDecision]
) -> list[int]:
    close, rescue, _close_total, _rescue_total = agenda_lists(rows, limit=None)
    if list_name == "close":
        return [row.deal_id for row in close]
    if list_name == "rescue":
        return [row.deal_id for row in rescue]
    if list_name == "all":
        return [row.deal_id for row in sorted(rows, key=lambda row: (-row.amount_minor, row.deal_id))]
    carried = [decision.deal_id for decision in decisions if decision.carried_from_id is not None]
    short_close, short_rescue, _c, _r = agenda_lists(rows)
    return agenda_order(short_close, short_rescue, carried)


def review_deal_card_for_user(
    *, review_id: int, deal_id: int, user: User, list_name: str = "agenda"
) -> DealCard:
    """One deal in a review: the frozen row, the deal now, its history, activities, the stage's definition
    of done, this review's decisions, how earlier reviews discussed it, and its neighbours in the walk."""
    review = review_get_for_user(review_id=review_id, user=user)
    rows = review_rows(review=review)
    row = next((item for item in rows if item.deal_id == deal_id), None)
    if row is None:
        raise Http404("This deal is not in the review.")
    try:
        deal: Deal | None = deal_get_for_user(deal_id=deal_id, user=user)
    except Http404:
        deal = None  # reassigned out of the user's sight since: the frozen row still shows
    decisions = review_decisions(review=review)
    walk = _walk_ids(review, rows, list_name, decisions)
    if deal_id not in walk:
        walk = [row.deal_id for row in sorted(rows, key=lambda item: (-item.amount_minor, item.deal_id))]
        list_name = "all"
    position = walk.index(deal_id)
    stage = Stage.objects.filter(pk=row.stage_id).values_list("definition_of_done", flat=True).first() or ""
    owners = _owner_names({row.owner_id})
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
    reviews = (
        review_list_for_user(user=user)
        .filter(Q(deals__deal_id=deal_id) | Q(decisions__deal_id=deal_id))
        .distinct()
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

    Re-runs the review's own Monte Carlo (same rows, seed and run-rate draws) with the deal's amount and
    in-period probability as the change would make them (calculations.what_if_row). Nothing is written.
    """
    review = review_get_for_user(review_id=review_id, user=user)
    snapshot = review.snapshot
    if probability is not None and not 0 <= probability <= 1:
        raise ApplicationError("Probability must be from 0 to 100 %.", field="probability")
    if amount_minor is not None and amount_minor < 0:
        raise ApplicationError("Amount cannot be negative.", field="amount")
    rows = review_rows(review=review)
    index = next((position for position, row in enumerate(rows) if row.deal_id == deal_id), None)
    if index is None:
        raise Http404("This deal is not in the review.")
    row = rows[index]
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
    amounts = [item.amount_minor for item in rows]
    probabilities = [item.p_period for item in rows]

    def summary(values_amounts: list[int], values_p: list[float]) -> dict[str, float]:
        draws = calc.simulate_rows(
            amounts=values_amounts,
            p_period=values_p,
            new_samples=list(snapshot.new_samples),
            draws=snapshot.draws,
            seed=snapshot.seed,
        )
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

    before = summary(amounts, probabilities)
    amounts[index], probabilities[index] = new_amount, new_p
    after = summary(amounts, probabilities)
    return WhatIfResult(
        deal_id=deal_id,
        currency=snapshot.currency,
        before=before,
        after=after,
        expected_change_minor=round(new_amount * new_p - row.amount_minor * row.p_period),
        amount_minor=new_amount,
        p_period=new_p,
    )


# ---------------------------------------------------------------------------------------------- report
@dataclass
class Adjustment:
    event: DealEvent
    decision: ReviewDecision | None


@dataclass
class Report:
    workspace: Workspace
    adjustments: list[Adjustment]
    activities: list[Activity]
    decisions_by_kind: dict[str, int]


def review_report_for_user(*, review_id: int, user: User) -> Report:
    """Everything the report lists: snapshot totals, waterfall, bottlenecks, every decision and every
    adjustment (the DealEvents and tasks with the review's origin, and the events decisions point at)
    with who made it."""
    workspace = review_workspace_for_user(review_id=review_id, user=user, show_all=True)
    review = workspace.review
    decisions_by_event = {
        event_id: decision for decision in workspace.decisions for event_id in decision.event_ids
    }
    events = (
        DealEvent.objects.filter(Q(origin=review.origin) | Q(pk__in=list(decisions_by_event)))
        .select_related("actor", "deal", "from_stage", "to_stage")
        .order_by("occurred_at", "id")
    )
    counts: dict[str, int] = defaultdict(int)
    for decision in workspace.decisions:
        counts[decision.kind] += 1
    return Report(
        workspace=workspace,
        adjustments=[Adjustment(event, decisions_by_event.get(event.pk)) for event in events],
        activities=list(
            Activity.objects.filter(origin=review.origin).select_related("deal", "owner").order_by("id")
        ),
        decisions_by_kind={str(DecisionKind(kind).label): count for kind, count in counts.items()},
    )


def decision_status_label(status: str) -> str:
    return str(DecisionStatus(status).label)


def period_check(value: str) -> str:
    return parse_period(value).key


def decision_get_for_user(*, review_id: int, decision_id: int, user: User) -> ReviewDecision:
    """One decision of a review the user may open, or 404."""
    review = review_get_for_user(review_id=review_id, user=user)
    decision = ReviewDecision.objects.filter(review=review, pk=decision_id).select_related("review").first()
    if decision is None:
        raise Http404("No such decision.")
    return decision
