"""The stuck and stale thresholds per stage, learned from won deals' stays and quiet spells (docs/reviews.md)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.utils import timezone

from dealflow.deals.models import (
    Activity,
    Deal,
    DealEvent,
    DealStatus,
    EventKind,
    Stage,
    StageKind,
    StayFact,
)
from dealflow.reviews import calculations as calc

THRESHOLD_WINDOW_DAYS = 730
QUIET_SAMPLE_DEALS = 400  # won deals whose quiet spells teach the stale threshold (most recent first)


def stage_thresholds(*, pipeline_ids: list[int], as_of: dt.datetime) -> dict[int, calc.StageThreshold]:
    """Stale and stuck thresholds per open stage of the pipelines, learned from won deals (2 years back)."""
    as_of_on = timezone.localdate(as_of)
    since = as_of_on - dt.timedelta(days=THRESHOLD_WINDOW_DAYS)
    stages = list(
        Stage.objects.filter(pipeline_id__in=pipeline_ids, kind=StageKind.OPEN).values_list(
            "id", "rotting_days"
        )
    )
    stays: dict[int, list[float]] = defaultdict(list)
    for stage_id, days in StayFact.objects.filter(
        deal_status=DealStatus.WON,
        exited_on__gte=since,
        exited_on__lte=as_of_on,
        pipeline_id__in=pipeline_ids,
    ).values_list("stage_id", "days"):
        if days is not None:
            stays[stage_id].append(float(days))
    quiet = _won_quiet_spells(pipeline_ids=pipeline_ids, since=since, as_of=as_of)
    return {
        stage_id: calc.stage_threshold(
            rotting_days=rotting_days,
            won_stay_days=stays.get(stage_id, []),
            won_quiet_days=quiet.get(stage_id, []),
        )
        for stage_id, rotting_days in stages
    }


def _won_quiet_spells(
    *, pipeline_ids: list[int], since: dt.date, as_of: dt.datetime
) -> dict[int, list[float]]:
    """Days between touches of recently won deals, per the stage the deal was in when the quiet began."""
    won = (
        Deal.objects.filter(
            pipeline_id__in=pipeline_ids, status=DealStatus.WON, closed_on__gte=since, won_at__lte=as_of
        )
        .order_by("-closed_on", "-id")
        .values("id")[:QUIET_SAMPLE_DEALS]
    )
    touches: dict[int, list[tuple[dt.datetime, int | None]]] = defaultdict(list)
    for deal_id, occurred_at, to_stage_id in DealEvent.objects.filter(
        deal_id__in=won,
        kind__in=[EventKind.CREATED, EventKind.STAGE_CHANGED, EventKind.REOPENED, EventKind.WON],
    ).values_list("deal_id", "occurred_at", "to_stage_id"):
        touches[deal_id].append((occurred_at, to_stage_id))
    for deal_id, done_at in Activity.objects.filter(deal_id__in=won, done_at__isnull=False).values_list(
        "deal_id", "done_at"
    ):
        if done_at is not None:
            touches[deal_id].append((done_at, None))
    result: dict[int, list[float]] = defaultdict(list)
    for items in touches.values():
        items.sort(key=lambda item: (item[0], item[1] is None))
        stage: int | None = None
        previous: dt.datetime | None = None
        for moment, to_stage in items:
            if previous is not None and stage is not None:
                result[stage].append((moment - previous).total_seconds() / 86400)
            if to_stage is not None:
                stage = to_stage
            previous = moment
    return result
