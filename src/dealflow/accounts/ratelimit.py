"""Fixed-window rate limits counted in the database, so several stateless app servers share them.

One atomic upsert per request (``INSERT .. ON CONFLICT DO UPDATE .. RETURNING``, on SQLite 3.35+ and
PostgreSQL alike); old windows are pruned now and then.
"""

from __future__ import annotations

import random
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
    *, key: str, limit: int, window_seconds: int = 60, now: float | None = None
) -> RateLimitResult:
    """Count one request for ``key``; allowed while the window's count stays within ``limit``."""
    moment = time.time() if now is None else now
    window_start = int(moment // window_seconds) * window_seconds
    table = RateLimitCounter._meta.db_table
    # A counter increment lost in a crash is harmless, so on PostgreSQL the upsert's own transaction need not
    # wait for the WAL flush (set_config(..., true) lasts for that one statement's transaction); without it
    # every API request paid a disk sync for its counter. Same single round trip either way.
    source = "SELECT %s, %s, 1"
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        source += " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS asynchronous"
    source += " WHERE true"  # an upsert from a SELECT needs a WHERE (SQLite's parser; harmless on PostgreSQL)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key, window_start, count) {source} "  # table name and SQL are ours
            f"ON CONFLICT (key, window_start) DO UPDATE SET count = {table}.count + 1 RETURNING count",
            [key[:120], window_start],
        )
        count = cursor.fetchone()[0]
    if random.random() < 0.01:  # prune old windows without a separate job
        RateLimitCounter.objects.filter(window_start__lt=window_start - 3600).delete()
    retry_after = max(1, int(window_start + window_seconds - moment))
    return RateLimitResult(allowed=count <= limit, count=count, limit=limit, retry_after=retry_after)
