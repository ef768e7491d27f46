"""BulkWriter: replays deal histories through the lifecycle rules, then writes every row in bulk."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import DatabaseError, connections, models, transaction
from django.utils import timezone

from dealflow.accounts.models import Membership, User
from dealflow.core import clock
from dealflow.core.bulkload import indexes_create, secondary_indexes_drop
from dealflow.core.errors import ApplicationError
from dealflow.deals import lifecycle
from dealflow.deals.bulk.collector import collector_calm
from dealflow.deals.bulk.facts import deal_facts_add, groups_add, lead_counts_add
from dealflow.deals.bulk.replay import DealReplay
from dealflow.deals.bulk.steps import BulkActivity, BulkCounts, BulkDeal, BulkLead
from dealflow.deals.bulk.tables import (
    ACTIVITY_COLUMNS,
    DEAL_COLUMNS,
    DEAL_FACT_COLUMNS,
    EVENT_COLUMNS,
    LEAD_COLUMNS,
    SPELL_COLUMNS,
    STAY_FACT_COLUMNS,
    Table,
    copy_rows,
    identity,
    reserve_ids,
    sqlite_date_cached,
    sqlite_datetime_cached,
    totals_add,
)
from dealflow.deals.models import (
    Activity,
    Deal,
    DealEvent,
    DealFact,
    DealMonthlyTotals,
    Lead,
    LeadMonthlyTotals,
    LostReason,
    Pipeline,
    Stage,
    StageKind,
    StageSpell,
    StayFact,
)
from dealflow.deals.rates import rate_table
from dealflow.deals.services.derived_rebuild import derived_rebuild
from dealflow.deals.services.listeners import history_changed

_UTC = dt.UTC
# 192 MB: with 256 MB the import of a 100 MB CSV peaked at 517 MB RSS, over issue #13's 500 MB budget; the
# largest index a load sorts (StayFact's covering index at 378,000 deals) is a few tens of MB.
SQLITE_BULK_CACHE_KIB = 192 * 1024
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
        self._lead_facts: dict[
            int, tuple[Any, ...]
        ] = {}  # lead id -> (created_on, owner_id, team_id, source_id)
        self.connection = connections[using]
        self.is_postgres = self.connection.vendor == "postgresql"
        self.timezone = timezone.get_current_timezone()
        self.counts = BulkCounts()
        # The deals written, for the apps that follow the history (services/listeners.py) when closing.
        self.deal_ids: list[int] = []
        # Seconds the writes spent replaying histories, working out derived rows and inserting rows.
        self.write_seconds: dict[str, float] = {"replay": 0.0, "derived rows": 0.0, "inserts": 0.0}
        self._closed = False
        self.pipelines: dict[int, tuple[str, bool]] = {
            pk: (name, is_active)
            for pk, name, is_active in Pipeline.objects.using(using).values_list("pk", "name", "is_active")
        }
        self.stages = {
            row[0]: lifecycle.StageInfo(*row)
            for row in Stage.objects.using(using).values_list(
                "pk", "pipeline_id", "name", "kind", "order", "is_active"
            )
        }
        self.closing_stage: dict[tuple[int, str], lifecycle.StageInfo] = {}
        for stage in sorted(self.stages.values(), key=lambda info: (not info.is_active, info.order, info.pk)):
            if stage.kind != StageKind.OPEN:
                self.closing_stage.setdefault((stage.pipeline_id, stage.kind), stage)
        self.first_open_stage: dict[int, lifecycle.StageInfo] = {}
        for stage in sorted(self.stages.values(), key=lambda info: (info.order, info.pk)):
            if stage.kind == StageKind.OPEN and stage.is_active:
                self.first_open_stage.setdefault(stage.pipeline_id, stage)
        self.lost_reasons = {
            pk: lifecycle.ReasonInfo(pk, name, is_active)
            for pk, name, is_active in LostReason.objects.using(using).values_list("pk", "name", "is_active")
        }
        self.active_users = set(User.objects.using(using).filter(is_active=True).values_list("pk", flat=True))
        self.team_of: dict[int, int] = {}
        for user_id, team_id in (
            Membership.objects.using(using).order_by("id").values_list("user_id", "team_id")
        ):
            self.team_of.setdefault(user_id, team_id)
        self.rates = rate_table(using=using)
        self._offsets: dict[dt.date, dt.timedelta | None] = {}
        # Each moment's local date, for one write: a step's time is asked for as the spell's entered_on, the
        # previous spell's exited_on and the deal's closed_on (a fresh dict every write bounds it).
        self._local_days: dict[dt.datetime, dt.date] = {}
        self.context = lifecycle.Context(local_date=self.local_date, to_base_minor=self.rates.to_base_minor)
        self.tables = {
            "lead": Table.for_model(Lead, LEAD_COLUMNS, self.connection),
            "deal": Table.for_model(Deal, DEAL_COLUMNS, self.connection),
            "event": Table.for_model(DealEvent, EVENT_COLUMNS, self.connection),
            # With derived rows the spells carry ids reserved up front: their StayFact rows point at them.
            "spell": Table.for_model(
                StageSpell, ["id", *SPELL_COLUMNS] if derived_rows else SPELL_COLUMNS, self.connection
            ),
            "activity": Table.for_model(Activity, ACTIVITY_COLUMNS, self.connection),
        }
        if derived_rows:
            self.tables["deal_fact"] = Table.for_model(DealFact, DEAL_FACT_COLUMNS, self.connection)
            self.tables["stay_fact"] = Table.for_model(StayFact, STAY_FACT_COLUMNS, self.connection)
        # SQLite stores datetimes as naive UTC text and dates as ISO text (what Django's adapters do).
        self.moment: Callable[[dt.datetime | None], Any] = (
            identity if self.is_postgres else sqlite_datetime_cached()
        )
        self.day: Callable[[dt.date | None], Any] = identity if self.is_postgres else sqlite_date_cached()
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

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: Any
    ) -> None:
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

    def close(
        self, *, timings: dict[str, float] | None = None, finishing: Callable[[], Any] | None = None
    ) -> None:
        """Finish a load: build deferred indexes, rebuild the derived analytics tables, refresh statistics.

        ``timings``, when given, receives the seconds each of the three took, and ``finishing``'s. ``finishing``
        runs last, with the load's SQLite settings still on (the importer indexes the new deals for search
        there): put back first, the 2 MB page cache spilled the load's dirty pages and re-read the ones just
        written.
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
            # The rebuild and the commission credits read the tables just loaded; without statistics
            # PostgreSQL planned DealFact's INSERT ... SELECT so badly that it took 27.9 of a 20,000-deal
            # import's 56 s (0.2 s with them; docs/benchmarks.md, branch imp14c), and SQLite read the WON
            # events of every credit group through the (kind, occurred_at) index, all of them each time
            # (docs/benchmarks.md, "Import speed, 2026-12-07 morning").
            self._analyze([table.name for table in self.tables.values()])
            derived_rebuild()
        derived_done = time.perf_counter()
        # Other apps' tables kept from the history (commission credits), once for every deal written, after
        # the indexes are back: set-wise, like the derived rebuild.
        history_changed(deal_ids=self.deal_ids)
        listeners_done = time.perf_counter()
        if self.derived_rows:
            # Only the tables written; a rebuild (above) analyzes the derived ones itself.
            tables = [table.name for table in self.tables.values()]
            self._analyze([*tables, DealMonthlyTotals._meta.db_table, LeadMonthlyTotals._meta.db_table])
        else:
            with self.connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        analyzed = time.perf_counter()
        if finishing is not None:
            finishing()
        self._pragmas_restore()
        if timings is not None:
            timings["indexes built again"] = indexes_done - clock_started
            if not self.derived_rows:
                timings["derived tables (derived_rebuild)"] = derived_done - indexes_done
            timings["tables of other apps (commission credits)"] = listeners_done - derived_done
            timings["planner statistics (ANALYZE)"] = analyzed - listeners_done
            if finishing is not None:
                timings["finishing"] = time.perf_counter() - analyzed

    def _analyze(self, tables: list[str]) -> None:
        """Planner statistics of these tables (one statement on PostgreSQL, one a table on SQLite)."""
        with self.connection.cursor() as cursor:
            if self.is_postgres:
                cursor.execute("ANALYZE " + ", ".join(f'"{name}"' for name in tables))
            else:
                for name in tables:
                    cursor.execute(f'ANALYZE "{name}"')

    def _indexes_drop(self) -> None:
        """Drop the secondary (non-unique) indexes of the tables written; ``close`` builds them again.

        Building an index once over a loaded table sorts its keys; keeping it up to date row by row
        costs a B-tree insert per row and index, which made inserts three times slower at a million deals.
        Only for loads into an idle database (the demo): other readers would find the tables unindexed.
        """
        tables = [table.name for table in self.tables.values()]
        with self.connection.cursor() as cursor:
            self._deferred_indexes += secondary_indexes_drop(
                cursor, is_postgres=self.is_postgres, tables=tables
            )

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
            indexes_create(cursor, is_postgres=self.is_postgres, statements=self._deferred_indexes)

    def users_activated(self, user_ids: Iterable[int]) -> None:
        """Users made active after the writer started (an import's owners, active while it writes)."""
        self.active_users.update(user_ids)

    # -- helpers that mirror the services --

    # -- what the lifecycle reads --

    def local_date(self, moment: dt.datetime) -> dt.date:
        """timezone.localdate(moment), with the zone's offset looked up once per UTC day."""
        day = self._local_days.get(moment)
        if day is None:
            day = self._local_days[moment] = self._local_date(moment)
        return day

    def _local_date(self, moment: dt.datetime) -> dt.date:
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

    def stage(self, stage_id: int | None) -> lifecycle.StageInfo:
        stage = self.stages.get(stage_id) if stage_id is not None else None
        if stage is None:
            raise ApplicationError(f"Stage {stage_id} does not exist.", field="stage")
        return stage

    def owner(self, user_id: int) -> lifecycle.OwnerInfo:
        return lifecycle.OwnerInfo(user_id, self.team_of.get(user_id), user_id in self.active_users)

    def reason(self, reason_id: int | None) -> lifecycle.ReasonInfo | None:
        if reason_id is None:
            return None
        reason = self.lost_reasons.get(reason_id)
        if reason is None:
            raise ApplicationError(f"Lost reason {reason_id} does not exist.", field="reason")
        return reason

    # -- rows --

    def _lead_row(self, lead: BulkLead, now: Any) -> tuple[Any, ...]:
        if not str(lead.title or "").strip():
            raise ApplicationError("A lead needs a title.", field="title")
        moment = self.moment
        created_on, team_id = self.local_date(lead.created_at), self.team_of.get(lead.owner_id)
        if self.derived_rows and lead.id is not None:
            self._lead_facts[lead.id] = (created_on, lead.owner_id, team_id, lead.source_id)
        return (
            lead.id,
            moment(lead.created_at),
            now,
            lead.title.strip()[:200],
            lead.source_id,
            str(lead.status),
            lead.owner_id,
            team_id,
            lead.organization_id,
            lead.person_id,
            lead.has_budget,
            lead.has_authority,
            lead.has_need,
            lead.has_timeline,
            lead.qualification_notes,
            lead.disqualified_reason[:300],
            moment(lead.qualified_at),
            moment(lead.closed_at),
            self.day(created_on),
            lead.external_source,
            lead.external_id,
        )

    def activity_row(
        self, activity: BulkActivity, deal_id: int | None, now: Any
    ) -> tuple[tuple[Any, ...], dt.datetime | None]:
        """The activity's row and the moment it counts as activity on its deal (when done)."""
        subject, done_at = lifecycle.valid_activity(
            kind=activity.kind, subject=activity.subject, at=activity.at, done_at=activity.done_at
        )
        lead_id = activity.lead.id if activity.lead is not None else activity.lead_id
        moment = self.moment
        row = (
            moment(activity.at),
            now,
            str(activity.kind),
            subject,
            activity.notes,
            moment(activity.due_at),
            moment(done_at),
            activity.owner_id,
            deal_id,
            lead_id,
            activity.person_id,
            activity.origin,
            activity.external_source,
            activity.external_id,
        )
        return row, done_at

    def _derived_rows(
        self, cursor: Any, replays: list[DealReplay], spell_ids: list[int]
    ) -> tuple[
        list[tuple[Any, ...]],
        list[tuple[Any, ...]],
        dict[tuple[Any, ...], list[int]],
        dict[tuple[Any, ...], list[int]],
    ]:
        """The DealFact and StayFact rows of the deals replayed, and what they add to DealMonthlyTotals:
        the rules of deals.services.derived_cells (derived_rebuild() in SQL), applied in memory."""
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
        deal_facts: list[tuple[Any, ...]] = []
        stay_facts: list[tuple[Any, ...]] = []
        totals: dict[tuple[Any, ...], list[int]] = {}
        groups: dict[tuple[Any, ...], list[int]] = {}
        for replay in replays:
            deal_facts_add(replay, spell_ids, deal_facts, stay_facts, totals, self._lead_facts, groups)
        return deal_facts, stay_facts, totals, groups

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
        if not self.is_postgres:
            self.moment = sqlite_datetime_cached()  # one write's moments and days at a time
            self.day = sqlite_date_cached()
        self._local_days = {}
        now_value = self.moment(now)  # updated_at of every row and recorded_at of every event
        with collector_calm(), transaction.atomic(using=self.using), self.connection.cursor() as cursor:
            for lead, pk in zip(leads, self._reserve(cursor, Lead, len(leads)), strict=True):
                lead.id = pk
            for deal, pk in zip(deals, self._reserve(cursor, Deal, len(deals)), strict=True):
                deal.id = pk
                self.deal_ids.append(pk)
            lead_rows = [self._lead_row(lead, now_value) for lead in leads]
            events: list[tuple[Any, ...]] = []
            spells: list[tuple[Any, ...]] = []
            activity_rows: list[tuple[Any, ...]] = []
            started = time.perf_counter()
            replays = [DealReplay(self, deal, now_value, events, activity_rows).replay() for deal in deals]
            deal_rows = [replay.rows(spells) for replay in replays]
            for activity in activities:
                activity_rows.append(self.activity_row(activity, None, now_value)[0])
            replayed = time.perf_counter()
            if self.derived_rows:
                spell_ids = self._reserve(cursor, StageSpell, len(spells))
                spells = [(pk, *row) for pk, row in zip(spell_ids, spells, strict=True)]
                derived = self._derived_rows(cursor, replays, spell_ids)
            derived_done = time.perf_counter()
            self._copy(cursor, self.tables["lead"], lead_rows)
            self._copy(cursor, self.tables["deal"], deal_rows)
            self._copy(cursor, self.tables["event"], events)
            self._copy(cursor, self.tables["spell"], spells)
            self._copy(cursor, self.tables["activity"], activity_rows)
            if self.derived_rows:
                deal_facts, stay_facts, totals, groups = derived
                self._copy(cursor, self.tables["deal_fact"], deal_facts)
                self._copy(cursor, self.tables["stay_fact"], stay_facts)
                totals_add(cursor, is_postgres=self.is_postgres, totals=totals)
                groups_add(cursor, is_postgres=self.is_postgres, groups=groups)
                lead_counts_add(
                    cursor,
                    is_postgres=self.is_postgres,
                    leads=[
                        (
                            self.local_date(lead.created_at),
                            lead.owner_id,
                            self.team_of.get(lead.owner_id),
                            lead.source_id,
                        )
                        for lead in leads
                    ],
                )
            seconds = self.write_seconds
            seconds["replay"] += replayed - started
            seconds["derived rows"] += derived_done - replayed
            seconds["inserts"] += time.perf_counter() - derived_done
        counts = BulkCounts(len(lead_rows), len(deal_rows), len(events), len(spells), len(activity_rows))
        self.counts.add(counts)
        return counts

    def _reserve(self, cursor: Any, model: type[models.Model], count: int) -> list[int]:
        return reserve_ids(cursor, is_postgres=self.is_postgres, table=model._meta.db_table, count=count)

    def _copy(self, cursor: Any, table: Table, rows: Iterable[tuple[Any, ...]]) -> None:
        copy_rows(cursor, is_postgres=self.is_postgres, table=table, rows=rows)
