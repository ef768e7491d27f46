"""Activities: what counts as activity on a deal, and completing them."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from dealflow.core.errors import ApplicationError
from dealflow.deals import services
from dealflow.deals.models import Deal, DealEvent
from dealflow.deals.tests.factories import DealFactory

AMSTERDAM = dt.timezone(dt.timedelta(hours=1))
START = dt.datetime(2026, 4, 1, 9, 0, tzinfo=AMSTERDAM)


def last_activity(deal) -> dt.datetime:
    return Deal.objects.values_list("last_activity_at", flat=True).get(pk=deal.pk)


@pytest.mark.django_db
def test_scheduling_a_task_is_not_activity_but_doing_it_is(rep):
    with time_machine.travel(START, tick=False):
        deal = DealFactory(owner=rep)
    later = START + dt.timedelta(days=10)
    with time_machine.travel(later, tick=False):
        task = services.activity_create(
            owner=rep, subject="Send contract", deal=deal, due_at=later + dt.timedelta(days=2)
        )
        assert last_activity(deal) == START
        services.activity_complete(activity=task)
    assert last_activity(deal) == later
    with time_machine.travel(later + dt.timedelta(days=1), tick=False):
        services.activity_complete(activity=task)  # idempotent: keeps the first done time
    task.refresh_from_db()
    assert task.done_at == later
    assert last_activity(deal) == later
    assert DealEvent.objects.filter(deal=deal).count() == 1  # activity is not deal history
    assert Deal.objects.get(pk=deal.pk).version == 1


@pytest.mark.django_db
def test_a_note_is_done_when_written_and_a_backdated_one_does_not_turn_the_clock_back(rep):
    with time_machine.travel(START, tick=False):
        deal = DealFactory(owner=rep)
        note = services.activity_create(owner=rep, subject="Met at fair", kind="note", deal=deal)
        assert note.done_at == START
        services.activity_create(
            owner=rep, subject="Old call", kind="call", deal=deal, done_at=START - dt.timedelta(days=30)
        )
    assert last_activity(deal) == START


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "field"), [({"subject": ""}, "subject"), ({"kind": "fax"}, "kind")])
def test_activity_input_is_checked(rep, data, field):
    with pytest.raises(ApplicationError) as error:
        services.activity_create(owner=rep, **{"subject": "Call", **data})
    assert error.value.field == field
    activity = services.activity_create(owner=rep, subject="Call")
    with pytest.raises(ApplicationError) as error:
        services.activity_update(activity=activity, data=data)
    assert error.value.field == field
