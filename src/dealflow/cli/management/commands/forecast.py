"""`dealflow forecast show|snapshot|backtest|quotas`: the forecast from the command line (and cron)."""

from __future__ import annotations

import json
from pathlib import Path

from django.utils.translation import gettext as _

from dealflow.cli.base import DealflowCommand, acting_user
from dealflow.core.errors import ApplicationError
from dealflow.core.periods import parse_period
from dealflow.forecasting import live, selectors, services


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _default_line(entry: dict) -> str:
    """Which method is the default and by how much it beat (or, as a baseline itself, led) the best other."""
    default, baseline = entry.get("default"), entry.get("best_baseline")
    if default is None:
        return _("Default method: dealflow (nothing scored yet).")
    scores = entry["scores"]
    if baseline and baseline != default:
        return _(
            "Default method: %(method)s, %(points).1f points of WAPE better than the best baseline %(baseline)s."
        ) % {
            "method": default,
            "points": 100 * (scores[baseline]["wape"] - scores[default]["wape"]),
            "baseline": baseline,
        }
    others = {
        method: score for method, score in scores.items() if method != default and score["wape"] is not None
    }
    runner_up = min(others, key=lambda method: others[method]["wape"]) if others else None
    if runner_up is None:
        return _("Default method: %(method)s.") % {"method": default}
    return _(
        "Default method: %(method)s (a baseline), %(points).1f points of WAPE better than %(other)s."
    ) % {
        "method": default,
        "points": 100 * (others[runner_up]["wape"] - scores[default]["wape"]),
        "other": runner_up,
    }


