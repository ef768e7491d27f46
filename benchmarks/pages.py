"""Every page and every API read, as each demo persona, on a demo database: server time, size, queries.

    python -m benchmarks pages                                  both engines, 100,000 demo deals
    python -m benchmarks pages --deals 1000000 --engine postgres --repeat 5
    python -m benchmarks pages --only forecast,dashboard        paths containing one of the words
    python -m benchmarks pages --skip export,pdf                 all but the paths containing one of them

The database (var/bench_pages.sqlite3 or PostgreSQL database bench_pages) is built once with the demo
generator, every optional step included, and reused while it holds the asked number of deals. A database
that holds deals is not migrated unless --migrate says so: with unapplied migrations the crawl stops and says
so (crawl a copy of a shared database instead).

Each request goes through Django's test client and the whole middleware stack in this process, as the
persona (admin, manager, rep of the demo); a route's path parameters are filled with a record that the
rep owns (or the first one, for records without an owner). Per URL and persona the table prints the
median server time of --repeat requests after one warm-up, the size of the answer and its query count
(from one more request). A streamed download (the CSV exports) is timed until its first 16 KB, when the
user sees it start, and its whole time is printed beside it. The commission statement PDF is drawn by the
worker when a statement changes and then kept; here the warm-up request has it drawn (the benchmark runs
with the immediate task backend, which does the worker's job inline) and the timed requests read the kept PDF. The process's peak resident memory after the crawl stands in for a web
worker's: the same code answers the same requests.

Targets (issue #19): under 300 ms on PostgreSQL and 600 ms on SQLite at a million deals, at most 200 KB
of HTML, and a worker under 400 MB.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from typing import Any

from benchmarks import common, routes

DATABASE = "bench_pages"
PERSONAS = ("admin", "manager", "rep")
TIME_TARGET = {"postgres": 0.300, "sqlite": 0.600}
SIZE_TARGET = 200 * 1024
MEMORY_TARGET_MB = 400
# A few reads the issue names besides the plain pages.
EXTRA = [
    ("web", "/deals/?q=acme"),
    ("web", "/deals/?order=-amount"),
    ("web", "/leads/?q=acme"),
    ("api", "/api/v1/deals?search=acme"),
    ("api", "/api/v1/activities"),
]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks pages")
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--engine", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", help="comma-separated words; crawl only paths containing one")
    parser.add_argument("--skip", help="comma-separated words; leave out paths containing one (export)")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument(
        "--migrate", action="store_true", help="apply pending migrations to a filled database"
    )
    parser.add_argument("--json-out")
    options = parser.parse_args(argv)
    if options.engine == "both":
        engines = ["sqlite"] + (["postgres"] if common.postgres_available() else [])
        passed = [argument for argument in argv if argument not in ("--engine", "both")]
        results = common.run_children("pages", engines, passed)
        for result in results:
            if "error" in result:
                print(f"{result['engine']}: {result['error']}")
        return 0 if all("error" not in result for result in results) else 1
    result = run_engine(options)
    if options.json_out:
        with open(options.json_out, "w") as handle:
            json.dump(result, handle, indent=2)
    return 0


STREAM_FIRST = 16 * 1024  # bytes of a streamed download that count as its first answer


def _build(options) -> None:
    """Build the demo database in a child process, so its memory does not count as the crawl's."""
    import os
    import subprocess

    url = common.database_url(options.engine, options.database)
    if options.engine == "postgres":
        common.postgres_create_database(url)
    elif options.rebuild:
        for suffix in ("", "-wal", "-shm"):
            (common.VAR / f"{options.database}.sqlite3{suffix}").unlink(missing_ok=True)
    # A database that already holds deals is migrated only when asked (--migrate): the shared 1M reference
    # database must stay as it was built, and a crawl once migrated it unnoticed (issue #19).
    script = (
        "import sys; from benchmarks import common; common.setup_django(sys.argv[1]);"
        "from django.db import connection; from django.db.migrations.executor import MigrationExecutor;"
        "from dealflow.deals.models import Deal;"
        "tables = connection.introspection.table_names();"
        "have = Deal.objects.count() if 'deals_deal' in tables else 0;"
        "executor = MigrationExecutor(connection);"
        "pending = executor.migration_plan(executor.loader.graph.leaf_nodes());"
        "migrate = not have or sys.argv[2] == '1';"
        "common.migrate() if migrate else None;"
        "print(have, 0 if migrate else len(pending))"
    )
    environment = {**os.environ, "DEALFLOW_TESTING": "1"}
    have, pending = (
        int(value)
        for value in subprocess.run(
            [sys.executable, "-c", script, url, "1" if options.migrate else "0"],
            cwd=common.ROOT,
            env=environment,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()[-2:]
    )
    if pending:
        raise SystemExit(
            f"{options.database} holds {have:,} deals and {pending} unapplied migrations: pass --migrate to "
            "apply them to it (it writes to that database), or crawl a copy (CREATE DATABASE ... TEMPLATE ...)"
        )
    if have >= options.deals * 0.99 and not options.rebuild:
        return
    if have:
        raise SystemExit(
            f"{url} holds {have:,} deals; drop it (or pass --rebuild on SQLite) to build {options.deals:,}"
        )
    print(f"  generating {options.deals:,} demo deals (every optional step) ...", flush=True)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "dealflow.cli", "demo", "--deals", str(options.deals), "--seed", "42"],
        cwd=common.ROOT,
        env={**environment, "DATABASE_URL": url},
        check=True,
    )
    print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
    if options.engine == "postgres":
        import psycopg

        with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE")


