"""What a webhook carries: one envelope per event, the record as the API shows it (api/automation.py
documents the shape in the OpenAPI schema)."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from dealflow.core.money import from_minor
from dealflow.deals.models import Activity, Deal, DealEvent, Lead

# Event ids are derived from the occasion, so a retry or a second subscription carries the same id.
EVENT_NAMESPACE = uuid.UUID("6f1c2d6e-3f5a-4d1e-9b7a-0d2a8c1e5f40")


def event_id_for(key: str) -> uuid.UUID:
    return uuid.uuid5(EVENT_NAMESPACE, key)


_PLACEHOLDER = 987654321


@functools.lru_cache(maxsize=16)
def _link_pattern(name: str) -> str:
    """The page's absolute URL with a placeholder id, resolved once (a payload per event must not reverse)."""
    try:
        path = reverse(name, args=[_PLACEHOLDER])
    except NoReverseMatch:
        return ""
    return str(settings.DEALFLOW.get("SITE_URL", "")).rstrip("/") + path


def _link(name: str, record_id: int) -> str:
    pattern = _link_pattern(name)
    return pattern.replace(str(_PLACEHOLDER), str(record_id)) if pattern else ""


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value else None


def deal_data(deal: Deal) -> dict[str, Any]:
    return {
        "id": deal.pk,
        "title": deal.title,
        "status": deal.status,
        "pipeline_id": deal.pipeline_id,
        "stage_id": deal.stage_id,
        "stage": deal.stage.name,
        "owner_id": deal.owner_id,
        "owner": deal.owner.username,
        "team_id": deal.team_id,
        "amount": str(from_minor(deal.amount_minor, deal.currency)),
        "currency": deal.currency,
        "expected_close_on": _iso(deal.expected_close_on),
        "organization_id": deal.organization_id,
        "lead_id": deal.lead_id,
        "url": _link("web:deal_detail", deal.pk),
    }


def event_data(event: DealEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "kind": event.kind,
        "from": event.from_value,
        "to": event.to_value,
        "from_stage_id": event.from_stage_id,
        "to_stage_id": event.to_stage_id,
        "actor_id": event.actor_id,
        "origin": event.origin,
        "occurred_at": _iso(event.occurred_at),
    }


def lead_data(lead: Lead) -> dict[str, Any]:
    return {
        "id": lead.pk,
        "title": lead.title,
        "status": lead.status,
        "source": lead.source.key,
        "owner_id": lead.owner_id,
        "team_id": lead.team_id,
        "organization_id": lead.organization_id,
        "created_at": _iso(lead.created_at),
    }


def activity_data(activity: Activity) -> dict[str, Any]:
    return {
        "id": activity.pk,
        "kind": activity.kind,
        "subject": activity.subject,
        "owner_id": activity.owner_id,
        "deal_id": activity.deal_id,
        "lead_id": activity.lead_id,
        "due_at": _iso(activity.due_at),
        "done_at": _iso(activity.done_at),
    }


def envelope(*, key: str, event_type: str, occurred_at: dt.datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(event_id_for(key)),
        "type": event_type,
        "occurred_at": _iso(occurred_at),
        "data": data,
    }
