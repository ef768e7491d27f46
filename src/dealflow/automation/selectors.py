"""Reads of automation, with the access rules: who sees which rules, subscriptions and logs (404 otherwise).

Rules: admins see all; a manager sees company rules and the rules of the teams they manage; nobody else any.
Subscriptions: their owner, and admins.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from dealflow.accounts.models import User
from dealflow.accounts.selectors import user_access_scope
from dealflow.automation.models import Rule, RuleRun, WebhookAttempt, WebhookDelivery, WebhookSubscription


def rule_list_for_user(*, user: User) -> QuerySet[Rule]:
    scope = user_access_scope(user=user)
    rules = Rule.objects.select_related("team", "stage", "pipeline", "source", "created_by").order_by(
        "name", "id"
    )
    if scope.is_admin:
        return rules
    if scope.managed_team_ids:
        return rules.filter(Q(team__isnull=True) | Q(team_id__in=scope.managed_team_ids))
    return rules.none()


def rule_get_for_user(*, rule_id: int, user: User) -> Rule:
    rule = rule_list_for_user(user=user).filter(pk=rule_id).first()
    if rule is None:
        raise Http404("No such rule.")
    return rule


def rule_run_list(*, rule: Rule) -> QuerySet[RuleRun]:
    """A rule's runs, newest first (the caller already passed ``rule_get_for_user``)."""
    return RuleRun.objects.filter(rule=rule).select_related("deal", "lead").order_by("-created_at", "-id")


def rule_runs_for_deal(*, deal_id: int) -> list[RuleRun]:
    """What rules did to one deal, for its timeline (the caller checked the deal is visible)."""
    return list(
        RuleRun.objects.filter(deal_id=deal_id).select_related("rule").order_by("-created_at", "-id")[:100]
    )


def subscription_list_for_user(*, user: User) -> QuerySet[WebhookSubscription]:
    subscriptions = WebhookSubscription.objects.select_related("owner").order_by("name", "id")
    if user_access_scope(user=user).is_admin:
        return subscriptions
    return subscriptions.filter(owner=user)


def subscription_get_for_user(*, subscription_id: int, user: User) -> WebhookSubscription:
    subscription = subscription_list_for_user(user=user).filter(pk=subscription_id).first()
    if subscription is None:
        raise Http404("No such webhook subscription.")
    return subscription


def delivery_list(
    *, subscription: WebhookSubscription, status: str | None = None
) -> QuerySet[WebhookDelivery]:
    deliveries = WebhookDelivery.objects.filter(subscription=subscription).order_by("-id")
    if status:
        deliveries = deliveries.filter(status=status)
    return deliveries


def attempt_list(*, subscription: WebhookSubscription, limit: int = 100) -> list[WebhookAttempt]:
    return list(
        WebhookAttempt.objects.filter(delivery__subscription=subscription)
        .select_related("delivery")
        .order_by("-at", "-id")[:limit]
    )
