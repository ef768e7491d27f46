"""What a rule does, always through the deals services so each change is a DealEvent like a person's.

Every change carries ``origin="rule:<id>"`` and no actor, so the deal's history shows it as done by the
rule; the rule's run log (RuleRun) says what it did, and the deal page lists those runs on the timeline.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealflow.accounts.models import Role, User
from dealflow.accounts.selectors import user_access_scope
from dealflow.automation.models import Action, Rule, WebhookEventType
from dealflow.deals.models import Deal, Lead
from dealflow.deals.services import activity_create, deal_update, lead_update
from dealflow.notifications.models import NotificationKind
from dealflow.notifications.services import Message, notify


def rule_origin(rule: Rule) -> str:
    return f"rule:{rule.pk}"


def _next_in_turn(rule: Rule, team_id: int) -> User:
    """The team's next active rep after the one this rule assigned last (by user id, wrapping round)."""
    locked = Rule.objects.select_for_update().get(pk=rule.pk)
    reps = list(
        User.objects.filter(
            is_active=True, memberships__team_id=team_id, memberships__role=Role.REP
        ).order_by("pk")
    )
    if not reps:
        from dealflow.core.errors import ApplicationError

        raise ApplicationError("The team has no active reps to take turns.", field="team_id")
    last = locked.round_robin_last_user_id or 0
    chosen = next((user for user in reps if user.pk > last), reps[0])
    Rule.objects.filter(pk=rule.pk).update(round_robin_last_user=chosen)
    return chosen


def action_perform(
    *,
    rule: Rule,
    key: str,
    deal: Deal | None,
    lead: Lead | None,
    now: dt.datetime,
    queue_webhook,
    preferences: dict[tuple[int, str], str] | None = None,
) -> str:
    """Carry out the rule's action on the deal (or lead); returns a line for the run log."""
    params = rule.params
    origin = rule_origin(rule)
    note = f"Rule: {rule.name}"[:300]
    if rule.action == Action.CREATE_ACTIVITY:
        due_at = now + dt.timedelta(days=params.get("due_in_days", 0), hours=params.get("due_in_hours", 0))
        owner = deal.owner if deal else lead.owner  # type: ignore[union-attr]
        activity = activity_create(
            owner=owner,
            subject=params["subject"],
            kind=params.get("kind", "task"),
            deal=deal,
            lead=lead if deal is None else None,
            due_at=due_at,
            origin=origin,
            by=None,
        )
        return f"Created the activity “{activity.subject}” due {timezone.localtime(due_at):%Y-%m-%d %H:%M}."
    if rule.action == Action.ASSIGN_OWNER:
        owner = _next_in_turn(rule, params["team_id"])
        if deal is not None:
            deal_update(deal=deal, by=None, data={"owner": owner}, origin=origin, note=note)
        else:
            lead_update(lead=lead, data={"owner": owner}, by=None)  # type: ignore[arg-type]
        return f"Assigned to {owner.username}."
    if rule.action == Action.SET_FIELD:
        assert deal is not None  # rule_validate refuses set_field on lead rules
        name, value = params["field"], params["value"]
        if name == "expected_close_in_days":
            name, value = "expected_close_on", timezone.localdate(now) + dt.timedelta(days=int(value))
        deal_update(deal=deal, by=None, data={name: value}, origin=origin, note=note)
        return f"Set {name} to {value}."
    if rule.action == Action.NOTIFY:
        return _notify(rule=rule, key=key, deal=deal, lead=lead, preferences=preferences)
    if rule.action == Action.WEBHOOK:
        queued = queue_webhook(
            subscription_id=params["subscription_id"],
            key=f"rule:{rule.pk}:{key}",
            event_type=WebhookEventType.RULE_FIRED,
            deal=deal,
            lead=lead,
            extra={"rule": {"id": rule.pk, "name": rule.name}},
        )
        return "Queued a webhook." if queued else "No webhook: the record is outside the subscription's view."
    return ""


def _notify(*, rule: Rule, key: str, deal: Deal | None, lead: Lead | None, preferences=None) -> str:
    record_owner = deal.owner_id if deal else lead.owner_id  # type: ignore[union-attr]
    team_id = deal.team_id if deal else lead.team_id  # type: ignore[union-attr]
    recipient = rule.params.get("recipient", "owner")
    if recipient == "owner":
        users = list(User.objects.filter(pk=record_owner, is_active=True))
    elif recipient == "team_managers":
        users = (
            list(
                User.objects.filter(
                    is_active=True,
                    memberships__team_id=team_id,
                    memberships__role__in=[Role.MANAGER, Role.ADMIN],
                ).distinct()
            )
            if team_id
            else []
        )
    else:
        users = list(User.objects.filter(pk=rule.params.get("user_id"), is_active=True))
    record = deal or lead
    sent = []
    for user in users:
        # Nobody learns of a record they may not see, whatever the rule says.
        scope = user_access_scope(user=user)
        if not (scope.sees_everything or record_owner in scope.readable_owner_ids):
            continue
        notify(
            user=user,
            kind=NotificationKind.RULE,
            key=f"rule:{rule.pk}:{key}",
            message=Message(
                _("%(rule)s: %(message)s (%(record)s)"),
                {"rule": rule.name, "message": rule.params.get("message", ""), "record": record.title},  # type: ignore[union-attr]
                url=f"/deals/{deal.pk}/" if deal else "/leads/",
            ),
            deal_id=deal.pk if deal else None,
            preferences=preferences,
        )
        sent.append(user.username)
    return f"Notified {', '.join(sent)}." if sent else "Nobody to notify."
