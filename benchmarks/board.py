"""Board at 10,000 open deals: server time per request (Django test client, whole middleware stack) next to
the time of the bare SQL that request runs (the same statements replayed on a cursor), and their ratio.

    python -m benchmarks board [--deals 10000] [--repeat 15]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python -m benchmarks board

It builds a throw-away database (SQLite file var/bench_board.sqlite3, or PostgreSQL database bench_board),
loads deals with bulk inserts (the board reads deals, stages, owners, organizations and open activities;
it never reads events, so none are written), and drops the database at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time

from benchmarks.common import setup_django_test_database


def _load(deals: int) -> tuple:
    from decimal import Decimal

    from django.utils import timezone

    from dealflow.accounts.models import Role
    from dealflow.accounts.services import membership_set, team_create, user_create
    from dealflow.contacts.models import Organization
    from dealflow.deals.models import Activity, Deal, Stage
    from dealflow.deals.services import exchange_rate_set
    from dealflow.deals.tests.factories import default_pipeline

    random.seed(7)
    now = timezone.now()
    team = team_create(name="Benchmark")
    manager = user_create(username="bench-manager", password=None, first_name="Mia", last_name="Manager")
    membership_set(user=manager, team=team, role=Role.MANAGER)
    reps = []
    for number in range(20):
        rep = user_create(
            username=f"bench-rep-{number}", password=None, first_name="Rep", last_name=str(number)
        )
        membership_set(user=rep, team=team, role=Role.REP)
        reps.append(rep)
    exchange_rate_set(currency="USD", rate=Decimal("0.92"), valid_from=dt.date(2020, 1, 1))
    exchange_rate_set(currency="GBP", rate=Decimal("1.17"), valid_from=dt.date(2020, 1, 1))
    organizations = Organization.objects.bulk_create(
        [Organization(name=f"Organization {number}", created_at=now) for number in range(1000)]
    )
    pipeline = default_pipeline()
    stages = list(Stage.objects.filter(pipeline=pipeline, kind="open").order_by("order"))
    rows = []
    for number in range(deals):
        owner = random.choice(reps)
        entered = now - dt.timedelta(days=random.randint(0, 60), minutes=random.randint(0, 1440))
        rows.append(
            Deal(
                title=f"Deal {number}",
                owner=owner,
                team=team,
                organization=random.choice(organizations),
                pipeline=pipeline,
                stage=random.choice(stages),
                amount_minor=random.randint(1_000, 5_000_000),
                currency=random.choice(["EUR", "EUR", "EUR", "USD", "GBP"]),
                expected_close_on=(now + dt.timedelta(days=random.randint(-30, 200))).date(),
                stage_entered_at=entered,
                created_at=entered,
                created_on=entered.date(),
            )
        )
    created = Deal.objects.bulk_create(rows, batch_size=2000)
    activities = [
        Activity(
            subject="Call",
            owner=deal.owner,
            deal=deal,
            due_at=now + dt.timedelta(days=random.randint(-5, 20)),
            created_at=now,
        )
        for deal in random.sample(created, deals // 2)
    ]
    Activity.objects.bulk_create(activities, batch_size=2000)
    return manager, pipeline


def _median_ms(function, repeat: int) -> float:
    function()  # warm caches and connections
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def _measure(client, url: str, repeat: int) -> tuple[float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def request():
        response = client.get(url)
        assert response.status_code == 200, response.status_code

    with CaptureQueriesContext(connection) as captured:
        request()
    statements = [query["sql"] for query in captured.captured_queries]

    def bare_sql():
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
                cursor.fetchall()

    return _median_ms(request, repeat), _median_ms(bare_sql, repeat), len(statements)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks board")
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    options = parser.parse_args(argv)
    setup_django_test_database("bench_board", testing=True)
    from django.db import connection
    from django.test import Client

    # No setup_test_environment(): its instrumented template rendering copies the context at every
    # {% include %} and would be timed as if it were the server's work.
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        started = time.perf_counter()
        manager, pipeline = _load(options.deals)
        print(
            f"engine: {connection.vendor}; loaded {options.deals:,} open deals in {time.perf_counter() - started:.1f} s"
        )
        client = Client()
        client.force_login(manager)
        first_stage = pipeline.stages.filter(kind="open").order_by("order").first()
        from dealflow.deals.models import Deal

        column_count = Deal.objects.filter(stage=first_stage).count()
        pages = [
            ("board, all deals (5 columns x 50 cards)", "/?owner=all"),
            ("board, one rep's deals", f"/?owner=u{manager.pk + 1}"),
            ("board, text search", "/?owner=all&q=Deal%2012"),
            ("forecast board, all deals", "/forecast-board/?owner=all"),
            (f"load more in a column of {column_count:,}", _load_more_url(manager, first_stage)),
        ]
        print(f"{'request':44} {'server ms':>10} {'bare SQL ms':>12} {'ratio':>6} {'queries':>8}")
        for label, url in pages:
            server, sql, queries = _measure(client, url, options.repeat)
            print(f"{label:44} {server:10.1f} {sql:12.1f} {server / sql:6.2f} {queries:8d}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


def _load_more_url(manager, stage) -> str:
    from urllib.parse import quote

    from dealflow.deals.selectors import DealFilters
    from dealflow.deals.selectors_board import board_column_for_user

    column = board_column_for_user(user=manager, stage=stage, filters=DealFilters())
    return f"/board/stages/{stage.pk}/cards/?owner=all&after={quote(column.cursor)}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
