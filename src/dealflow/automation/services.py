"""Writes of automation: rules and webhook subscriptions (who may create what, and valid settings only).

Who may create a rule: an admin, for the whole company (no team) or for any team; a manager, for a team they
manage. A rep creates no rules. Anyone who may sign in keeps their own webhook subscriptions; an admin's
subscription is company-wide, anyone else's carries only the records its owner may see.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction

from dealflow.accounts.models import Membership, Role, Team, User
from dealflow.accounts.selectors import user_access_scope
from dealflow.accounts.services import audit_record
from dealflow.automation.calculations import address_is_private
from dealflow.automation.dispatch import dispatch_prime
from dealflow.automation.models import (
    Action,
    Rule,
    Trigger,
    WebhookEventType,
    WebhookSubscription,
)
from dealflow.core import clock
from dealflow.core.errors import ApplicationError, PermissionDeniedError
from dealflow.core.money import normalize_currency, to_minor
from dealflow.deals.models import ActivityKind, ForecastCategory, LeadSource, Pipeline, Stage

SECRET_PREFIX = "whsec_"
# Fields a rule may set on a deal, through deal_update (so the change is an event like any other).
SETTABLE_FIELDS = {
    "next_step": "text",
    "probability_override": "percent",
    "forecast_category_override": "category",
    "expected_close_in_days": "days",  # expected close date = the day the rule fires + N days
}
NOTIFY_RECIPIENTS = ("owner", "team_managers", "user")
SUBSCRIBABLE_EVENTS = [choice for choice in WebhookEventType.values if choice != WebhookEventType.RULE_FIRED]


# --- Rules ------------------------------------------------------------------------------------------------


def rule_check_can_manage(*, user: User, team: Team | None) -> None:
    """Admins manage every rule; managers only their own teams' rules; nobody else any (403)."""
    scope = user_access_scope(user=user)
    if scope.is_admin:
        return
    if team is None:
        raise PermissionDeniedError("Only an admin may create or change a company-wide rule.", field="team")
    if team.pk not in scope.managed_team_ids:
        raise PermissionDeniedError("You may only manage rules of a team you manage.", field="team")


def _int(value: Any, *, field: str, minimum: int = 0, maximum: int = 10_000) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError) as error:
        raise ApplicationError(f"{field} must be a whole number.", field=field) from error
    if not minimum <= number <= maximum:
        raise ApplicationError(f"{field} must be from {minimum} to {maximum}.", field=field)
    return number


def _validate_trigger(data: dict[str, Any]) -> dict[str, Any]:
    """The trigger's columns, each checked; a missing or wrong one names its field."""
    trigger = data.get("trigger")
    if trigger not in Trigger.values:
        raise ApplicationError(f"Trigger must be one of {', '.join(Trigger.values)}.", field="trigger")
    pipeline = data.get("pipeline")
    if pipeline is not None and not isinstance(pipeline, Pipeline):
        raise ApplicationError("Pick a pipeline.", field="pipeline")
    values: dict[str, Any] = {
        "trigger": trigger,
        "pipeline": pipeline,
        "stage": None,
        "days": None,
        "amount_minor": None,
        "currency": "",
        "source": None,
    }
    if trigger == Trigger.STAGE_ENTERED:
        stage = data.get("stage")
        if not isinstance(stage, Stage) or stage.is_closed:
            raise ApplicationError("Pick the open stage the deal enters.", field="stage")
        values["stage"] = stage
        values["pipeline"] = stage.pipeline
    elif trigger == Trigger.ROTTING:
        values["days"] = _int(data.get("days"), field="days", minimum=1, maximum=3650)
    elif trigger == Trigger.AMOUNT_ABOVE:
        currency = normalize_currency(data.get("currency") or "EUR")
        if data.get("amount") in (None, ""):
            raise ApplicationError("Give the amount a deal must rise above.", field="amount")
        try:
            values["amount_minor"] = to_minor(data["amount"], currency)
        except (ApplicationError, ArithmeticError, ValueError) as error:
            raise ApplicationError("The amount must be a number.", field="amount") from error
        if values["amount_minor"] < 0:
            raise ApplicationError("The amount cannot be negative.", field="amount")
        values["currency"] = currency
    elif trigger == Trigger.LEAD_SOURCE:
        source = data.get("source")
        if not isinstance(source, LeadSource):
            raise ApplicationError("Pick the lead source.", field="source")
        values["source"] = source
    return values


