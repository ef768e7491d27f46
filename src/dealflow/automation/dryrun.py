"""Dry run: how often an unsaved rule would have fired over the last 90 days, and on which deals.

It replays the same matcher the dispatch uses (``calculations.rule_matches``) over the DealEvent log, the
leads, or (for rotting) the stage stays, limited to the deals the rule could act on and the user may see.
Rotting is judged from the stays: a stay that lasted N days reached the rule's mark on day N.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q

from dealflow.accounts.models import User
from dealflow.accounts.selectors import owner_visibility_q
from dealflow.automation.calculations import TRIGGER_KINDS, Occasion, RuleSpec, rule_matches
from dealflow.automation.dispatch import deal_occasion
from dealflow.automation.models import Trigger
from dealflow.core import clock
from dealflow.deals.models import Deal, DealEvent, Lead, StageSpell

WINDOW_DAYS = 90
LIST_LIMIT = 50


@dataclass(frozen=True)
class DryRunHit:
    at: dt.datetime
    deal_id: int | None
    lead_id: int | None
    title: str


@dataclass
class DryRunResult:
    count: int = 0
    records: int = 0  # distinct deals (or leads)
    hits: list[DryRunHit] = field(default_factory=list)  # the most recent, at most 50
    since: dt.datetime | None = None


def rule_dry_run(*, spec: RuleSpec, user: User, now: dt.datetime | None = None) -> DryRunResult:
    """Count the occasions of the last 90 days the rule matches, over deals/leads the user may see."""
    moment = now or clock.now()
    since = moment - dt.timedelta(days=WINDOW_DAYS)
    result = DryRunResult(since=since)
    hits: list[DryRunHit] = []
    visible = owner_visibility_q(user=user, owner_field="owner_id")
    if spec.trigger == Trigger.LEAD_SOURCE:
        leads = Lead.objects.filter(
            visible, created_at__gte=since, created_at__lte=moment, source_id=spec.source_id
        )
        if spec.team_id:
            leads = leads.filter(team_id=spec.team_id)
        for lead in leads.order_by("-created_at").only("id", "title", "created_at", "team_id", "source_id"):
            if rule_matches(
                spec, Occasion(kind="lead_created", team_id=lead.team_id, source_id=lead.source_id)
            ):
                hits.append(DryRunHit(lead.created_at, None, lead.pk, lead.title))
    elif spec.trigger == Trigger.ROTTING:
        days = dt.timedelta(days=spec.days or 0)
        stays = (
            StageSpell.objects.filter(
                deal__in=Deal.objects.filter(visible),
                entered_at__gte=since - days,
                entered_at__lte=moment - days,
                stage__kind="open",
            )
            .filter(Q(exited_at__isnull=True) | Q(duration_days__gte=spec.days or 0))
            .select_related("deal")
        )
        if spec.team_id:
            stays = stays.filter(deal__team_id=spec.team_id)
        if spec.pipeline_id:
            stays = stays.filter(pipeline_id=spec.pipeline_id)
        for stay in stays.order_by("-entered_at"):
            occasion = Occasion(
                kind="rotting", team_id=stay.deal.team_id, pipeline_id=stay.pipeline_id, days=spec.days
            )
            if rule_matches(spec, occasion):
                hits.append(DryRunHit(stay.entered_at + days, stay.deal_id, None, stay.deal.title))
    else:
        kinds = TRIGGER_KINDS[spec.trigger]
        events = DealEvent.objects.filter(
            kind__in=kinds,
            occurred_at__gte=since,
            occurred_at__lte=moment,
            deal__in=Deal.objects.filter(visible),
        ).select_related("deal")
        if spec.trigger == Trigger.STAGE_ENTERED:
            events = events.filter(to_stage_id=spec.stage_id)
        if spec.team_id:
            events = events.filter(deal__team_id=spec.team_id)
        for event in events.order_by("-occurred_at", "-id").iterator(chunk_size=2000):
            if rule_matches(spec, deal_occasion(event, event.deal)):
                hits.append(DryRunHit(event.occurred_at, event.deal_id, None, event.deal.title))
    result.count = len(hits)
    result.records = len({(hit.deal_id, hit.lead_id) for hit in hits})
    result.hits = hits[:LIST_LIMIT]
    return result
