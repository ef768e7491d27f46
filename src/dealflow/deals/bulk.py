"""Fast bulk writer for leads and deals with their whole history (the demo generator, big imports).

``bulk_create`` was 16-24x slower than PostgreSQL COPY or SQLite ``executemany`` for a million rows
(GUIDE.md), so big loads describe each deal as the sequence of service calls it went through
(create, then move / win / lose / reopen / update / log an activity, each with its time) and this
module replays that sequence in memory, exactly as ``dealflow.deals.services`` would apply it, and
writes the resulting rows in bulk: the deal with its write-time fields (created_on, closed_on,
cycle_days, lead_cycle_days, amount_base_minor, stage_entered_at, last_activity_at, version), one
DealEvent per change, one StageSpell per stay in an open stage (with duration_days, exit_kind,
next_stage), the activities, and the leads. A test builds the same history both ways and compares
every row.

Use it as a context manager; leaving the block rebuilds the derived analytics tables once::

    with BulkWriter() as writer:
        for chunk in chunks:
            writer.write(leads=..., deals=..., activities=...)

Each ``write`` is one transaction. Primary keys of leads and deals are reserved up front (PostgreSQL:
``nextval`` on the sequence; SQLite: inside the write lock), so concurrent writers never collide.
Loads into an idle database may set the secondary indexes (``defer_indexes``) and, on PostgreSQL, the
foreign keys (``defer_foreign_keys``) aside; ``close`` puts them back (docs/benchmarks.md, "Demo generator").
"""

from __future__ import annotations

import bisect
import datetime as dt
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace
from typing import Any

from django.db import DatabaseError, connections, models, transaction
from django.utils import timezone

from dealflow.accounts.models import Membership, User
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.core.money import from_minor, minor_digits, normalize_currency
from dealflow.deals.models import (
    Activity,
    ActivityKind,
    Deal,
    DealEvent,
    DealFact,
    DealMonthlyTotals,
    DealStatus,
    EventKind,
    ExchangeRate,
    ForecastCategory,
    Lead,
    LostReason,
    SpellExit,
    Stage,
    StageKind,
    StageSpell,
    StayFact,
)
from dealflow.deals.services.deals import POST_SALE_FOLLOW_UP_DAYS
from dealflow.deals.services.derived import derived_rebuild
from dealflow.deals.services.money import base_currency

# deal_mark_won writes this text on the follow-up task; test_bulk compares both paths row by row.
POST_SALE_FOLLOW_UP_NOTES = "Check that the customer is live and happy; look for an upsell."
_UTC = dt.UTC
_ACTIVITY_KINDS = frozenset(ActivityKind.values)
SQLITE_BULK_CACHE_KIB = 256 * 1024
# Settings of the SQLite connection for the load only; the writer puts the old values back when it closes.
# Index pages of million-row tables do not fit SQLite's default 2 MB page cache; the sorts of CREATE INDEX
# stay in memory instead of temporary files; reads of pages written earlier in the load skip a copy.
SQLITE_BULK_PRAGMAS = {
    "cache_size": -SQLITE_BULK_CACHE_KIB,
    "temp_store": 2,  # MEMORY
    "mmap_size": 1 << 30,
    "analysis_limit": 1000,  # ANALYZE samples: seconds, not minutes
    "threads": 2,  # CREATE INDEX sorts on a second core
}
_CATEGORY_OVERRIDES = {
    "",
    ForecastCategory.PIPELINE,
    ForecastCategory.BEST_CASE,
    ForecastCategory.COMMIT,
    ForecastCategory.OMITTED,
}


# --- What callers hand in -----------------------------------------------------------------------


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


# --- The writer ---------------------------------------------------------------------------------

_UPDATE_FIELDS = {
    "amount_minor",
    "currency",
    "expected_close_on",
    "owner_id",
    "probability_override",
    "forecast_category_override",
    "title",
    "next_step",
    "next_step_on",
    "organization_id",
    "person_id",
    "source_id",
    "lost_note",
}

# fmt: off
_LEAD_COLUMNS = [
    "id", "created_at", "updated_at", "title", "source_id", "status", "owner_id", "team_id",
    "organization_id", "person_id", "has_budget", "has_authority", "has_need", "has_timeline",
    "qualification_notes", "disqualified_reason", "qualified_at", "closed_at", "created_on",
    "external_source", "external_id",
]
_DEAL_COLUMNS = [
    "id", "created_at", "updated_at", "title", "organization_id", "person_id", "owner_id", "team_id",
    "pipeline_id", "stage_id", "status", "amount_minor", "currency", "expected_close_on",
    "probability_override", "forecast_category_override", "source_id", "lead_id", "lead_created_at",
    "parent_id", "lost_reason_id", "lost_note", "next_step", "next_step_on", "stage_entered_at", "won_at",
    "lost_at", "last_activity_at", "version", "created_on", "closed_on", "cycle_days", "lead_cycle_days",
    "amount_base_minor", "external_source", "external_id",
]
_EVENT_COLUMNS = [
    "deal_id", "kind", "field", "from_value", "to_value", "from_stage_id", "to_stage_id", "amount_minor",
    "currency", "actor_id", "origin", "note", "occurred_at", "recorded_at",
]
_SPELL_COLUMNS = [
    "deal_id", "stage_id", "pipeline_id", "owner_id", "entered_at", "entered_on", "exited_at", "exited_on",
    "exit_kind", "next_stage_id", "duration_days",
]
_DEAL_FACT_COLUMNS = [
    "deal_id", "pipeline_id", "stage_id", "owner_id", "team_id", "source_id", "status", "created_on",
    "closed_on", "expected_close_on", "cycle_days", "lead_cycle_days", "amount_minor", "currency",
    "amount_base_minor", "furthest_stage_id", "lead_created_on", "lead_owner_id", "lead_team_id",
    "lead_source_id", "close_date_pushes", "last_pushed_at",
]
_STAY_FACT_COLUMNS = [
    "spell_id", "deal_id", "pipeline_id", "stage_id", "next_stage_id", "owner_id", "team_id", "source_id",
    "deal_status", "entry_kind", "entered_on", "exited_on", "days", "exit_kind",
]
_TOTALS_CELL = ["month", "pipeline_id", "owner_id", "team_id", "source_id"]
_TOTALS_VALUES = [
    "created", "won", "won_amount_base_minor", "won_cycle_days", "won_lead_cycle_days", "won_from_lead",
    "lost", "lost_amount_base_minor", "lead_deals", "lead_won",
]
_ACTIVITY_COLUMNS = [
    "created_at", "updated_at", "kind", "subject", "notes", "due_at", "done_at", "owner_id", "deal_id",
    "lead_id", "person_id", "origin", "external_source", "external_id",
]
# fmt: on


