"""Automation rules (with their dry run and run log) and webhook subscriptions (with their deliveries).

Webhook payloads are documented here as schemas (``WebhookEnvelope`` and the records it carries) and served
by ``GET /webhooks/{id}/sample``, which answers the envelope a subscription would receive.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from ninja import Field, Query, Router, Schema, Status

from dealflow.accounts.models import Team
from dealflow.api.base import ApiRequest, paginate
from dealflow.api.schemas import Id, Offset, PageOut
from dealflow.automation.models import Rule, WebhookSubscription
from dealflow.automation.selectors import (
    attempt_list,
    delivery_list,
    rule_get_for_user,
    rule_list_for_user,
    rule_run_list,
    subscription_get_for_user,
    subscription_list_for_user,
)
from dealflow.automation.services import (
    SUBSCRIBABLE_EVENTS,
    rule_create,
    rule_delete,
    rule_dry_run_unsaved,
    rule_update,
    subscription_create,
    subscription_delete,
    subscription_resume,
    subscription_rotate_secret,
    subscription_update,
)
from dealflow.core.errors import ApplicationError
from dealflow.core.money import from_minor
from dealflow.deals.models import LeadSource, Pipeline, Stage

router = Router(tags=["Automation"])


# --- Rules ------------------------------------------------------------------------------------------------


class RuleIn(Schema):
    name: str
    trigger: Literal["stage_entered", "won", "lost", "rotting", "amount_above", "lead_source"]
    action: Literal["create_activity", "assign_owner", "set_field", "notify", "webhook"]
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="create_activity: subject, kind, due_in_days, due_in_hours; assign_owner: team_id; "
        "set_field: field (next_step, probability_override, forecast_category_override, "
        "expected_close_in_days), value; notify: recipient (owner, team_managers, user), user_id, message; "
        "webhook: subscription_id.",
    )
    team_id: Id | None = Field(
        None, description="A team's rule acts on that team's deals; none: company-wide."
    )
    pipeline_id: Id | None = None
    stage_id: Id | None = Field(None, description="stage_entered: the stage.")
    days: int | None = Field(None, description="rotting: days in the stage.")
    amount: Decimal | None = Field(None, description="amount_above: the amount a deal rises above.")
    currency: str = "EUR"
    source: str | None = Field(None, description="lead_source: the lead source key, e.g. trade_show.")
    is_active: bool = True


class RulePatchIn(Schema):
    name: str | None = None
    is_active: bool | None = None
    params: dict[str, Any] | None = None


class RuleOut(Schema):
    id: int
    name: str
    is_active: bool
    team_id: int | None
    trigger: str
    pipeline_id: int | None
    stage_id: int | None
    days: int | None
    amount: str | None
    currency: str
    source: str | None
    action: str
    params: dict[str, Any]
    created_by_id: int
    created_at: dt.datetime

    @staticmethod
    def resolve_amount(rule: Rule) -> str | None:
        return None if rule.amount_minor is None else str(from_minor(rule.amount_minor, rule.currency))

    @staticmethod
    def resolve_source(rule: Rule) -> str | None:
        return rule.source.key if rule.source else None


class DryRunHitOut(Schema):
    at: dt.datetime
    deal_id: int | None
    lead_id: int | None
    title: str


class DryRunOut(Schema):
    count: int = Field(description="How often the rule would have fired over the last 90 days.")
    records: int = Field(description="On how many deals (or leads).")
    since: dt.datetime
    hits: list[DryRunHitOut] = Field(description="The most recent 50.")


class RuleRunOut(Schema):
    id: int
    key: str
    deal_id: int | None
    lead_id: int | None
    status: str
    depth: int
    detail: str
    created_at: dt.datetime


def _rule_data(payload: dict[str, Any]) -> dict[str, Any]:
    """Turn ids into records; a wrong id is a 400 naming its field (visibility: reference data)."""
    data = {key: value for key, value in payload.items() if not key.endswith("_id") and key != "source"}
    for name, model in (("team", Team), ("pipeline", Pipeline), ("stage", Stage)):
        value = payload.get(f"{name}_id")
        if value is not None:
            data[name] = model.objects.filter(pk=value).first()
            if data[name] is None:
                raise ApplicationError(f"No such {name}.", field=f"{name}_id")
    if payload.get("source"):
        data["source"] = LeadSource.objects.filter(key=payload["source"]).first()
        if data["source"] is None:
            raise ApplicationError(f"No lead source {payload['source']!r}.", field="source")
    return data


@router.get("/automation/rules", response=list[RuleOut])
def list_rules(request: ApiRequest):
    """Admins: every rule; managers: company rules and their teams'; others: none."""
    return list(rule_list_for_user(user=request.user))


@router.post("/automation/rules", response={201: RuleOut})
def create_rule(request: ApiRequest, payload: RuleIn):
    """Admins create company or team rules, managers rules for a team they manage; reps get 403."""
    return Status(201, rule_create(by=request.user, data=_rule_data(payload.dict())))


