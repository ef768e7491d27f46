"""The scheduler enqueues a due periodic job exactly once, however many workers ask."""

from __future__ import annotations

import datetime as dt

import pytest
from django_tasks import task

from dealflow.core import schedule
from dealflow.core.models import PeriodicRun

RUNS: list[str] = []
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@task()
def count_a_run() -> None:
    RUNS.append("ran")


@pytest.fixture
def hourly_job(monkeypatch):
    RUNS.clear()
    jobs = {"count": schedule.PeriodicJob("count", f"{__name__}.count_a_run", dt.timedelta(hours=1))}
    monkeypatch.setattr(schedule, "PERIODIC_JOBS", jobs)
    return jobs["count"]


@pytest.mark.django_db
def test_a_due_job_is_enqueued_once_across_two_calls(hourly_job):
    assert schedule.periodic_enqueue_due(now=NOW) == ["count"]
    assert schedule.periodic_enqueue_due(now=NOW) == []
    assert schedule.periodic_enqueue_due(now=NOW + dt.timedelta(minutes=59)) == []
    assert RUNS == ["ran"]  # the test settings run tasks immediately
    assert PeriodicRun.objects.get(name="count").last_run_at == NOW


@pytest.mark.django_db
def test_the_job_falls_due_again_after_its_interval(hourly_job):
    schedule.periodic_enqueue_due(now=NOW)
    assert schedule.periodic_enqueue_due(now=NOW + dt.timedelta(hours=1)) == ["count"]
    assert RUNS == ["ran", "ran"]
    assert [job.name for job in schedule.periodic_due(now=NOW + dt.timedelta(hours=1, minutes=30))] == []


@pytest.mark.django_db
def test_a_worker_that_read_the_run_before_another_claimed_it_does_not_run_it_again(hourly_job, monkeypatch):
    stale = PeriodicRun.objects.create(name="count", last_run_at=None)
    schedule.periodic_enqueue_due(now=NOW)  # worker A claims the run
    # Worker B read the row before A's update: its conditional UPDATE matches nothing.
    monkeypatch.setattr(PeriodicRun.objects, "get_or_create", lambda **kwargs: (stale, False))
    monkeypatch.setattr(schedule, "periodic_due", lambda now: [hourly_job])
    assert schedule.periodic_enqueue_due(now=NOW + dt.timedelta(seconds=1)) == []
    assert RUNS == ["ran"]
