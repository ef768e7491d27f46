"""Demo generator: deals per second through the bulk writer against the same histories through the services.

    python -m benchmarks demo [--deals 100000] [--sample 300] [--keep]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python -m benchmarks demo --deals 1000000

It builds a throw-away database (SQLite file var/bench_demo.sqlite3, or PostgreSQL database bench_demo),
draws ``--sample`` deal histories with the demo's generator and writes them one service call at a
time (deal_create / lead_convert, deal_move_to_stage, deal_update, deal_mark_won, ...: the baseline),
then runs the whole demo for ``--deals`` through the bulk writer, prints each phase and the ratio of
the two rates, and drops the database unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import time

from benchmarks.common import setup_django_test_database


def _through_services(deals) -> None:
    """The baseline: the same histories, one service call per step, as an import without the fast path would."""
    from decimal import Decimal

    from dealflow.accounts.models import User
    from dealflow.core.money import from_minor
    from dealflow.deals import bulk, services
    from dealflow.deals.models import Activity, LeadSource, LostReason, Stage

    users = {user.pk: user for user in User.objects.all()}
    stages = {stage.pk: stage for stage in Stage.objects.all()}
    reasons = {reason.pk: reason for reason in LostReason.objects.all()}
    sources = {source.pk: source for source in LeadSource.objects.all()}
    for plan in deals:
        amount = Decimal(from_minor(plan.amount_minor, plan.currency))
        common = {
            "amount": amount,
            "currency": plan.currency,
            "expected_close_on": plan.expected_close_on,
            "stage": stages[plan.stage_id],
        }
        if plan.lead is not None:
            lead = services.lead_create(
                title=plan.lead.title,
                source=sources[plan.lead.source_id],
                owner=users[plan.owner_id],
                at=plan.lead.created_at,
            )
            services.lead_qualify(lead=lead, at=plan.lead.qualified_at, has_need=True, has_budget=True)
            deal = services.lead_convert(lead=lead, by=users[plan.owner_id], at=plan.created_at, **common)
        else:
            deal = services.deal_create(
                title=plan.title,
                owner=users[plan.owner_id],
                by=users[plan.owner_id],
                at=plan.created_at,
                **common,
            )
        for step in plan.steps:
            by = users.get(step.activity.owner_id if isinstance(step, bulk.LogActivity) else step.by_id)
            if isinstance(step, bulk.Move):
                services.deal_move_to_stage(deal=deal, stage=stages[step.stage_id], by=by, at=step.at)
            elif isinstance(step, bulk.Won):
                services.deal_mark_won(deal=deal, by=by, at=step.at)
                if step.follow_up_done_at:
                    follow_up = Activity.objects.get(deal=deal, origin="post_sale")
                    services.activity_complete(activity=follow_up, at=step.follow_up_done_at)
            elif isinstance(step, bulk.Lost):
                services.deal_mark_lost(
                    deal=deal, reason=reasons[step.reason_id], by=by, at=step.at, note=step.note
                )
            elif isinstance(step, bulk.Reopen):
                services.deal_reopen(deal=deal, by=by, at=step.at)
            elif isinstance(step, bulk.Update):
                data = dict(step.changes)
                if "amount_minor" in data:
                    data["amount"] = from_minor(data.pop("amount_minor"), deal.currency)
                if "owner_id" in data:
                    data["owner"] = users[data.pop("owner_id")]
                services.deal_update(deal=deal, by=by, data=data, at=step.at)
            elif isinstance(step, bulk.LogActivity):
                activity = step.activity
                services.activity_create(
                    owner=users[activity.owner_id],
                    subject=activity.subject,
                    kind=activity.kind,
                    deal=deal,
                    due_at=activity.due_at,
                    done_at=activity.done_at,
                    at=activity.at,
                )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks demo")
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    options = parser.parse_args(argv)
    setup_django_test_database("bench_demo")
    from django.db import connection

    from dealflow.demo.generate import demo_generate
    from dealflow.demo.history import HistoryGenerator
    from dealflow.demo.world import world_build

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        today = dt.date.today()
        world = world_build(seed=99, today=today, months=24, deal_count=options.sample)
        _leads, sample, _activities = HistoryGenerator(world, random.Random(99)).chunk(options.sample, 0, 1)
        started = time.perf_counter()
        _through_services(sample)
        service_seconds = time.perf_counter() - started
        service_rate = len(sample) / service_seconds

        summary = demo_generate(
            deals=options.deals, seed=42, today=today, optional_steps=False, progress=True
        )
        bulk_seconds = summary.timings["deals, events, spells, activities, leads"]
        bulk_rate = options.deals / bulk_seconds
        counts = summary.counts
        print(f"engine: {connection.vendor}; load average at the end: {os.getloadavg()[0]:.1f}")
        print(
            f"rows: {counts.deals:,} deals, {counts.events:,} events ({counts.events / max(1, counts.deals):.1f} per deal), "
            f"{counts.spells:,} spells, {counts.activities:,} activities, {counts.leads:,} leads"
        )
        for phase, seconds in summary.timings.items():
            print(f"  {seconds:9.1f} s  {phase}")
        print(f"  {summary.seconds:9.1f} s  total")
        print(
            f"baseline, services one call per step: {len(sample)} deals in {service_seconds:.1f} s = {service_rate:,.0f} deals/s"
        )
        print(
            f"bulk writer (generation included):    {options.deals:,} deals in {bulk_seconds:.1f} s = {bulk_rate:,.0f} deals/s"
        )
        print(f"ratio: {bulk_rate / service_rate:.1f}x faster than the services")
    finally:
        if not options.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0
