"""What callers hand the bulk writer: leads, activities, and deals with the steps of their history."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class BulkLead:
    """A lead as it stands after its history (status, qualification, closing), like the lead services leave it."""

    title: str
    source_id: int
    owner_id: int
    created_at: dt.datetime
    status: str = "new"
    organization_id: int | None = None
    person_id: int | None = None
    has_budget: bool = False
    has_authority: bool = False
    has_need: bool = False
    has_timeline: bool = False
    qualification_notes: str = ""
    disqualified_reason: str = ""
    qualified_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    external_source: str = ""
    external_id: str = ""
    id: int | None = None  # set by the writer


@dataclass(slots=True)
class BulkActivity:
    """An activity as ``activity_create`` writes it; on a deal, pass it as a step (``LogActivity``)."""

    kind: str
    subject: str
    owner_id: int
    at: dt.datetime
    notes: str = ""
    due_at: dt.datetime | None = None
    done_at: dt.datetime | None = None
    person_id: int | None = None
    lead: BulkLead | None = None
    lead_id: int | None = None
    origin: str = ""
    external_source: str = ""
    external_id: str = ""


@dataclass(slots=True)
class Move:
    """``deal_move_to_stage``."""

    at: dt.datetime
    stage_id: int
    by_id: int | None = None
    origin: str = ""
    note: str = ""


@dataclass(slots=True)
class Won:
    """``deal_mark_won``; ``follow_up_done_at`` is ``activity_complete`` on its follow-up task, right after."""

    at: dt.datetime
    by_id: int | None = None
    origin: str = ""
    note: str = ""
    schedule_follow_up: bool = True
    follow_up_done_at: dt.datetime | None = None


@dataclass(slots=True)
class Lost:
    """``deal_mark_lost``."""

    at: dt.datetime
    reason_id: int | None
    by_id: int | None = None
    origin: str = ""
    note: str = ""


@dataclass(slots=True)
class Reopen:
    """``deal_reopen`` (into ``stage_id``, by default the last stage the deal was in)."""

    at: dt.datetime
    stage_id: int | None = None
    by_id: int | None = None
    origin: str = ""
    note: str = ""


@dataclass(slots=True)
class Update:
    """``deal_update`` with ``changes`` keyed by column: amount_minor, currency, expected_close_on,
    owner_id, probability_override, forecast_category_override, title, next_step, next_step_on,
    organization_id, person_id, source_id, lost_note."""

    at: dt.datetime
    changes: dict[str, Any]
    by_id: int | None = None
    origin: str = ""
    note: str = ""


@dataclass(slots=True)
class LogActivity:
    """``activity_create`` on this deal."""

    activity: BulkActivity


Step = Move | Won | Lost | Reopen | Update | LogActivity


@dataclass(slots=True)
class BulkDeal:
    """A deal as ``deal_create`` (or ``lead_convert`` with ``lead``) makes it, followed by its ``steps`` in order."""

    title: str
    owner_id: int
    pipeline_id: int
    stage_id: int
    created_at: dt.datetime
    amount_minor: int = 0
    currency: str = "EUR"
    expected_close_on: dt.date | None = None
    organization_id: int | None = None
    person_id: int | None = None
    source_id: int | None = None
    lead: BulkLead | None = None
    parent: BulkDeal | None = None
    parent_id: int | None = None
    probability_override: int | None = None
    forecast_category_override: str = ""
    next_step: str = ""
    next_step_on: dt.date | None = None
    by_id: int | None = None
    origin: str = ""
    external_source: str = ""
    external_id: str = ""
    steps: list[Step] = field(default_factory=list)
    id: int | None = None  # set by the writer


@dataclass
class BulkCounts:
    leads: int = 0
    deals: int = 0
    events: int = 0
    spells: int = 0
    activities: int = 0

    def add(self, other: BulkCounts) -> None:
        self.leads += other.leads
        self.deals += other.deals
        self.events += other.events
        self.spells += other.spells
        self.activities += other.activities