def _query_count(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return len(captured.captured_queries)


def run_engine(options) -> dict[str, Any]:
    _build(options)
    common.setup_django(common.database_url(options.engine, options.database))
    import logging

    logging.getLogger("django.request").setLevel(logging.ERROR)  # 404s of the rep are expected
    from django.test import Client

    from dealflow.accounts.models import User
    from dealflow.deals.models import Deal

    samples = routes.samples()
    targets = [("web", url) for url in routes.web_urls(samples["resolve"])]
    targets += [("api", url) for url in routes.api_urls(samples["resolve"])]
    targets += EXTRA
    # The review's lists a page at a time (the second page: ranks 26-50 of each list).
    review_page = routes.fill("/reviews/<int:review_id>/", samples["resolve"])
    if review_page is not None:
        targets.append(("web", review_page + "?page=2"))
    if options.only:
        words = [word.strip() for word in options.only.split(",") if word.strip()]
        targets = [(kind, url) for kind, url in targets if any(word in url for word in words)]
    if options.skip:
        words = [word.strip() for word in options.skip.split(",") if word.strip()]
        targets = [(kind, url) for kind, url in targets if not any(word in url for word in words)]
    deals = Deal.objects.count()
    print(f"\n{options.engine}: {deals:,} deals, {len(targets)} URLs x {len(PERSONAS)} personas", flush=True)
    clients = {}
    for persona in PERSONAS:
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(User.objects.get(username=persona))
        clients[persona] = client
    rows = []
    peak_before = _peak_mb()
    for kind, url in targets:
        row: dict[str, Any] = {"kind": kind, "url": url}
        for persona, client in clients.items():
            response = client.get(url)  # warm-up
            if response.status_code >= 500:
                row[persona] = {"status": response.status_code}
                continue
            times, wholes = [], []
            size = len(response.content) if not response.streaming else 0
            for _ in range(options.repeat):
                started = time.perf_counter()
                response = client.get(url)
                if response.streaming:
                    # A download streams: its time is until the first 16 KB (rows, not only the header) have
                    # come, as the user sees the download start; the whole download is printed beside it.
                    size, first = 0, None
                    for part in response.streaming_content:
                        size += len(part)
                        if first is None and size >= STREAM_FIRST:
                            first = time.perf_counter() - started
                    wholes.append(time.perf_counter() - started)
                    times.append(wholes[-1] if first is None else first)
                else:
                    times.append(time.perf_counter() - started)
            row[persona] = {
                "status": response.status_code,
                "html": response.get("Content-Type", "").startswith("text/html"),
                "ms": round(statistics.median(times) * 1000, 1),
                "kb": round(size / 1024, 1),
                "queries": _query_count(client, url),
            }
            if wholes:
                row[persona]["whole_ms"] = round(statistics.median(wholes) * 1000, 1)
        # Which URL made the process grow: the peak after it, against the peak before it.
        peak = _peak_mb()
        row["peak_rss_mb"], row["peak_growth_mb"] = round(peak), round(peak - peak_before)
        peak_before = peak
        rows.append(row)
        _print_row(row)
    peak_mb = _peak_mb()
    result = {"engine": options.engine, "deals": deals, "rows": rows, "peak_rss_mb": round(peak_mb)}
    _print_summary(result)
    return result


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cell(measure: dict | None) -> str:
    if not measure:
        return "-"
    if "ms" not in measure:
        return f"HTTP {measure['status']}"
    status = "" if measure["status"] == 200 else f" [{measure['status']}]"
    whole = f" (whole {measure['whole_ms'] / 1000:.1f} s)" if "whole_ms" in measure else ""
    return f"{measure['ms']:>7.1f} ms {measure['kb']:>6.0f} KB {measure['queries']:>3} q{status}{whole}"


def _print_row(row: dict) -> None:
    cells = "  ".join(f"{_cell(row.get(persona)):>28}" for persona in PERSONAS)
    grew = f"  peak +{row['peak_growth_mb']} MB" if row.get("peak_growth_mb", 0) >= 10 else ""
    print(f"{row['kind']:<4} {row['url'][:60]:<60} {cells}{grew}", flush=True)


def _print_summary(result: dict) -> None:
    limit = TIME_TARGET[result["engine"]]
    slow, large, errors = [], [], []
    for row in result["rows"]:
        for persona in PERSONAS:
            measure = row.get(persona) or {}
            if measure.get("status", 0) >= 500:
                errors.append((row["url"], persona, measure["status"]))
            elif measure.get("ms", 0) > limit * 1000:
                slow.append((row["url"], persona, measure["ms"]))
            if measure.get("html") and measure.get("kb", 0) * 1024 > SIZE_TARGET:
                large.append((row["url"], persona, measure["kb"]))
    print(f"\nheader: kind url | {' | '.join(PERSONAS)} (median server time, size, queries)")
    print(f"{result['engine']}: {len(result['rows'])} URLs, {result['deals']:,} deals")
    print(
        f"  over {limit * 1000:.0f} ms: {len(slow)}  " + ", ".join(f"{u} ({p}: {m} ms)" for u, p, m in slow)
    )
    print(f"  over 200 KB of HTML: {len(large)}  " + ", ".join(f"{u} ({p}: {k} KB)" for u, p, k in large))
    print(f"  server errors: {len(errors)}  " + ", ".join(f"{u} ({p}: {s})" for u, p, s in errors))
    print(
        f"  peak resident memory of the crawling process: {result['peak_rss_mb']} MB "
        f"(target {MEMORY_TARGET_MB} MB)"
    )
    growers = sorted(result["rows"], key=lambda row: -row.get("peak_growth_mb", 0))[:5]
    print(
        "  the URLs that raised it most: "
        + ", ".join(
            f"{row['url']} (+{row['peak_growth_mb']} MB)" for row in growers if row.get("peak_growth_mb")
        )
    )