@dataclass(frozen=True, slots=True)
class _StageInfo:
    pk: int
    pipeline_id: int
    name: str
    kind: str
    order: int
    is_active: bool


@dataclass
class _Table:
    """Columns the writer fills, plus every other concrete column with its default (so new fields do not break it)."""

    name: str
    columns: list[str]
    extra_columns: list[str]
    extra_values: tuple

    @classmethod
    def for_model(cls, model: type[models.Model], columns: list[str], connection) -> _Table:
        known = set(columns)
        extra_columns: list[str] = []
        extra_values: list[Any] = []
        for model_field in model._meta.concrete_fields:
            if model_field.column in known or model_field.primary_key:
                continue
            extra_columns.append(str(model_field.column))
            default = model_field.get_default()
            extra_values.append(model_field.get_db_prep_save(default, connection))
        return cls(model._meta.db_table, columns, extra_columns, tuple(extra_values))


class BulkWriter:
    """Replays deal histories in memory like the services, then writes all rows with COPY / executemany."""

    def __init__(
        self,
        *,
        using: str = "default",
        defer_indexes: bool = False,
        defer_foreign_keys: bool = False,
        derived_rows: bool = False,
    ) -> None:
        self.using = using
        # derived_rows: write the DealFact, StayFact and DealMonthlyTotals rows of the deals written, worked
        # out during the replay, instead of rebuilding the three tables from everything when closing.
        self.derived_rows = derived_rows
        self._lead_facts: dict[int, tuple] = {}  # lead id -> (created_on, owner_id, team_id, source_id)
        self.connection = connections[using]
        self.is_postgres = self.connection.vendor == "postgresql"
        self.timezone = timezone.get_current_timezone()
        self.base_currency = base_currency()
        self.counts = BulkCounts()
        # Seconds the writes spent replaying histories, working out derived rows and inserting rows.
        self.write_seconds: dict[str, float] = {"replay": 0.0, "derived rows": 0.0, "inserts": 0.0}
        self._closed = False
        self.stages = {
            row[0]: _StageInfo(*row)
            for row in Stage.objects.using(using).values_list(
                "pk", "pipeline_id", "name", "kind", "order", "is_active"
            )
        }
        self.closing_stage: dict[tuple[int, str], _StageInfo] = {}
        for stage in sorted(self.stages.values(), key=lambda info: (not info.is_active, info.order, info.pk)):
            if stage.kind != StageKind.OPEN:
                self.closing_stage.setdefault((stage.pipeline_id, stage.kind), stage)
        self.first_open_stage: dict[int, _StageInfo] = {}
        for stage in sorted(self.stages.values(), key=lambda info: (info.order, info.pk)):
            if stage.kind == StageKind.OPEN and stage.is_active:
                self.first_open_stage.setdefault(stage.pipeline_id, stage)
        self.lost_reasons = dict(LostReason.objects.using(using).values_list("pk", "name"))
        self.active_users = set(User.objects.using(using).filter(is_active=True).values_list("pk", flat=True))
        self.team_of: dict[int, int] = {}
        for user_id, team_id in (
            Membership.objects.using(using).order_by("id").values_list("user_id", "team_id")
        ):
            self.team_of.setdefault(user_id, team_id)
        self.rates: dict[str, tuple[list[dt.date], list[Decimal]]] = {}
        for currency, valid_from, rate in (
            ExchangeRate.objects.using(using)
            .order_by("currency", "valid_from")
            .values_list("currency", "valid_from", "rate")
        ):
            days, values = self.rates.setdefault(currency, ([], []))
            days.append(valid_from)
            values.append(rate)
        self._base_cache: dict[tuple[str, dt.date], Decimal] = {}
        self._offsets: dict[dt.date, dt.timedelta | None] = {}
        self.tables = {
            "lead": _Table.for_model(Lead, _LEAD_COLUMNS, self.connection),
            "deal": _Table.for_model(Deal, _DEAL_COLUMNS, self.connection),
            "event": _Table.for_model(DealEvent, _EVENT_COLUMNS, self.connection),
            # With derived rows the spells carry ids reserved up front: their StayFact rows point at them.
            "spell": _Table.for_model(
                StageSpell, ["id", *_SPELL_COLUMNS] if derived_rows else _SPELL_COLUMNS, self.connection
            ),
            "activity": _Table.for_model(Activity, _ACTIVITY_COLUMNS, self.connection),
        }
        if derived_rows:
            self.tables["deal_fact"] = _Table.for_model(DealFact, _DEAL_FACT_COLUMNS, self.connection)
            self.tables["stay_fact"] = _Table.for_model(StayFact, _STAY_FACT_COLUMNS, self.connection)
        # SQLite stores datetimes as naive UTC text and dates as ISO text (what Django's adapters do).
        self._moment: Callable[[dt.datetime | None], Any] = (
            _identity if self.is_postgres else _sqlite_datetime
        )
        self._day: Callable[[dt.date | None], Any] = _identity if self.is_postgres else _sqlite_date
        self._sqlite_pragmas: dict[str, int] = {}  # the connection's values before the load
        self._deferred_indexes: list[str] = []  # statements that put back what the load set aside
        if not self.is_postgres:
            with self.connection.cursor() as cursor:
                for name, value in SQLITE_BULK_PRAGMAS.items():
                    if name == "temp_store" and self.connection.in_atomic_block:
                        continue  # SQLite changes it only outside a transaction
                    cursor.execute(f"PRAGMA {name}")
                    row = cursor.fetchone()
                    self._sqlite_pragmas[name] = int(row[0]) if row else 0
                    cursor.execute(f"PRAGMA {name} = {int(value)}")
        if defer_indexes:
            self._indexes_drop()
        if defer_foreign_keys and self.is_postgres:
            if self.connection.in_atomic_block:
                # PostgreSQL alters no table with foreign-key checks pending (rows written earlier in the
                # transaction, a new stage say): run them now, then defer again.
                with self.connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                    cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            self._foreign_keys_drop()

    # -- context manager: rebuild the derived tables once after the whole load --

    def __enter__(self) -> BulkWriter:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.close()
        else:
            try:
                self._indexes_restore()
                self._pragmas_restore()
            except DatabaseError:
                # A failed statement left the transaction unusable; rolling it back (the caller's
                # atomic block) undoes the dropped indexes and keys as well. Outside one, say so.
                if not self.connection.in_atomic_block:
                    raise

    def close(self, *, timings: dict[str, float] | None = None) -> None:
        """Finish a load: build deferred indexes, rebuild the derived analytics tables, refresh statistics.

        ``timings``, when given, receives the seconds each of the three took.
        """
        if self._closed:
            return
        self._closed = True
        clock_started = time.perf_counter()
        if self.is_postgres and self.connection.in_atomic_block:
            # Inside an outer transaction (tests, an all-or-nothing import) the foreign-key checks of the
            # rows just written are still pending, and PostgreSQL refuses CREATE INDEX on such tables.
            with self.connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        self._indexes_restore()
        indexes_done = time.perf_counter()
        if not self.derived_rows:
            derived_rebuild()
        derived_done = time.perf_counter()
        with self.connection.cursor() as cursor:
            if self.derived_rows:
                # Only the tables written; a rebuild (above) analyzes the derived ones itself.
                tables = [table.name for table in self.tables.values()]
                tables.append(DealMonthlyTotals._meta.db_table)
                if self.is_postgres:
                    cursor.execute("ANALYZE " + ", ".join(f'"{name}"' for name in tables))
                else:
                    for name in tables:
                        cursor.execute(f'ANALYZE "{name}"')
            else:
                cursor.execute("ANALYZE")
        self._pragmas_restore()
        if timings is not None:
            timings["indexes built again"] = indexes_done - clock_started
            if not self.derived_rows:
                timings["derived tables (derived_rebuild)"] = derived_done - indexes_done
            timings["planner statistics (ANALYZE)"] = time.perf_counter() - derived_done

    def _indexes_drop(self) -> None:
        """Drop the secondary (non-unique) indexes of the tables written; ``close`` builds them again.

        Building an index once over a loaded table sorts its keys; keeping it up to date row by row
        costs a B-tree insert per row and index, which made inserts three times slower at a million deals.
        Only for loads into an idle database (the demo): other readers would find the tables unindexed.
        """
        tables = [table.name for table in self.tables.values()]
        with self.connection.cursor() as cursor:
            if self.is_postgres:
                cursor.execute(
                    "SELECT indexname, indexdef, tablename FROM pg_indexes WHERE schemaname = current_schema() "
                    "AND tablename = ANY(%s) AND indexdef NOT LIKE %s ORDER BY indexname",
                    [tables, "CREATE UNIQUE%"],
                )
            else:
                cursor.execute(
                    "SELECT name, sql, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                    "AND sql NOT LIKE %s ORDER BY name",
                    ["CREATE UNIQUE%"],
                )
            for name, definition, table in cursor.fetchall():
                if table not in tables:
                    continue
                cursor.execute(f'DROP INDEX "{name}"')
                self._deferred_indexes.append(definition)

    def _foreign_keys_drop(self) -> None:
        """PostgreSQL: drop the tables' foreign keys for the load; ``close`` adds them back, which checks
        every row in one join per key instead of one trigger and index probe per row.

        Only for data that is valid by construction (the demo) or loaded all or nothing (a first big
        import): a bad reference surfaces only at the end, and fails the whole load.
        """
        tables = [table.name for table in self.tables.values()]
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
                "WHERE c.contype = 'f' AND c.conrelid = ANY(%s::regclass[]) ORDER BY 1, 2",
                [tables],
            )
            for table, name, definition in cursor.fetchall():
                cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
                self._deferred_indexes.append(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')

    def _pragmas_restore(self) -> None:
        if not self._sqlite_pragmas or self.connection.connection is None:
            return
        with self.connection.cursor() as cursor:
            for name, value in self._sqlite_pragmas.items():
                cursor.execute(f"PRAGMA {name} = {int(value)}")
        self._sqlite_pragmas = {}

    def _indexes_restore(self) -> None:
        if not self._deferred_indexes:
            return
        with self.connection.cursor() as cursor:
            # Sort in memory (PostgreSQL); SQLite's sorter has its page cache and a second core (the pragmas).
            if self.is_postgres:
                cursor.execute("SET maintenance_work_mem = '256MB'")
            while self._deferred_indexes:
                cursor.execute(self._deferred_indexes[0])
                self._deferred_indexes.pop(0)
            if self.is_postgres:
                cursor.execute("RESET maintenance_work_mem")

    # -- helpers that mirror the services --

    def local_date(self, moment: dt.datetime) -> dt.date:
        """timezone.localdate(moment), with the zone's offset looked up once per UTC day."""
        if moment.tzinfo is not _UTC:
            return timezone.localdate(moment) if moment.tzinfo else moment.date()
        day = moment.date()
        try:
            offset = self._offsets[day]
        except KeyError:
            midnight = dt.datetime.combine(day, dt.time(0), tzinfo=_UTC)
            first = midnight.astimezone(self.timezone).utcoffset()
            last = (midnight + dt.timedelta(days=1, microseconds=-1)).astimezone(self.timezone).utcoffset()
            offset = first if first == last else None  # None: the zone changes its offset that day
            self._offsets[day] = offset
        if offset is None:
            return moment.astimezone(self.timezone).date()
        return (moment + offset).date()

    def to_base(self, amount_minor: int, currency: str, day: dt.date) -> int:
        """convert_minor_to_base, with the rates read once."""
        key = (currency, day)
        factor = self._base_cache.get(key)
        if factor is None:
            if currency == self.base_currency:
                rate = Decimal(1)
            else:
                days, values = self.rates.get(currency, ([], []))
                if not days:
                    raise ApplicationError(
                        f"There is no exchange rate for {currency}; add one under Settings > Exchange rates.",
                        field="currency",
                    )
                index = bisect.bisect_right(days, day) - 1
                rate = values[max(index, 0)]
            factor = rate * Decimal(10) ** (minor_digits(self.base_currency) - minor_digits(currency))
            self._base_cache[key] = factor
        return int((Decimal(amount_minor) * factor).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def _stage(self, stage_id: int | None) -> _StageInfo:
        stage = self.stages.get(stage_id) if stage_id is not None else None
        if stage is None:
            raise ApplicationError(f"Stage {stage_id} does not exist.", field="stage")
        return stage

    # -- ids --

    def _reserve_ids(self, cursor, table: str, count: int) -> list[int]:
        if count == 0:
            return []
        if self.is_postgres:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        # SQLite: the transaction holds the write lock (BEGIN IMMEDIATE), so nobody takes these ids.
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # noqa: S608 - table name from the model
        highest = cursor.fetchone()[0]
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
        start = max(highest, row[0] if row else 0) + 1
        return list(range(start, start + count))

    # -- rows --

    def _lead_row(self, lead: BulkLead, now: Any) -> tuple:
        if not str(lead.title or "").strip():
            raise ApplicationError("A lead needs a title.", field="title")
        moment = self._moment
        created_on, team_id = self.local_date(lead.created_at), self.team_of.get(lead.owner_id)
        if self.derived_rows:
            self._lead_facts[lead.id] = (created_on, lead.owner_id, team_id, lead.source_id)  # type: ignore[index]
        return (
            lead.id, moment(lead.created_at), now, lead.title.strip()[:200], lead.source_id, str(lead.status),
            lead.owner_id, team_id, lead.organization_id, lead.person_id,
            lead.has_budget, lead.has_authority, lead.has_need, lead.has_timeline, lead.qualification_notes,
            lead.disqualified_reason[:300], moment(lead.qualified_at), moment(lead.closed_at),
            self._day(created_on), lead.external_source, lead.external_id,
        )  # fmt: skip

    def _check_user(self, user_id: int) -> None:
        if user_id not in self.active_users:
            raise ApplicationError(f"User {user_id} is not an active user.", field="owner")

    def _activity_row(
        self, activity: BulkActivity, deal_id: int | None, now: Any
    ) -> tuple[tuple, dt.datetime]:
        """The activity's row and the moment it touches its deal (done_at, else its creation)."""
        subject = str(activity.subject or "").strip()
        if not subject:
            raise ApplicationError("An activity needs a subject.", field="subject")
        if activity.kind not in _ACTIVITY_KINDS:
            raise ApplicationError(f"Kind must be one of {', '.join(ActivityKind.values)}.", field="kind")
        done_at = activity.done_at
        if activity.kind == ActivityKind.NOTE and done_at is None:
            done_at = activity.at
        lead_id = activity.lead.id if activity.lead is not None else activity.lead_id
        moment = self._moment
        row = (
            moment(activity.at), now, str(activity.kind), subject[:200], activity.notes, moment(activity.due_at),
            moment(done_at), activity.owner_id, deal_id, lead_id, activity.person_id, activity.origin,
            activity.external_source, activity.external_id,
        )  # fmt: skip
        return row, done_at or activity.at

    def _replay(self, deal: BulkDeal, now: Any, events: list, activities: list) -> _DealReplay:
        """Apply deal_create and then each step as the services do; append the event and activity rows."""
        replay = _DealReplay(self, deal, now, events, activities)
        for step in deal.steps:
            if isinstance(step, Move):
                replay.move(step)
            elif isinstance(step, Won):
                replay.win(step)
            elif isinstance(step, Lost):
                replay.lose(step)
            elif isinstance(step, Reopen):
                replay.reopen(step)
            elif isinstance(step, Update):
                replay.update(step)
            elif isinstance(step, LogActivity):
                replay.log_activity(step)
            else:
                raise TypeError(f"Unknown deal step {step!r}")
        replay.last_event = len(replay.events)
        return replay

    # -- derived analytics rows (derived_rows=True) --

    def _derived_rows(
        self, cursor, replays: list[_DealReplay], spell_ids: list[int]
    ) -> tuple[list[tuple], list[tuple], dict[tuple, list[int]]]:
        """The DealFact and StayFact rows of the deals replayed, and what they add to DealMonthlyTotals:
        the rules of deals.services.derived (derived_rebuild() in SQL), applied in memory."""
        wanted: set[int] = {
            replay.deal.lead.id
            for replay in replays
            if replay.deal.lead is not None
            and replay.deal.lead.id is not None
            and replay.deal.lead.id not in self._lead_facts
        }
        if wanted:  # leads written before this writer: their stored values, as the rebuild reads them
            for pk, created_on, owner_id, team_id, source_id in (
                Lead.objects.using(self.using)
                .filter(pk__in=wanted)
                .values_list("pk", "created_on", "owner_id", "team_id", "source_id")
            ):
                self._lead_facts[pk] = (created_on, owner_id, team_id, source_id)
        deal_facts: list[tuple] = []
        stay_facts: list[tuple] = []
        totals: dict[tuple, list[int]] = {}
        for replay in replays:
            replay.facts(spell_ids, deal_facts, stay_facts, totals)
        return deal_facts, stay_facts, totals

    def _totals_add(self, cursor, totals: dict[tuple, list[int]]) -> None:
        """Add the cells to DealMonthlyTotals (an upsert, the same SQL on PostgreSQL and SQLite)."""
        if not totals:
            return
        table = DealMonthlyTotals._meta.db_table
        columns = [*_TOTALS_CELL, *_TOTALS_VALUES]
        updates = ", ".join(f'"{name}" = "{table}"."{name}" + excluded."{name}"' for name in _TOTALS_VALUES)
        placeholder = "%s" if self.is_postgres else "?"
        column_sql = ", ".join(f'"{name}"' for name in columns)
        cell_sql = ", ".join(f'"{name}"' for name in _TOTALS_CELL)
        sql = (
            f'INSERT INTO "{table}" ({column_sql}) VALUES ({", ".join([placeholder] * len(columns))}) '  # noqa: S608
            f"ON CONFLICT ({cell_sql}) DO UPDATE SET {updates}"
        )
        day = self._day
        rows = [(day(key[0]), *key[1:], *values) for key, values in sorted(totals.items())]
        if self.is_postgres:
            cursor.executemany(sql, rows)
        else:
            sqlite3.Cursor.executemany(cursor.cursor, sql, rows)

    def _closing(self, pipeline_id: int, kind: str) -> _StageInfo:
        stage = self.closing_stage.get((pipeline_id, kind))
        if stage is None:
            raise ApplicationError(f"This pipeline has no {kind} stage.", field="stage")
        return stage

    def _first_open(self, pipeline_id: int) -> _StageInfo:
        stage = self.first_open_stage.get(pipeline_id)
        if stage is None:
            raise ApplicationError("This pipeline has no open stage.", field="stage")
        return stage

    # -- writing --

    def write(
        self,
        *,
        leads: Sequence[BulkLead] = (),
        deals: Sequence[BulkDeal] = (),
        activities: Sequence[BulkActivity] = (),
    ) -> BulkCounts:
        """Write leads, deals with their histories, and activities not on a deal, in one transaction."""
        now = clock.now()
        now_value = self._moment(now)  # updated_at of every row and recorded_at of every event
        with transaction.atomic(using=self.using), self.connection.cursor() as cursor:
            for lead, pk in zip(
                leads, self._reserve_ids(cursor, Lead._meta.db_table, len(leads)), strict=True
            ):
                lead.id = pk
            for deal, pk in zip(
                deals, self._reserve_ids(cursor, Deal._meta.db_table, len(deals)), strict=True
            ):
                deal.id = pk
            lead_rows = [self._lead_row(lead, now_value) for lead in leads]
            events: list[tuple] = []
            spells: list[tuple] = []
            activity_rows: list[tuple] = []
            started = time.perf_counter()
            replays = [self._replay(deal, now_value, events, activity_rows) for deal in deals]
            deal_rows = [replay.rows(spells) for replay in replays]
            for activity in activities:
                activity_rows.append(self._activity_row(activity, None, now_value)[0])
            replayed = time.perf_counter()
            if self.derived_rows:
                spell_ids = self._reserve_ids(cursor, StageSpell._meta.db_table, len(spells))
                spells = [(pk, *row) for pk, row in zip(spell_ids, spells, strict=True)]
                derived = self._derived_rows(cursor, replays, spell_ids)
            derived_done = time.perf_counter()
            self._copy(cursor, self.tables["lead"], lead_rows)
            self._copy(cursor, self.tables["deal"], deal_rows)
            self._copy(cursor, self.tables["event"], events)
            self._copy(cursor, self.tables["spell"], spells)
            self._copy(cursor, self.tables["activity"], activity_rows)
            if self.derived_rows:
                deal_facts, stay_facts, totals = derived
                self._copy(cursor, self.tables["deal_fact"], deal_facts)
                self._copy(cursor, self.tables["stay_fact"], stay_facts)
                self._totals_add(cursor, totals)
            seconds = self.write_seconds
            seconds["replay"] += replayed - started
            seconds["derived rows"] += derived_done - replayed
            seconds["inserts"] += time.perf_counter() - derived_done
        counts = BulkCounts(len(lead_rows), len(deal_rows), len(events), len(spells), len(activity_rows))
        self.counts.add(counts)
        return counts

    def _copy(self, cursor, table: _Table, rows: Iterable[tuple]) -> None:
        rows = list(rows)
        if not rows:
            return
        columns = table.columns + table.extra_columns
        extra = table.extra_values
        column_sql = ", ".join(f'"{column}"' for column in columns)
        if self.is_postgres:
            with cursor.copy(f'COPY "{table.name}" ({column_sql}) FROM STDIN') as copy:
                if extra:
                    for row in rows:
                        copy.write_row(row + extra)
                else:
                    for row in rows:
                        copy.write_row(row)
        else:
            placeholders = ", ".join(["?"] * len(columns))
            if extra:
                rows = [row + extra for row in rows]
            # The raw sqlite3 cursor: Django's wrapper would rewrite the query and tee the rows.
            sqlite3.Cursor.executemany(
                cursor.cursor,
                f'INSERT INTO "{table.name}" ({column_sql}) VALUES ({placeholders})',  # noqa: S608
                rows,
            )


# Plain strings in the rows: psycopg may dump an Enum member by its name instead of its value; and
# reading an Enum member's value goes through a descriptor, which counts at five million events.
_EVENT = SimpleNamespace(**{kind.name: kind.value for kind in EventKind})
_EXIT = SimpleNamespace(**{kind.name: kind.value for kind in SpellExit})
_TASK = ActivityKind.TASK.value
_CLOSE_DATE_CHANGED = EventKind.CLOSE_DATE_CHANGED.value
_CLOSED_EXITS = (SpellExit.WON.value, SpellExit.LOST.value)
_OPEN, _WON, _LOST = DealStatus.OPEN.value, DealStatus.WON.value, DealStatus.LOST.value
_STAGE_OPEN, _STAGE_WON, _STAGE_LOST = StageKind.OPEN.value, StageKind.WON.value, StageKind.LOST.value


class _DealReplay:
    """One deal's state while its steps are applied; each method mirrors one service of deals.services."""

    __slots__ = (
        "activities", "amount_base_minor", "amount_minor", "category_override", "closed_on", "created_at",
        "created_on", "currency", "cycle_days", "deal", "events", "expected_close_on", "first_event",
        "first_spell", "last_activity_at", "last_event", "lead_created_at", "lead_cycle_days", "lead_id",
        "lost_at", "lost_note", "lost_reason_id", "next_step", "next_step_on", "now", "organization_id", "owner_id", "person_id", "probability_override", "source_id",
        "spells", "stage", "stage_entered_at", "status", "team_id", "title", "version", "won_at", "writer",
    )  # fmt: skip
    stage: _StageInfo
    won_at: dt.datetime | None
    lost_at: dt.datetime | None
    closed_on: dt.date | None
    cycle_days: int | None
    lead_cycle_days: int | None
    amount_base_minor: int | None
    lost_reason_id: int | None
    spells: list[list]

    def __init__(self, writer: BulkWriter, deal: BulkDeal, now: Any, events: list, activities: list) -> None:
        """deal_create (and the deal half of lead_convert)."""
        self.writer, self.deal, self.now, self.events, self.activities = writer, deal, now, events, activities
        # Where this deal's rows lie in the lists shared by the deals of one write.
        self.first_event, self.last_event, self.first_spell = len(events), len(events), 0
        stage = writer._stage(deal.stage_id)
        if stage.pipeline_id != deal.pipeline_id or stage.kind != _STAGE_OPEN:
            raise ApplicationError("Pick an open stage of this deal's pipeline.", field="stage")
        writer._check_user(deal.owner_id)
        if deal.amount_minor < 0:
            raise ApplicationError("Amount cannot be negative.", field="amount")
        if deal.forecast_category_override not in _CATEGORY_OVERRIDES:
            raise ApplicationError("Unknown forecast category.", field="forecast_category_override")
        lead = deal.lead
        self.title = _valid_title(deal.title)
        self.stage = stage
        self.status = _OPEN
        self.owner_id = deal.owner_id
        self.team_id = writer.team_of.get(deal.owner_id)
        self.amount_minor = deal.amount_minor
        self.currency = normalize_currency(deal.currency)
        self.expected_close_on = deal.expected_close_on
        self.probability_override = deal.probability_override
        self.category_override = deal.forecast_category_override
        self.organization_id, self.person_id = deal.organization_id, deal.person_id
        self.source_id = deal.source_id if deal.source_id is not None else (lead.source_id if lead else None)
        self.lead_id = lead.id if lead is not None else None
        self.lead_created_at = lead.created_at if lead is not None else None
        self.next_step, self.next_step_on = (deal.next_step or "")[:200], deal.next_step_on
        self.lost_reason_id, self.lost_note = None, ""
        self.created_at = self.stage_entered_at = self.last_activity_at = deal.created_at
        self.created_on = writer.local_date(deal.created_at)
        self.won_at = self.lost_at = None
        self.closed_on = self.cycle_days = self.lead_cycle_days = self.amount_base_minor = None
        self.version = 1
        # Spells are lists while they may still close: [stage_id, owner_id, entered_at, entered_on,
        # exited_at, exited_on, exit_kind, next_stage_id, duration_days].
        self.spells = []
        kind, created_at = _EVENT.CREATED, deal.created_at
        self._event(kind, created_at, deal.by_id, deal.origin, "", "", "", stage.name, None, stage)
        self._spell_open(stage, deal.created_at)

    # -- what history.py does --

    def _event(
        self, kind, at, by_id, origin, note, field, from_value, to_value, from_stage, to_stage
    ) -> None:
        self.events.append(
            (
                self.deal.id, kind, field, str(from_value)[:200], str(to_value)[:200],
                from_stage.pk if from_stage else None, to_stage.pk if to_stage else None,
                self.amount_minor, self.currency, by_id, origin[:40], note[:300], self.writer._moment(at),
                self.now,
            )
        )  # fmt: skip

    def _spell_open(self, stage: _StageInfo, at: dt.datetime) -> None:
        self.spells.append(
            [stage.pk, self.owner_id, at, self.writer.local_date(at), None, None, "", None, None]
        )

    def _spell_close(self, at: dt.datetime, exit_kind: str, next_stage: _StageInfo) -> None:
        for spell in reversed(self.spells):
            if spell[4] is None:
                exited_at = max(at, spell[2])
                spell[4:9] = [
                    exited_at,
                    self.writer.local_date(exited_at),
                    exit_kind,
                    next_stage.pk,
                    (exited_at - spell[2]).total_seconds() / 86400,
                ]
                return

    def _require_open(self, message: str, field: str) -> None:
        if self.status != _OPEN:
            raise ApplicationError(message, field=field)

    # -- the services --

    def move(self, step: Move) -> None:
        """deal_move_to_stage."""
        self._require_open("Only an open deal can move; reopen it first.", "stage")
        target = self.writer._stage(step.stage_id)
        if target.pipeline_id != self.deal.pipeline_id or target.kind != _STAGE_OPEN or not target.is_active:
            raise ApplicationError("Pick an open stage of this deal's pipeline.", field="stage")
        if target.pk == self.stage.pk:
            raise ApplicationError(f"The deal is already in {target.name}.", field="stage")
        from_stage, at = self.stage, step.at
        self.stage, self.stage_entered_at = target, at
        self.last_activity_at = max(at, self.last_activity_at)
        self.version += 1
        exit_kind = _EXIT.FORWARD if target.order > from_stage.order else _EXIT.BACK
        self._spell_close(at, exit_kind, target)
        self._spell_open(target, at)
        kind = _EVENT.STAGE_CHANGED
        self._event(
            kind,
            at,
            step.by_id,
            step.origin,
            step.note,
            "stage",
            from_stage.name,
            target.name,
            from_stage,
            target,
        )

    def _close(self, at: dt.datetime, status: str, closing: _StageInfo) -> None:
        writer = self.writer
        self.status, self.stage, self.stage_entered_at = status, closing, at
        self.closed_on = closed_on = writer.local_date(at)
        self.cycle_days = max(0, (closed_on - self.created_on).days)
        self.lead_cycle_days = (
            max(0, (closed_on - writer.local_date(self.lead_created_at)).days)
            if self.lead_created_at
            else None
        )
        self.amount_base_minor = writer.to_base(self.amount_minor, self.currency, closed_on)
        self.last_activity_at = max(at, self.last_activity_at)
        self.version += 1

    def win(self, step: Won) -> None:
        """deal_mark_won, with its post-sale follow-up task."""
        self._require_open("Only an open deal can be won.", "status")
        from_stage, at = self.stage, step.at
        won_stage = self.writer._closing(self.deal.pipeline_id, _STAGE_WON)
        self._close(at, _WON, won_stage)
        self.won_at = at
        self._spell_close(at, _EXIT.WON, won_stage)
        kind = _EVENT.WON
        self._event(
            kind,
            at,
            step.by_id,
            step.origin,
            step.note,
            "status",
            from_stage.name,
            won_stage.name,
            from_stage,
            won_stage,
        )
        if step.schedule_follow_up:
            moment, done_at = self.writer._moment, step.follow_up_done_at
            self.activities.append(
                (
                    moment(at), self.now, _TASK, f"Post-sale follow-up: {self.title}"[:200],
                    POST_SALE_FOLLOW_UP_NOTES, moment(at + dt.timedelta(days=POST_SALE_FOLLOW_UP_DAYS)),
                    moment(done_at), self.owner_id, self.deal.id, None, self.person_id, "post_sale", "", "",
                )
            )  # fmt: skip
            if done_at is not None:
                self.last_activity_at = max(done_at, self.last_activity_at)

    def lose(self, step: Lost) -> None:
        """deal_mark_lost."""
        if step.reason_id is None:
            raise ApplicationError("Say why the deal was lost: pick a lost reason.", field="reason")
        self._require_open("Only an open deal can be lost.", "status")
        reason = self.writer.lost_reasons.get(step.reason_id)
        if reason is None:
            raise ApplicationError(f"Lost reason {step.reason_id} does not exist.", field="reason")
        from_stage, at = self.stage, step.at
        lost_stage = self.writer._closing(self.deal.pipeline_id, _STAGE_LOST)
        self._close(at, _LOST, lost_stage)
        self.lost_at, self.lost_reason_id, self.lost_note = at, step.reason_id, step.note
        self._spell_close(at, _EXIT.LOST, lost_stage)
        kind = _EVENT.LOST
        self._event(
            kind,
            at,
            step.by_id,
            step.origin,
            step.note,
            "status",
            from_stage.name,
            reason,
            from_stage,
            lost_stage,
        )

    def reopen(self, step: Reopen) -> None:
        """deal_reopen, by default into the stage of the last spell."""
        if self.status == _OPEN:
            raise ApplicationError("The deal is already open.", field="status")
        writer = self.writer
        if step.stage_id is not None:
            target = writer._stage(step.stage_id)
        else:
            last_spell = max(enumerate(self.spells), key=lambda item: (item[1][2], item[0]))[1]
            target = writer.stages[last_spell[0]]
            if not target.is_active:
                target = writer._first_open(self.deal.pipeline_id)
        if target.pipeline_id != self.deal.pipeline_id or target.kind != _STAGE_OPEN:
            raise ApplicationError("Pick an open stage of this deal's pipeline.", field="stage")
        from_stage, old_status, at = self.stage, self.status, step.at
        self.status, self.stage, self.stage_entered_at = _OPEN, target, at
        self.won_at = self.lost_at = None
        self.closed_on = self.cycle_days = self.lead_cycle_days = self.amount_base_minor = None
        self.lost_reason_id = None
        self.last_activity_at = at
        self.version += 1
        self._spell_open(target, at)
        kind = _EVENT.REOPENED
        self._event(
            kind,
            at,
            step.by_id,
            step.origin,
            step.note,
            "status",
            old_status,
            target.name,
            from_stage,
            target,
        )

    def update(self, step: Update) -> None:
        """deal_update: one version bump, one event per tracked change that differs."""
        changes = step.changes
        unknown = set(changes) - _UPDATE_FIELDS
        if unknown:
            name = sorted(unknown)[0]
            raise ApplicationError(f"Field {name!r} cannot be changed here.", field=name)
        if not changes:
            return
        before_amount, before_currency = self.amount_minor, self.currency
        before_close, before_owner = self.expected_close_on, self.owner_id
        before_category, before_probability = self.category_override, self.probability_override
        if "title" in changes:
            self.title = _valid_title(changes["title"])
        for name in (
            "organization_id",
            "person_id",
            "source_id",
            "next_step_on",
            "lost_note",
            "expected_close_on",
        ):
            if name in changes:
                setattr(self, name, changes[name])
        if "next_step" in changes:
            self.next_step = str(changes["next_step"] or "")[:200]
        if "currency" in changes:
            self.currency = normalize_currency(changes["currency"])
        if "amount_minor" in changes:
            if changes["amount_minor"] < 0:
                raise ApplicationError("Amount cannot be negative.", field="amount")
            self.amount_minor = changes["amount_minor"]
        if "owner_id" in changes:
            self.writer._check_user(changes["owner_id"])
            self.owner_id = changes["owner_id"]
            self.team_id = self.writer.team_of.get(self.owner_id)
        if "probability_override" in changes:
            self.probability_override = changes["probability_override"]
        if "forecast_category_override" in changes:
            if (changes["forecast_category_override"] or "") not in _CATEGORY_OVERRIDES:
                raise ApplicationError("Unknown forecast category.", field="forecast_category_override")
            self.category_override = changes["forecast_category_override"] or ""
        if self.status != _OPEN and ("amount_minor" in changes or "currency" in changes) and self.closed_on:
            self.amount_base_minor = self.writer.to_base(self.amount_minor, self.currency, self.closed_on)
        self.version += 1
        at, by_id, origin, note = step.at, step.by_id, step.origin, step.note
        changes_to_record: list[tuple[str, str, object, object]] = []
        if before_amount != self.amount_minor or before_currency != self.currency:
            before_text = f"{from_minor(before_amount, before_currency)} {before_currency}"
            after_text = f"{from_minor(self.amount_minor, self.currency)} {self.currency}"
            changes_to_record.append((_EVENT.AMOUNT_CHANGED, "amount", before_text, after_text))
        if before_close != self.expected_close_on:
            changes_to_record.append(
                (
                    _EVENT.CLOSE_DATE_CHANGED,
                    "expected_close_on",
                    before_close or "",
                    self.expected_close_on or "",
                )
            )
        if before_owner != self.owner_id:
            changes_to_record.append((_EVENT.OWNER_CHANGED, "owner", before_owner, self.owner_id))
        if before_category != self.category_override:
            changes_to_record.append(
                (
                    _EVENT.CATEGORY_CHANGED,
                    "forecast_category",
                    before_category,
                    self.category_override,
                )
            )
        if before_probability != self.probability_override:
            changes_to_record.append(
                (
                    _EVENT.PROBABILITY_CHANGED,
                    "probability",
                    "" if before_probability is None else before_probability,
                    "" if self.probability_override is None else self.probability_override,
                )
            )
        for kind, field_name, from_value, to_value in changes_to_record:
            self._event(kind, at, by_id, origin, note, field_name, from_value, to_value, None, None)

    def log_activity(self, step: LogActivity) -> None:
        """activity_create on this deal: it counts as activity on the deal (last_activity_at)."""
        row, touched_at = self.writer._activity_row(step.activity, self.deal.id, self.now)
        self.activities.append(row)
        self.last_activity_at = max(touched_at, self.last_activity_at)

    # -- the rows --

    def rows(self, spells: list) -> tuple:
        """Append the spell rows and return the deal row (columns of _DEAL_COLUMNS)."""
        moment, day, deal = self.writer._moment, self.writer._day, self.deal
        deal_id, pipeline_id = deal.id, deal.pipeline_id
        self.first_spell = len(spells)
        for (
            stage_id,
            owner_id,
            entered_at,
            entered_on,
            exited_at,
            exited_on,
            exit_kind,
            next_id,
            days,
        ) in self.spells:
            spells.append(
                (
                    deal_id, stage_id, pipeline_id, owner_id, moment(entered_at), day(entered_on), moment(exited_at),
                    day(exited_on), exit_kind, next_id, days,
                )
            )  # fmt: skip
        parent_id = deal.parent.id if deal.parent is not None else deal.parent_id
        return (
            deal_id, moment(self.created_at), self.now, self.title, self.organization_id, self.person_id,
            self.owner_id, self.team_id, pipeline_id, self.stage.pk, self.status, self.amount_minor,
            self.currency, day(self.expected_close_on), self.probability_override, self.category_override,
            self.source_id, self.lead_id, moment(self.lead_created_at), parent_id, self.lost_reason_id,
            self.lost_note, self.next_step, day(self.next_step_on), moment(self.stage_entered_at),
            moment(self.won_at), moment(self.lost_at), moment(self.last_activity_at), self.version,
            day(self.created_on), day(self.closed_on), self.cycle_days, self.lead_cycle_days,
            self.amount_base_minor, deal.external_source, deal.external_id,
        )  # fmt: skip

    def facts(
        self, spell_ids: list[int], deal_facts: list, stay_facts: list, totals: dict[tuple, list[int]]
    ) -> None:
        """Append the deal's DealFact row and its spells' StayFact rows, and add its DealMonthlyTotals cells;
        the rules of derived_rebuild(), for the deal as it stands after its history."""
        writer, deal = self.writer, self.deal
        day, stages = writer._day, writer.stages
        deal_id, pipeline_id, status = deal.id, deal.pipeline_id, self.status
        owner_id, team_id, source_id = self.owner_id, self.team_id, self.source_id
        # The open stage of highest (order, id) the deal entered; its current stage if it has no spell.
        furthest: _StageInfo | None = None
        for spell in self.spells:
            stage = stages[spell[0]]
            if furthest is None or (stage.order, stage.pk) > (furthest.order, furthest.pk):
                furthest = stage
        furthest = furthest or self.stage
        pushes, last_pushed_at = 0, None
        events = self.events
        for index in range(self.first_event, self.last_event):
            event = events[index]
            # A push moves the expected close date later (ISO dates compare as text).
            if event[1] == _CLOSE_DATE_CHANGED and event[3] and event[4] and event[4] > event[3]:
                pushes += 1
                if last_pushed_at is None or event[12] > last_pushed_at:
                    last_pushed_at = event[12]
        lead = deal.lead
        lead_created_on, lead_owner_id, lead_team_id, lead_source_id = (
            writer._lead_facts.get(lead.id, (None,) * 4) if lead is not None and lead.id else (None,) * 4  # type: ignore[arg-type]
        )
        deal_facts.append(
            (
                deal_id, pipeline_id, self.stage.pk, owner_id, team_id, source_id, status, day(self.created_on),
                day(self.closed_on), day(self.expected_close_on), self.cycle_days, self.lead_cycle_days,
                self.amount_minor, self.currency, self.amount_base_minor, furthest.pk, day(lead_created_on),
                lead_owner_id, lead_team_id, lead_source_id, pushes, last_pushed_at,
            )
        )  # fmt: skip
        # Stays in the order they were entered (then by id), each knowing how the one before it ended.
        first = self.first_spell
        spells = self.spells
        order = sorted(range(len(spells)), key=lambda index: spells[index][2])
        previous_exit = ""
        for index in order:
            stage_id, _owner, _entered_at, entered_on, _exited_at, exited_on, exit_kind, next_id, _days = (
                spells[index]
            )
            if not previous_exit:
                entry_kind = "created"
            elif previous_exit in _CLOSED_EXITS:
                entry_kind = "reopened"
            else:
                entry_kind = previous_exit
            stay_facts.append(
                (
                    spell_ids[first + index], deal_id, pipeline_id, stage_id, next_id, owner_id, team_id,
                    source_id, status, entry_kind, day(entered_on), day(exited_on),
                    None if exited_on is None else (exited_on - entered_on).days, exit_kind,
                )
            )  # fmt: skip
            previous_exit = exit_kind
        # DealMonthlyTotals: created by the creation month, won / lost by the closing month (current owner),
        # lead_deals / lead_won by the lead's month under the lead's owner and source.
        team_key, source_key = team_id or 0, source_id or 0
        cell = totals.setdefault(
            (self.created_on.replace(day=1), pipeline_id, owner_id, team_key, source_key), [0] * 10
        )
        cell[0] += 1
        is_won = status == _WON
        if status in (_WON, _LOST) and self.closed_on is not None:
            cell = totals.setdefault(
                (self.closed_on.replace(day=1), pipeline_id, owner_id, team_key, source_key), [0] * 10
            )
            if is_won:
                cell[1] += 1
                cell[2] += self.amount_base_minor or 0
                cell[3] += self.cycle_days or 0
                if self.lead_cycle_days is not None:
                    cell[4] += self.lead_cycle_days
                    cell[5] += 1
            else:
                cell[6] += 1
                cell[7] += self.amount_base_minor or 0
        if lead_created_on is not None:
            cell = totals.setdefault(
                (
                    lead_created_on.replace(day=1),
                    pipeline_id,
                    lead_owner_id,
                    lead_team_id or 0,
                    lead_source_id or 0,
                ),
                [0] * 10,
            )
            cell[8] += 1
            cell[9] += int(is_won)


def _valid_title(value: Any) -> str:
    title = str(value or "").strip()
    if not title or len(title) > 200:
        raise ApplicationError("A deal needs a title of at most 200 characters.", field="title")
    return title


def _identity(value):
    return value


def _sqlite_datetime(value: dt.datetime | None) -> str | None:
    """Naive UTC text, as Django's SQLite adapter writes it ('2026-03-02 09:00:00[.ffffff]')."""
    if value is None:
        return None
    if value.tzinfo is _UTC:
        return value.isoformat(" ")[:-6]  # drop "+00:00"
    if value.tzinfo is None:
        value = timezone.make_aware(value)
    return value.astimezone(_UTC).isoformat(" ")[:-6]


def _sqlite_date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()
