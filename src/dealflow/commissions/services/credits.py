"""Commission credits kept at write time: one CreditEntry per person and WON event.

The rule is the one a period always used: the WON events of live deals (``history.won_events``, amounts in
the base currency at the won day's rate through the RateBook) credited by ``History.shares_at`` (the split
valid at the win, else the owner then). ``credits_sync`` recomputes the rows of some deals with it (delete
and insert), ``credits_rebuild`` recomputes every row, a range of deals at a time. Writers keep the rows in
step: the deals app calls back through ``deals.services.listeners`` (events, deal columns, trash, bulk
loads, exchange rates; registered in CommissionsConfig.ready), splits call ``credits_sync`` themselves.
docs/decisions/0003-commission-credits-kept.md has the design; a test runs random histories and compares
the kept rows with a rebuild.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import connection
from django.db.models import CharField, Func, Max, Min, Q

from dealflow.commissions import calculations as calc
from dealflow.commissions.models import CREDIT_ENTRY_COLUMNS, CreditEntry
from dealflow.commissions.selectors.common import CHUNK, day_start
from dealflow.commissions.selectors.history import RateBook, history_read, won_events
from dealflow.deals.models import Deal, DealEvent, EventKind, ExchangeRate

# Deals per step of a rebuild or a big sync: the WON events, owner changes and splits of one step are read
# with one query each and their rows inserted together (a step's rows: about 25,000 credits). Until
# 2026-12-07 SQLite read a step's WON events through the (kind, occurred_at) index, every WON event of the
# database each time, so a load of N deals cost N / STEP such scans and the step went from 20,000 to 100,000
# deals; ``_won`` now reads them along the deal index, a step costing what its own deals cost
# (docs/benchmarks.md, "Import speed, 2026-12-07 morning" and "afternoon").
STEP = 100_000
COLUMNS = CREDIT_ENTRY_COLUMNS
# More rows than this go by COPY on PostgreSQL (a rebuild, a bulk load); fewer by one INSERT (a win).
COPY_FROM = 50
# The deal columns and event kinds a credit is made of (owner changes write owner_id with their event).
CREDIT_EVENT_KINDS = (EventKind.WON.value, EventKind.OWNER_CHANGED.value)
CREDIT_DEAL_FIELDS = ("title", "pipeline_id", "parent_id", "deleted_at")


class _NotIndexed(Func):
    """SQLite's ``+column``: the same value, which the planner cannot look up in the column's index."""

    template = "+%(expressions)s"
    output_field = CharField()


def _won(deals: Q) -> Any:
    """The WON events of the live deals ``deals`` picks, in deal order (the rows go in the same order
    whatever plan the database picks).

    SQLite reads them along the (deal, occurred_at) index, not the (kind, occurred_at) one: the sampled
    statistics of a bulk load (``analysis_limit``) put about 1,000 events under each kind, so the planner
    took the kind index and read every WON event of the database for each step of deals, and a step cost
    more the bigger the database (2.1 of the 2.6 s of credits of a 378,080-deal import; 0.08 s instead of
    0.23-0.28 s a step of 100,000 deals; docs/benchmarks.md, "Import speed, 2026-12-07 afternoon").
    """
    events = DealEvent.objects.filter(deals, deal__deleted_at__isnull=True)
    if connection.vendor == "sqlite":
        events = events.alias(kind_seen=_NotIndexed("kind")).filter(kind_seen=EventKind.WON)
    else:
        events = events.filter(kind=EventKind.WON)
    return events.order_by("deal_id", "occurred_at", "id")


def credit_rows(deals: Q, rates: RateBook) -> list[tuple[Any, ...]]:
    """The credit rows (``COLUMNS``) of the WON events of the live deals ``deals`` picks: THE crediting rule."""
    events = won_events(_won(deals), rates)
    if not events:
        return []
    history = history_read(deals, with_products=False)
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    share_minor = calc.share_minor
    for event in events:
        for user_id, share in history.shares_at(event):
            append(
                (
                    event.event_id,
                    event.deal_id,
                    user_id,
                    event.at,
                    event.on,
                    event.title,
                    share_minor(event.deal_minor, share),
                    share,
                    event.deal_minor,
                    event.pipeline_id,
                    event.deal_type,
                )
            )
    return rows


def _insert(rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    table = CreditEntry._meta.db_table
    column_sql = ", ".join(f'"{column}"' for column in COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(rows) > COPY_FROM:
            with cursor.cursor.copy(f'COPY "{table}" ({column_sql}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
            return
        if connection.vendor == "postgresql":  # one deal's rows: one INSERT
            values = ", ".join([f"({', '.join(['%s'] * len(COLUMNS))})"] * len(rows))
            cursor.execute(
                f'INSERT INTO "{table}" ({column_sql}) VALUES {values}',  # noqa: S608
                [value for row in rows for value in row],
            )
            return
        ops = connection.ops
        adapted = [
            (
                event_id,
                deal_id,
                user_id,
                ops.adapt_datetimefield_value(at),
                ops.adapt_datefield_value(on),
                title,
                credit,
                ops.adapt_decimalfield_value(share, 5, 2),
                deal_minor,
                pipeline_id,
                deal_type,
            )
            for event_id, deal_id, user_id, at, on, title, credit, share, deal_minor, pipeline_id, deal_type in rows
        ]
        placeholders = ", ".join(["%s"] * len(COLUMNS))
        cursor.executemany(f'INSERT INTO "{table}" ({column_sql}) VALUES ({placeholders})', adapted)  # noqa: S608


def _groups(deal_ids: list[int]) -> Iterator[Q]:
    """Conditions picking ``deal_ids`` (sorted) a step at a time: a range where the ids run without gaps
    (bulk loads reserve them in blocks), else lists of ``CHUNK``."""
    index = 0
    while index < len(deal_ids):
        step = deal_ids[index : index + STEP]
        if len(step) == 1:
            yield Q(deal_id=step[0])
            index += 1
            continue
        if step[-1] - step[0] + 1 == len(step):
            yield Q(deal_id__gte=step[0], deal_id__lte=step[-1])
            index += len(step)
            continue
        chunk = deal_ids[index : index + CHUNK]
        yield Q(deal_id__in=chunk)
        index += len(chunk)


def credits_sync(*, deal_ids: Iterable[int], rates: RateBook | None = None) -> None:
    """Recompute the credit rows of ``deal_ids`` from their history (call inside the writer's transaction)."""
    ids = sorted(set(deal_ids))
    rates = rates or RateBook()
    for deals in _groups(ids):
        CreditEntry.objects.filter(deals).delete()
        _insert(credit_rows(deals, rates))


def credits_rebuild() -> int:
    """Recompute every credit row from the history, ``STEP`` deals at a time; returns how many rows."""
    CreditEntry.objects.all().delete()
    bounds = Deal.all_objects.aggregate(first=Min("pk"), last=Max("pk"))
    if bounds["first"] is None:
        return 0
    rates = RateBook()
    count = 0
    for start in range(bounds["first"], bounds["last"] + 1, STEP):
        rows = credit_rows(Q(deal_id__gte=start, deal_id__lt=start + STEP), rates)
        _insert(rows)
        count += len(rows)
    with connection.cursor() as cursor:
        cursor.execute(f'ANALYZE "{CreditEntry._meta.db_table}"')
    return count


def credits_rates_changed(currency: str, valid_from: dt.date) -> None:
    """A rate of ``currency`` from ``valid_from`` was set or removed: the WON events in that currency whose
    conversion may read it are credited again (those from the day on; all of them when no rate of the
    currency is earlier, since days before the first rate use the earliest)."""
    events = DealEvent.objects.filter(kind=EventKind.WON, currency=currency)
    earlier = ExchangeRate.objects.filter(currency=currency, valid_from__lt=valid_from).exists()
    if earlier:
        events = events.filter(occurred_at__gte=day_start(valid_from) - dt.timedelta(days=1))
    credits_sync(deal_ids=events.values_list("deal_id", flat=True).distinct())


def credits_history_changed(deal_ids: list[int]) -> None:
    credits_sync(deal_ids=deal_ids)


def register() -> None:
    """Follow the deals app's writes (CommissionsConfig.ready)."""
    from dealflow.deals.services.listeners import history_listen, rates_listen

    history_listen(callback=credits_history_changed, kinds=CREDIT_EVENT_KINDS, fields=CREDIT_DEAL_FIELDS)
    rates_listen(callback=credits_rates_changed)
