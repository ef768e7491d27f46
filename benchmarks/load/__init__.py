"""Load benchmarks against gunicorn on PostgreSQL (not part of `make test`).

`python -m benchmarks load`        the realistic mix: 32 users for 60 s; throughput, p50/p95/p99, errors
`python -m benchmarks load api`    the deal-list API (token, permission filter, 20 deals) against a bare
                                   Django view returning the same 20 deals, same database, same run; and
                                   /api/v1/me, the cheapest authenticated answer, as the framework's floor

Both build their own PostgreSQL database (DEALFLOW_LOAD_DB, default dealflow_load) with the demo generator.
"""

from __future__ import annotations

import argparse
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
            # The limit stays on (every request counts in the database, as in production), set high enough
            # that 32 users sharing three tokens are not refused.
            "DEALFLOW_API_RATE_LIMIT": os.environ.get("DEALFLOW_LOAD_API_RATE_LIMIT", "1000000000"),
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


def _prepare_database(deals: int, environment_for, *, reuse: bool = False) -> dict[str, str]:
    """A database of ``deals`` demo deals: made afresh, or with ``reuse`` the one a previous run left."""
    name = os.environ.get("DEALFLOW_LOAD_DB", "dealflow_load")
    admin = os.environ.get("DEALFLOW_LOAD_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    import psycopg

    url = admin.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin.replace("postgres://", "postgresql://"), autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not (reuse and exists):
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')
    environment = environment_for(url)
    if not (reuse and exists):
        _manage(environment, "migrate", "--noinput", "-v0")
        _manage(environment, "demo", "--deals", str(deals), "--no-progress")
        with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE")  # as autovacuum would soon after a bulk load
    return environment


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
            # DEALFLOW_LOAD_ACCESS_LOG=path writes each request with its server time in microseconds.
            "--access-logfile",
            os.environ.get("DEALFLOW_LOAD_ACCESS_LOG") or "/dev/null",
            "--access-logformat",
            '%(t)s "%(r)s" %(s)s %(D)s',
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
    host: str,
    users: int,
    seconds: int,
    locustfile: Path,
    environment: dict[str, str],
    prefix: str,
    *,
    ramp_seconds: int = 0,
) -> dict:
    """Run locust headless; with ``ramp_seconds`` the users arrive over that time and the statistics start
    once all are there, so ``seconds`` is measured at full concurrency."""
    spawn_rate = users if ramp_seconds <= 0 else max(1, users // ramp_seconds)
    ramp = [] if ramp_seconds <= 0 else ["--reset-stats"]
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
            str(spawn_rate),
            "-t",
            f"{seconds + max(0, ramp_seconds)}s",
            *ramp,
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


def _sign_in(host: str, usernames: list[str]) -> tuple[list[dict[str, str]], list[float]]:
    """Sign each simulated user in over HTTP before the timed run; their session cookies, and each sign-in's
    time in milliseconds (PBKDF2 with Django's 1,000,000 iterations: a person signs in once a day, so the
    mix itself does not repeat it)."""
    import re

    import requests

    sessions, timings = [], []
    for username in usernames:
        client = requests.Session()
        form = client.get(f"{host}/login/", timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        started = time.perf_counter()
        answer = client.post(
            f"{host}/login/",
            data={
                "username": username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": token[1] if token else "",
            },
            headers={"Referer": f"{host}/login/"},
            timeout=60,
            allow_redirects=False,
        )
        timings.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 302 or "sessionid" not in client.cookies:
            raise SystemExit(f"sign-in of {username} failed: HTTP {answer.status_code}")
        sessions.append({"username": username, **client.cookies.get_dict()})
    return sessions, timings


def _warm_up(host: str, session: dict[str, str], token: str, workers: int) -> None:
    """Visit every kind of page a few times per worker before the timed run: a fresh gunicorn worker
    imports the views, builds the API schema and compiles templates on its first requests (up to a second),
    which a server in production has long done."""
    import requests

    client = requests.Session()
    for name, value in session.items():
        if name != "username":
            client.cookies.set(name, value)
    api = {"Authorization": f"Bearer {token}"}
    deals = client.get(f"{host}/api/v1/deals?mine=true&limit=1", headers=api, timeout=60).json()["items"]
    paths = ["/?mine=1", "/deals/?status=open", "/api/v1/deals?limit=20", "/api/v1/stages"]
    if deals:
        paths += [f"/deals/{deals[0]['id']}/", f"/api/v1/deals/{deals[0]['id']}"]
    for _ in range(3 * workers):
        for path in paths:
            client.get(f"{host}{path}", headers=api if path.startswith("/api/") else {}, timeout=60)


PASSWORD = "dealflow-demo"
WAIT = os.environ.get("DEALFLOW_LOAD_WAIT", "0.5,2.5")  # seconds between one user's actions: min,max


def run_mix(
    users: int = 32, seconds: int = 60, deals: int = 20000, workers: int = 4, *, reuse: bool = False
) -> int:
    with tempfile.TemporaryDirectory() as var_dir:
        environment = _prepare_database(deals, lambda url: _environment(url, var_dir), reuse=reuse)
        tokens = {}
        for username in LOAD_USERS:
            output = _manage(environment, "token", "create", username, "--name", "load")
            tokens[username] = next(word for word in output.split() if word.startswith("dfl_"))
        environment["DEALFLOW_LOAD_TOKENS"] = json.dumps(tokens)
        environment["DEALFLOW_LOAD_WAIT"] = WAIT
        process, host = _start_gunicorn(environment, workers)
        try:
            sessions, sign_ins = _sign_in(
                host, [LOAD_USERS[index % len(LOAD_USERS)] for index in range(users)]
            )
            environment["DEALFLOW_LOAD_SESSIONS"] = json.dumps(sessions)
            stats = _locust(
                host, users, seconds, HERE / "locustfile.py", environment, f"{var_dir}/mix", ramp_seconds=8
            )
        finally:
            process.terminate()
            process.wait(timeout=30)
    low, high = WAIT.split(",")
    print(
        f"Load mix: {users} users (arriving over 8 s, then measured) acting every {low}-{high} s, {seconds} s, "
        f"gunicorn {workers} workers, "
        f"PostgreSQL, {deals} demo deals"
    )
    ordered = sorted(sign_ins)
    print(
        f"sign-in before the run  {len(ordered)} sequential: p50 {ordered[len(ordered) // 2]:.0f} ms, "
        f"max {ordered[-1]:.0f} ms"
    )
    for name, row in sorted(stats.items()):
        print(_summary(name, row))
    aggregated = stats["Aggregated"]
    p99 = float(aggregated["99%"])
    print(f"errors {aggregated['Failure Count']} (target 0), p99 {p99:.0f} ms (target < 250 ms)")
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


def run_api(
    users: int = 16, seconds: int = 30, deals: int = 20000, workers: int = 4, *, reuse: bool = False
) -> int:
    with tempfile.TemporaryDirectory() as var_dir:
        environment = _prepare_database(
            deals, lambda url: _environment(url, var_dir, "benchmarks.load.settings"), reuse=reuse
        )
        output = _manage(environment, "token", "create", "manager", "--name", "load", "--scope", "read")
        environment["DEALFLOW_LOAD_TOKEN"] = next(word for word in output.split() if word.startswith("dfl_"))
        locustfile = Path(var_dir) / "api_locustfile.py"
        locustfile.write_text(API_LOCUSTFILE)
        process, host = _start_gunicorn(environment, workers)
        results = {}
        try:
            for label, path in (
                ("bare Django view", "/bench/bare-deals"),
                # The floor of any API answer: token, rate limit, django-ninja, one small object.
                ("API /me (auth only)", "/api/v1/me"),
                # The same list's work in a plain Django view, without django-ninja (bare.py).
                ("plain authenticated list", "/bench/plain-authenticated-deals"),
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
    bare = max(1e-9, float(results["bare Django view"]["Requests/s"]))
    floor = float(results["API /me (auth only)"]["Requests/s"]) / bare
    plain = float(results["plain authenticated list"]["Requests/s"]) / bare
    ratio = float(results["deal-list API"]["Requests/s"]) / bare
    print(f"API /me throughput / bare view throughput = {floor:.2f}")
    print(f"plain authenticated list (no django-ninja) / bare view throughput = {plain:.2f}")
    print(f"deal-list API throughput / bare view throughput = {ratio:.2f} (target >= 0.70)")
    return 0


def main(argv: list[str]) -> int:
    """`load [api] [--reuse] [--workers N]`: --reuse keeps the database a previous run built
    (DEALFLOW_LOAD_DB); --workers sets the mix's gunicorn workers (4; the API comparison always uses 4)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks load")
    parser.add_argument("part", nargs="?", choices=["api"], help="api: the deal-list API against a bare view")
    parser.add_argument("--reuse", action="store_true", help="keep the database a previous run built")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers of the mix (default 4)")
    options = parser.parse_args(argv)
    if options.part == "api":
        return run_api(reuse=options.reuse)
    return run_mix(workers=options.workers, reuse=options.reuse)
