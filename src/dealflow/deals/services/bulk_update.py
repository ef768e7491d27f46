"""Many ``deal_update`` calls decided one at a time and written together (the automation worker's batches).

A rule that sets a field or assigns an owner changes one deal per occasion; the worker meets hundreds of
them per batch of events. ``DealUpdateBatch.add`` takes each change from the same place as ``deal_update``
(``deal_update_decide``: the pure ``lifecycle.update`` step) and applies it to the deal in memory at once, so
the next rule reads the deal as it now is; ``write`` then writes what the batch changed with one statement per
table: the deals' columns (one UPDATE per set of equal new values, after the version check of
``deal_save_versioned``) and their DealEvents; then the derived tables (the services' own hooks, once per
changed deal) and the search entries.

The rows written are those ``deal_update`` would write one at a time (tests/test_bulk_update.py): the same
columns, the same events in the same order, the same facts and group totals, the same search words. Only the
timestamps of the write itself (``updated_at``, ``recorded_at``) are one per batch, and a deal changed twice in
a batch is written once with both versions counted.

Optimistic concurrency: ``write`` locks the deals it writes and refuses (ConflictError, nothing written) when
any of them changed since it was read; the caller does the batch again from fresh rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import F

from dealflow.accounts.models import User
from dealflow.core import clock
from dealflow.core.errors import ConflictError
from dealflow.deals import lifecycle
from dealflow.deals.models import Deal, DealEvent, EventKind
from dealflow.deals.services.deals import _team_id_for_owner, deal_update_decide
from dealflow.deals.services.derived import derived_close_date_changed, derived_deal_sync
from dealflow.deals.services.history import SEARCHED_FIELDS, change_set_fields, event_row
from dealflow.deals.services.listeners import history_changed
from dealflow.deals.services.search import deal_document
from dealflow.search.services import search_index_put_many


@dataclass
class _Pending:
    """A deal changed in this batch: the version it was read at and what changed since."""

    deal: Deal
    read_version: int
    fields: set[str] = field(default_factory=set)
    events: list[lifecycle.Event] = field(default_factory=list)


class DealUpdateBatch:
    """``deal_update`` for many deals: ``add`` decides and changes the deal in memory, ``write`` saves all."""

    def __init__(self) -> None:
        self._pending: dict[int, _Pending] = {}
        self._events: list[tuple[Deal, lifecycle.Event]] = []  # in the order they happened, across deals
        self._team_ids: dict[int, int | None] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def _team_id_for(self, user: User) -> int | None:
        if user.pk not in self._team_ids:
            self._team_ids[user.pk] = _team_id_for_owner(user)
        return self._team_ids[user.pk]

    def add(
        self,
        *,
        deal: Deal,
        by: User | None,
        data: dict[str, Any],
        at: dt.datetime | None = None,
        origin: str = "",
        note: str = "",
    ) -> Deal:
        """Change the deal as ``deal_update(deal=..., data=...)`` would (same refusals, raised here), in
        memory; ``write`` saves it. The same deal object may be changed again before the write."""
        change = deal_update_decide(
            deal=deal, by=by, data=data, at=at, origin=origin, note=note, team_id_for=self._team_id_for
        )
        if change.is_empty:
            return deal
        pending = self._pending.get(deal.pk)
        if pending is None:
            pending = self._pending[deal.pk] = _Pending(deal=deal, read_version=deal.version)
        elif pending.deal is not deal:
            raise ValueError("Pass the deal object the batch changed before (it holds the changes).")
        change_set_fields(deal=deal, change=change)
        deal.version += 1  # as deal_save_versioned: one version per change
        pending.fields.update(change.fields)
        pending.events.extend(change.events)
        self._events += [(deal, event) for event in change.events]
        return deal

    def clear(self) -> None:
        """Forget what was added and not written (the caller rolled back and starts the batch again)."""
        self._pending, self._events = {}, []

    @transaction.atomic
    def write(self) -> int:
        """Write the batch's changes; returns how many deals were written. Raises ConflictError, writing
        nothing, when a deal changed in the database since it was read."""
        pending, events = self._pending, self._events
        if not pending:
            return 0
        self.clear()
        now = clock.now()
        current = dict(
            Deal.all_objects.select_for_update()
            .filter(pk__in=list(pending))
            .order_by("pk")
            .values_list("pk", "version")
        )
        stale = sorted(
            deal_id for deal_id, item in pending.items() if current.get(deal_id) != item.read_version
        )
        if stale:
            raise ConflictError(
                "These deals were changed by someone else since they were read.",
                field="version",
                extra={"deal_ids": stale},
            )
        # One UPDATE per set of equal new values (a rule sets the same value on many deals): Django's
        # bulk_update builds a CASE per column and row, which cost more than the queries it saved.
        groups: dict[tuple[Any, ...], list[int]] = {}
        for deal_id, item in pending.items():
            item.deal.updated_at = now
            values = tuple((name, getattr(item.deal, name)) for name in sorted(item.fields))
            groups.setdefault((values, item.deal.version - item.read_version), []).append(deal_id)
        for (values, versions), deal_ids in groups.items():
            Deal.all_objects.filter(pk__in=deal_ids).update(
                **dict(values), version=F("version") + versions, updated_at=now
            )
        DealEvent.objects.bulk_create(
            [event_row(deal=deal, event=event, recorded_at=now) for deal, event in events],
            batch_size=1000,
        )
        documents = []
        for item in pending.values():
            deal = item.deal
            if deal.deleted_at is None:  # a deal in the trash is out of the derived tables and the search
                derived_deal_sync(deal=deal, fields=sorted(item.fields))
            for event in item.events:  # as event_write: whatever the trash (a trashed deal has no facts)
                if event.kind == EventKind.CLOSE_DATE_CHANGED:
                    derived_close_date_changed(
                        deal=deal, from_value=event.from_value, to_value=event.to_value, at=event.at
                    )
            if deal.deleted_at is None and SEARCHED_FIELDS & item.fields:
                documents.append(deal_document(deal))
        if documents:
            search_index_put_many(documents=documents)
        # As event_write and deal_save_versioned, for the whole batch at once: a listener that cares about
        # one of these kinds or fields recomputes its rows of every deal written (services/listeners.py).
        history_changed(
            deal_ids=list(pending),
            kinds={event.kind for _deal, event in events},
            fields=set().union(*(item.fields for item in pending.values())),
        )
        return len(pending)
