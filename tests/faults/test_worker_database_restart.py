"""Availability: `dealflow worker` survives a PostgreSQL restart and loses no job (issue #13).

On a private cluster (tests/faults/conftest.py: initdb in a temporary folder, its own port; the shared
server is never touched) the worker runs a queue of jobs; the database is restarted under it; the worker
must stay up, reconnect with backoff, put back the job it was running, and finish every job, including
jobs enqueued after the restart.
"""

from __future__ import annotations

import subprocess
import sys
import time

import psycopg
import pytest
from django.conf import settings

from tests.faults.conftest import ROOT, dealflow_env, run_dealflow

pytestmark = [pytest.mark.slow]

ENQUEUE = """
from dealflow.people.tasks import survey_runs_open_due
for _ in range({count}):
    survey_runs_open_due.enqueue()
"""


def _statuses(url: str) -> dict[str, int]:
    with psycopg.connect(url.replace("postgres://", "postgresql://"), connect_timeout=5) as connection:
        rows = connection.execute(
            "SELECT status, count(*) FROM django_tasks_database_dbtaskresult GROUP BY status"
        ).fetchall()
    return dict(rows)


def _wait_for(condition, *, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except psycopg.OperationalError:
            last = None
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what} (last: {last})")


@pytest.mark.skipif(not settings.IS_POSTGRES, reason="runs once, in the PostgreSQL pass of the suite")
def test_the_worker_reconnects_after_a_database_restart_and_loses_no_job(private_postgres, tmp_path):
    environment = dealflow_env(private_postgres.url, tmp_path)
    environment.pop("DEALFLOW_TASKS_IMMEDIATE")  # the real queue: django_tasks_db's table
    run_dealflow(environment, "migrate", "--noinput", "-v0")
    run_dealflow(environment, "shell", "-c", ENQUEUE.format(count=300))
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "worker", "--no-scheduler", "--interval", "0.2"],
        env=environment,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(
            lambda: _statuses(private_postgres.url).get("SUCCESSFUL", 0) >= 20, seconds=120, what="20 jobs"
        )
        started = time.monotonic()
        private_postgres.restart()  # pg_ctl -m fast: every connection is cut
        restarted_in = time.monotonic() - started
        assert worker.poll() is None, "the worker exited when the database restarted"
        run_dealflow(environment, "shell", "-c", ENQUEUE.format(count=20))  # work arriving afterwards
        final = _wait_for(
            lambda: (lambda counts: counts if counts.get("SUCCESSFUL", 0) == 320 else None)(
                _statuses(private_postgres.url)
            ),
            seconds=240,
            what="all 320 jobs to succeed",
        )
        assert worker.poll() is None
        assert final == {"SUCCESSFUL": 320}  # none failed, none stuck running or waiting: 0 lost
        log.flush()
        output = (tmp_path / "worker.log").read_text()
        assert "The database is unavailable" in output and "trying again in" in output
        print(f"\nDatabase restart took {restarted_in:.1f} s; jobs: {final}; worker stayed up.")
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
