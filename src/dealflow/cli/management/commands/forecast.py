"""`dealflow forecast show|snapshot|backtest|quotas`: the forecast from the command line (and cron)."""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext as _

from dealflow.cli.base import DealflowCommand, acting_user
from dealflow.core.errors import ApplicationError
from dealflow.core.periods import parse_period
from dealflow.forecasting import selectors, services


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


class Command(DealflowCommand):
    help = _("Show the forecast, take a snapshot, run a backtest or import quotas.")

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        show = actions.add_parser("show", help=_("The forecast of a period."))
        show.add_argument("--period", help=_("2026-12 or 2026-Q4 (default: this month)."))
        show.add_argument("--by", choices=["team", "rep"], help=_("Break the forecast down by team or rep."))
        show.add_argument("--scope", choices=["company", "team", "rep"])
        show.add_argument("--id", type=int, help=_("Team or user id for --scope team/rep."))
        show.add_argument("--method", choices=["dealflow", "learned", "configured"])
        show.add_argument("--user", help=_("Whose view (default: the first superuser)."))
        snapshot = actions.add_parser("snapshot", help=_("Take an immutable snapshot now (for cron)."))
        snapshot.add_argument("--kind", choices=["month", "quarter"], default="month")
        backtest = actions.add_parser("backtest", help=_("Score every method on past periods."))
        backtest.add_argument("--from", dest="period_from", required=True)
        backtest.add_argument("--to", dest="period_to", required=True)
        backtest.add_argument("--kind", choices=["month", "quarter"], default="month")
        backtest.add_argument("--draws", type=int, default=2000)
        quotas = actions.add_parser(
            "quotas", help=_("Import quotas from a CSV (period, team, user, amount).")
        )
        quotas.add_argument("file")
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
            f"{item.period.key}  {view.scope.label}  {view.currency}  method={view.method} ({view.level})"
        )
        rows = [
            (_("Closed so far"), _money(item.closed)),
            (_("Commit (open)"), _money(item.commit)),
            (_("Best case (open)"), _money(item.best_case)),
            (_("Pipeline (open)"), _money(item.pipeline)),
            (_("Weighted (amount x stage probability)"), _money(item.weighted)),
            (_("Forecast mean"), _money(item.mean)),
            ("P10 / P50 / P90", f"{_money(item.p10)} / {_money(item.p50)} / {_money(item.p90)}"),
            (_("Quota"), _money(item.quota)),
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

    def handle_backtest(self, *, period_from, period_to, kind, draws, **options):
        run = services.backtest_create(by=None, period_from=period_from, period_to=period_to, kind=kind)
        run = services.backtest_execute(run=run, draws=draws)
        result = run.result
        self.stdout.write(
            _("Backtest %(start)s..%(end)s: %(points)d weekly as-of points, %(draws)d draws.")
            % {"start": run.period_from, "end": run.period_to, "points": result["points"], "draws": draws}
        )
        self.stdout.write(
            f"{'method':<12}{'lead':<16}{'n':>5}{'accuracy':>10}{'WAPE':>9}{'bias':>9}{'P10-P90':>9}"
        )
        for row in result["rows"]:
            self.stdout.write(
                f"{row['method']:<12}{row['lead']:<16}{row['count']:>5}{_percent(row['accuracy']):>10}"
                f"{_percent(row['wape']):>9}{_percent(row['bias']):>9}{_percent(row['coverage']):>9}"
            )
        self.stdout.write(_("Overall, this period:"))
        for method, row in result["overall"].items():
            self.stdout.write(
                f"  {method:<12}{row['count']:>5}{_percent(row['accuracy']):>10}{_percent(row['wape']):>9}"
                f"{_percent(row['bias']):>9}{_percent(row['coverage']):>9}"
            )
        self.stdout.write(_("Default method: %(method)s") % {"method": result["default_method"]})

    def handle_quotas(self, *, file, user, **options):
        path = Path(file)
        if not path.exists():
            raise ApplicationError(_("There is no file %(file)s.") % {"file": file}, field="file")
        count = services.quota_import_csv(by=acting_user(user), text=path.read_text(encoding="utf-8-sig"))
        self.stdout.write(_("Imported %(count)d quotas.") % {"count": count})
