"""The deals list filtered on a custom field next to the same list filtered on a plain column, at 1M deals.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python -m benchmarks customfields [--deals 1000000]
    python -m benchmarks customfields --deals 200000          (SQLite)

It builds a throw-away database (PostgreSQL database bench_customfields, or var/bench_customfields.sqlite3;
``--keep`` keeps it for the next run), loads deals with COPY (PostgreSQL) or executemany (SQLite), gives
every deal a custom-values document ({"tier": one of 5, "region": one of 100, "seats": n}), and times the
deals list's work (its page of 50 newest deals and its count, through ``deal_list_for_user`` and
``DealFilters`` as the list and the API run them) and the whole list page (test client), filtered

  - on a plain indexed column of the same selectivity: ``stage`` (1 of 5 stages, 20 %) and ``owner``
    (1 of 100 reps, 1 %);
  - on the custom fields: ``cf_tier`` (1 of 5, 20 %) and ``cf_region`` (1 of 100, 1 %).

It prints the medians and the ratio custom / plain, and on PostgreSQL whether the plan uses the GIN index.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import random
import time

from benchmarks.common import setup_django_test_database, timed_together

TIERS = ["Enterprise", "Mid-market", "SMB", "Public", "Startup"]
REGIONS = [f"Region {number:03d}" for number in range(100)]
BATCH = 50_000


def _world():
    from dealflow.accounts.models import Role
    from dealflow.accounts.services import membership_set, team_create, user_create
    from dealflow.customfields.services import custom_field_create
    from dealflow.deals.models import Stage
    from dealflow.deals.tests.factories import default_pipeline

    team = team_create(name="Benchmark")
    admin = user_create(username="bench-admin", password=None, is_superuser=True)
    reps = []
    for number in range(100):
        rep = user_create(username=f"bench-rep-{number}", password=None)
        membership_set(user=rep, team=team, role=Role.REP)
        reps.append(rep)
    pipeline = default_pipeline()
    stages = list(Stage.objects.filter(pipeline=pipeline).order_by("order"))
    custom_field_create(entity="deal", key="tier", label="Tier", kind="choice", choices=TIERS)
    custom_field_create(entity="deal", key="region", label="Region", kind="choice", choices=REGIONS)
    custom_field_create(entity="deal", key="seats", label="Seats", kind="number")
    return admin, team, reps, pipeline, stages


def _deal_columns():
    from dealflow.deals.models import Deal

    return [field for field in Deal._meta.concrete_fields if field.column != "id"]


def _load(deals: int, team, reps, pipeline, stages) -> None:
    """Deals (every column, as the services would set an open one) and their values documents."""
    from django.db import connection
    from django.utils import timezone

    from dealflow.deals.models import Deal

    rng = random.Random(11)
    now = timezone.now()
    fields = _deal_columns()
    names = [field.column for field in fields]
    quote = connection.ops.quote_name
    started = time.perf_counter()
    next_id = (Deal.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    for start in range(0, deals, BATCH):
        count = min(BATCH, deals - start)
        deal_rows, value_rows = [], []
        for offset in range(count):
            number = start + offset
            created = now - dt.timedelta(minutes=number)
            stage = stages[number % len(stages)]
            status = {"won": "won", "lost": "lost"}.get(stage.kind, "open")
            values = {
                "title": f"Deal {number}",
                "owner_id": reps[number % len(reps)].pk,
                "team_id": team.pk,
                "pipeline_id": pipeline.pk,
                "stage_id": stage.pk,
                "status": status,
                "amount_minor": rng.randint(1_000, 5_000_000),
                "currency": "EUR",
                "stage_entered_at": created,
                "created_at": created,
                "updated_at": created,
                "created_on": created.date(),
                "closed_on": created.date() if status != "open" else None,
                "lost_reason_id": 1 if status == "lost" else None,
            }
            row = []
            for field in fields:
                if field.column in values:
                    row.append(values[field.column])
                elif field.has_default():
                    row.append(field.get_default())
                else:
                    row.append(None)
            deal_rows.append(row)
            document = {
                "tier": TIERS[rng.randrange(5)],
                "region": REGIONS[rng.randrange(100)],
                "seats": rng.randint(1, 500),
            }
            value_rows.append((next_id + number, json.dumps(document)))
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                ids = ", ".join(["id", *[quote(name) for name in names]])
                with cursor.copy(f"COPY deals_deal ({ids}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for index, row in enumerate(deal_rows):
                        copy.write_row([next_id + start + index, *row])
                with cursor.copy("COPY customfields_dealfieldvalues (deal_id, data) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for row in value_rows:
                        copy.write_row(row)
            else:
                placeholders = ", ".join(["%s"] * (len(names) + 1))
                sql = f"INSERT INTO deals_deal (id, {', '.join(quote(name) for name in names)}) VALUES ({placeholders})"
                adapted = [
                    [
                        next_id + start + index,
                        *[
                            field.get_db_prep_save(value, connection)
                            for field, value in zip(fields, row, strict=True)
                        ],
                    ]
                    for index, row in enumerate(deal_rows)
                ]
                cursor.executemany(sql, adapted)
                cursor.executemany(
                    "INSERT INTO customfields_dealfieldvalues (deal_id, data) VALUES (%s, %s)", value_rows
                )
        print(f"  loaded {start + count:,} deals ({time.perf_counter() - started:.0f} s)", flush=True)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('deals_deal', 'id'), (SELECT max(id) FROM deals_deal))"
            )
            # As autovacuum would after a load: statistics, and the visibility map index-only scans need.
            cursor.execute("VACUUM (ANALYZE) deals_deal")
            cursor.execute("VACUUM (ANALYZE) customfields_dealfieldvalues")
        else:
            cursor.execute("ANALYZE")


def _list_work(user, params: dict):
    """What the deals list and the API do for one request: the filtered, ordered page of 50 and its count."""
    from dealflow.deals.selectors import DealFilters, deal_list_for_user

    def work():
        deals = deal_list_for_user(user=user, filters=DealFilters.from_mapping(params))
        return len(list(deals.select_related(None)[:50])), deals.count()

    return work


def _plan(user, params: dict) -> str:
    from dealflow.deals.selectors import DealFilters, deal_list_for_user

    deals = deal_list_for_user(user=user, filters=DealFilters.from_mapping(params)).select_related(None)
    return deals[:50].explain()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks customfields")
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the database for the next run")
    options = parser.parse_args(argv)
    setup_django_test_database("bench_customfields", testing=True)
    from django.db import connection
    from django.test import Client

    from dealflow.deals.models import Deal

    old_name = connection.creation.create_test_db(
        verbosity=0, autoclobber=not options.keep, serialize=False, keepdb=options.keep
    )
    try:
        if Deal.objects.count() < options.deals:
            started = time.perf_counter()
            admin, team, reps, pipeline, stages = _world()
            _load(options.deals, team, reps, pipeline, stages)
            print(
                f"engine: {connection.vendor}; loaded {options.deals:,} deals in {time.perf_counter() - started:.0f} s"
            )
        from dealflow.accounts.models import User
        from dealflow.deals.models import Stage

        admin = User.objects.get(username="bench-admin")
        rep = User.objects.get(username="bench-rep-7")
        stage = Stage.objects.filter(pipeline__is_default=True).order_by("order").first()
        total = Deal.objects.count()
        pairs = [
            ("20 %", {"stage": str(stage.pk)}, {"cf_tier": "SMB"}),
            ("1 %", {"owner": str(rep.pk)}, {"cf_region": "Region 042"}),
        ]
        client = Client()
        client.force_login(admin)
        print(
            f"\nengine: {connection.vendor}; {total:,} deals; medians of {options.repeat} runs, after a warm-up"
        )
        print(f"{'filter':36} {'rows':>9} {'plain ms':>9} {'custom ms':>10} {'ratio':>6}")
        for share, plain, custom in pairs:
            (plain_time, _, plain_result), (custom_time, _, custom_result) = timed_together(
                _list_work(admin, plain), _list_work(admin, custom), repeat=options.repeat
            )
            label = f"list work, {share}: {next(iter(plain))} vs {next(iter(custom))}"
            print(
                f"{label:36} {custom_result[1]:9,} {plain_time * 1000:9.1f} {custom_time * 1000:10.1f} {custom_time / plain_time:6.2f}"
            )
            print(f"{'':36} {plain_result[1]:9,} (rows of the plain filter)")
            (page_plain, _, _), (page_custom, _, _) = timed_together(
                lambda plain=plain: client.get("/deals/", plain),
                lambda custom=custom: client.get("/deals/", custom),
                repeat=max(3, options.repeat // 2),
            )
            label = f"deals page, {share}"
            print(
                f"{label:36} {'':9} {page_plain * 1000:9.1f} {page_custom * 1000:10.1f} {page_custom / page_plain:6.2f}"
            )
        if connection.vendor == "postgresql":
            for _share, _plain, custom in pairs:
                plan = _plan(admin, custom)
                uses = "customfields_dealfieldvalues_data_gin" in plan
                print(f"\nplan of {custom}: GIN index {'used' if uses else 'NOT used'}")
                print(io.StringIO(plan).read())
    finally:
        if not options.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0
