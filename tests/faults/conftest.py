"""A private PostgreSQL cluster and a real gunicorn for fault tests (kill a worker, restart the database).

The cluster is our own (initdb in a temporary folder, its own port), so restarting it never disturbs the
PostgreSQL the rest of the suite uses. It needs the PostgreSQL server binaries and root (to run them as
the `postgres` user); elsewhere the tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def as_postgres(*command: str, check: bool = True, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *command],
        check=check,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class PrivatePostgres:
    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/dealflow"

    def start(self) -> None:
        as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self.data_dir / "log.txt"),
            "-w",
            "-o",
            f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=on",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        self.stop("fast")
        self.start()


@pytest.fixture(scope="module")
def private_postgres():
    if not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None or os.geteuid() != 0:
        pytest.skip("fault tests need PostgreSQL 15 server binaries and root to run them as postgres")
    # pytest's temporary folders are private to root; the cluster needs a folder postgres can reach.
    base = Path(tempfile.mkdtemp(prefix="dealflow-pg-"))
    shutil.chown(base, "postgres", "postgres")
    data_dir = base / "data"
    as_postgres(str(PG_BIN / "initdb"), "-D", str(data_dir), "-A", "trust", "-U", "postgres", "--no-sync")
    server = PrivatePostgres(data_dir=data_dir, port=free_port())
    server.start()
    as_postgres(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(server.port), "dealflow")
    yield server
    server.stop("immediate")
    shutil.rmtree(base, ignore_errors=True)


def dealflow_env(database_url: str, var_dir: Path) -> dict[str, str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("DEALFLOW_", "DJANGO_"))
    }
    environment.update(
        {
            "DATABASE_URL": database_url,
            "DEALFLOW_VAR_DIR": str(var_dir),
            "SECRET_KEY": "fault-test-key-0123456789abcdef0123456789abcdef0123456789",
            "DEALFLOW_API_RATE_LIMIT": "0",
            "DEALFLOW_AXES_DISABLED": "1",
            "DEALFLOW_TASKS_IMMEDIATE": "1",
            "CONN_MAX_AGE": "60",
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}",
        }
    )
    return environment


def run_dealflow(environment: dict[str, str], *arguments: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *arguments],
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    if result.returncode != 0:
        raise AssertionError(f"dealflow {' '.join(arguments)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


@dataclass
class Gunicorn:
    process: subprocess.Popen
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def kill_a_worker(self) -> int:
        pid = self.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid


def start_gunicorn(environment: dict[str, str], workers: int = 2) -> Gunicorn:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "30",
            "--graceful-timeout",
            "5",
        ],
        env=environment,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        raise AssertionError("gunicorn did not start")
    return Gunicorn(process=process, port=port)
