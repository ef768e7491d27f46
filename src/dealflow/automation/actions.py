"""What a rule does. Changes to a deal or lead go through the deals services, so each is a DealEvent like a
person's; what a rule adds (a follow-up activity, a notification, a webhook) is collected per batch and
written at once (``Batch``).

Every change carries ``origin="rule:<id>"`` and no actor, so the deal's history shows it as done by the
rule; the rule's run log (RuleRun) says what it did, and the deal page lists those runs on the timeline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealflow.accounts.models import Role, User
from dealflow.accounts.selectors import AccessScope, user_access_scope
from dealflow.automation.models import Action, Rule, WebhookEventType
from dealflow.deals import lifecycle
from dealflow.deals.bulk.tables import Table, copy_rows, reserve_ids
from dealflow.deals.models import Activity, Deal, Lead
from dealflow.deals.services import lead_update
from dealflow.deals.services.bulk_update import DealUpdateBatch
from dealflow.deals.services.search import activity_document
from dealflow.notifications.models import NotificationKind
from dealflow.notifications.services import Message, NotificationDraft, notify_many
from dealflow.search.services import search_index_add_many


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


@dataclass
class Batch:
    """What the actions of a batch of occasions write together at the end of the batch (``write``): the
    changes to deals (``DealUpdateBatch``: decided at once by the same lifecycle step as ``deal_update``,
    written together), the activities and the notifications, plus what the notify action looks up once per
    pass (users, a team's managers, who may see whose records)."""

    queue_webhook: Callable[..., bool]
    preferences: dict[tuple[int, str], str] | None = None
    activities: list[Activity] = field(default_factory=list)
    notifications: list[NotificationDraft] = field(default_factory=list)
    deal_updates: DealUpdateBatch = field(default_factory=DealUpdateBatch)
    _users: dict[int, User | None] = field(default_factory=dict)
    _managers: dict[int, list[User]] = field(default_factory=dict)
    _scopes: dict[int, AccessScope] = field(default_factory=dict)

    def user(self, user_id: int | None, *, known: User | None = None) -> User | None:
        """The active user with this id (None if inactive or gone); ``known`` is that user when the caller
        holds the row already (a deal's owner, read with the deal)."""
        if user_id is None:
            return None
        if user_id not in self._users and known is not None and known.pk == user_id:
            self._users[user_id] = known if known.is_active else None
        if user_id not in self._users:
            self._users[user_id] = User.objects.filter(pk=user_id, is_active=True).first()
        return self._users[user_id]

    def team_managers(self, team_id: int | None) -> list[User]:
        if not team_id:
            return []
        if team_id not in self._managers:
            self._managers[team_id] = list(
                User.objects.filter(
                    is_active=True,
                    memberships__team_id=team_id,
                    memberships__role__in=[Role.MANAGER, Role.ADMIN],
                )
                .distinct()
                .order_by("pk")
            )
        return self._managers[team_id]

    def may_see(self, user: User, owner_id: int) -> bool:
        if user.pk not in self._scopes:
            self._scopes[user.pk] = user_access_scope(user=user)
        scope = self._scopes[user.pk]
        return scope.sees_everything or owner_id in scope.readable_owner_ids

    def write(self) -> None:
        """Write the batch's deal changes, activities (with their search entries) and notifications, each in
        one go. A deal changed in the database since the batch read it raises ConflictError (nothing of the
        deal changes written; the caller rolls the batch back and does it again)."""
        self.deal_updates.write()
        if self.activities:
            activities_write(self.activities)
            search_index_add_many(documents=[activity_document(activity) for activity in self.activities])
            self.activities = []
        if self.notifications:
            notify_many(drafts=self.notifications, preferences=self.preferences)
            self.notifications = []

    def clear(self) -> None:
        """Forget what the batch added (its transaction was rolled back); the per-pass lookups stay."""
        self.activities, self.notifications = [], []
        self.deal_updates.clear()


def activities_write(activities: list[Activity]) -> None:
    """Insert new activities (their ids set on them, for the search entries). PostgreSQL gets them by COPY
    with ids taken from the sequence first: Django's UNNEST insert was 0.6 s of a 2,000-event replay's 4 s
    (docs/benchmarks.md, "Automation"). Each column's value is what bulk_create would send (``pre_save``,
    ``get_db_prep_save``)."""
    if connection.vendor != "postgresql":
        Activity.objects.bulk_create(activities, batch_size=1000)
        return
    fields = [model_field for model_field in Activity._meta.concrete_fields if not model_field.primary_key]
    table = Table.for_model(
        Activity, ["id", *[str(model_field.column) for model_field in fields]], connection
    )
    with connection.cursor() as cursor:
        ids = reserve_ids(cursor, is_postgres=True, table=table.name, count=len(activities))
        rows = []
        for activity, pk in zip(activities, ids, strict=True):
            activity.pk = pk
            rows.append(
                (
                    pk,
                    *[
                        model_field.get_db_prep_save(model_field.pre_save(activity, True), connection)
                        for model_field in fields
                    ],
                )
            )
        copy_rows(cursor, is_postgres=True, table=table, rows=rows)
    for activity in activities:
        activity._state.adding = False
        activity._state.db = "default"


# Actions whose writes wait for the end of the batch (Batch.write) and need no savepoint; assigning an owner
# moves the rule's turn at once (in a savepoint) and its deal change waits for the batch too.
BATCHED_ACTIONS = frozenset({Action.CREATE_ACTIVITY, Action.NOTIFY, Action.WEBHOOK, Action.SET_FIELD})


def activity_for_rule(*, rule: Rule, deal: Deal | None, lead: Lead | None, now: dt.datetime) -> Activity:
    """The activity a rule creates, as ``activity_create`` would write it (a follow-up, not done, by nobody;
    ``lifecycle.valid_activity`` checks it), to be written with the batch."""
    params = rule.params
    due_at = now + dt.timedelta(days=params.get("due_in_days", 0), hours=params.get("due_in_hours", 0))
    kind = params.get("kind", "task")
    subject, done_at = lifecycle.valid_activity(kind=kind, subject=params["subject"], at=now, done_at=None)
    record = deal if deal is not None else lead
    assert record is not None, "a rule acts on a deal or a lead"
    return Activity(
        kind=kind,
        subject=subject,
        notes="",
        owner=record.owner,
        deal=deal,
        lead=lead if deal is None else None,
        person=None,
        due_at=due_at,
        done_at=done_at,
        created_at=now,
        origin=rule_origin(rule),
    )


def action_perform(
    *, rule: Rule, key: str, deal: Deal | None, lead: Lead | None, now: dt.datetime, batch: Batch
) -> str:
    """Carry out the rule's action on the deal (or lead); returns a line for the run log."""
    params = rule.params
    origin = rule_origin(rule)
    note = f"Rule: {rule.name}"[:300]
    if rule.action == Action.CREATE_ACTIVITY:
        activity = activity_for_rule(rule=rule, deal=deal, lead=lead, now=now)
        batch.activities.append(activity)
        due_at = activity.due_at or now
        return f"Created the activity “{activity.subject}” due {timezone.localtime(due_at):%Y-%m-%d %H:%M}."
    if rule.action == Action.ASSIGN_OWNER:
        owner = _next_in_turn(rule, params["team_id"])
        if deal is not None:
            batch.deal_updates.add(deal=deal, by=None, data={"owner": owner}, origin=origin, note=note)
        else:
            assert lead is not None, "a rule acts on a deal or a lead"
            lead_update(lead=lead, data={"owner": owner}, by=None)
        return f"Assigned to {owner.username}."
    if rule.action == Action.SET_FIELD:
        assert deal is not None  # rule_validate refuses set_field on lead rules
        name, value = params["field"], params["value"]
        if name == "expected_close_in_days":
            name, value = "expected_close_on", timezone.localdate(now) + dt.timedelta(days=int(value))
        batch.deal_updates.add(deal=deal, by=None, data={name: value}, origin=origin, note=note)
        return f"Set {name} to {value}."
    if rule.action == Action.NOTIFY:
        return _notify(rule=rule, key=key, deal=deal, lead=lead, batch=batch)
    if rule.action == Action.WEBHOOK:
        queued = batch.queue_webhook(
            subscription_id=params["subscription_id"],
            key=f"rule:{rule.pk}:{key}",
            event_type=WebhookEventType.RULE_FIRED,
            deal=deal,
            lead=lead,
            extra={"rule": {"id": rule.pk, "name": rule.name}},
        )
        return "Queued a webhook." if queued else "No webhook: the record is outside the subscription's view."
    return ""


def _owner_loaded(record: Deal | Lead) -> bool:
    """Whether the record's owner was read with it (select_related), so reading it costs no query."""
    return record._meta.get_field("owner").is_cached(record)


def _notify(*, rule: Rule, key: str, deal: Deal | None, lead: Lead | None, batch: Batch) -> str:
    record = deal or lead
    assert record is not None
    recipient = rule.params.get("recipient", "owner")
    if recipient == "owner":
        owner = record.owner if _owner_loaded(record) else None
        users = [user for user in [batch.user(record.owner_id, known=owner)] if user is not None]
    elif recipient == "team_managers":
        users = batch.team_managers(record.team_id)
    else:
        users = [user for user in [batch.user(rule.params.get("user_id"))] if user is not None]
    # Nobody learns of a record they may not see, whatever the rule says.
    users = [user for user in users if batch.may_see(user, record.owner_id)]
    batch.notifications += [
        NotificationDraft(
            user=user,
            kind=NotificationKind.RULE,
            key=f"rule:{rule.pk}:{key}",
            message=Message(
                _("%(rule)s: %(message)s (%(record)s)"),
                {"rule": rule.name, "message": rule.params.get("message", ""), "record": record.title},
                url=f"/deals/{deal.pk}/" if deal else "/leads/",
            ),
            deal_id=deal.pk if deal else None,
        )
        for user in users
    ]
    return f"Notified {', '.join(user.username for user in users)}." if users else "Nobody to notify."
