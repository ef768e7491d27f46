"""`dealflow demo`: load realistic, deterministic demo data (bulk inserts, a progress bar on stderr)."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _

from dealflow.cli.base import DealflowCommand
from dealflow.demo.generate import demo_generate


class Command(DealflowCommand):
    help = _("Load demo data: teams, reps, two pipelines, leads and deals with months of history.")

    def add_arguments(self, parser):
        parser.add_argument(
            "--deals", type=int, default=3000, help=_("Number of deals (default: %(default)s).")
        )
        parser.add_argument(
            "--seed", type=int, default=42, help=_("Random seed; the same seed gives the same data.")
        )
        parser.add_argument("--months", type=int, default=24, help=_("Months of history up to today."))
        parser.add_argument(
            "--today", type=dt.date.fromisoformat, help=_("Pretend today is this date (YYYY-MM-DD).")
        )
        parser.add_argument("--no-progress", action="store_true", help=_("Do not draw the progress bar."))
        parser.add_argument(
            "--pipeline-only",
            action="store_true",
            help=_("Only the pipeline data: skip the people, forecasting and reviews demo steps."),
        )

    def handle(self, *args, deals, seed, months, today, no_progress, pipeline_only, **options):
        summary = demo_generate(
            deals=deals,
            seed=seed,
            months=months,
            today=today,
            stdout=self.stdout,
            progress=not no_progress,
            optional_steps=not pipeline_only,
        )
        counts = summary.counts
        self.stdout.write(
            _(
                "Loaded %(deals)s deals, %(events)s events, %(spells)s stage spells, %(activities)s activities "
                "and %(leads)s leads in %(seconds).1f s."
            )
            % {**vars(counts), "seconds": summary.seconds}
        )
        for phase, seconds in summary.timings.items():
            self.stdout.write(f"  {seconds:8.1f} s  {phase}")