@router.post("/automation/rules/dry-run", response=DryRunOut)
def dry_run_rule(request: ApiRequest, payload: RuleIn):
    """How often this rule would have fired over the last 90 days, and on which deals; nothing is saved."""
    return rule_dry_run_unsaved(by=request.user, data=_rule_data(payload.dict()))


@router.get("/automation/rules/{rule_id}", response=RuleOut)
def get_rule(request: ApiRequest, rule_id: Id):
    return rule_get_for_user(rule_id=rule_id, user=request.user)


@router.patch("/automation/rules/{rule_id}", response=RuleOut)
def update_rule(request: ApiRequest, rule_id: Id, payload: RulePatchIn):
    """Rename, switch on or off, or change the action's parameters."""
    rule = rule_get_for_user(rule_id=rule_id, user=request.user)
    return rule_update(rule=rule, by=request.user, data=payload.dict(exclude_unset=True))


@router.delete("/automation/rules/{rule_id}", response={204: None})
def delete_rule(request: ApiRequest, rule_id: Id):
    rule_delete(rule=rule_get_for_user(rule_id=rule_id, user=request.user), by=request.user)
    return Status(204, None)


class PageQuery(Schema):
    limit: int = 50
    offset: Offset = 0


@router.get("/automation/rules/{rule_id}/runs", response=PageOut[RuleRunOut])
def list_rule_runs(request: ApiRequest, rule_id: Id, query: Query[PageQuery]):
    """What the rule did, newest first: done, failed (with the reason) or skipped by the loop guard."""
    rule = rule_get_for_user(rule_id=rule_id, user=request.user)
    return paginate(rule_run_list(rule=rule), limit=query.limit, offset=query.offset)


# --- Webhooks ---------------------------------------------------------------------------------------------

EventType = Literal[
    "deal.created",
    "deal.moved",
    "deal.won",
    "deal.lost",
    "deal.amount_changed",
    "lead.created",
    "lead.converted",
    "activity.done",
]


class SubscriptionIn(Schema):
    name: str
    url: str
    event_types: list[EventType]


class SubscriptionPatchIn(Schema):
    name: str | None = None
    url: str | None = None
    event_types: list[EventType] | None = None
    is_active: bool | None = None


class SubscriptionOut(Schema):
    id: int
    name: str
    url: str
    event_types: list[str]
    owner_id: int
    is_company_wide: bool = Field(description="Made by an admin: carries every record.")
    is_active: bool
    is_paused: bool
    paused_at: dt.datetime | None
    consecutive_failures: int
    created_at: dt.datetime


class SubscriptionCreatedOut(SubscriptionOut):
    secret: str = Field(description="Signs every delivery: Dealflow-Signature = t=<unix>,v1=<HMAC-SHA256>.")


class SecretOut(Schema):
    secret: str


class DeliveryOut(Schema):
    id: int
    event_id: str
    event_type: str
    deal_id: int | None
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    last_status_code: int | None
    last_response_ms: int | None
    last_error: str
    delivered_at: dt.datetime | None
    created_at: dt.datetime

    @staticmethod
    def resolve_event_id(delivery) -> str:
        return str(delivery.event_id)


class DeliveryQuery(Schema):
    status: Literal["pending", "delivered", "failed"] | None = None
    limit: int = 50
    offset: Offset = 0


class AttemptOut(Schema):
    delivery_id: int
    at: dt.datetime
    status_code: int | None
    response_ms: int
    error: str


# What a receiver gets (documented for the OpenAPI schema; the worker builds it in automation/payloads.py).
class WebhookDeal(Schema):
    id: int
    title: str
    status: str
    pipeline_id: int
    stage_id: int
    stage: str
    owner_id: int
    owner: str
    team_id: int | None
    amount: str = Field(description="Decimal text in the deal's currency, e.g. 1250.00.")
    currency: str
    expected_close_on: dt.date | None
    organization_id: int | None
    lead_id: int | None
    url: str


class WebhookDealEvent(Schema):
    id: int
    kind: str
    from_: str = Field(alias="from")
    to: str
    from_stage_id: int | None
    to_stage_id: int | None
    actor_id: int | None
    origin: str = Field(description="web, api, cli, import, rule:<id>, ...")
    occurred_at: dt.datetime


class WebhookLead(Schema):
    id: int
    title: str
    status: str
    source: str
    owner_id: int
    team_id: int | None
    organization_id: int | None
    created_at: dt.datetime


class WebhookActivity(Schema):
    id: int
    kind: str
    subject: str
    owner_id: int
    deal_id: int | None
    lead_id: int | None
    due_at: dt.datetime | None
    done_at: dt.datetime | None


class WebhookData(Schema):
    deal: WebhookDeal | None = Field(None, description="deal.*, lead.converted, rule.fired")
    event: WebhookDealEvent | None = Field(None, description="deal.*: the DealEvent")
    lead: WebhookLead | None = Field(None, description="lead.created, rule.fired on a lead")
    lead_id: int | None = Field(None, description="lead.converted: the lead the deal came from")
    activity: WebhookActivity | None = Field(None, description="activity.done")
    rule: dict[str, Any] | None = Field(None, description="rule.fired: id and name of the rule")


