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

Modules: ``steps`` (what callers hand in), ``replay`` (one deal's history through ``deals.lifecycle``,
as rows), ``facts`` (derived analytics rows, in memory), ``tables`` (columns, COPY / executemany),
``writer`` (BulkWriter: reference data, ids, transactions, deferred indexes).
"""

from dealflow.deals.bulk.collector import collector_calm
from dealflow.deals.bulk.steps import (
    BulkActivity,
    BulkCounts,
    BulkDeal,
    BulkLead,
    LogActivity,
    Lost,
    Move,
    Reopen,
    Step,
    Update,
    Won,
)
from dealflow.deals.bulk.writer import SQLITE_BULK_CACHE_KIB, SQLITE_BULK_PRAGMAS, BulkWriter
from dealflow.deals.lifecycle import POST_SALE_FOLLOW_UP_NOTES

__all__ = [
    "POST_SALE_FOLLOW_UP_NOTES",
    "SQLITE_BULK_CACHE_KIB",
    "SQLITE_BULK_PRAGMAS",
    "BulkActivity",
    "BulkCounts",
    "BulkDeal",
    "BulkLead",
    "BulkWriter",
    "LogActivity",
    "Lost",
    "Move",
    "Reopen",
    "Step",
    "Update",
    "Won",
    "collector_calm",
]
