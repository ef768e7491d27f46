"""`dealflow demo`: build the demo organisation, then its deals in chunks through the bulk writer."""

from __future__ import annotations

import datetime as dt
import importlib
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from dealflow.accounts.models import User
from dealflow.core import clock
from dealflow.core.errors import ApplicationError
from dealflow.deals.bulk import BulkCounts, BulkWriter
from dealflow.deals.models import Deal
from dealflow.demo.history import HistoryGenerator
from dealflow.demo.world import world_build
from dealflow.directory.services import search_rebuild

CHUNK_SIZE = 20_000
DEFER_INDEXES_FROM = 50_000  # deals
# Other apps' demo data, seeded after the pipeline data when the module exists.
OPTIONAL_STEPS = [
    "dealflow.demo.people",
    "dealflow.demo.forecasting",
    "dealflow.demo.reviews",
    "dealflow.demo.contents",
    "dealflow.demo.commissions",
]


@dataclass
class DemoSummary:
    counts: BulkCounts
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase, in order
    optional_steps: list[str] = field(default_factory=list)


def demo_generate(
    *,
    deals: int,
    seed: int = 42,
    months: int = 24,
    today: dt.date | None = None,
    stdout: Any = None,
    progress: bool = True,
    chunk_size: int = CHUNK_SIZE,
    optional_steps: bool = True,
) -> DemoSummary:
    """Generate ``deals`` deals with ``months`` of history up to ``today``; the same seed gives the same data."""
    if deals < 0 or months < 1:
        raise ApplicationError("Give a number of deals (0 or more) and of months (1 or more).", field="deals")
    started = time.perf_counter()
    timings: dict[str, float] = {}
    today = today or clock.today()
    world = world_build(seed=seed, today=today, months=months, deal_count=deals)
    timings["people, teams, pipelines, rates, contacts"] = time.perf_counter() - started
    chunks = max(1, -(-deals // chunk_size))

    def draw(index: int):
        # A generator per chunk, seeded from (seed, chunk): chunks stay independent and repeatable.
        history = HistoryGenerator(world, random.Random(seed * 1_000_003 + index))
        count = min(chunk_size, deals - index * chunk_size)
        return count, history.chunk(count, index / chunks, (index + 1) / chunks)

    # Draw chunk n+1 in a thread while chunk n is written: SQLite and PostgreSQL do their part of the
    # insert without holding the GIL, so the two overlap on a second core.
    phase = time.perf_counter()
    # Into an empty database, build the secondary indexes once at the end instead of row by row.
    # Its rows are valid by construction, so on PostgreSQL the foreign keys are checked once at the end too.
    empty_and_big = deals >= DEFER_INDEXES_FROM and not Deal.objects.exists()
    writer = BulkWriter(defer_indexes=empty_and_big, defer_foreign_keys=empty_and_big)
    with (
        ThreadPoolExecutor(max_workers=1) as pool,
        tqdm(total=deals, unit="deal", file=sys.stderr, disable=not progress, desc="Demo deals") as bar,
    ):
        pending = pool.submit(draw, 0)
        for index in range(chunks):
            count, (leads, chunk_deals, lead_activities) = pending.result()
            if index + 1 < chunks:
                pending = pool.submit(draw, index + 1)
            writer.write(leads=leads, deals=chunk_deals, activities=lead_activities)
            bar.update(count)
    timings["deals, events, spells, activities, leads"] = time.perf_counter() - phase
    writer.close(timings=timings)
    phase = time.perf_counter()
    search_rebuild(indexes_after=empty_and_big)  # the bulk writer bypasses the services that keep the index
    timings["search index"] = time.perf_counter() - phase
    steps = (
        optional_steps_run(seed=seed, today=today, stdout=stdout, timings=timings) if optional_steps else []
    )
    return DemoSummary(writer.counts, time.perf_counter() - started, timings, steps)


def optional_steps_run(
    *, seed: int, today: dt.date, stdout: Any, timings: dict[str, float] | None = None
) -> list[str]:
    """Call ``seed(seed=, today=, stdout=)`` of every optional demo module that exists; return their names."""
    ran = []
    for name in OPTIONAL_STEPS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:  # the module exists but something it imports is missing: a real bug
                raise
            continue
        phase = time.perf_counter()
        module.seed(seed=seed, today=today, stdout=stdout)
        ran.append(name)
        if timings is not None:
            timings[name] = time.perf_counter() - phase
    return ran


def demo_is_loaded() -> bool:
    """Whether the database already holds people or deals (then `dealflow run` loads no demo data)."""
    return User.objects.exists() or Deal.objects.exists()


def demo_load_if_empty(*, deals: int, seed: int = 42, stdout: Any = None) -> DemoSummary | None:
    """Load the demo the first time only: never into a database that has users or deals already."""
    if demo_is_loaded():
        return None
    return demo_generate(deals=deals, seed=seed, stdout=stdout)
