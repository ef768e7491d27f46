"""The review's bottleneck rows: per stage, from the event log as of the review's moment, or (a review
taken now) from the Dashboard's stage times."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.utils import timezone

from dealflow.accounts.models import User
from dealflow.core.money import to_minor
from dealflow.core.periods import parse_period
from dealflow.deals.models import (
    Stage,
    StageKind,
    StayFact,
)
from dealflow.deals.selectors import base_currency
from dealflow.metrics.selectors import MetricFilters, stage_times_for_user
from dealflow.reviews import calculations as calc
from dealflow.reviews.models import ScopeKind

if TYPE_CHECKING:  # snapshot.py calls this module; the scope type is only an annotation here
    from dealflow.reviews.services.snapshot import ReviewScope

BOTTLENECK_WINDOW_DAYS = 90


def bottlenecks_build(
    *,
    scope: ReviewScope,
    owners: frozenset[int] | None,
    at: dt.datetime,
    rows: list[dict[str, Any]],
    pipeline_ids: list[int],
    thresholds: dict[int, calc.StageThreshold],
) -> list[dict[str, Any]]:
    """Per open stage, as of ``at``: the last 90 days' stays in scope (StayFact), ended or running then.

    For backdated snapshots (the demo's history): the Dashboard's stage times only know "now".
    """
    as_of_on = timezone.localdate(at)
    window_start = as_of_on - dt.timedelta(days=BOTTLENECK_WINDOW_DAYS)
    stays = StayFact.objects.filter(
        scope.deals_q(owners), pipeline_id__in=pipeline_ids, entered_on__lte=as_of_on
    ).filter(Q(exited_on__isnull=True) | Q(exited_on__gte=window_start))
    flows = {
        stage_id: calc.StageFlow(stage_id=stage_id, name=name, order=order)
        for stage_id, name, order in Stage.objects.filter(
            pipeline_id__in=pipeline_ids, kind=StageKind.OPEN
        ).values_list("id", "name", "order")
    }
    for stage_id, entered_on, exited_on, exit_kind in stays.values_list(
        "stage_id", "entered_on", "exited_on", "exit_kind"
    ):
        flow = flows.get(stage_id)
        if flow is None:
            continue
        if exited_on is not None and exited_on <= as_of_on:
            days = (exited_on - entered_on).days
            flow.finished_days[days] = flow.finished_days.get(days, 0) + 1
            if exit_kind in ("forward", "won"):
                flow.advanced += 1
            elif exit_kind == "lost":
                flow.lost += 1
            elif exit_kind == "back":
                flow.back += 1
        else:
            days = (as_of_on - entered_on).days
            flow.open_days[days] = flow.open_days.get(days, 0) + 1
        if entered_on >= window_start:
            flow.entered += 1
    _stuck_and_waiting(flows, rows)
    for stage_id, flow in flows.items():
        threshold = thresholds.get(stage_id)
        if threshold is not None and threshold.stuck_source == "learned":
            flow.won_days = threshold.stuck_days
    ordered = sorted(flows.values(), key=lambda flow: (flow.order, flow.stage_id))
    return calc.bottleneck_rows(ordered, window_days=BOTTLENECK_WINDOW_DAYS)


def _stuck_and_waiting(flows: dict[int, calc.StageFlow], rows: list[dict[str, Any]]) -> None:
    for row in rows:
        flow = flows.get(row["stage_id"])
        if flow is None:
            continue
        flow.open_deals += 1
        flow.open_value_minor += row["amount_minor"]
        if any(flag["code"] == "stuck" for flag in row["flags"]):
            flow.stuck_deals.append(row["deal_id"])


def bottlenecks_live(
    *, user: User, scope: ReviewScope, at: dt.datetime, rows: list[dict[str, Any]], pipeline_ids: list[int]
) -> list[dict[str, Any]]:
    """The Dashboard's stage times (dealflow.metrics: Kaplan-Meier time in stage against the previous 90
    days and won deals, funnel conversion with its Wilson interval, Little's law, its bottleneck flags)
    for the review's scope over the 90 days up to today, frozen, plus the deals the review finds stuck."""
    as_of_on = timezone.localdate(at)
    period = parse_period(f"{as_of_on - dt.timedelta(days=BOTTLENECK_WINDOW_DAYS - 1)}..{as_of_on}")
    currency = base_currency()
    stuck: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        if any(flag["code"] == "stuck" for flag in row["flags"]):
            stuck[row["stage_id"]].append(row["deal_id"])
    result = []
    for pipeline_id in pipeline_ids:
        filters = MetricFilters(
            period=period,
            pipeline_id=pipeline_id,
            team_id=scope.team.pk if scope.team is not None and scope.kind != ScopeKind.REP else None,
            owner_id=scope.rep.pk if scope.kind == ScopeKind.REP and scope.rep is not None else None,
        )
        for stage in stage_times_for_user(user=user, filters=filters):
            stuck_ids = stuck.get(stage.stage_id, [])
            result.append(
                {
                    "stage_id": stage.stage_id,
                    "stage": stage.name,
                    "entered": stage.entered,
                    "finished": stage.finished,
                    "conversion": stage.conversion,
                    "conversion_low": stage.conversion_low,
                    "conversion_high": stage.conversion_high,
                    "lost_share": None,
                    "median_days": stage.median_days,
                    "p80_days": stage.p80_days,
                    "won_days": stage.won_p80_days,
                    "won_label": "P80",
                    "open_deals": stage.open_now,
                    "open_value_minor": to_minor(stage.open_value, currency),
                    "little_days": stage.implied_wait_days,
                    "stuck_deals": stuck_ids,
                    "reasons": [flag.message for flag in stage.flags]
                    + ([calc.stuck_reason(len(stuck_ids))] if stuck_ids else []),
                    "source": "metrics",
                }
            )
    return result
