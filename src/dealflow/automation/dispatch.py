"""The worker's dispatch: read what happened since the last pass, run the rules, queue the webhooks.

Sources, each read once through a cursor (notifications.services.cursor_*): the DealEvent log (deal created,
moved, won, lost, amount changed; a deal made from a lead is also "lead converted"), the leads table (lead
created) and, by time, activities marked done. Rotting is a moment, not an event: open deals that reached a
rule's N days in their stage.

Exactly once per (occasion, rule): a RuleRun row with a unique (rule, key) is written in the same transaction
as the rule's changes and the cursor's move; a pass that fails rolls all three back and the next pass does
the same work again. Webhook deliveries are outbox rows with a unique (subscription, key).

Loop guard: a rule never fires on a change it made itself, and a chain of rules (A's change triggers B, B's
triggers C) stops after ``MAX_CHAIN_DEPTH`` links, recorded as "skipped: loop guard".
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from dealflow.accounts.selectors import user_access_scope
from dealflow.automation.actions import action_perform, rule_origin
from dealflow.automation.calculations import (
    MAX_CHAIN_DEPTH,
    Occasion,
    RuleSpec,
    chain_depth,
    minor_from_event_value,
    rule_matches,
)
from dealflow.automation.models import (
    Rule,
    RuleRun,
    RunStatus,
    Trigger,
    WebhookDelivery,
    WebhookEventType,
    WebhookSubscription,
)
from dealflow.automation.payloads import (
    activity_data,
    deal_data,
    envelope,
    event_data,
    event_id_for,
    lead_data,
)
from dealflow.core import clock
from dealflow.core.errors import ApplicationError, ConflictError
from dealflow.core.money import minor_digits
from dealflow.deals.models import Activity, Deal, DealEvent, DealStatus, EventKind, Lead
from dealflow.notifications.models import WatchCursor
from dealflow.notifications.services import cursor_filter, cursor_lock, cursor_save
from dealflow.notifications.watch import Preferences

logger = logging.getLogger(__name__)
BATCH = 500
ROT_CATCH_UP_DAYS = 3
ACTIVITY_LOOKBACK = dt.timedelta(minutes=5)  # done activities are found by time; the key dedupes the overlap

EVENT_TYPES: dict[str, str] = {
    EventKind.CREATED: WebhookEventType.DEAL_CREATED,
    EventKind.STAGE_CHANGED: WebhookEventType.DEAL_MOVED,
    EventKind.WON: WebhookEventType.DEAL_WON,
    EventKind.LOST: WebhookEventType.DEAL_LOST,
    EventKind.AMOUNT_CHANGED: WebhookEventType.DEAL_AMOUNT_CHANGED,
}


def rule_spec(rule: Rule) -> RuleSpec:
    return RuleSpec(
        trigger=rule.trigger,
        team_id=rule.team_id,
        pipeline_id=rule.pipeline_id,
        stage_id=rule.stage_id,
        days=rule.days,
        amount_minor=rule.amount_minor,
        currency=rule.currency,
        source_id=rule.source_id,
    )


def deal_occasion(event: DealEvent, deal: Deal) -> Occasion:
    previous = None
    if event.kind == EventKind.AMOUNT_CHANGED:
        previous = minor_from_event_value(
            event.from_value, digits=minor_digits(event.currency or deal.currency)
        )
        if event.from_value.split(" ")[-1] != (event.currency or deal.currency):
            previous = None  # a currency change: compare as a new amount
    return Occasion(
        kind=event.kind,
        team_id=deal.team_id,
        pipeline_id=deal.pipeline_id,
        to_stage_id=event.to_stage_id,
        amount_minor=event.amount_minor,
        previous_amount_minor=previous,
        currency=event.currency or deal.currency,
    )


class Audience:
    """Whose records a subscription may carry: all (an admin's), or those its owner may see now."""

    def __init__(self, subscription: WebhookSubscription) -> None:
        scope = user_access_scope(user=subscription.owner)
        self.everything = subscription.is_company_wide or scope.sees_everything
        self.owner_ids = scope.readable_owner_ids if scope.user_id else frozenset()

    def sees(self, owner_id: int) -> bool:
        return self.everything or owner_id in self.owner_ids


@dataclass
class DispatchResult:
    events: int = 0
    leads: int = 0
    activities: int = 0
    runs: int = 0
    failed: int = 0
    skipped: int = 0
    deliveries: int = 0
    pending: list[WebhookDelivery] = field(default_factory=list)


class Dispatcher:
    """One pass: the active rules and subscriptions, read once, applied to every new occasion."""

    def __init__(self, *, now: dt.datetime) -> None:
        self.now = now
        self.rules = list(Rule.objects.filter(is_active=True).select_related("team").order_by("pk"))
        self.specs = {rule.pk: rule_spec(rule) for rule in self.rules}
        self.subscriptions = list(WebhookSubscription.objects.filter(is_active=True).select_related("owner"))
        self.audiences = {subscription.pk: Audience(subscription) for subscription in self.subscriptions}
        self.result = DispatchResult()
        self.preferences = Preferences().channels
        self.done_runs: set[tuple[int, str]] = set()  # (rule id, key) already run, read per batch
        self.batch_keys: set[str] = set()
        self.changed_deals: set[int] = set()  # deals a rule changed in this pass: read again before acting
        self.buffered: list[WebhookDelivery] = []

    def _read_done(self, keys: list[str]) -> None:
        """The runs of this batch's occasions already recorded (a batch done again after a crash), in one query."""
        self.batch_keys = set(keys)
        if self.rules and keys:
            self.done_runs |= set(RuleRun.objects.filter(key__in=keys).values_list("rule_id", "key"))

    # --- webhooks -------------------------------------------------------------------------------------

    def queue(
        self,
        *,
        event_type: str,
        key: str,
        occurred_at: dt.datetime,
        owner_id: int,
        data: dict[str, Any],
        deal_id: int | None,
        subscriptions: list[WebhookSubscription] | None = None,
    ) -> int:
        rows = []
        for subscription in subscriptions if subscriptions is not None else self.subscriptions:
            if subscriptions is None and event_type not in subscription.event_types:
                continue
            if occurred_at < subscription.created_at and subscriptions is None:
                continue  # a subscription hears what happens after it was made
            if not self.audiences[subscription.pk].sees(owner_id):
                continue
            rows.append(
                WebhookDelivery(
                    subscription=subscription,
                    key=key,
                    event_id=event_id_for(key),
                    event_type=event_type,
                    deal_id=deal_id,
                    payload=envelope(key=key, event_type=event_type, occurred_at=occurred_at, data=data),
                    next_attempt_at=self.now,
                    created_at=self.now,
                )
            )
        # Written once per batch, in the order the events happened (flush). A rule's webhook is buffered
        # too: the only step after it that can fail is the run's own insert, when another worker did the run
        # first, and then the delivery's key is taken as well (ignore_conflicts).
        self.buffered += rows
        self.result.deliveries += len(rows)
        return len(rows)

    def flush(self) -> None:
        """Write the deliveries queued for a batch of events in one statement, in event order (ids keep a
        deal's deliveries in order)."""
        if self.buffered:
            WebhookDelivery.objects.bulk_create(self.buffered, ignore_conflicts=True, batch_size=1000)
            self.buffered = []

    def queue_for_rule(
        self, *, subscription_id: int, key: str, event_type: str, deal, lead, extra: dict[str, Any]
    ) -> bool:
        subscription = next((item for item in self.subscriptions if item.pk == subscription_id), None)
        if subscription is None:
            subscription = (
                WebhookSubscription.objects.select_related("owner").filter(pk=subscription_id).first()
            )
            if subscription is None:
                raise ApplicationError(
                    "The rule's webhook subscription no longer exists.", field="subscription_id"
                )
            self.audiences[subscription.pk] = Audience(subscription)
        record = deal or lead
        data = {"deal": deal_data(deal)} if deal else {"lead": lead_data(lead)}
        return bool(
            self.queue(
                event_type=event_type,
                key=key,
                occurred_at=self.now,
                owner_id=record.owner_id,
                data={**data, **extra},
                deal_id=deal.pk if deal else None,
                subscriptions=[subscription],
            )
        )

    # --- rules ----------------------------------------------------------------------------------------

    def run_rules(
        self, *, occasion: Occasion, key: str, happened_at: dt.datetime, origin: str, deal=None, lead=None
    ) -> None:
        parent_depths: dict[int, int] | None = None
        for rule in self.rules:
            if happened_at < rule.created_at or not rule_matches(self.specs[rule.pk], occasion):
                continue
            if origin == rule_origin(rule):
                continue  # a rule never fires on its own change
            if parent_depths is None:
                parent_depths = self._parent_depths(origin, deal, lead)
            depth = chain_depth(origin=origin, parent_depths=parent_depths)
            self._run(rule=rule, key=key, deal=deal, lead=lead, depth=depth)

    def _parent_depths(self, origin: str, deal, lead) -> dict[int, int]:
        if not origin.startswith("rule:") or not origin[5:].isdigit():
            return {}
        run = (
            RuleRun.objects.filter(rule_id=int(origin[5:]), deal=deal, lead=lead if deal is None else None)
            .order_by("-id")
            .first()
        )
        return {int(origin[5:]): run.depth if run else 0}

    def _record(self, *, rule: Rule, key: str, deal, lead, depth: int, status: str, detail: str) -> None:
        RuleRun.objects.create(
            rule=rule,
            key=key,
            deal=deal,
            lead=lead,
            status=status,
            depth=depth,
            detail=detail[:300],
            created_at=self.now,
        )
        self.done_runs.add((rule.pk, key))

    def _run(self, *, rule: Rule, key: str, deal, lead, depth: int) -> None:
        """Act once: the action and its RuleRun row commit together (one savepoint) or neither does; a
        failed action is rolled back and its run recorded as failed, with the reason."""
        if (rule.pk, key) in self.done_runs:
            return  # this rule already ran on this occasion
        if key not in self.batch_keys and RuleRun.objects.filter(rule=rule, key=key).exists():
            return  # (occasions found by time, such as rotting, are not read per batch)
        if depth > MAX_CHAIN_DEPTH:
            detail = f"A chain of {depth} rules stopped here."
            self._record(
                rule=rule,
                key=key,
                deal=deal,
                lead=lead,
                depth=depth,
                status=RunStatus.SKIPPED_LOOP,
                detail=detail,
            )
            self.result.skipped += 1
            return
        status, detail = RunStatus.DONE, ""
        for attempt in (1, 2):
            try:
                with transaction.atomic():
                    if attempt == 2 or (deal is not None and deal.pk in self.changed_deals):
                        deal = Deal.objects.select_related("owner", "stage").get(pk=deal.pk)
                    if lead is not None and attempt == 2:
                        lead = Lead.objects.select_related("owner", "source").get(pk=lead.pk)
                    detail = action_perform(
                        rule=rule,
                        key=key,
                        deal=deal,
                        lead=lead,
                        now=self.now,
                        queue_webhook=self.queue_for_rule,
                        preferences=self.preferences,
                    )
                    self._record(
                        rule=rule, key=key, deal=deal, lead=lead, depth=depth, status=status, detail=detail
                    )
                if deal is not None and rule.action in ("assign_owner", "set_field"):
                    self.changed_deals.add(deal.pk)
                break
            except ConflictError:
                status, detail = RunStatus.FAILED, "The deal kept changing; gave up."
            except ApplicationError as error:
                status, detail = RunStatus.FAILED, str(error.message)
                break
            except IntegrityError:
                return  # another worker recorded this run first; its transaction did the work
            except Exception as error:  # a bug must not stop the other rules: logged, shown on the run
                logger.exception("Rule %s failed on %s.", rule.pk, key)
                status, detail = RunStatus.FAILED, f"Internal error: {type(error).__name__}"
                break
        if status == RunStatus.FAILED:
            self._record(rule=rule, key=key, deal=deal, lead=lead, depth=depth, status=status, detail=detail)
        self.result.runs += 1
        self.result.failed += status == RunStatus.FAILED

    # --- sources --------------------------------------------------------------------------------------

    def deal_events(self, events: list[DealEvent]) -> None:
        self._read_done([f"event:{event.pk}" for event in events])
        deals = Deal.objects.select_related("stage", "owner").in_bulk({event.deal_id for event in events})
        for event in events:
            deal = deals.get(event.deal_id)
            if deal is None:
                continue
            key = f"event:{event.pk}"
            self.run_rules(
                occasion=deal_occasion(event, deal),
                key=key,
                happened_at=event.recorded_at,
                origin=event.origin,
                deal=deal,
            )
            event_type = EVENT_TYPES.get(event.kind)
            if event_type and self.subscriptions:
                data = {"deal": deal_data(deal), "event": event_data(event)}
                self.queue(
                    event_type=event_type,
                    key=f"deal_event:{event.pk}",
                    occurred_at=event.recorded_at,
                    owner_id=deal.owner_id,
                    data=data,
                    deal_id=deal.pk,
                )
                if event.kind == EventKind.CREATED and deal.lead_id:
                    self.queue(
                        event_type=WebhookEventType.LEAD_CONVERTED,
                        key=f"lead_converted:{deal.lead_id}",
                        occurred_at=event.recorded_at,
                        owner_id=deal.owner_id,
                        data={**data, "lead_id": deal.lead_id},
                        deal_id=deal.pk,
                    )
        self.flush()
        self.result.events += len(events)

    def leads(self, leads: list[Lead]) -> None:
        self._read_done([f"lead:{lead.pk}" for lead in leads])
        for lead in leads:
            occasion = Occasion(kind="lead_created", team_id=lead.team_id, source_id=lead.source_id)
            self.run_rules(
                occasion=occasion, key=f"lead:{lead.pk}", happened_at=lead.created_at, origin="", lead=lead
            )
            if self.subscriptions:
                self.queue(
                    event_type=WebhookEventType.LEAD_CREATED,
                    key=f"lead_created:{lead.pk}",
                    occurred_at=lead.created_at,
                    owner_id=lead.owner_id,
                    data={"lead": lead_data(lead)},
                    deal_id=None,
                )
        self.flush()
        self.result.leads += len(leads)

    def activities_done(self) -> None:
        if not any(WebhookEventType.ACTIVITY_DONE in item.event_types for item in self.subscriptions):
            return
        with transaction.atomic():
            cursor = cursor_lock(name="automation.activities_done", start_at=int(self.now.timestamp()))
            since = dt.datetime.fromtimestamp(cursor.high, tz=dt.UTC) - ACTIVITY_LOOKBACK
            done = Activity.objects.filter(done_at__gt=since, done_at__lte=self.now).order_by("done_at", "pk")
            for activity in done:
                self.queue(
                    event_type=WebhookEventType.ACTIVITY_DONE,
                    key=f"activity_done:{activity.pk}",
                    occurred_at=activity.done_at or self.now,
                    owner_id=activity.owner_id,
                    data={"activity": activity_data(activity)},
                    deal_id=activity.deal_id,
                )
                self.result.activities += 1
            self.flush()
            cursor.high = int(self.now.timestamp())
            cursor.save(update_fields=["high"])

    def rotting(self) -> None:
        for rule in self.rules:
            if rule.trigger != Trigger.ROTTING or not rule.days:
                continue
            reached = self.now - dt.timedelta(days=rule.days)
            deals = Deal.objects.filter(
                status=DealStatus.OPEN,
                stage_entered_at__lte=reached,
                stage_entered_at__gt=max(
                    reached - dt.timedelta(days=ROT_CATCH_UP_DAYS),
                    rule.created_at - dt.timedelta(days=rule.days),
                ),
            ).select_related("owner", "stage")
            if rule.team_id:
                deals = deals.filter(team_id=rule.team_id)
            if rule.pipeline_id:
                deals = deals.filter(pipeline_id=rule.pipeline_id)
            for deal in deals.iterator(chunk_size=500):
                occasion = Occasion(
                    kind="rotting",
                    team_id=deal.team_id,
                    pipeline_id=deal.pipeline_id,
                    days=(self.now - deal.stage_entered_at).days,
                )
                if rule_matches(self.specs[rule.pk], occasion):
                    self._run(
                        rule=rule,
                        key=f"rot:{deal.pk}:{deal.stage_entered_at:%Y%m%d%H%M%S}",
                        deal=deal,
                        lead=None,
                        depth=0,
                    )


def _read(name: str, queryset, handle) -> int:
    """Read rows the cursor ``name`` has not seen, in id order, handling each batch in one transaction."""
    total = 0
    while True:
        with transaction.atomic():
            start = None
            if not WatchCursor.objects.filter(name=name).exists():
                start = queryset.aggregate(newest=Max("pk"))["newest"] or 0
            cursor = cursor_lock(name=name, start_at=start)
            rows = list(queryset.filter(cursor_filter(cursor=cursor)).order_by("pk")[:BATCH])
            handle(rows)
            cursor_save(cursor=cursor, read_ids=[row.pk for row in rows])
        total += len(rows)
        if len(rows) < BATCH:
            return total


def dispatch_prime() -> None:
    """Start the dispatch's cursors at the newest rows now, so the first rule or subscription does not
    replay all history (called when one is created; an existing cursor is left alone)."""
    with transaction.atomic():
        cursor_lock(
            name="automation.deal_events",
            start_at=DealEvent.objects.aggregate(newest=Max("pk"))["newest"] or 0,
        )
        cursor_lock(name="automation.leads", start_at=Lead.objects.aggregate(newest=Max("pk"))["newest"] or 0)


def dispatch_pass(*, now: dt.datetime | None = None) -> DispatchResult:
    """Run every active rule and queue every subscribed webhook for what happened since the last pass."""
    dispatcher = Dispatcher(now=now or clock.now())
    _read("automation.deal_events", DealEvent.objects.all(), dispatcher.deal_events)
    _read("automation.leads", Lead.objects.select_related("owner", "source"), dispatcher.leads)
    dispatcher.activities_done()
    with transaction.atomic():
        dispatcher.rotting()
        dispatcher.flush()
    return dispatcher.result
