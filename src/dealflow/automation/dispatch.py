"""The worker's dispatch: read what happened since the last pass, run the rules, queue the webhooks.

Sources, each read once through a cursor (notifications.services.cursor_*), a batch at a time: the DealEvent
log (deal created, moved, won, lost, amount changed; a deal made from a lead is also "lead converted"), the
leads table (lead created) and, by time, activities marked done. Rotting is a moment, not an event: open
deals that reached a rule's N days in their stage.

Per batch (``Dispatcher``): one query for the records the occasions touch, one for the runs already done,
the rules that may fire found in memory, changes to deals decided by the deals app's lifecycle step (the
same as ``deal_update``'s) and written per batch (``deals.services.bulk_update``), and what
the batch adds (rule runs, activities, notifications, webhook deliveries) written at the end in one
statement per table.

Exactly once per (occasion, rule): a RuleRun row with a unique (rule, key) is written in the same transaction
as the rule's changes and the cursor's move; a pass that fails rolls all three back and the next pass does
the same work again. Webhook deliveries are outbox rows with a unique (subscription, key).

Loop guard: a rule never fires on a change it made itself, and a chain of rules (A's change triggers B, B's
triggers C) stops after ``MAX_CHAIN_DEPTH`` links, recorded as "skipped: loop guard".
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any

from django.db import transaction
from django.db.models import Max, Q

from dealflow.accounts.selectors import user_access_scope
from dealflow.automation.actions import BATCHED_ACTIONS, Batch, action_perform, rule_origin
from dealflow.automation.calculations import (
    MAX_CHAIN_DEPTH,
    Occasion,
    RuleIndex,
    RuleSpec,
    chain_depth,
    minor_from_event_value,
    rule_matches,
)
from dealflow.automation.models import (
    Action,
    Rule,
    RuleRun,
    RunStatus,
    Trigger,
    WebhookEventType,
    WebhookSubscription,
)
from dealflow.automation.outbox import QueuedDelivery, deliveries_write, runs_write
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
CONFLICT_ATTEMPTS = 3  # a batch whose deals someone changed meanwhile is done again, at most this often
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
    # Wall time spent writing the rules' deal changes (DealUpdateBatch.write) and assigning owners, for the benchmark.
    action_seconds: float = 0.0


class Dispatcher:
    """One pass: the active rules and subscriptions, read once, applied to batches of occasions.

    Per batch: the records the occasions touch are read in one query, the rules that may fire are found in
    memory (``calculations.RuleIndex``, then ``rule_matches``), changes to deals are decided at once by the
    lifecycle step ``deal_update`` uses, a lead's go through the leads service, and what the batch adds (deal
    changes, rule runs, activities, notifications, webhook deliveries) is written at the end of the batch in
    one statement each, in the batch's transaction: a run's action and its RuleRun row commit together or
    not at all. A batch whose deals someone changed meanwhile is done again (``_again_on_conflict``).
    """

    def __init__(self, *, now: dt.datetime) -> None:
        self.now = now
        self.rules = {
            rule.pk: rule
            for rule in Rule.objects.filter(is_active=True).select_related("team").order_by("pk")
        }
        self.index = RuleIndex((rule.pk, rule_spec(rule)) for rule in self.rules.values())
        self.subscriptions = list(WebhookSubscription.objects.filter(is_active=True).select_related("owner"))
        self.audiences = {subscription.pk: Audience(subscription) for subscription in self.subscriptions}
        self.listeners: dict[str, list[WebhookSubscription]] = {}
        for subscription in self.subscriptions:
            for event_type in subscription.event_types:
                self.listeners.setdefault(event_type, []).append(subscription)
        self.result = DispatchResult()
        self.batch = Batch(queue_webhook=self.queue_for_rule, preferences=Preferences().channels)
        self.done_runs: set[tuple[int, str]] = set()  # (rule id, key) already run, read per batch
        self.runs: list[tuple[Any, ...]] = []  # RUN_COLUMNS, written at the end of the batch (flush)
        self.buffered: list[QueuedDelivery] = []
        self.lock_deals = False  # read a batch's deals FOR UPDATE (its last attempt after conflicts)

    def _read_done(self, keys: list[str]) -> None:
        """The runs of this batch's occasions already recorded (a batch done again after a crash), in one query."""
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
        """Queue one delivery per subscription that hears this event type and may see the record; the
        subscriptions named (a rule's webhook) hear it whatever their types."""
        chosen = [
            subscription
            for subscription in (
                subscriptions if subscriptions is not None else self.listeners.get(event_type, [])
            )
            # a subscription hears what happens after it was made
            if (subscriptions is not None or occurred_at >= subscription.created_at)
            and self.audiences[subscription.pk].sees(owner_id)
        ]
        if not chosen:
            return 0
        payload = json.dumps(envelope(key=key, event_type=event_type, occurred_at=occurred_at, data=data))
        event_id = event_id_for(key)
        self.buffered += [
            QueuedDelivery(subscription.pk, key, event_id, event_type, deal_id, payload, self.now)
            for subscription in chosen
        ]
        self.result.deliveries += len(chosen)
        return len(chosen)

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

    def flush(self) -> None:
        """Write what the batch added, one statement per table: activities, notifications, webhook deliveries
        (in the order the events happened: ids keep a deal's deliveries in order) and the rule runs."""
        began = time.perf_counter()
        self.batch.deal_updates.write()
        self.result.action_seconds += time.perf_counter() - began
        self.batch.write()
        if self.buffered:
            deliveries_write(self.buffered)
            self.buffered = []
        if self.runs:
            runs_write(self.runs)
            self.runs = []

    # --- rules ----------------------------------------------------------------------------------------

    def run_rules(
        self,
        *,
        occasion: Occasion,
        key: str,
        happened_at: dt.datetime,
        origin: str,
        parent_depths: dict[int, int],
        deal: Deal | None = None,
        lead: Lead | None = None,
    ) -> tuple[Any, Any]:
        """Run the rules that fire on the occasion, in id order; returns the deal and lead as the last rule
        left them."""
        for rule_id in self.index.matching(occasion):
            rule = self.rules[rule_id]
            if happened_at < rule.created_at or origin == rule_origin(rule):
                continue  # a rule hears what happens after it was made, and never fires on its own change
            depth = chain_depth(origin=origin, parent_depths=parent_depths)
            deal, lead = self._run(rule=rule, key=key, deal=deal, lead=lead, depth=depth)
        return deal, lead

    def _record(self, *, rule: Rule, key: str, deal, lead, depth: int, status: str, detail: str) -> None:
        self.runs.append(
            (
                rule.pk,
                key,
                deal.pk if deal is not None else None,
                lead.pk if lead is not None else None,
                status,
                depth,
                detail[:300],
                self.now,
            )
        )
        self.done_runs.add((rule.pk, key))
        self.result.runs += status != RunStatus.SKIPPED_LOOP
        self.result.failed += status == RunStatus.FAILED
        self.result.skipped += status == RunStatus.SKIPPED_LOOP

    def _run(self, *, rule: Rule, key: str, deal, lead, depth: int) -> tuple[Any, Any]:
        """Act once. A batched action (activity, notification, webhook, a change to a deal) only adds to the
        batch: a change to a deal is decided at once (a refusal fails the run here) and written with the batch
        (``DealUpdateBatch``). Assigning an owner moves the rule's turn in a savepoint, so a refusal leaves
        nothing behind; a lead's new owner goes through ``lead_update`` at once. Either way a failed run is
        recorded with the reason and the other rules go on. Returns the deal and lead as they are now (a lead
        is read again after a conflict)."""
        if (rule.pk, key) in self.done_runs:
            return deal, lead  # this rule already ran on this occasion
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
            return deal, lead
        status, detail = RunStatus.DONE, ""
        for attempt in (1, 2):
            try:
                if rule.action in BATCHED_ACTIONS:
                    detail = action_perform(
                        rule=rule, key=key, deal=deal, lead=lead, now=self.now, batch=self.batch
                    )
                    break
                # assign_owner moves the rule's turn and changes the deal (in the batch) or the lead (at once).
                savepoint = transaction.atomic() if rule.action == Action.ASSIGN_OWNER else nullcontext()
                with savepoint:
                    if attempt == 2 and lead is not None:
                        lead = Lead.objects.select_related("owner", "source").get(pk=lead.pk)
                    began = time.perf_counter()
                    detail = action_perform(
                        rule=rule, key=key, deal=deal, lead=lead, now=self.now, batch=self.batch
                    )
                    self.result.action_seconds += time.perf_counter() - began
                break
            except ConflictError:
                status, detail = RunStatus.FAILED, "The deal kept changing; gave up."
            except ApplicationError as error:
                status, detail = RunStatus.FAILED, str(error.message)
                break
            except Exception as error:  # a bug must not stop the other rules: logged, shown on the run
                logger.exception("Rule %s failed on %s.", rule.pk, key)
                status, detail = RunStatus.FAILED, f"Internal error: {type(error).__name__}"
                break
        self._record(rule=rule, key=key, deal=deal, lead=lead, depth=depth, status=status, detail=detail)
        return deal, lead

    def _parent_depths(
        self, *, origins: list[tuple[str, int | None, int | None]]
    ) -> dict[tuple[int, int | None, int | None], int]:
        """For changes made by a rule (origin ``rule:<id>``): the depth of that rule's latest run on the
        same deal or lead, read in one query for the batch."""
        wanted = {
            (int(origin[5:]), deal_id, lead_id)
            for origin, deal_id, lead_id in origins
            if origin.startswith("rule:") and origin[5:].isdigit()
        }
        if not wanted:
            return {}
        rows = RuleRun.objects.filter(rule_id__in={rule_id for rule_id, _deal, _lead in wanted})
        deal_ids = {deal_id for _rule, deal_id, _lead in wanted if deal_id is not None}
        lead_ids = {lead_id for _rule, _deal, lead_id in wanted if lead_id is not None}
        rows = rows.filter(Q(deal_id__in=deal_ids) | Q(deal__isnull=True, lead_id__in=lead_ids))
        depths: dict[tuple[int, int | None, int | None], int] = {}
        for rule_id, deal_id, lead_id, depth in rows.order_by("id").values_list(
            "rule_id", "deal_id", "lead_id", "depth"
        ):
            depths[(rule_id, deal_id, None if deal_id is not None else lead_id)] = depth  # the latest wins
        return depths

    @staticmethod
    def _depths_for(
        depths: dict[tuple[int, int | None, int | None], int], origin: str, deal_id, lead_id
    ) -> dict[int, int]:
        if not origin.startswith("rule:") or not origin[5:].isdigit():
            return {}
        parent = int(origin[5:])
        return {parent: depths.get((parent, deal_id, lead_id), 0)}

    # --- sources --------------------------------------------------------------------------------------

    def _again_on_conflict(self, handle, *args) -> None:
        """Run ``handle`` (one batch) in a savepoint; when a deal it changed was changed by someone else since
        the batch read it (ConflictError from the batch's write), roll the batch back and do it again from
        fresh rows, as ``deal_update``'s callers do for one deal. The last attempt reads the deals locked
        (``_deals``), so a deal that people keep editing cannot hold the worker back for ever; only then does
        a request on one of them wait, for the rest of that batch."""
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            result, done_runs = replace(self.result), set(self.done_runs)
            self.lock_deals = attempt == CONFLICT_ATTEMPTS
            try:
                with transaction.atomic():
                    handle(*args)
                return
            except ConflictError:
                if attempt == CONFLICT_ATTEMPTS:
                    raise
                logger.info("A deal changed during a dispatch batch; doing the batch again.")
                self.result, self.done_runs = result, done_runs
                self.runs, self.buffered = [], []
                self.batch.clear()

    def _deals(self):
        """The deals a batch reads (with their stage and owner); locked on a batch's last attempt."""
        deals = Deal.objects.select_related("stage", "owner")
        return deals.select_for_update(of=("self",)) if self.lock_deals else deals

    def deal_events(self, events: list[DealEvent]) -> None:
        """A batch of DealEvents: the rules, then the webhooks, then one write per table."""
        self._again_on_conflict(self._deal_events, events)

    def _deal_events(self, events: list[DealEvent]) -> None:
        with transaction.atomic():
            if self.rules:
                self._read_done([f"event:{event.pk}" for event in events])
            deals = self._deals().in_bulk({event.deal_id for event in events})
            depths = self._parent_depths(origins=[(event.origin, event.deal_id, None) for event in events])
            for event in events:
                deal = deals.get(event.deal_id)
                if deal is None:
                    continue  # gone since (or hidden: a deleted deal triggers nothing)
                if self.rules:
                    deal, _lead = self.run_rules(
                        occasion=deal_occasion(event, deal),
                        key=f"event:{event.pk}",
                        happened_at=event.recorded_at,
                        origin=event.origin,
                        parent_depths=self._depths_for(depths, event.origin, deal.pk, None),
                        deal=deal,
                    )
                    deals[deal.pk] = deal
                event_type = EVENT_TYPES.get(event.kind)
                if event_type and self.listeners:
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
        """A batch of new leads: the lead-source rules, then the webhooks, then one write per table."""
        self._again_on_conflict(self._leads, leads)

    def _leads(self, leads: list[Lead]) -> None:
        with transaction.atomic():
            if self.rules:
                self._read_done([f"lead:{lead.pk}" for lead in leads])
            for lead in leads:
                if self.rules:
                    occasion = Occasion(kind="lead_created", team_id=lead.team_id, source_id=lead.source_id)
                    _deal, lead = self.run_rules(
                        occasion=occasion,
                        key=f"lead:{lead.pk}",
                        happened_at=lead.created_at,
                        origin="",
                        parent_depths={},
                        lead=lead,
                    )
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
        if WebhookEventType.ACTIVITY_DONE not in self.listeners:
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
        """Open deals that reached a rotting rule's N days in their stage (found by time, not by cursor)."""
        rules = [rule for rule in self.rules.values() if rule.trigger == Trigger.ROTTING and rule.days]
        if not rules:
            return
        with transaction.atomic():
            cursor_lock(name="automation.rotting")  # one worker at a time: the runs are written per batch
            for rule in rules:
                reached = self.now - dt.timedelta(days=rule.days or 0)
                deals = Deal.objects.filter(
                    status=DealStatus.OPEN,
                    stage_entered_at__lte=reached,
                    stage_entered_at__gt=max(
                        reached - dt.timedelta(days=ROT_CATCH_UP_DAYS),
                        rule.created_at - dt.timedelta(days=rule.days or 0),
                    ),
                ).select_related("owner", "stage")
                if rule.team_id:
                    deals = deals.filter(team_id=rule.team_id)
                if rule.pipeline_id:
                    deals = deals.filter(pipeline_id=rule.pipeline_id)
                ids = list(deals.order_by("pk").values_list("pk", flat=True))
                for offset in range(0, len(ids), BATCH):
                    self._again_on_conflict(self._rotting_chunk, rule, ids[offset : offset + BATCH])

    def _rotting_chunk(self, rule: Rule, deal_ids: list[int]) -> None:
        chunk = list(self._deals().filter(pk__in=deal_ids).order_by("pk"))
        keys = {deal.pk: f"rot:{deal.pk}:{deal.stage_entered_at:%Y%m%d%H%M%S}" for deal in chunk}
        self._read_done(list(keys.values()))
        for deal in chunk:
            occasion = Occasion(
                kind="rotting",
                team_id=deal.team_id,
                pipeline_id=deal.pipeline_id,
                days=(self.now - deal.stage_entered_at).days,
            )
            if rule_matches(self.index.specs[rule.pk], occasion):
                self._run(rule=rule, key=keys[deal.pk], deal=deal, lead=None, depth=0)
        self.flush()


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
    dispatcher.rotting()
    return dispatcher.result
