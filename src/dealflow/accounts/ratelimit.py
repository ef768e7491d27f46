"""Fixed-window rate limits counted in the database, so several stateless app servers share them.

One atomic upsert per request (``INSERT .. ON CONFLICT DO UPDATE .. RETURNING``, on SQLite 3.35+ and
PostgreSQL alike); old windows are pruned now and then.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

from django.db import connection

from dealflow.accounts.models import RateLimitCounter


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    count: int
    limit: int
    retry_after: int  # seconds until the window resets


def rate_limit_hit(
    *, key: str, limit: int, window_seconds: int = 60, now: float | None = None, count: int = 1
) -> RateLimitResult:
    """Count ``count`` requests for ``key``; allowed while the window's count stays within ``limit``."""
    moment = time.time() if now is None else now
    window_start = int(moment // window_seconds) * window_seconds
    table = RateLimitCounter._meta.db_table
    # A counter increment lost in a crash is harmless, so on PostgreSQL the upsert's own transaction need not
    # wait for the WAL flush (set_config(..., true) lasts for that one statement's transaction); without it
    # every API request paid a disk sync for its counter. Same single round trip either way.
    source = "SELECT %s, %s, %s"
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        source += " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS asynchronous"
    source += " WHERE true"  # an upsert from a SELECT needs a WHERE (SQLite's parser; harmless on PostgreSQL)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key, window_start, count) {source} "  # table name and SQL are ours
            f"ON CONFLICT (key, window_start) DO UPDATE SET count = {table}.count + excluded.count "
            "RETURNING count",
            [key[:120], window_start, count],
        )
        total = cursor.fetchone()[0]
    if random.random() < 0.01:  # prune old windows without a separate job
        RateLimitCounter.objects.filter(window_start__lt=window_start - 3600).delete()
    retry_after = max(1, int(window_start + window_seconds - moment))
    return RateLimitResult(allowed=total <= limit, count=total, limit=limit, retry_after=retry_after)


@dataclass
class _Local:
    shared: int = 0  # the window's count across all servers when this process last wrote
    pending: int = 0  # requests this process has let through since, not yet written
    written_at: float = 0.0


_local: dict[tuple[str, int], _Local] = {}
_local_lock = threading.Lock()
BATCH = 10  # requests a process may count locally before writing them
BATCH_SECONDS = 1.0  # ... or seconds
NEAR_LIMIT = 0.8  # past this share of the limit every request is written and checked


def rate_limit_hit_batched(
    *, key: str, limit: int, window_seconds: int = 60, now: float | None = None
) -> RateLimitResult:
    """``rate_limit_hit`` with the writes batched per process: far from the limit a process counts up to
    BATCH requests (or BATCH_SECONDS) locally and adds them in one upsert; from NEAR_LIMIT of the limit on
    (as this process last saw the shared count) every request is written and checked, as before.

    One hot counter row written by every request of a busy token cost the deal-list API a fifth of its
    throughput. What it gives up: until a process writes, the others do not see its requests, so a window
    can let through at most BATCH requests per app-server process more than the limit (a crashed process
    loses at most BATCH uncounted requests). Refusals are exact: a request is refused only on the shared
    count.
    """
    moment = time.time() if now is None else now
    window_start = int(moment // window_seconds) * window_seconds
    with _local_lock:
        if len(_local) > 10_000:  # forget finished windows now and then
            for stale in [entry for entry in _local if entry[1] < window_start]:
                del _local[stale]
        state = _local.setdefault((key, window_start), _Local(written_at=moment))
        state.pending += 1
        estimate = state.shared + state.pending
        if (
            estimate < NEAR_LIMIT * limit
            and state.pending < BATCH
            and moment - state.written_at < BATCH_SECONDS
        ):
            retry_after = max(1, int(window_start + window_seconds - moment))
            return RateLimitResult(allowed=True, count=estimate, limit=limit, retry_after=retry_after)
        pending, state.pending, state.written_at = state.pending, 0, moment
    result = rate_limit_hit(key=key, limit=limit, window_seconds=window_seconds, now=moment, count=pending)
    with _local_lock:
        state.shared = max(state.shared, result.count)
    return result
