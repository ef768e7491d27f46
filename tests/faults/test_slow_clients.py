"""Availability: slow clients do not starve `dealflow serve` (issue #13).

The test starts the server exactly as `dealflow serve` does (cli/processes.gunicorn_command, 2 workers),
opens slow connections that send their request headers one byte a second and never finish, and then
times /healthz. With gunicorn's sync workers two such clients held both workers and /healthz waited for
them (19 s in the report); with threaded workers it still answers at once.
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import threading
import time
import urllib.request

import pytest
from django.conf import settings

from dealflow.cli.processes import gunicorn_command
from tests.faults.conftest import ROOT, dealflow_env, free_port, run_dealflow

pytestmark = [pytest.mark.slow]

SLOW_CLIENTS = 6  # three times the number of workers


def _healthz(base_url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(base_url + "/healthz", timeout=30) as response:
        assert response.status == 200
    return time.perf_counter() - started


def _hold_slowly(port: int, stop: threading.Event) -> None:
    """Send a request's first line and then one header byte a second, never the blank line."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        while not stop.is_set():
            try:
                sock.sendall(b"X")
            except OSError:
                return
            stop.wait(1.0)


@pytest.mark.skipif(
    settings.IS_POSTGRES,
    reason="its own SQLite file whatever the suite's engine: runs once, in the SQLite pass",
)
def test_slow_clients_do_not_hold_the_server(tmp_path):
    environment = dealflow_env(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path)
    run_dealflow(environment, "migrate", "--noinput", "-v0")
    port = free_port()
    server = subprocess.Popen(
        gunicorn_command(bind=f"127.0.0.1:{port}", workers=2),
        env=environment,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    holders: list[threading.Thread] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _healthz(base_url)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        before = [_healthz(base_url) for _ in range(5)]
        for _ in range(SLOW_CLIENTS):
            holder = threading.Thread(target=_hold_slowly, args=(port, stop), daemon=True)
            holder.start()
            holders.append(holder)
        time.sleep(3)  # the slow clients are connected and trickling
        during = [_healthz(base_url) for _ in range(5)]
        print(
            f"\n/healthz median: {statistics.median(before) * 1000:.0f} ms alone, "
            f"{statistics.median(during) * 1000:.0f} ms (max {max(during) * 1000:.0f} ms) "
            f"with {SLOW_CLIENTS} slow clients on 2 workers"
        )
        # The sync workers held every request until the slow clients gave up (19 s each). With threads the
        # typical answer stays fast; one answer may wait for a core on a loaded 2-core machine (4.2 s seen
        # at load 14), which is why the bound on the slowest is loose and the median's is tight.
        assert statistics.median(during) < 1.0
        assert max(during) < 10.0
    finally:
        stop.set()
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
