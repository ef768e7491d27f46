"""What a metric counts: the period, the filters and the user's visibility, as Q objects per table."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from django.db.models import Q

from dealflow.accounts.models import User
from dealflow.accounts.selectors import owner_visibility_q, user_access_scope
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.core.money import RateTable
from dealflow.core.parameters import id_parameter, period_parameter, text_parameter
from dealflow.core.periods import Period, parse_period, period_containing
from dealflow.deals.models import LeadSource, Pipeline, Stage
from dealflow.deals.selectors import pipeline_get_default, rate_table


@dataclass(frozen=True)
class MetricFilters:
    """A period plus the optional filters every metric takes (the same query parameters everywhere)."""

    period: Period
    pipeline_id: int | None = None
    team_id: int | None = None
    owner_id: int | None = None
    source: str | None = None  # LeadSource key

    @classmethod
    def from_mapping(cls, data: Any, *, default_kind: str = "quarter") -> MetricFilters:
        """Parse ``period``, ``pipeline``, ``team``, ``owner`` and ``source`` from a QueryDict or dict."""

        period = period_parameter(data, "period") or period_containing(clock.today(), kind=default_kind)
        return cls(
            period=period,
            pipeline_id=id_parameter(data, "pipeline"),
            team_id=id_parameter(data, "team"),
            owner_id=id_parameter(data, "owner"),
            source=text_parameter(data, "source"),
        )

    def with_period(self, period: Period) -> MetricFilters:
        return replace(self, period=period)

    def as_query(self) -> dict[str, str]:
        """The filters as query parameters (links keep them)."""
        query = {"period": self.period.key}
        for name, value in (
            ("pipeline", self.pipeline_id),
            ("team", self.team_id),
            ("owner", self.owner_id),
            ("source", self.source),
        ):
            if value not in (None, ""):
                query[name] = str(value)
        return query


@dataclass
class MetricScope:
    """Filters resolved for one user: Q objects for each table metrics read, all access-filtered."""

    user: User
    filters: MetricFilters
    source_id: int | None
    pipeline: Pipeline | None  # the funnel's pipeline: the filter, else the default pipeline
    today: dt.date
    cache: dict[Any, Any] = field(default_factory=dict)  # query results shared by selectors in one request

    @property
    def period(self) -> Period:
        return self.filters.period

    def _attribute_q(self, *, owner: str, team: str, source: str, pipeline: str | None) -> Q:
        condition = owner_visibility_q(user=self.user, owner_field=owner)
        filters = self.filters
        if filters.owner_id:
            condition &= Q(**{owner: filters.owner_id})
        if filters.team_id:
            condition &= Q(**{team: filters.team_id})
        if self.source_id is not None:
            condition &= Q(**{source: self.source_id})
        if filters.pipeline_id and pipeline:
            condition &= Q(**{pipeline: filters.pipeline_id})
        return condition

    def deal_q(self, *, prefix: str = "") -> Q:
        """Rows about a deal by its current pipeline, owner, team and source: Deal, DealFact, StayFact and
        DealMonthlyTotals (where 0 stands for no team / no source). ``prefix`` reaches a Deal through a
        relation (``"deal__"`` on a deal's lines), so the filter applies to the joined row."""
        return self._attribute_q(
            owner=f"{prefix}owner_id",
            team=f"{prefix}team_id",
            source=f"{prefix}source_id",
            pipeline=f"{prefix}pipeline_id",
        )

    def lead_fact_q(self) -> Q:
        """DealFact rows of deals from leads, by the lead's owner, team and source (lead conversion)."""
        return self._attribute_q(
            owner="lead_owner_id", team="lead_team_id", source="lead_source_id", pipeline="pipeline_id"
        )

    def lead_q(self) -> Q:
        """Lead rows (a lead has no pipeline; the pipeline filter applies to the deals leads became)."""
        return self._attribute_q(owner="owner_id", team="team_id", source="source_id", pipeline=None)

    @cached_property
    def rates(self) -> RateTable:
        """Exchange rates, read once per request."""
        return rate_table()

    @property
    def pipeline_id(self) -> int:
        """The funnel's pipeline (0 when there is none at all)."""
        return self.pipeline.pk if self.pipeline else 0

    @cached_property
    def stages(self) -> list[Stage]:
        """Every stage of the funnel's pipeline (deactivated ones too), in order."""
        return list(Stage.objects.filter(pipeline_id=self.pipeline_id).order_by("order", "id"))

    @property
    def previous(self) -> Period:
        """The period before: the previous month/quarter/year, or as many days just before a custom one."""
        period = self.period
        if period.kind != "custom":
            return period.previous()
        last = period.start - dt.timedelta(days=1)
        return parse_period(f"{(period.start - (period.end - period.start)).isoformat()}..{last.isoformat()}")

    @property
    def trend_until(self) -> dt.date:
        """First day of the month after the period's last day: trends run up to it."""
        last = self.period.end - dt.timedelta(days=1)
        return (last.replace(day=28) + dt.timedelta(days=4)).replace(day=1)

    def trend_months(self, count: int) -> list[dt.date]:
        """The ``count`` months (first days) ending with the period's last month."""
        months = []
        month = self.trend_until
        for _ in range(count):
            month = (month - dt.timedelta(days=1)).replace(day=1)
            months.append(month)
        return months[::-1]


def metric_scope_for_user(*, user: User, filters: MetricFilters) -> MetricScope:
    """Resolve the filters for ``user`` (who must be signed in); unknown sources and pipelines are errors."""
    if user_access_scope(user=user).user_id is None:
        raise ApplicationError("Sign in to see metrics.", field="user")
    source_id = None
    if filters.source:
        source_id = LeadSource.objects.filter(key=filters.source).values_list("id", flat=True).first()
        if source_id is None:
            raise ApplicationError(f"Unknown lead source {filters.source!r}.", field="source")
    if filters.pipeline_id:
        pipeline = Pipeline.objects.filter(pk=filters.pipeline_id).first()
        if pipeline is None:
            raise ApplicationError("No such pipeline.", field="pipeline")
    else:
        pipeline = pipeline_get_default()
    return MetricScope(
        user=user, filters=filters, source_id=source_id, pipeline=pipeline, today=clock.today()
    )
