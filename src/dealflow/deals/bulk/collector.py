"""Python's cycle collector kept quiet during a load (``collector_calm``), for the bulk writer and the importer."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# The first threshold counts the tracked objects allocated and not freed since the last collection. A bulk
# write of 5,000 deals holds tens of thousands (its rows, states, spells) until it returns; at 50,000 nearly every
# write set off a collection that walked them all, 0.45-0.58 s of a 100,000-deal import's CPU. At 200,000
# they are freed before a collection comes (0.1 s in all; peak RSS unchanged, docs/benchmarks.md "branch imp14f").
CALM_THRESHOLDS = (200_000, 20, 100)
_lock = threading.Lock()
_depth = 0
_thresholds: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def collector_calm() -> Iterator[None]:
    """Keep the cycle collector from rescanning what was alive before a load, and from running every 700
    allocations: a load allocates millions of short-lived objects (cells, rows, steps, events), and each
    full collection walked Django's own objects again, 14 % of a 5 MB import's CPU time
    (docs/benchmarks.md, "Import"). Freezing moves the objects alive now out of the collector's sight; the
    load's own cycles are still collected, less often. Nested and concurrent loads share one calm."""
    global _depth, _thresholds
    with _lock:
        if _depth == 0:
            _thresholds = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(*CALM_THRESHOLDS)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.set_threshold(*_thresholds)
                gc.unfreeze()
