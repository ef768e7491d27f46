"""The event log is append-only: the database itself refuses UPDATE and DELETE, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from dealflow.deals.models import DealEvent
from dealflow.deals.tests.factories import DealFactory


@pytest.fixture
def event(rep) -> DealEvent:
    return DealEvent.objects.get(deal=DealFactory(owner=rep))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE deals_dealevent SET to_value = 'Won' WHERE id = %s",
        "UPDATE deals_dealevent SET occurred_at = recorded_at WHERE id = %s",
        "DELETE FROM deals_dealevent WHERE id = %s",
    ],
)
def test_raw_sql_cannot_rewrite_history(event, statement):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [event.pk])
    assert DealEvent.objects.get(pk=event.pk).to_value == "Qualification"


@pytest.mark.django_db
def test_the_orm_cannot_rewrite_history_either(event):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        DealEvent.objects.filter(pk=event.pk).update(note="edited")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        DealEvent.objects.filter(pk=event.pk).delete()
    event.note = "edited"
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        event.save()
    assert DealEvent.objects.get(pk=event.pk).note == ""


@pytest.mark.django_db
@pytest.mark.postgres
def test_postgresql_refuses_truncate_too(event):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # else pending FK checks block TRUNCATE first
        cursor.execute("TRUNCATE deals_dealevent CASCADE")
    assert DealEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db
def test_the_guard_is_a_trigger_of_the_engine_in_use():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'deals_dealevent'::regclass AND NOT tgisinternal"
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'deals_dealevent'"
            )
        names = {row[0] for row in cursor.fetchall()}
    assert names >= (
        {"deals_dealevent_append_only"}
        if connection.vendor == "postgresql"
        else {
            "deals_dealevent_no_update",
            "deals_dealevent_no_delete",
        }
    )