def _validate_action(
    action: Any, params: dict[str, Any], *, trigger: str, team: Team | None
) -> dict[str, Any]:
    """The action's parameters, cleaned; unknown keys are refused so a typo is not silently ignored."""
    if action not in Action.values:
        raise ApplicationError(f"Action must be one of {', '.join(Action.values)}.", field="action")
    params = dict(params or {})
    allowed: dict[str, set[str]] = {
        Action.CREATE_ACTIVITY: {"subject", "kind", "due_in_days", "due_in_hours"},
        Action.ASSIGN_OWNER: {"team_id"},
        Action.SET_FIELD: {"field", "value"},
        Action.NOTIFY: {"recipient", "user_id", "message"},
        Action.WEBHOOK: {"subscription_id"},
    }
    unknown = set(params) - allowed[action]
    if unknown:
        name = sorted(unknown)[0]
        raise ApplicationError(f"The action {action} takes no parameter {name!r}.", field=name)
    if action == Action.CREATE_ACTIVITY:
        subject = str(params.get("subject") or "").strip()
        if not subject:
            raise ApplicationError("The activity needs a subject.", field="subject")
        kind = params.get("kind") or ActivityKind.TASK
        if kind not in ActivityKind.values:
            raise ApplicationError(f"Kind must be one of {', '.join(ActivityKind.values)}.", field="kind")
        return {
            "subject": subject[:200],
            "kind": kind,
            "due_in_days": _int(params.get("due_in_days", 0) or 0, field="due_in_days", maximum=3650),
            "due_in_hours": _int(params.get("due_in_hours", 0) or 0, field="due_in_hours", maximum=23),
        }
    if action == Action.ASSIGN_OWNER:
        team_id = params.get("team_id") or (team.pk if team else None)
        target = Team.objects.filter(pk=team_id).first() if team_id else None
        if target is None:
            raise ApplicationError("Pick the team whose reps take turns.", field="team_id")
        if team is not None and target.pk != team.pk:
            raise ApplicationError("A team's rule assigns within its own team.", field="team_id")
        if not Membership.objects.filter(team=target, role=Role.REP, user__is_active=True).exists():
            raise ApplicationError(
                f"The team {target.name} has no active reps to take turns.", field="team_id"
            )
        return {"team_id": target.pk}
    if action == Action.SET_FIELD:
        if trigger == Trigger.LEAD_SOURCE:
            raise ApplicationError("A lead has no deal fields to set; pick another action.", field="action")
        name = str(params.get("field") or "")
        if name not in SETTABLE_FIELDS:
            raise ApplicationError(f"Field must be one of {', '.join(SETTABLE_FIELDS)}.", field="field")
        value = params.get("value")
        kind = SETTABLE_FIELDS[name]
        if kind == "percent":
            value = _int(value, field="value", maximum=100)
        elif kind == "days":
            value = _int(value, field="value", maximum=3650)
        elif kind == "category":
            choices = [ForecastCategory.PIPELINE, ForecastCategory.BEST_CASE, ForecastCategory.COMMIT]
            if value not in [*choices, ForecastCategory.OMITTED]:
                raise ApplicationError("Value must be pipeline, best_case, commit or omitted.", field="value")
        else:
            value = str(value or "").strip()[:200]
        return {"field": name, "value": value}
    if action == Action.NOTIFY:
        recipient = params.get("recipient") or "owner"
        if recipient not in NOTIFY_RECIPIENTS:
            raise ApplicationError(
                f"Recipient must be one of {', '.join(NOTIFY_RECIPIENTS)}.", field="recipient"
            )
        message = str(params.get("message") or "").strip()
        if not message:
            raise ApplicationError("Write the message to send.", field="message")
        cleaned: dict[str, Any] = {"recipient": recipient, "message": message[:300]}
        if recipient == "user":
            user = User.objects.filter(pk=params.get("user_id") or 0, is_active=True).first()
            if user is None:
                raise ApplicationError("Pick an active user to notify.", field="user_id")
            if team is not None and not Membership.objects.filter(user=user, team=team).exists():
                raise ApplicationError("A team's rule notifies members of the team.", field="user_id")
            cleaned["user_id"] = user.pk
        return cleaned
    subscription = WebhookSubscription.objects.filter(pk=params.get("subscription_id") or 0).first()
    if subscription is None:
        raise ApplicationError("Pick the webhook subscription to send to.", field="subscription_id")
    return {"subscription_id": subscription.pk}


