"""Who may see, start and change which reviews (the team scope), the review lists and the start options."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.utils.translation import gettext as _

from dealflow.accounts.models import Membership, Team, User
from dealflow.accounts.selectors import user_access_scope
from dealflow.core.errors import ApplicationError
from dealflow.core.periods import period_containing
from dealflow.deals.models import Pipeline
from dealflow.reviews.models import (
    PipelineReview,
    ReviewDeal,
    ReviewSeries,
    ReviewStatus,
    ScopeKind,
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


# The frozen forecast's samples, thresholds, waterfall and bottlenecks: megabytes of JSON per review at 1M
# deals, which no list shows (a list shows the snapshot's totals and currency). Loading them for 30 reviews
# cost 0.5 s and 480 MB of a web worker (docs/benchmarks.md, issue #19).
SNAPSHOT_DETAIL = (
    "snapshot__new_samples",
    "snapshot__thresholds",
    "snapshot__waterfall",
    "snapshot__bottlenecks",
)


def _reviews_for_user(user: User) -> QuerySet[PipelineReview]:
    return PipelineReview.objects.filter(review_access_q(user=user)).select_related(
        "team", "rep", "pipeline", "started_by", "finished_by", "snapshot", "series"
    )


def review_list_for_user(
    *, user: User, team_id: int | None = None, status: str | None = None, with_counts: bool = False
) -> QuerySet[PipelineReview]:
    """Reviews the user may open, newest first, with what a list shows (``deal_count`` with ``with_counts``);
    the snapshot's detail (``SNAPSHOT_DETAIL``) is left out: ``review_get_for_user`` reads one whole review."""
    reviews = _reviews_for_user(user).defer(*SNAPSHOT_DETAIL)
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
    review = _reviews_for_user(user).filter(pk=review_id).first()
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
