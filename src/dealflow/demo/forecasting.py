"""Demo data for the Forecast page: quotas, rep calls with a few manager adjustments, weekly snapshots
reconstructed as-of from the event log for the past months (so accuracy is scored), and one backtest.

Snapshots are taken with ``snapshot_take(at=...)``, which rebuilds the pipeline from events up to that
moment only, exactly as the weekly job would have seen it.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from typing import TextIO

from django.utils import timezone

from dealflow.accounts.models import Membership, Role
from dealflow.core import clock
from dealflow.core.periods import period_containing
from dealflow.deals.models import Deal, DealStatus
from dealflow.deals.selectors import base_currency
from dealflow.forecasting import engine, services
from dealflow.forecasting.models import CallKind, ForecastCall, Quota
from dealflow.forecasting.selectors import SEED

SCORED_MONTHS = 8  # weekly snapshots for this many past months (at least six are fully scored)
NOTES = [
    "Two renewals slip to next month after the customer's budget freeze.",
    "Adding the Brightline expansion: verbal yes from procurement.",
    "Taking out the reseller deal until legal signs off.",
]


def _months(today: dt.date, back: int, ahead: int):
    period = period_containing(today, kind="month")
    for _ in range(back):
        period = period.previous()
    for _ in range(back + ahead + 1):
        yield period
        period = period.next()


def seed(*, seed: int, today: dt.date, stdout: TextIO | None = None) -> None:
    """Quotas, calls and past weekly snapshots for the demo pipeline (idempotent per database)."""
    if not Deal.objects.exists() or ForecastCall.objects.exists():
        return
    rng = random.Random(seed * 7 + 1)
    currency = base_currency()
    now = clock.now()
    won: dict[tuple[int, str], float] = defaultdict(float)  # (owner, month) -> won amount
    for owner_id, closed_on, amount in Deal.objects.filter(status=DealStatus.WON).values_list(
        "owner_id", "closed_on", "amount_base_minor"
    ):
        won[(owner_id, f"{closed_on:%Y-%m}")] += amount or 0
    months = list(_months(today, SCORED_MONTHS + 12, 3))
    memberships = list(Membership.objects.order_by("id").values_list("user_id", "team_id", "role"))
    reps_by_team: dict[int, list[int]] = defaultdict(list)
    for user_id, team_id, role in memberships:
        if role == Role.REP:
            reps_by_team[team_id].append(user_id)
    quotas, calls = [], []
    recent = [period.key for period in months[:12]]
    for team_id, reps in reps_by_team.items():
        for period in months[12:]:
            team_total = 0
            for rep_id in reps:
                average = sum(won[(rep_id, key)] for key in recent) / len(recent)
                amount = int(round(average * rng.uniform(1.05, 1.25), -4))
                team_total += amount
                quotas.append(
                    Quota(
                        period_key=period.key,
                        period_start=period.start,
                        period_end=period.end,
                        user_id=rep_id,
                        amount_minor=amount,
                        currency=currency,
                        created_at=now,
                    )
                )
                if period.start > today:
                    continue
                actual = won[(rep_id, period.key)]
                commit = int(round(actual * rng.uniform(0.65, 1.05), -3))
                calls.append(
                    ForecastCall(
                        period_key=period.key,
                        period_start=period.start,
                        period_end=period.end,
                        kind=CallKind.REP,
                        user_id=rep_id,
                        commit_minor=commit,
                        best_case_minor=int(commit * rng.uniform(1.2, 1.5)),
                        currency=currency,
                        submitted_by_id=rep_id,
                        created_at=timezone.make_aware(dt.datetime.combine(period.start, dt.time(0, 5)))
                        - dt.timedelta(days=1),
                    )
                )
            quotas.append(
                Quota(
                    period_key=period.key,
                    period_start=period.start,
                    period_end=period.end,
                    team_id=team_id,
                    amount_minor=team_total,
                    currency=currency,
                    created_at=now,
                )
            )
            if period.start <= today and rng.random() < 0.3:
                actual = sum(won[(rep_id, period.key)] for rep_id in reps)
                commit = int(round(actual * rng.uniform(0.85, 1.1), -3))
                calls.append(
                    ForecastCall(
                        period_key=period.key,
                        period_start=period.start,
                        period_end=period.end,
                        kind=CallKind.ADJUSTMENT,
                        team_id=team_id,
                        commit_minor=commit,
                        best_case_minor=int(commit * 1.25),
                        currency=currency,
                        note=rng.choice(NOTES),
                        created_at=timezone.make_aware(dt.datetime.combine(period.start, dt.time(0, 30)))
                        - dt.timedelta(days=1),
                    )
                )
    Quota.objects.bulk_create(quotas, batch_size=1000, ignore_conflicts=True)
    ForecastCall.objects.bulk_create(calls, batch_size=1000)

    context = services.SnapshotContext.load(kind="month")
    first = months[12].start
    monday = first + dt.timedelta(days=(7 - first.weekday()) % 7)
    taken = 0
    while monday <= today:
        services.snapshot_take(
            origin="demo", at=engine.midnight(monday), context=context, draws=2000, seed=SEED
        )
        taken += 1
        monday += dt.timedelta(days=7)
    # Quarter snapshots at each quarter's first Monday: the dashboard's accuracy tile reads the last full
    # quarter by default, and the weekly job takes both kinds.
    quarter_context = services.SnapshotContext.load(kind="quarter")
    quarter = period_containing(first, kind="quarter")
    while quarter.start <= today:
        start_monday = quarter.start + dt.timedelta(days=(7 - quarter.start.weekday()) % 7)
        if first <= start_monday <= today:
            services.snapshot_take(
                origin="demo",
                at=engine.midnight(start_monday),
                kind="quarter",
                context=quarter_context,
                draws=2000,
                seed=SEED,
            )
            taken += 1
        quarter = quarter.next()
    run = services.backtest_create(by=None, period_from=months[10].key, period_to=months[-5].key)
    services.backtest_execute(run=run, draws=1000)
    if stdout is not None:
        stdout.write(
            f"Forecast: {len(quotas)} quotas, {len(calls)} calls, {taken} weekly snapshots, backtest "
            f"{run.period_from}..{run.period_to} (default method {run.result.get('default_method')}).\n"
        )