def rule_validate(*, by: User, data: dict[str, Any]) -> dict[str, Any]:
    """Check a rule's settings and the user's right to it; returns the model's values (nothing saved).

    ``data``: name, team (Team or None), trigger, pipeline, stage, days, amount, currency, source, action,
    params. The dry run calls this too, so it refuses what saving would refuse.
    """
    team = data.get("team")
    if team is not None and not isinstance(team, Team):
        raise ApplicationError("Pick a team.", field="team")
    rule_check_can_manage(user=by, team=team)
    name = str(data.get("name") or "").strip()
    if not name:
        raise ApplicationError("A rule needs a name.", field="name")
    values = _validate_trigger(data)
    values["params"] = _validate_action(
        data.get("action"), data.get("params") or {}, trigger=values["trigger"], team=team
    )
    if data.get("action") == Action.WEBHOOK:
        subscription = WebhookSubscription.objects.get(pk=values["params"]["subscription_id"])
        if subscription.owner_id != by.pk and not user_access_scope(user=by).is_admin:
            raise ApplicationError("Pick one of your own webhook subscriptions.", field="subscription_id")
    values.update({"name": name[:120], "team": team, "action": data["action"]})
    return values


def rule_dry_run_unsaved(*, by: User, data: dict[str, Any]):
    """Validate a rule as saving would, then replay it over the last 90 days (nothing is saved)."""
    from dealflow.automation.calculations import RuleSpec
    from dealflow.automation.dryrun import rule_dry_run

    values = rule_validate(by=by, data=data)
    spec = RuleSpec(
        trigger=values["trigger"],
        team_id=values["team"].pk if values["team"] else None,
        pipeline_id=values["pipeline"].pk if values["pipeline"] else None,
        stage_id=values["stage"].pk if values["stage"] else None,
        days=values["days"],
        amount_minor=values["amount_minor"],
        currency=values["currency"],
        source_id=values["source"].pk if values["source"] else None,
    )
    return rule_dry_run(spec=spec, user=by)


@transaction.atomic
def rule_create(*, by: User, data: dict[str, Any]) -> Rule:
    """Save a new active rule; it acts on what happens from now on (history is what the dry run is for)."""
    values = rule_validate(by=by, data=data)
    rule = Rule.objects.create(created_by=by, is_active=bool(data.get("is_active", True)), **values)
    dispatch_prime()
    audit_record(actor=by, action="rule.created", target=f"rule:{rule.pk}", detail={"name": rule.name})
    return rule


@transaction.atomic
def rule_update(*, rule: Rule, by: User, data: dict[str, Any]) -> Rule:
    """Change a rule's settings (the whole definition is checked again) or switch it on or off."""
    rule_check_can_manage(user=by, team=rule.team)
    current = {
        "name": rule.name,
        "team": rule.team,
        "trigger": rule.trigger,
        "pipeline": rule.pipeline,
        "stage": rule.stage,
        "days": rule.days,
        "amount": None,
        "currency": rule.currency,
        "source": rule.source,
        "action": rule.action,
        "params": rule.params,
    }
    if rule.amount_minor is not None:
        from dealflow.core.money import from_minor

        current["amount"] = from_minor(rule.amount_minor, rule.currency)
    changes = {key: value for key, value in data.items() if key != "is_active"}
    if changes:
        values = rule_validate(by=by, data={**current, **changes})
        for name, value in values.items():
            setattr(rule, name, value)
    if "is_active" in data:
        rule.is_active = bool(data["is_active"])
    rule.save()
    audit_record(actor=by, action="rule.updated", target=f"rule:{rule.pk}", detail={"fields": sorted(data)})
    return rule


@transaction.atomic
def rule_delete(*, rule: Rule, by: User) -> None:
    """Delete a rule and its run log (what it did to deals stays in their history)."""
    rule_check_can_manage(user=by, team=rule.team)
    audit_record(actor=by, action="rule.deleted", target=f"rule:{rule.pk}", detail={"name": rule.name})
    rule.delete()


# --- Webhook subscriptions --------------------------------------------------------------------------------


