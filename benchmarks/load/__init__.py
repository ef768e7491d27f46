"""Load benchmarks against gunicorn on PostgreSQL (not part of `make test`).

`python -m benchmarks load`        the realistic mix: 32 users for 60 s; throughput, p50/p95/p99, errors
`python -m benchmarks load api`    the deal-list API (token, permission filter, 20 deals) against a bare
                                   Django view returning the same 20 deals, same database, same run

Both build their own PostgreSQL database (DEALFLOW_LOAD_DB, default dealflow_load) with the demo generator.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
LOAD_USERS = ["rep", "rep2", "manager"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(database_url: str, var_dir: str, settings_module: str = "config.settings") -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DEALFLOW_")}
    environment.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": settings_module,
            "DEALFLOW_VAR_DIR": var_dir,
            "SECRET_KEY": "load-test-key-0123456789abcdef0123456789abcdef0123456789",
            "DEALFLOW_API_RATE_LIMIT": "0",
            "DEALFLOW_AXES_DISABLED": "1",
            "DEALFLOW_TASKS_IMMEDIATE": "1",
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}",
        }
    )
    return environment


def _manage(environment: dict[str, str], *arguments: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *arguments],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(arguments)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _prepare_database(deals: int) -> str:
    name = os.environ.get("DEALFLOW_LOAD_DB", "dealflow_load")
    admin = os.environ.get("DEALFLOW_LOAD_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    import psycopg

    with psycopg.connect(admin.replace("postgres://", "postgresql://"), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return admin.rsplit("/", 1)[0] + "/" + name


def _start_gunicorn(environment: dict[str, str], workers: int) -> tuple[subprocess.Popen, str]:
    port = _free_port()
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
            "--access-logfile",
            "-" if os.environ.get("DEALFLOW_LOAD_ACCESS_LOG") else "/dev/null",
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
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")


def _locust(
    host: str, users: int, seconds: int, locustfile: Path, environment: dict[str, str], prefix: str
) -> dict:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(locustfile),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{seconds}s",
            "--host",
            host,
            "--csv",
            prefix,
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        env=environment,
        cwd=ROOT,
        check=False,
        stdout=subprocess.DEVNULL,
    )
    with open(f"{prefix}_stats.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {row["Name"]: row for row in rows}


def _summary(name: str, row: dict) -> str:
    return (
        f"{name:<22} {float(row['Requests/s']):8.1f} req/s  p50 {row['50%']:>5} ms  p95 {row['95%']:>5} ms  "
        f"p99 {row['99%']:>5} ms  requests {row['Request Count']:>6}  errors {row['Failure Count']}"
    )


def run_mix(users: int = 32, seconds: int = 60, deals: int = 20000, workers: int = 4) -> int:
    database_url = _prepare_database(deals)
    with tempfile.TemporaryDirectory() as var_dir:
        environment = _environment(database_url, var_dir)
        _manage(environment, "migrate", "--noinput", "-v0")
        _manage(environment, "demo", "--deals", str(deals), "--no-progress")
        tokens = {}
        for username in LOAD_USERS:
            output = _manage(environment, "token", "create", username, "--name", "load")
            tokens[username] = next(word for word in output.split() if word.startswith("dfl_"))
        environment["DEALFLOW_LOAD_TOKENS"] = json.dumps(tokens)
        process, host = _start_gunicorn(environment, workers)
        try:
            stats = _locust(host, users, seconds, HERE / "locustfile.py", environment, f"{var_dir}/mix")
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(f"Load mix: {users} users, {seconds} s, gunicorn {workers} workers, PostgreSQL, {deals} demo deals")
    for name, row in sorted(stats.items()):
        print(_summary(name, row))
    aggregated = stats["Aggregated"]
    return 0 if int(aggregated["Failure Count"]) == 0 else 1


API_LOCUSTFILE = """
import os
from locust import FastHttpUser, constant, task

PATH = os.environ["DEALFLOW_LOAD_PATH"]
HEADERS = {"Authorization": "Bearer " + os.environ["DEALFLOW_LOAD_TOKEN"]}


class Reader(FastHttpUser):
    wait_time = constant(0)

    @task
    def read(self):
        self.client.get(PATH, headers=HEADERS, name=PATH)
"""


def run_api(users: int = 16, seconds: int = 30, deals: int = 20000, workers: int = 4) -> int:
    database_url = _prepare_database(deals)
    with tempfile.TemporaryDirectory() as var_dir:
        environment = _environment(database_url, var_dir, "benchmarks.load.settings")
        _manage(environment, "migrate", "--noinput", "-v0")
        _manage(environment, "demo", "--deals", str(deals), "--no-progress")
        output = _manage(environment, "token", "create", "manager", "--name", "load", "--scope", "read")
        environment["DEALFLOW_LOAD_TOKEN"] = next(word for word in output.split() if word.startswith("dfl_"))
        locustfile = Path(var_dir) / "api_locustfile.py"
        locustfile.write_text(API_LOCUSTFILE)
        process, host = _start_gunicorn(environment, workers)
        results = {}
        try:
            for label, path in (
                ("bare Django view", "/bench/bare-deals"),
                ("deal-list API", "/api/v1/deals?limit=20"),
            ):
                environment["DEALFLOW_LOAD_PATH"] = path
                stats = _locust(
                    host, users, seconds, locustfile, environment, f"{var_dir}/{label.split()[0]}"
                )
                results[label] = stats["Aggregated"]
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(
        f"API vs bare view: {users} users, {seconds} s each, gunicorn {workers} workers, PostgreSQL, {deals} deals"
    )
    for label, row in results.items():
        print(_summary(label, row))
    ratio = float(results["deal-list API"]["Requests/s"]) / max(
        1e-9, float(results["bare Django view"]["Requests/s"])
    )
    print(f"API throughput / bare view throughput = {ratio:.2f} (target >= 0.70)")
    return 0


def main(argv: list[str]) -> int:
    if argv and argv[0] == "api":
        return run_api()
    return run_mix()
