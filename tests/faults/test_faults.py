"""Faults: a gunicorn worker killed mid-write and PostgreSQL restarted under load lose no acknowledged write,
leave no half-written deal or event, and the app answers again without a restart."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import psycopg
import pytest
from django.conf import settings

from tests.faults.conftest import dealflow_env, run_dealflow, start_gunicorn

pytestmark = [pytest.mark.slow]

CREATE_USER = """
from dealflow.accounts.services import token_create, user_create
user = user_create(username="loadbot", password=None, is_superuser=True)
token, secret = token_create(user=user, name="faults")
print(secret)
"""


def call(base_url: str, secret: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        base_url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, {}
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return 0, {}


@pytest.mark.skipif(not settings.IS_POSTGRES, reason="runs once, in the PostgreSQL pass of the suite")
def test_killed_worker_and_restarted_database_lose_no_acknowledged_write(private_postgres, tmp_path):
    environment = dealflow_env(private_postgres.url, tmp_path)
    run_dealflow(environment, "migrate", "--noinput", "-v0")
    secret = run_dealflow(environment, "shell", "-c", CREATE_USER).strip().splitlines()[-1]
    server = start_gunicorn(environment, workers=2)
    acknowledged_created: set[int] = set()
    acknowledged_won: set[int] = set()
    failures: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(number: int) -> None:
        sequence = 0
        while not stop.is_set():
            sequence += 1
            status, deal = call(
                server.base_url,
                secret,
                "POST",
                "/api/v1/deals",
                {"title": f"fault {number}-{sequence}", "amount": "100.00"},
            )
            if status != 201:
                with lock:
                    failures.append(status)
                time.sleep(0.05)
                continue
            with lock:
                acknowledged_created.add(deal["id"])
            if sequence % 3 == 0:
                status, won = call(
                    server.base_url,
                    secret,
                    "POST",
                    f"/api/v1/deals/{deal['id']}/win",
                    {"version": deal["version"]},
                )
                if status == 200:
                    with lock:
                        acknowledged_won.add(won["id"])

    threads = [threading.Thread(target=writer, args=(number,), daemon=True) for number in range(4)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(3)
        killed = server.kill_a_worker()
        time.sleep(3)
        private_postgres.restart()
        time.sleep(4)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        assert killed not in server.worker_pids()
        # The app answers again without a restart: fresh writes succeed on every worker.
        statuses = [
            call(server.base_url, secret, "POST", "/api/v1/deals", {"title": f"after {n}", "amount": "1"})[0]
            for n in range(12)
        ]
        assert statuses.count(201) == 12, statuses
    finally:
        stop.set()
        server.process.terminate()
        server.process.wait(timeout=30)

    print(
        f"acknowledged {len(acknowledged_created)} creates, {len(acknowledged_won)} wins; {len(failures)} failed"
    )
    assert len(acknowledged_created) > 20, "the load did not get going"
    assert failures, "the faults did not bite: no request failed while the database was down"
    with psycopg.connect(private_postgres.url.replace("postgres://", "postgresql://")) as connection:
        rows = connection.execute("SELECT id, status FROM deals_deal WHERE title LIKE 'fault %%'").fetchall()
        status_by_id = dict(rows)
        # Every acknowledged write is there.
        assert acknowledged_created <= set(status_by_id)
        assert all(status_by_id[deal_id] == "won" for deal_id in acknowledged_won)
        # Nothing half-written: every deal has its creation event and a spell; every won deal its won event.
        half_written = connection.execute(
            """SELECT d.id FROM deals_deal d
               WHERE NOT EXISTS (SELECT 1 FROM deals_dealevent e WHERE e.deal_id = d.id AND e.kind = 'created')
                  OR NOT EXISTS (SELECT 1 FROM deals_stagespell s WHERE s.deal_id = d.id)
                  OR (d.status = 'won') <> EXISTS (
                        SELECT 1 FROM deals_dealevent e WHERE e.deal_id = d.id AND e.kind = 'won')"""
        ).fetchall()
        assert half_written == []
        orphans = connection.execute(
            "SELECT count(*) FROM deals_dealevent e LEFT JOIN deals_deal d ON d.id = e.deal_id WHERE d.id IS NULL"
        ).fetchone()[0]
        assert orphans == 0
