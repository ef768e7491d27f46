"""Pipeline review benchmark: `python -m benchmarks reviews [--deals N]` (default 20,000 demo deals).

In a fresh test database (SQLite in memory, or PostgreSQL when DATABASE_URL says so) loaded with the demo
generator, for the biggest team: the Forecast page of that team (`forecast_for_user`, the day's fit
warmed first) is the baseline; against it, starting a review (snapshot of every open deal with
probabilities, flags, thresholds, the Monte Carlo range and the bottlenecks), the review page's
selector, one what-if (two 10,000-draw simulations of the frozen rows), the deal card and the report as
Markdown. Each timing is the best of three, except the start (one review per scope at a time: each
start is followed by a finish, and the best of three starts is taken).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEALFLOW_TESTING", "1")


def _best(function, repeat: int = 3):
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return best, result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks reviews")
    parser.add_argument("--deals", type=int, default=20_000, help="demo deals (default 20,000)")
    deals = parser.parse_args(argv).deals
    sys.path.insert(0, "src")
    import django

    django.setup()
    from django.db import connection
    from django.db.models import Count
    from django.test.utils import setup_test_environment

    import dealflow.demo.generate as generate_module
    from dealflow.accounts.models import Membership, Role
    from dealflow.core import clock
    from dealflow.core.periods import period_containing
    from dealflow.deals.models import Deal
    from dealflow.forecasting.selectors import forecast_for_user
    from dealflow.reviews import exports, selectors, services

    setup_test_environment()
    name = connection.creation.create_test_db(verbosity=0, keepdb=False)
    try:
        started = time.perf_counter()
        generate_module.OPTIONAL_STEPS = []
        generate_module.demo_generate(deals=deals, seed=1, progress=False)
        loaded = time.perf_counter() - started
        biggest = (
            Deal.objects.filter(status="open")
            .values("team_id")
            .annotate(count=Count("id"))
            .order_by("-count")
            .first()
        )
        membership = Membership.objects.filter(team_id=biggest["team_id"], role=Role.MANAGER).select_related(
            "user", "team"
        )[0]
        manager, team = membership.user, membership.team
        period = period_containing(clock.today()).key
        forecast_for_user(user=manager, scope_kind="team", scope_id=team.pk)  # warms the day's fit
        baseline, _ = _best(lambda: forecast_for_user(user=manager, scope_kind="team", scope_id=team.pk))

        starts = []
        review = None
        for _ in range(3):
            if review is not None:
                services.review_finish(review=review, by=manager)
            begun = time.perf_counter()
            review = services.review_start(by=manager, team=team, period=period)
            starts.append(time.perf_counter() - begun)
        assert review is not None
        start = min(starts)
        rows = review.deals.count()
        page, workspace = _best(
            lambda: selectors.review_workspace_for_user(review_id=review.pk, user=manager)
        )
        deal_id = workspace.close_list[0].row.deal_id if workspace.close_list else workspace.first_deal_id
        what_if, _ = _best(
            lambda: selectors.review_what_if_for_user(
                review_id=review.pk, deal_id=deal_id, user=manager, probability=0.9
            )
        )
        card, _ = _best(
            lambda: selectors.review_deal_card_for_user(review_id=review.pk, deal_id=deal_id, user=manager)
        )
        report, _ = _best(
            lambda: exports.report_markdown(
                selectors.review_report_for_user(review_id=review.pk, user=manager)
            )
        )
        engine = connection.vendor
        print(
            f"reviews on {engine}: {deals:,} demo deals (loaded in {loaded:.0f} s); team {team.name} with "
            f"{rows:,} open deals frozen"
        )
        print(f"  baseline: the team's Forecast page (forecast_for_user)   {baseline:8.3f} s   1.00x")
        for label, seconds in (
            ("start a review (snapshot, range, bottlenecks)", start),
            ("review page (workspace selector)", page),
            ("what-if (best run: the review's draws kept, one row's change)", what_if),
            ("deal card", card),
            ("report as Markdown", report),
        ):
            print(f"  {label:<52} {seconds:8.3f} s   {seconds / baseline:5.2f}x")
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)
    return 0
