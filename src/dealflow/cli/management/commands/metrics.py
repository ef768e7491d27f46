"""`dealflow metrics`: the dashboard's numbers on the command line, as a table, JSON or CSV.

dealflow metrics --period 2026-Q3                       the six metrics, this period and the last
dealflow metrics --period 2026-Q3 --by owner --format csv   per owner (or team), sortable (--order)
dealflow metrics --period 2026-Q3 --by product               won revenue, win rate, size, cycle per product
dealflow metrics --show funnel|stages|flow|attention|trends
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from dealflow.accounts.models import User
from dealflow.cli.base import DealflowCommand, acting_user, user_get_by_username
from dealflow.forecasting.accuracy_tile import forecast_accuracy_tile_for_user
from dealflow.metrics import selectors
from dealflow.metrics.selectors import MetricFilters


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: _plain(item) for name, item in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def _text(value: Any) -> str:
    return "—" if value is None else str(value)


def _summary_rows(summary: selectors.MetricSummary, accuracy: selectors.ForecastAccuracy) -> list[list[Any]]:
    now, before, changes = summary.current, summary.previous, summary.changes
    rows: list[list[Any]] = [
        [
            "lead_conversion",
            now.lead_conversion.rate,
            before.lead_conversion.rate,
            changes["lead_conversion"],
        ],
        ["lead_any_deal_rate", now.lead_conversion.any_deal_rate, before.lead_conversion.any_deal_rate, None],
        ["deal_size_mean", now.deal_size.mean, before.deal_size.mean, changes["deal_size"]],
        ["deal_size_median", now.deal_size.median, None, None],
        ["cycle_days_mean", now.cycle.mean_days, before.cycle.mean_days, changes["cycle_days"]],
        ["cycle_days_median", now.cycle.median_days, None, None],
        ["cycle_from_lead_days_mean", now.cycle.from_lead_mean_days, before.cycle.from_lead_mean_days, None],
        ["cycle_from_lead_days_median", now.cycle.from_lead_median_days, None, None],
        ["win_rate", now.win_rate.rate, before.win_rate.rate, changes["win_rate"]],
        ["win_rate_value", now.win_rate.value_rate, before.win_rate.value_rate, None],
        ["won", now.win_rate.won, before.win_rate.won, None],
        ["lost", now.win_rate.lost, before.win_rate.lost, None],
        ["open_deals", now.velocity.open_deals, before.velocity.open_deals, None],
        ["velocity_per_day", now.velocity.per_day, before.velocity.per_day, changes["velocity"]],
        ["forecast_accuracy", accuracy.accuracy, None, None],
    ]
    header: list[Any] = ["metric", now.period, before.period, "change"]
    return [header, *rows]


Read = tuple[Any, list[list[Any]]]


def _breakdown(user: User, filters: MetricFilters, by: str, order: str) -> Read:
    breakdown = selectors.metric_breakdown_for_user(user=user, filters=filters, by=by, order=order)
    names = [field.name for field in dataclasses.fields(selectors.BreakdownRow) if field.name != "key"]
    rows: list[list[Any]] = [[by, *names[1:]]]
    rows.extend([getattr(row, name) for name in names] for row in breakdown)
    return breakdown, rows


def _by_product(user: User, filters: MetricFilters) -> Read:
    figures = selectors.product_figures_for_user(user=user, filters=filters)
    basis = figures[0].basis if figures else ""
    currency = figures[0].currency if figures else ""
    rows: list[list[Any]] = [
        [
            "product",
            "won",
            "lost",
            "win_rate",
            f"won_revenue_{currency}",
            "average_deal_size",
            "cycle_days",
            "basis",
        ]
    ]
    rows.extend(
        [
            row.code,
            row.won,
            row.lost,
            row.win_rate,
            row.won_revenue,
            row.average_deal_size,
            row.cycle_days,
            basis,
        ]
        for row in figures
    )
    return figures, rows


def _summary(user: User, filters: MetricFilters) -> Read:
    summary = selectors.metric_summary_for_user(user=user, filters=filters)
    accuracy = forecast_accuracy_tile_for_user(user=user, filters=filters)
    return {"summary": summary, "forecast_accuracy": accuracy}, _summary_rows(summary, accuracy)


def _funnel(user: User, filters: MetricFilters) -> Read:
    funnel = selectors.funnel_for_user(user=user, filters=filters)
    rows: list[list[Any]] = [["step", "segment", "count", "amount", "conversion", "drop_off"]]
    for step in funnel.steps:
        rows.append([step.label, step.segment, step.count, step.amount, step.conversion, step.drop_off])
    return funnel, rows


def _stages(user: User, filters: MetricFilters) -> Read:
    stages = selectors.stage_times_for_user(user=user, filters=filters)
    columns = "stage entered median_days p80_days previous_median_days won_p80_days conversion open_now flags"
    rows: list[list[Any]] = [columns.split()]
    for row in stages:
        flags = " ".join(flag.kind for flag in row.flags)
        days = [row.median_days, row.p80_days, row.previous_median_days, row.won_p80_days]
        rows.append([row.name, row.entered, *days, row.conversion, row.open_now, flags])
    return stages, rows


def _flow(user: User, filters: MetricFilters) -> Read:
    flow = selectors.stage_flow_for_user(user=user, filters=filters)
    rows: list[list[Any]] = [["from", "to", "kind", "count"]]
    for link in flow.links:
        rows.append([flow.nodes[link.source].label, flow.nodes[link.target].label, link.kind, link.count])
    return flow, rows


def _attention(user: User, filters: MetricFilters) -> Read:
    attention = selectors.deal_attention_for_user(user=user, filters=filters)
    rows: list[list[Any]] = [["list", "deal", "title", "owner", "stage", "days idle / close date"]]
    for deal in attention.stale_deals:
        rows.append(["stale", deal.deal_id, deal.title, deal.owner, deal.stage, deal.idle_days])
    for deal in attention.slipped_deals:
        rows.append(["slipped", deal.deal_id, deal.title, deal.owner, deal.stage, deal.expected_close_on])
    return attention, rows


def _trends(user: User, filters: MetricFilters) -> Read:
    trends = selectors.metric_trends_for_user(user=user, filters=filters)
    names = [field.name for field in dataclasses.fields(selectors.TrendPoint)]
    rows: list[list[Any]] = [list(names)]
    rows.extend([getattr(point, name) for name in names] for point in trends)
    return trends, rows


READERS = {
    "summary": _summary,
    "funnel": _funnel,
    "stages": _stages,
    "flow": _flow,
    "attention": _attention,
    "trends": _trends,
}


class Command(DealflowCommand):
    help = _("Print the pipeline metrics of a period (docs/metrics.md) as a table, JSON or CSV.")

    def add_arguments(self, parser):
        parser.add_argument(
            "--period", help=_("2026-11, 2026-Q3, 2026 or 2026-01-01..2026-03-31 (default: this quarter).")
        )
        parser.add_argument(
            "--by",
            choices=["owner", "team", "product"],
            help=_("Break the metrics down by owner, team or product."),
        )
        parser.add_argument(
            "--order", default="-won_value", help=_("Sort the breakdown by a column; - for descending.")
        )
        parser.add_argument(
            "--show", choices=list(READERS), default="summary", help=_("What to print (default: summary).")
        )
        parser.add_argument("--format", choices=["table", "json", "csv"], default="table")
        parser.add_argument("--pipeline", type=int, help=_("Pipeline id."))
        parser.add_argument("--team", type=int, help=_("Team id."))
        parser.add_argument("--owner", help=_("Owner's username."))
        parser.add_argument("--source", help=_("Lead source key (website, referral, ...)."))
        parser.add_argument("--user", help=_("Whose view (default: the first superuser)."))

    def handle(self, *args, **options):
        user = acting_user(options["user"])
        owner = user_get_by_username(options["owner"]).pk if options["owner"] else None
        filters = MetricFilters.from_mapping(
            {
                "period": options["period"],
                "pipeline": options["pipeline"],
                "team": options["team"],
                "owner": owner,
                "source": options["source"],
            }
        )
        data, rows = self._read(user, filters, options)
        if options["format"] == "json":
            self.stdout.write(json.dumps(_plain(data), indent=2, ensure_ascii=False))
        elif options["format"] == "csv":
            writer = csv.writer(self.stdout, lineterminator="\n")
            writer.writerows([[_text(cell) if cell is not None else "" for cell in row] for row in rows])
        else:
            self._table(rows)

    def _read(self, user: User, filters: MetricFilters, options: dict) -> tuple[Any, list[list[Any]]]:
        if options["by"] == "product":
            return _by_product(user, filters)
        if options["by"]:
            return _breakdown(user, filters, options["by"], options["order"])
        return READERS[options["show"]](user, filters)

    def _table(self, rows: list[list[Any]]) -> None:
        cells = [[_text(cell) for cell in row] for row in rows]
        widths = [max(len(row[index]) for row in cells) for index in range(len(cells[0]))]
        for number, row in enumerate(cells):
            line = "  ".join(
                cell.ljust(width) if index == 0 else cell.rjust(width)
                for index, (cell, width) in enumerate(zip(row, widths, strict=True))
            )
            self.stdout.write(line.rstrip())
            if number == 0:
                self.stdout.write("  ".join("-" * width for width in widths))
