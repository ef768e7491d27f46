"""Automation benchmark: `python -m benchmarks automation [--deals N] [--events N]`.

In a fresh test database (SQLite, or PostgreSQL when DATABASE_URL says so; set DEALFLOW_TEST_DB to name it)
loaded with the demo generator (default 20,000 deals), the most recent ``--events`` DealEvents (default 7,000:
about one day of the 1M-deal demo, whose 24 months hold ~5M events) are replayed through the worker's dispatch
with 20 active rules and 5 webhook subscriptions to local receivers, then the queued deliveries are sent.

Prints: dispatch events/s and events per CPU second of this process (the machine is shared: wall time
depends on the other load, the process's CPU time much less), with two baselines from the same run: the same
dispatch fed one event per step (the events just before the replayed ones, about a fifth as many: as the
dispatch worked before it read events in batches) and a plain read of the replayed events and their deals (the
floor). Then the sending rate and the delivery latency (queued -> received, and the HTTP response time), and
what a request pays: a deal update (the work a web request does) timed, and its queries counted, with no rules
and with the 20 rules and 5 subscriptions active (the same, since rules and webhooks run in the worker), and
timed while a worker process dispatches the replayed batches (forked, each batch rolled back) against rounds
with the worker idle. Next to the dispatch's own CPU it prints the CPU seconds of its PostgreSQL backend
(read from /proc: the database runs on this machine).
BENCH_PROFILE=dispatch (or deliver) prints a cProfile of the dispatch (or of sending).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEALFLOW_TESTING", "1")

BATCH = 500


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def _rules(admin, teams, stages, sources, subscription_ids) -> list:
    from dealflow.automation.services import rule_create

    specs = []
    for stage in stages[:5]:
        specs.append(
            {
                "name": f"Follow up in {stage.name}",
                "trigger": "stage_entered",
                "stage": stage,
                "action": "create_activity",
                "params": {"subject": f"Follow up: {stage.name}", "due_in_days": 2},
            }
        )
    specs += [
        {
            "name": "Won: thank",
            "trigger": "won",
            "action": "create_activity",
            "params": {"subject": "Thank you call"},
        },
        {
            "name": "Won: tell owner",
            "trigger": "won",
            "action": "notify",
            "params": {"recipient": "owner", "message": "Won"},
        },
        {
            "name": "Lost: tell managers",
            "trigger": "lost",
            "action": "notify",
            "params": {"recipient": "team_managers", "message": "Lost"},
        },
        {
            "name": "Lost: debrief",
            "trigger": "lost",
            "action": "create_activity",
            "params": {"subject": "Debrief"},
        },
    ]
    for amount in ("20000", "50000", "100000"):
        specs.append(
            {
                "name": f"Above {amount}",
                "trigger": "amount_above",
                "amount": amount,
                "currency": "EUR",
                "action": "set_field",
                "params": {"field": "next_step", "value": f"Review: above {amount}"},
            }
        )
    for team in teams[:3]:
        specs.append(
            {
                "name": f"{team.name}: commit in {stages[3].name}",
                "team": team,
                "trigger": "stage_entered",
                "stage": stages[3],
                "action": "set_field",
                "params": {"field": "forecast_category_override", "value": "commit"},
            }
        )
    for source in sources[:2]:
        specs.append(
            {
                "name": f"Lead from {source.key}",
                "trigger": "lead_source",
                "source": source,
                "action": "create_activity",
                "params": {"subject": "Call the lead"},
            }
        )
    specs.append(
        {
            "name": "Rotting 30 days",
            "trigger": "rotting",
            "days": 30,
            "action": "notify",
            "params": {"recipient": "owner", "message": "Rotting"},
        }
    )
    specs.append(
        {
            "name": "Closing hook",
            "trigger": "stage_entered",
            "stage": stages[4],
            "action": "webhook",
            "params": {"subscription_id": subscription_ids[0]},
        }
    )
    while len(specs) < 20:  # fewer than three teams in a small demo: more company rules instead
        specs.append(
            {
                "name": f"Lost {len(specs)}: learn",
                "trigger": "lost",
                "action": "set_field",
                "params": {"field": "next_step", "value": "Learn"},
            }
        )
    return [rule_create(by=admin, data=spec) for spec in specs[:20]]


def _database_cpu(connection) -> float:
    """CPU seconds the database server process of this connection has used (PostgreSQL on this machine;
    NaN when its /proc entry cannot be read)."""
    if connection.vendor != "postgresql":
        return float("nan")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _worker(batches, stop, done) -> None:
    """A forked worker: dispatch the batches again and again, each rolled back, until told to stop."""
    from django.db import connection, transaction

    from dealflow.automation.dispatch import Dispatcher
    from dealflow.core import clock

    try:
        while not stop.is_set():
            dispatcher = Dispatcher(now=clock.now())
            for chunk in batches:
                if stop.is_set():
                    break
                with transaction.atomic():
                    dispatcher.deal_events(chunk)
                    transaction.set_rollback(True)
                dispatcher.done_runs.clear()
                with done.get_lock():
                    done.value += 1
    finally:
        connection.close()


def worker_rounds(batches, deals, request_time_once, rounds: int = 3) -> tuple[list[float], list[float], int]:
    """Deal-update medians with the worker dispatching in a forked process and with it idle, alternating."""
    import multiprocessing

    from django.db import connection

    context = multiprocessing.get_context("fork")
    busy, idle = [], []
    done = context.Value("i", 0)
    for _round in range(rounds):
        idle.append(request_time_once(deals))
        connection.close()  # the child opens its own connection
        stop = context.Event()
        worker = context.Process(target=_worker, args=(batches, stop, done))
        worker.start()
        time.sleep(0.5)  # let it reach its first batch
        busy.append(request_time_once(deals))
        stop.set()
        worker.join()
    return busy, idle, done.value


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks automation")
    parser.add_argument("--deals", type=int, default=20_000, help="demo deals (default 20,000)")
    parser.add_argument("--events", type=int, default=7_000, help="deal events to dispatch (default 7,000)")
    options = parser.parse_args(argv)
    deals, wanted = options.deals, options.events
    sys.path[:0] = ["src", "."]
    import django

    django.setup()
    from django.db import connection, transaction
    from django.test.utils import setup_test_environment

    import dealflow.demo.generate as generate_module
    from dealflow.accounts.models import Membership, Role, Team, User
    from dealflow.automation.dispatch import Dispatcher
    from dealflow.automation.models import Rule, RuleRun, WebhookDelivery, WebhookSubscription
    from dealflow.automation.services import subscription_create
    from dealflow.automation.tests.receiver import Receiver
    from dealflow.automation.webhooks import deliveries_send_due
    from dealflow.core import clock
    from dealflow.deals.models import Deal, DealEvent, LeadSource, Stage
    from dealflow.deals.services import deal_update

    setup_test_environment()
    name = connection.creation.create_test_db(verbosity=0, keepdb=False, autoclobber=True)
    receivers = [Receiver().__enter__() for _ in range(5)]
    try:
        started = time.perf_counter()
        generate_module.demo_generate(deals=deals, seed=1, progress=False, optional_steps=False)
        print(
            f"engine {connection.vendor}; demo of {deals:,} deals loaded in {time.perf_counter() - started:.0f} s"
        )
        admin = User.objects.filter(is_superuser=True).first() or User.objects.create(
            username="bench_admin", is_superuser=True
        )
        rep_membership = Membership.objects.filter(role=Role.REP).select_related("user").first()
        teams = list(Team.objects.order_by("pk"))
        stages = list(Stage.objects.filter(kind="open", pipeline__is_default=True).order_by("order"))
        sources = list(LeadSource.objects.order_by("order"))

        # A request's work (a deal update through the service) before any rule or subscription exists.
        sample = list(Deal.objects.filter(status="open").order_by("pk")[:400])

        def request_time_once(deals_to_touch) -> float:
            """The median of a deal update over the deals, in ms."""
            times = []
            for deal in deals_to_touch:
                began = time.perf_counter()
                with transaction.atomic():
                    deal_update(
                        deal=deal, by=deal.owner, data={"next_step": f"w {time.time()}"}, origin="web"
                    )
                times.append(time.perf_counter() - began)
            return statistics.median(times) * 1000

        def request_time(deals_to_touch) -> float:
            """The lowest of three medians of a deal update (the machine is shared: the lowest is the cost)."""
            medians = []
            for _round in range(3):
                times = []
                for deal in deals_to_touch:
                    began = time.perf_counter()
                    with transaction.atomic():
                        deal_update(
                            deal=deal, by=deal.owner, data={"next_step": f"call {time.time()}"}, origin="web"
                        )
                    times.append(time.perf_counter() - began)
                medians.append(statistics.median(times) * 1000)
            return min(medians)

        def request_queries(deal) -> int:
            from django.test.utils import CaptureQueriesContext

            with CaptureQueriesContext(connection) as queries, transaction.atomic():
                deal_update(deal=deal, by=deal.owner, data={"next_step": f"q {time.time()}"}, origin="web")
            return len(queries)

        half = len(sample) // 2
        request_time(sample[:20])  # warm up
        before_ms = request_time(sample[:half])
        before_queries = request_queries(sample[0])

        subscriptions = []
        for index, receiver in enumerate(receivers):
            owner = rep_membership.user if index == 4 and rep_membership else admin
            subscription, _ = subscription_create(
                by=owner,
                name=f"Receiver {index + 1}",
                url=receiver.url,
                event_types=["deal.created", "deal.moved", "deal.won", "deal.lost", "deal.amount_changed"],
            )
            subscriptions.append(subscription)
        rules = _rules(admin, teams, stages, sources, [subscription.pk for subscription in subscriptions])
        # The replayed events happened before the rules and subscriptions were made: date those back.
        past = clock.now() - dt.timedelta(days=3650)
        Rule.objects.update(created_at=past)
        WebhookSubscription.objects.update(created_at=past)

        after_ms = request_time(sample[half : 2 * half])
        after_queries = request_queries(sample[0])

        from dealflow.automation.payloads import deal_data

        deal_data(sample[0])  # warm up: resolving the first link imports the URL configuration
        recent = list(DealEvent.objects.order_by("-occurred_at", "-id")[: wanted + wanted // 5])
        events = sorted(recent[:wanted], key=lambda event: event.pk)
        # Baseline in the same run: the events just before the replayed ones (same kinds, same rules), through
        # the same dispatch one event per step, as the dispatch ran before it read events in batches.
        earlier = sorted(recent[wanted:], key=lambda event: event.pk)

        def plain_scan(chunk) -> None:
            """The floor: read the same events and the deals they touch, nothing else."""
            rows = list(DealEvent.objects.filter(pk__in=[event.pk for event in chunk]))
            Deal.objects.select_related("stage", "owner").in_bulk({row.deal_id for row in rows})

        def replay(dispatcher_, chunks) -> tuple[float, float]:
            began, cpu_began = time.perf_counter(), time.process_time()
            for chunk in chunks:
                with transaction.atomic():
                    dispatcher_(chunk)
            return time.perf_counter() - began, time.process_time() - cpu_began

        batches = [events[offset : offset + BATCH] for offset in range(0, len(events), BATCH)]
        # A request while the worker runs: the dispatch of the replayed batches in a forked process (each batch
        # rolled back, so the replay below finds them new), deal updates timed here meanwhile, alternating
        # with rounds while the worker is idle (same deals, so only the worker differs).
        # (PostgreSQL only: SQLite's test database lives in this process's memory.)
        worker_measured = connection.vendor == "postgresql"
        if worker_measured:
            busy_ms, idle_ms, worker_batches = worker_rounds(batches, sample[:half], request_time_once)
        scan_seconds, scan_cpu = replay(plain_scan, batches)
        per_event = Dispatcher(now=clock.now())
        single_seconds, single_cpu = replay(per_event.deal_events, [[event] for event in earlier])
        dispatcher = Dispatcher(now=clock.now())
        profiler = None
        if os.environ.get("BENCH_PROFILE") == "dispatch":
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        database_cpu_began = _database_cpu(connection)
        dispatch_seconds, dispatch_cpu = replay(dispatcher.deal_events, batches)
        database_cpu = _database_cpu(connection) - database_cpu_began
        if profiler is not None:
            import pstats

            profiler.disable()
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats("dealflow", 40)
            stats.sort_stats("tottime").print_stats(25)
        result = dispatcher.result
        queued = WebhookDelivery.objects.filter(created_at=dispatcher.now).count()
        first_day = min(event.occurred_at for event in events)
        print(
            f"replayed {len(events):,} events (occurred {first_day:%Y-%m-%d} .. {max(e.occurred_at for e in events):%Y-%m-%d}) "
            f"through {len(rules)} rules and {len(subscriptions)} subscriptions"
        )
        rate, cpu_rate = len(events) / dispatch_seconds, len(events) / dispatch_cpu
        single_rate, single_cpu_rate = len(earlier) / single_seconds, len(earlier) / single_cpu
        print(
            f"dispatch, {BATCH} events per step: {dispatch_seconds:.2f} s = {rate:,.0f} events/s "
            f"({dispatch_cpu:.2f} s of this process's CPU = {cpu_rate:,.0f} events per CPU second); "
            + (f"PostgreSQL's backend {database_cpu:.2f} CPU s; " if not math.isnan(database_cpu) else "")
            + f"{result.runs:,} rule runs ({RuleRun.objects.filter(status='failed').count()} failed, "
            f"{result.skipped} skipped by the loop guard); {queued:,} deliveries queued; "
            f"{result.action_seconds:.2f} s of it in the deals services (rules that set a field or assign)"
        )
        print(
            f"baseline, the same dispatch one event per step ({len(earlier):,} earlier events, "
            f"{per_event.result.runs:,} runs): {single_rate:,.0f} events/s, {single_cpu_rate:,.0f} per CPU second; "
            f"batched / per event: {rate / single_rate:.1f}x wall, {cpu_rate / single_cpu_rate:.1f}x CPU"
        )
        print(
            f"floor, a plain read of the same events and their deals: {len(events) / scan_seconds:,.0f} events/s "
            f"({len(events) / max(scan_cpu, 1e-9):,.0f} per CPU second); the dispatch costs "
            f"{dispatch_seconds / scan_seconds:.1f}x that in wall time"
        )
        started = time.perf_counter()
        if os.environ.get("BENCH_PROFILE") == "deliver":
            import cProfile
            import pstats

            with cProfile.Profile() as send_profiler:
                sent = deliveries_send_due(limit=500, rounds=10_000)
            pstats.Stats(send_profiler).sort_stats("cumulative").print_stats(30)
        else:
            sent = deliveries_send_due(limit=500, rounds=10_000)
        send_seconds = time.perf_counter() - started
        received = [request for receiver in receivers for request in receiver.requests]
        created = dict(WebhookDelivery.objects.values_list("event_id", "created_at"))
        import uuid as uuid_module

        latencies = [
            request.at - created[uuid_module.UUID(request.headers["Dealflow-Event-Id"])].timestamp()
            for request in received
            if uuid_module.UUID(request.headers["Dealflow-Event-Id"]) in created
        ]
        print(
            f"delivery: {sent.delivered:,} delivered, {sent.failed} failed in {send_seconds:.2f} s = "
            f"{sent.delivered / send_seconds:,.0f} deliveries/s; receivers got {len(received):,}"
        )
        print(
            f"latency queued -> received: p50 {_percentile(latencies, 0.5):.2f} s, p95 {_percentile(latencies, 0.95):.2f} s "
            f"(the whole backlog of {WebhookDelivery.objects.count():,} sent at once); HTTP response p50 "
            f"{_percentile(sent.latencies_ms or [], 0.5):.0f} ms, p95 {_percentile(sent.latencies_ms or [], 0.95):.0f} ms"
        )
        print(
            f"a request (deal update): median {before_ms:.2f} ms without rules, {after_ms:.2f} ms with 20 rules and "
            f"5 subscriptions (ratio {after_ms / before_ms:.2f}); {before_queries} queries without, "
            f"{after_queries} with"
        )
        if not worker_measured:
            print("a request while the worker dispatches: measured on PostgreSQL only")
            return 0
        print(
            f"a request while the worker dispatches (in another process: {worker_batches} batches of {BATCH} "
            f"events done and rolled back meanwhile): median {statistics.median(busy_ms):.2f} ms (rounds "
            f"{', '.join(f'{value:.2f}' for value in busy_ms)}), worker idle {statistics.median(idle_ms):.2f} ms "
            f"(rounds {', '.join(f'{value:.2f}' for value in idle_ms)}); ratio "
            f"{statistics.median(busy_ms) / statistics.median(idle_ms):.2f} (the CPU the two share, not work the "
            f"request does: the query counts above)"
        )
    finally:
        for receiver in receivers:
            receiver.__exit__(None, None, None)
        connection.creation.destroy_test_db(name, verbosity=0)
    return 0
