"""What a dispatch batch writes at its end: webhook deliveries (the outbox) and rule runs, each in one
statement per table (COPY on PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import connection

from dealflow.automation.models import RuleRun, WebhookDelivery
from dealflow.deals.bulk.tables import Table, copy_rows


@dataclass(slots=True)
class QueuedDelivery:
    """A delivery queued in a batch, its payload already JSON (one text per event, shared by subscriptions)."""

    subscription_id: int
    key: str
    event_id: uuid.UUID
    event_type: str
    deal_id: int | None
    payload: str
    at: dt.datetime


DELIVERY_COLUMNS = [
    "subscription_id",
    "key",
    "event_id",
    "event_type",
    "deal_id",
    "payload",
    "next_attempt_at",
    "created_at",
]


def deliveries_write(deliveries: list[QueuedDelivery]) -> int:
    """Write queued deliveries (pending, due at once) in the order given, skipping a (subscription, key)
    already taken (a lead converted into a second deal, say); returns how many were written.

    PostgreSQL gets them by COPY: Django's bulk insert sends each column as an array (UNNEST) and psycopg
    escapes every quote of every JSON payload in Python, 6 of the 12 s a benchmark spent writing 7,255
    deliveries (docs/benchmarks.md). The dispatch is the only writer, one at a time (its cursors' locks), so
    the check before the COPY is not raced."""
    taken = set(
        WebhookDelivery.objects.filter(
            subscription_id__in={delivery.subscription_id for delivery in deliveries},
            key__in={delivery.key for delivery in deliveries},
        ).values_list("subscription_id", "key")
    )
    new = []
    for delivery in deliveries:
        if (delivery.subscription_id, delivery.key) not in taken:
            taken.add((delivery.subscription_id, delivery.key))
            new.append(delivery)
    if connection.vendor != "postgresql":
        WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    subscription_id=delivery.subscription_id,
                    key=delivery.key,
                    event_id=delivery.event_id,
                    event_type=delivery.event_type,
                    deal_id=delivery.deal_id,
                    payload=json.loads(delivery.payload),
                    next_attempt_at=delivery.at,
                    created_at=delivery.at,
                )
                for delivery in new
            ],
            batch_size=1000,
        )
        return len(new)
    table = Table.for_model(WebhookDelivery, DELIVERY_COLUMNS, connection)
    with connection.cursor() as cursor:
        copy_rows(
            cursor,
            is_postgres=True,
            table=table,
            rows=(
                (
                    delivery.subscription_id,
                    delivery.key,
                    delivery.event_id,
                    delivery.event_type,
                    delivery.deal_id,
                    delivery.payload,
                    delivery.at,
                    delivery.at,
                )
                for delivery in new
            ),
        )
    return len(new)


RUN_COLUMNS = ["rule_id", "key", "deal_id", "lead_id", "status", "depth", "detail", "created_at"]


def runs_write(runs: list[tuple[Any, ...]]) -> None:
    """Write a batch's RuleRun rows (RUN_COLUMNS): by COPY on PostgreSQL, where building 2,000 model
    instances and Django's UNNEST insert cost more than the runs' actions (docs/benchmarks.md)."""
    if connection.vendor != "postgresql":
        RuleRun.objects.bulk_create(
            [RuleRun(**dict(zip(RUN_COLUMNS, run, strict=True))) for run in runs], batch_size=1000
        )
        return
    table = Table.for_model(RuleRun, RUN_COLUMNS, connection)
    with connection.cursor() as cursor:
        copy_rows(cursor, is_postgres=True, table=table, rows=runs)