class WebhookEnvelope(Schema):
    """The JSON body of every delivery (POST, application/json)."""

    id: str = Field(description="Event id (UUID), also in Dealflow-Event-Id: the same on every retry.")
    type: str = Field(description=f"One of {', '.join(SUBSCRIBABLE_EVENTS)}, or rule.fired.")
    occurred_at: dt.datetime
    data: WebhookData


@router.get("/webhooks", response=list[SubscriptionOut])
def list_subscriptions(request: ApiRequest):
    """Your webhook subscriptions (admins: everyone's)."""
    return list(subscription_list_for_user(user=request.user))


@router.post("/webhooks", response={201: SubscriptionCreatedOut})
def create_subscription(request: ApiRequest, payload: SubscriptionIn):
    """Subscribe a URL to event types. Unless you are an admin it only carries records you may see."""
    subscription, _ = subscription_create(
        by=request.user, name=payload.name, url=payload.url, event_types=list(payload.event_types)
    )
    return Status(201, subscription)


@router.get("/webhooks/{subscription_id}", response=SubscriptionOut)
def get_subscription(request: ApiRequest, subscription_id: Id):
    return subscription_get_for_user(subscription_id=subscription_id, user=request.user)


@router.patch("/webhooks/{subscription_id}", response=SubscriptionOut)
def update_subscription(request: ApiRequest, subscription_id: Id, payload: SubscriptionPatchIn):
    subscription = subscription_get_for_user(subscription_id=subscription_id, user=request.user)
    return subscription_update(
        subscription=subscription, by=request.user, data=payload.dict(exclude_unset=True)
    )


@router.delete("/webhooks/{subscription_id}", response={204: None})
def delete_subscription(request: ApiRequest, subscription_id: Id):
    subscription = subscription_get_for_user(subscription_id=subscription_id, user=request.user)
    subscription_delete(subscription=subscription, by=request.user)
    return Status(204, None)


@router.post("/webhooks/{subscription_id}/resume", response=SubscriptionOut)
def resume_subscription(request: ApiRequest, subscription_id: Id):
    """Unpause a subscription paused after failures; its waiting deliveries go out at once."""
    subscription = subscription_get_for_user(subscription_id=subscription_id, user=request.user)
    return subscription_resume(subscription=subscription, by=request.user)


@router.post("/webhooks/{subscription_id}/secret", response=SecretOut)
def rotate_subscription_secret(request: ApiRequest, subscription_id: Id):
    """A new signing secret (deliveries from now on use it)."""
    subscription = subscription_get_for_user(subscription_id=subscription_id, user=request.user)
    return {"secret": subscription_rotate_secret(subscription=subscription, by=request.user)}


@router.get("/webhooks/{subscription_id}/deliveries", response=PageOut[DeliveryOut])
def list_deliveries(request: ApiRequest, subscription_id: Id, query: Query[DeliveryQuery]):
    """The subscription's deliveries, newest first, with their status and last answer."""
    subscription = subscription_get_for_user(subscription_id=subscription_id, user=request.user)
    return paginate(
        delivery_list(subscription=subscription, status=query.status), limit=query.limit, offset=query.offset
    )


@router.get("/webhooks/{subscription_id}/attempts", response=list[AttemptOut])
def list_attempts(request: ApiRequest, subscription_id: Id):
    """The last 100 HTTP requests: status code (or error) and response time."""
    subscription = subscription_get_for_user(subscription_id=subscription_id, user=request.user)
    return attempt_list(subscription=subscription)


@router.get("/webhooks/{subscription_id}/sample", response=WebhookEnvelope, by_alias=True)
def sample_payload(request: ApiRequest, subscription_id: Id):
    """An example of what this subscription receives (the body of a deal.moved delivery)."""
    subscription: WebhookSubscription = subscription_get_for_user(
        subscription_id=subscription_id, user=request.user
    )
    now = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.UTC)
    return {
        "id": "4b0e3f3c-7a51-5f5e-9a0e-0d3c2b1a0f00",
        "type": "deal.moved",
        "occurred_at": now,
        "data": {
            "deal": {
                "id": 42,
                "title": "Office chairs for Acme",
                "status": "open",
                "pipeline_id": 1,
                "stage_id": 3,
                "stage": "Proposal",
                "owner_id": subscription.owner_id,
                "owner": subscription.owner.username,
                "team_id": None,
                "amount": "12500.00",
                "currency": "EUR",
                "expected_close_on": dt.date(2026, 2, 27),
                "organization_id": None,
                "lead_id": None,
                "url": "https://crm.example.com/deals/42/",
            },
            "event": {
                "id": 1001,
                "kind": "stage_changed",
                "from": "Needs analysis",
                "to": "Proposal",
                "from_stage_id": 2,
                "to_stage_id": 3,
                "actor_id": subscription.owner_id,
                "origin": "web",
                "occurred_at": now,
            },
        },
    }