def _validate_url(url: Any) -> str:
    text = str(url or "").strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ApplicationError("The URL must start with https:// (or http://) and name a host.", field="url")
    if len(text) > 500:
        raise ApplicationError("The URL has at most 500 characters.", field="url")
    host = (parts.hostname or "").lower()
    if not settings.DEALFLOW.get("WEBHOOK_PRIVATE_ADDRESSES") and (
        host == "localhost" or host.endswith(".localhost") or address_is_private(host)
    ):
        raise ApplicationError("A webhook may not point at this server's own network.", field="url")
    return text


def _validate_event_types(values: Any) -> list[str]:
    if isinstance(values, str):
        values = [part.strip() for part in values.split(",") if part.strip()]
    chosen = list(dict.fromkeys(values or []))
    if not chosen:
        raise ApplicationError("Pick at least one event type.", field="event_types")
    unknown = [value for value in chosen if value not in SUBSCRIBABLE_EVENTS]
    if unknown:
        raise ApplicationError(
            f"Unknown event type {unknown[0]!r}; one of {', '.join(SUBSCRIBABLE_EVENTS)}.",
            field="event_types",
        )
    return chosen


def subscription_create(
    *, by: User, name: str, url: str, event_types: list[str] | str
) -> tuple[WebhookSubscription, str]:
    """A new subscription owned by ``by``; returns it and its signing secret (also shown on its page)."""
    title = str(name or "").strip()
    if not title:
        raise ApplicationError("A subscription needs a name.", field="name")
    secret = SECRET_PREFIX + secrets.token_urlsafe(24)
    subscription = WebhookSubscription.objects.create(
        owner=by,
        name=title[:120],
        url=_validate_url(url),
        secret=secret,
        event_types=_validate_event_types(event_types),
        is_company_wide=user_access_scope(user=by).is_admin,
    )
    dispatch_prime()
    audit_record(
        actor=by,
        action="webhook.created",
        target=f"webhook:{subscription.pk}",
        detail={"url": subscription.url, "company_wide": subscription.is_company_wide},
    )
    return subscription, secret


def subscription_update(
    *, subscription: WebhookSubscription, by: User, data: dict[str, Any]
) -> WebhookSubscription:
    """Rename, re-point, change the event types, or switch a subscription on or off."""
    for name, value in data.items():
        if name == "name":
            text = str(value or "").strip()
            if not text:
                raise ApplicationError("A subscription needs a name.", field="name")
            subscription.name = text[:120]
        elif name == "url":
            subscription.url = _validate_url(value)
        elif name == "event_types":
            subscription.event_types = _validate_event_types(value)
        elif name == "is_active":
            subscription.is_active = bool(value)
        else:
            raise ApplicationError(f"Field {name!r} cannot be changed here.", field=name)
    subscription.save()
    audit_record(
        actor=by,
        action="webhook.updated",
        target=f"webhook:{subscription.pk}",
        detail={"fields": sorted(data)},
    )
    return subscription


def subscription_resume(*, subscription: WebhookSubscription, by: User) -> WebhookSubscription:
    """Unpause after failures: the waiting deliveries are tried again right away."""
    from dealflow.automation.models import DeliveryStatus, WebhookDelivery

    now = clock.now()
    subscription.paused_at = None
    subscription.consecutive_failures = 0
    subscription.is_active = True
    subscription.save(update_fields=["paused_at", "consecutive_failures", "is_active", "updated_at"])
    WebhookDelivery.objects.filter(subscription=subscription, status=DeliveryStatus.PENDING).update(
        next_attempt_at=now
    )
    audit_record(actor=by, action="webhook.resumed", target=f"webhook:{subscription.pk}")
    return subscription


def subscription_rotate_secret(*, subscription: WebhookSubscription, by: User) -> str:
    """A new signing secret; deliveries from now on are signed with it."""
    subscription.secret = SECRET_PREFIX + secrets.token_urlsafe(24)
    subscription.save(update_fields=["secret", "updated_at"])
    audit_record(actor=by, action="webhook.secret_rotated", target=f"webhook:{subscription.pk}")
    return subscription.secret


def subscription_delete(*, subscription: WebhookSubscription, by: User) -> None:
    audit_record(actor=by, action="webhook.deleted", target=f"webhook:{subscription.pk}")
    subscription.delete()