class Command(DealflowCommand):
    help = _("Show the forecast, take a snapshot, run a backtest or import quotas.")

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        show = actions.add_parser("show", help=_("The forecast of a period."))
        show.add_argument("--period", help=_("2026-12 or 2026-Q4 (default: this month)."))
        show.add_argument("--by", choices=["team", "rep"], help=_("Break the forecast down by team or rep."))
        show.add_argument(
            "--scope",
            choices=["company", "team", "rep"],
            help=_("Whose forecast (default: the widest you may see)."),
        )
        show.add_argument("--id", type=int, help=_("Team or user id for --scope team/rep."))
        show.add_argument(
            "--method",
            choices=list(live.METHODS),
            help=_("Use this method instead of the default the latest backtest chose."),
        )
        show.add_argument("--user", help=_("Whose view (default: the first superuser)."))
        snapshot = actions.add_parser("snapshot", help=_("Take an immutable snapshot now (for cron)."))
        snapshot.add_argument(
            "--kind", choices=["month", "quarter"], default="month", help=_("Period length (default: month).")
        )
        backtest = actions.add_parser(
            "backtest",
            help=_("Score every method, baselines included, on past periods and choose the default."),
            description=_(
                "Forecast every Monday of the range as it looked then, fitted on older data only, with every "
                "method; correct and range each forecast from the errors known at the time; print WAPE, bias "
                "and P10-P90 coverage per method and the default method per horizon."
            ),
        )
        backtest.add_argument(
            "--from",
            dest="period_from",
            help=_("First period, 2025-01 or 2025-Q1 (default: 12 full months ago)."),
        )
        backtest.add_argument("--to", dest="period_to", help=_("Last period (default: last full month)."))
        backtest.add_argument(
            "--kind", choices=["month", "quarter"], default="month", help=_("Period length (default: month).")
        )
        backtest.add_argument(
            "--draws", type=int, default=2000, help=_("Monte Carlo draws per forecast (default: 2000).")
        )
        backtest.add_argument(
            "--format",
            dest="output",
            choices=["table", "json"],
            default="table",
            help=_("Output format (default: table)."),
        )
        quotas = actions.add_parser(
            "quotas", help=_("Import quotas from a CSV (period, team, user, amount).")
        )
        quotas.add_argument(
            "file", help=_("The CSV file: columns period, team, user, amount (team or user per row).")
        )
        quotas.add_argument("--user", help=_("Who sets them (default: the first superuser)."))

    def handle(self, *args, action: str, **options):
        getattr(self, f"handle_{action}")(**options)

    def handle_show(self, *, period, by, scope, id, method, user, **options):
        period_value = parse_period(period) if period else None
        kind = period_value.kind if period_value else "month"
        scope_kind = scope or ("company" if by == "team" else None)
        view = selectors.forecast_for_user(
            user=acting_user(user), kind=kind, scope_kind=scope_kind, scope_id=id, method=method
        )
        periods = [
            item for item in view.periods if period_value is None or item.period.key == period_value.key
        ]
        if not periods:
            raise ApplicationError(
                _("The forecast covers this period and the next three only."), field="period"
            )
        item = periods[0] if period_value else view.periods[0]
        self.stdout.write(
            f"{item.period.key}  {view.scope.label}  {view.currency}  method={item.method} ({view.level})"
        )
        self.stdout.write(view.method_reason)
        rows = [
            (_("Closed so far"), _money(item.closed)),
            (_("Commit (open)"), _money(item.commit)),
            (_("Best case (open)"), _money(item.best_case)),
            (_("Pipeline (open)"), _money(item.pipeline)),
            (_("Weighted (amount x stage probability)"), _money(item.weighted)),
            (_("Forecast mean"), _money(item.mean)),
            ("P10 / P50 / P90", f"{_money(item.p10)} / {_money(item.p50)} / {_money(item.p90)}"),
            (
                _("Range"),
                _("calibrated") if item.calibrated else _("uncalibrated (too little history): wider"),
            ),
            (_("Quota"), _money(item.quota)),
            (_("Quota attained so far"), _percent(item.attainment)),
            (_("P(reaching quota)"), _percent(item.p_quota)),
            (_("Call (commit / best case)"), f"{_money(item.call_commit)} / {_money(item.call_best_case)}"),
        ]
        for label, value in rows:
            self.stdout.write(f"  {label:<40} {value:>24}")
        if by and item.children:
            self.stdout.write("")
            self.stdout.write(
                f"  {'':<24}{'closed':>14}{'mean':>14}{'P10':>14}{'P90':>14}{'quota':>14}{'P(quota)':>10}"
            )
            for child in item.children:
                self.stdout.write(
                    f"  {child.label[:24]:<24}{_money(child.closed):>14}{_money(child.mean):>14}"
                    f"{_money(child.p10):>14}{_money(child.p90):>14}{_money(child.quota):>14}{_percent(child.p_quota):>10}"
                )

    def handle_snapshot(self, *, kind, **options):
        snapshots = services.snapshot_take(origin="cli", kind=kind)
        self.stdout.write(_("Took %(count)d snapshots (periods x scopes).") % {"count": len(snapshots)})

    def handle_backtest(self, *, period_from, period_to, kind, draws, output, **options):
        if draws < 100:
            raise ApplicationError(_("Give at least 100 draws."), field="draws")
        run = services.backtest_create(by=None, period_from=period_from, period_to=period_to, kind=kind)
        run = services.backtest_execute(run=run, draws=draws)
        result = run.result
        if output == "json":
            payload = {"id": run.pk, "period_from": run.period_from, "period_to": run.period_to, **result}
            self.stdout.write(json.dumps(payload, indent=2, sort_keys=True))
            return
        self.stdout.write(
            _(
                "Backtest %(start)s..%(end)s: %(points)d weekly as-of points (after %(warm)d warm-up weeks), %(draws)d draws."
            )
            % {
                "start": run.period_from,
                "end": run.period_to,
                "points": result["points"],
                "warm": result.get("warm_up_points", 0),
                "draws": draws,
            }
        )
        self.stdout.write(
            f"{'method':<12}{'lead':<16}{'n':>5}{'accuracy':>10}{'WAPE':>9}{'bias':>9}{'P10-P90':>9}"
        )
        for row in result["rows"]:
            self.stdout.write(
                f"{row['method']:<12}{row['lead']:<16}{row['count']:>5}{_percent(row['accuracy']):>10}"
                f"{_percent(row['wape']):>9}{_percent(row['bias']):>9}{_percent(row['coverage']):>9}"
            )
        if not result.get("by_horizon"):
            self.stdout.write(_("Default method: dealflow (nothing scored yet)."))
        for horizon, entry in result.get("by_horizon", {}).items():
            label = _("this period") if horizon == "0" else _("next period")
            self.stdout.write(
                _("Overall, %(label)s (after bias correction and calibration):") % {"label": label}
            )
            for method, row in sorted(
                entry["scores"].items(),
                key=lambda item: item[1]["wape"] if item[1]["wape"] is not None else 9,
            ):
                self.stdout.write(
                    f"  {method:<12}{row['count']:>5}{_percent(row['accuracy']):>10}{_percent(row['wape']):>9}"
                    f"{_percent(row['bias']):>9}{_percent(row['coverage']):>9}"
                )
            self.stdout.write("  " + _default_line(entry))

    def handle_quotas(self, *, file, user, **options):
        path = Path(file)
        if not path.exists():
            raise ApplicationError(_("There is no file %(file)s.") % {"file": file}, field="file")
        count = services.quota_import_csv(by=acting_user(user), text=path.read_text(encoding="utf-8-sig"))
        self.stdout.write(_("Imported %(count)d quotas.") % {"count": count})
