"""What the heavy benchmarks share: one engine per process, persistent benchmark databases built once with
the demo generator, and timing helpers.

A benchmark that compares engines runs itself once per engine in a child process (``--engine sqlite`` /
``--engine postgres``) so each gets a fresh Django with its own DATABASE_URL, then prints the children's
results side by side.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
POSTGRES_SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def database_url(engine: str, name: str) -> str:
    """The benchmark database of ``engine``: var/<name>.sqlite3, or database <name> on the PostgreSQL server."""
    if engine == "sqlite":
        return f"sqlite:///{VAR / (name + '.sqlite3')}"
    server = (
        os.environ.get("DATABASE_URL", "")
        if os.environ.get("DATABASE_URL", "").startswith("postgres")
        else ""
    )
    base = (server or POSTGRES_SERVER).rsplit("/", 1)[0]
    return f"{base}/{name}"


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_SERVER.replace("postgres://", "postgresql://"), connect_timeout=3):
            return True
    except Exception:
        return False


def postgres_create_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(
        f"{base}/postgres".replace("postgres://", "postgresql://"), autocommit=True
    ) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str) -> None:
    """Point Django at ``url`` (before it starts) and start it."""
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEALFLOW_TESTING", "1")  # immediate tasks, no axes lock-outs from the test client
    VAR.mkdir(parents=True, exist_ok=True)
    import django

    django.setup()


def setup_django_test_database(name: str, *, testing: bool = False) -> None:
    """Start Django on the configured DATABASE_URL, with the test runner's database named for this benchmark:
    ``var/<name>.sqlite3`` on SQLite, database ``<name>`` on PostgreSQL. ``testing`` sets DEALFLOW_TESTING
    (immediate tasks, fast password hashing)."""
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if testing:
        os.environ.setdefault("DEALFLOW_TESTING", "1")
    import django
    from django.conf import settings

    django.setup()
    database = settings.DATABASES["default"]
    sqlite = database["ENGINE"].endswith("sqlite3")
    database.setdefault("TEST", {})["NAME"] = str(VAR / f"{name}.sqlite3") if sqlite else name


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def timed(function: Callable[[], Any], *, repeat: int) -> tuple[float, list[float], Any]:
    """Median wall time of ``repeat`` calls (after one warm-up call), all times, and the last result."""
    result = function()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times, result


def timed_together(
    first: Callable[[], Any], second: Callable[[], Any], *, repeat: int
) -> tuple[tuple[float, list[float], Any], tuple[float, list[float], Any]]:
    """Like ``timed`` for two functions run in turns (first, second, first, ...) after one warm-up each."""
    results = [first(), second()]
    times: list[list[float]] = [[], []]
    for _ in range(repeat):
        for index, function in enumerate((first, second)):
            started = time.perf_counter()
            results[index] = function()
            times[index].append(time.perf_counter() - started)
    return (
        (statistics.median(times[0]), times[0], results[0]),
        (statistics.median(times[1]), times[1], results[1]),
    )


def run_children(module: str, engines: list[str], arguments: list[str]) -> list[dict]:
    """Run ``python -m benchmarks <module> --engine E --json-out F`` per engine; collect their results."""
    results = []
    for engine in engines:
        out = VAR / f"bench-{module}-{engine}.json"
        out.unlink(missing_ok=True)
        command = [
            sys.executable,
            "-m",
            "benchmarks",
            module,
            "--engine",
            engine,
            "--json-out",
            str(out),
            *arguments,
        ]
        print(f"\n=== {module} on {engine}: {' '.join(command[3:])}", flush=True)
        completed = subprocess.run(command, cwd=ROOT, check=False)
        if completed.returncode != 0 or not out.exists():
            results.append({"engine": engine, "error": f"exit status {completed.returncode}"})
            continue
        results.append(json.loads(out.read_text()))
    return results
