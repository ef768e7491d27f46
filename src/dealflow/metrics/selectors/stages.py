"""Time in stage (Kaplan-Meier), bottlenecks and the flow between stages (Sankey), from StayFact."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from dealflow.core.formatting import format_money_major, format_number
from dealflow.deals.models import DealFact, DealStatus, SpellExit, StageKind, StayFact
from dealflow.deals.services.derived_cells import DONE_STAY, ENTRY, EXIT, LIVE, OPEN_STAY, WON_STAY
from dealflow.metrics import calculations as calc
from dealflow.metrics.selectors.funnel import stage_reach
from dealflow.metrics.selectors.groups import group_owner_q, group_rows, is_whole_months
from dealflow.metrics.selectors.scope import MetricScope
from dealflow.metrics.selectors.sql import as_day, plain_rows

BENCHMARK_DAYS = 365  # the won-deal benchmark looks at stays that ended in the year before the period ends
SLOWER_SHARE = 1.2  # a median 20 % (and at least a day) above the previous period's is flagged


@dataclass
class Flag:
    kind: str  # conversion_down, slower_than_previous, slower_than_won, most_waiting
    message: str


@dataclass
class StageTime:
    stage_id: int
    name: str
    is_active: bool
    entered: int  # stays that began in the period
    finished: int
    still_open: int
    median_days: int | None  # Kaplan-Meier, open stays censored at their age today
    p80_days: int | None
    previous_median_days: int | None
    previous_p80_days: int | None
    won_median_days: int | None  # stays of won deals that ended in the year before the period ends
    won_p80_days: int | None
    conversion: float | None  # share of the period's deals that reached this stage and the next
    conversion_low: float | None
    conversion_high: float | None
    previous_conversion: float | None
    open_now: int  # deals in the stage today (Little's law: waiting work)
    open_value: Decimal
    arrivals_per_day: float | None
    implied_wait_days: float | None  # open now / arrivals per day
    flags: list[Flag] = field(default_factory=list)


@dataclass
class FlowNode:
    key: str
    label: str


@dataclass
class FlowLink:
    source: int  # index into nodes
    target: int
    count: int
    kind: str  # created, reopened, forward, back, won, lost


@dataclass
class Flow:
    period: str
    nodes: list[FlowNode]
    links: list[FlowLink]


def _stays(scope: MetricScope) -> QuerySet[StayFact]:
    return StayFact.objects.filter(scope.deal_q(), pipeline_id=scope.pipeline_id)


def _survival_counts(scope: MetricScope) -> dict[tuple[Any, ...], dict[str, dict[int, int]]]:
    """Stays that began in the period or the previous one: per (period, stage) the days finished stays
    took and the ages of open ones, in calendar days. Counted per entry day first, the index's order, so
    SQLite streams the groups instead of sorting the stays."""
    current, previous = scope.period, scope.previous
    start_day, end_day = min(previous.start, current.start), current.end
    owners = group_owner_q(scope)
    if owners is not None and is_whole_months(current, previous):
        # Finished stays per entry month and length, open ones (days -1) per entry day: DealGroupTotals.
        rows = [
            (day, stage_id, None if days < 0 else days, count)
            for day, stage_id, days, count in group_rows(
                scope,
                owners,
                (DONE_STAY, OPEN_STAY),
                ("day", "stage_id", "days", "count"),
                start=start_day,
                end=end_day,
            )
        ]
    else:
        rows = plain_rows(
            _stays(scope)
            .filter(entered_on__gte=start_day, entered_on__lt=end_day)
            .values("entered_on", "stage_id", "days")
            .annotate(count=Count("*"))
            .order_by()
        )
    result: dict[tuple[Any, ...], dict[str, dict[int, int]]] = defaultdict(
        lambda: {"finished": defaultdict(int), "open": defaultdict(int)}
    )
    start = current.start.isoformat()
    for entered_on, stage_id, days, count in rows:
        counts = result[(current.key if str(entered_on) >= start else previous.key, stage_id)]
        if days is not None:
            counts["finished"][days] += count
        else:
            counts["open"][max(0, (scope.today - as_day(entered_on)).days)] += count
    return result


def _won_benchmark(scope: MetricScope) -> dict[int, dict[int, int]]:
    """Days that stays of won deals took, per stage, for stays that ended in the year before the period ends."""
    end = scope.period.end
    start = end - dt.timedelta(days=BENCHMARK_DAYS)
    owners = group_owner_q(scope)
    # Whole months of the window from DealGroupTotals (by exit month), the days before the first of them
    # (when a 29 February makes the window start on the 2nd) from the stays.
    months_from = start if start.day == 1 else (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    if owners is None or end.day != 1:
        months_from = end
    rows: list[tuple[Any, ...]] = []
    if start < months_from:
        rows += plain_rows(
            _stays(scope)
            .filter(
                deal_status=DealStatus.WON,
                exited_on__gte=start,
                exited_on__lt=months_from,
                days__isnull=False,
            )
            .values("exited_on", "stage_id", "days")
            .annotate(count=Count("*"))
            .order_by()
        )
    if months_from < end and owners is not None:
        rows += group_rows(
            scope, owners, WON_STAY, ("day", "stage_id", "days", "count"), start=months_from, end=end
        )
    result: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for _exited_on, stage_id, days, count in rows:
        result[stage_id][days] += count
    return result


def _open_now(scope: MetricScope) -> dict[int, tuple[int, int]]:
    """Open deals per stage today: (count, value in base minor units at today's rate)."""
    rates = scope.rates
    owners = group_owner_q(scope)
    rows: list[tuple[Any, ...]]
    if owners is not None:
        rows = group_rows(scope, owners, LIVE, ("stage_id", "currency", "count", "amount_minor"))
    else:
        rows = plain_rows(
            DealFact.objects.filter(scope.deal_q(), status=DealStatus.OPEN, pipeline_id=scope.pipeline_id)
            .values("stage_id", "currency")
            .annotate(count=Count("*"), amount=Sum("amount_minor"))
            .order_by()
        )
    # Per stage and currency first: each currency's sum is converted once (exact minor units).
    amounts: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    for stage_id, currency, count, amount in rows:
        cell = amounts[(stage_id, currency)]
        cell[0] += count
        cell[1] += int(amount or 0)
    result: dict[int, tuple[int, int]] = defaultdict(lambda: (0, 0))
    for (stage_id, currency), (count, amount) in amounts.items():
        if not count:
            continue
        before_count, value = result[stage_id]
        converted = rates.to_base_minor_or_none(amount, currency, scope.today) or 0
        result[stage_id] = (before_count + count, value + converted)
    return result


def stage_times(*, scope: MetricScope) -> list[StageTime]:
    """Per stage: time in stage this period and last, against won deals; conversion; waiting work; flags."""
    current, previous = scope.period, scope.previous
    stages = [stage for stage in scope.stages if stage.kind == StageKind.OPEN]
    survival = _survival_counts(scope)
    benchmark = _won_benchmark(scope)
    waiting = _open_now(scope)
    reach_now, reach_before = stage_reach(scope, current), stage_reach(scope, previous)
    rates = scope.rates
    chain_now = [*[reach_now.reached.get(stage.pk, 0) for stage in reach_now.stages], reach_now.won]
    chain_before = [
        *[reach_before.reached.get(stage.pk, 0) for stage in reach_before.stages],
        reach_before.won,
    ]
    position = {stage.pk: index for index, stage in enumerate(reach_now.stages)}
    rows: list[StageTime] = []
    for stage in stages:
        counts_now = survival.get((current.key, stage.pk), {"finished": {}, "open": {}})
        counts_before = survival.get((previous.key, stage.pk), {"finished": {}, "open": {}})
        curve_now = calc.kaplan_meier(counts_now["finished"], counts_now["open"])
        curve_before = calc.kaplan_meier(counts_before["finished"], counts_before["open"])
        won_days = benchmark.get(stage.pk, {})
        open_count, open_value = waiting.get(stage.pk, (0, 0))
        conversion = interval = previous_conversion = None
        if stage.pk in position:
            index = position[stage.pk]
            conversion = calc.ratio(chain_now[index + 1], chain_now[index])
            interval = calc.wilson_interval(chain_now[index + 1], chain_now[index])
            previous_conversion = calc.ratio(chain_before[index + 1], chain_before[index])
        arrivals = calc.ratio(curve_now.count, current.days)
        row = StageTime(
            stage_id=stage.pk,
            name=stage.name,
            is_active=stage.is_active,
            entered=curve_now.count,
            finished=curve_now.finished,
            still_open=curve_now.count - curve_now.finished,
            median_days=curve_now.median,
            p80_days=curve_now.p80,
            previous_median_days=curve_before.median,
            previous_p80_days=curve_before.p80,
            won_median_days=calc.quantile_of_counts(won_days, 0.5),
            won_p80_days=calc.quantile_of_counts(won_days, 0.8),
            conversion=calc.as_float(conversion),
            conversion_low=interval[0] if interval else None,
            conversion_high=interval[1] if interval else None,
            previous_conversion=calc.as_float(previous_conversion),
            open_now=open_count,
            open_value=rates.money(open_value) or Decimal(0),
            arrivals_per_day=calc.as_float(arrivals, 2),
            implied_wait_days=calc.as_float(calc.ratio(open_count, arrivals) if arrivals else None, 1),
        )
        if not stage.is_active and not row.entered and not row.open_now:
            continue
        row.flags = _flags(row)
        rows.append(row)
    _flag_most_waiting(rows, currency=rates.base)
    return rows


def _flags(row: StageTime) -> list[Flag]:
    flags = []
    if (
        row.conversion is not None
        and row.previous_conversion is not None
        and row.conversion_high is not None
        and row.previous_conversion > row.conversion_high
    ):
        flags.append(
            Flag(
                "conversion_down",
                _(
                    "Conversion fell to %(now).0f %% (95 %% interval %(low).0f–%(high).0f %%) from %(before).0f %%."
                )
                % {
                    "now": 100 * row.conversion,
                    "low": 100 * (row.conversion_low or 0),
                    "high": 100 * row.conversion_high,
                    "before": 100 * row.previous_conversion,
                },
            )
        )
    if (
        row.median_days is not None
        and row.previous_median_days is not None
        and row.median_days >= SLOWER_SHARE * row.previous_median_days
        and row.median_days - row.previous_median_days >= 1
    ):
        flags.append(
            Flag(
                "slower_than_previous",
                _("Median time in stage rose to %(now)s days from %(before)s days.")
                % {"now": format_number(row.median_days), "before": format_number(row.previous_median_days)},
            )
        )
    if row.median_days is not None and row.won_p80_days is not None and row.median_days > row.won_p80_days:
        flags.append(
            Flag(
                "slower_than_won",
                _("Median time in stage is %(now)s days; 80 %% of won deals left it within %(won)s days.")
                % {"now": format_number(row.median_days), "won": format_number(row.won_p80_days)},
            )
        )
    return flags


def _flag_most_waiting(rows: list[StageTime], *, currency: str) -> None:
    waiting = [row for row in rows if row.open_value > 0]
    if not waiting:
        return
    top = max(waiting, key=lambda row: (row.open_value, row.open_now))
    message = _("Holds the most waiting value: %(count)s open deals worth %(value)s.") % {
        "count": top.open_now,
        "value": format_money_major(top.open_value, currency),
    }
    if top.implied_wait_days is not None:
        message += " " + _("At this period's arrival rate that is %(days)s days of work.") % {
            "days": format_number(top.implied_wait_days, 1)
        }
    top.flags.append(Flag("most_waiting", message))


def stage_flow(*, scope: MetricScope) -> Flow:
    """Movements between stages in the period (forward, back, won, lost) plus new and reopened deals."""
    period = scope.period
    stages = [stage for stage in scope.stages if stage.kind == StageKind.OPEN]
    # Counted per day first (the index's order), then added up here: see _survival_counts.
    exits: dict[tuple[Any, ...], int] = defaultdict(int)
    entries: dict[tuple[Any, ...], int] = defaultdict(int)
    owners = group_owner_q(scope)
    if owners is not None and is_whole_months(period):
        for stage_id, next_stage_id, exit_kind, count in group_rows(
            scope,
            owners,
            EXIT,
            ("stage_id", "other_id", "label", "count"),
            start=period.start,
            end=period.end,
        ):
            exits[(stage_id, next_stage_id or None, exit_kind)] += count
        for stage_id, entry_kind, count in group_rows(
            scope,
            owners,
            ENTRY,
            ("stage_id", "label", "count"),
            start=period.start,
            end=period.end,
            extra=Q(label__in=["created", "reopened"]),
        ):
            entries[(entry_kind, stage_id)] += count
    else:
        for _exited_on, stage_id, next_stage_id, exit_kind, count in plain_rows(
            _stays(scope)
            .filter(exited_on__gte=period.start, exited_on__lt=period.end)
            .values("exited_on", "stage_id", "next_stage_id", "exit_kind")
            .annotate(count=Count("*"))
            .order_by()
        ):
            exits[(stage_id, next_stage_id, exit_kind)] += count
        for _entered_on, stage_id, _days, entry_kind, count in plain_rows(
            _stays(scope)
            .filter(
                entered_on__gte=period.start,
                entered_on__lt=period.end,
                entry_kind__in=["created", "reopened"],
            )
            .values("entered_on", "stage_id", "days", "entry_kind")
            .annotate(count=Count("*"))
            .order_by()
        ):
            entries[(entry_kind, stage_id)] += count
    exits = {key: count for key, count in exits.items() if count}
    entries = {key: count for key, count in entries.items() if count}
    nodes = [FlowNode("created", _("New deals")), FlowNode("reopened", _("Reopened"))]
    index = {"created": 0, "reopened": 1}
    for stage in stages:
        index[f"stage-{stage.pk}"] = len(nodes)
        nodes.append(FlowNode(f"stage-{stage.pk}", stage.name))
    for key, label in (("won", _("Won")), ("lost", _("Lost"))):
        index[key] = len(nodes)
        nodes.append(FlowNode(key, label))
    links: list[FlowLink] = []
    for (entry_kind, stage_id), count in entries.items():
        target = index.get(f"stage-{stage_id}")
        if target is not None:
            links.append(FlowLink(index[entry_kind], target, count, entry_kind))
    for (stage_id, next_stage_id, exit_kind), count in exits.items():
        source = index.get(f"stage-{stage_id}")
        if exit_kind in (SpellExit.WON, SpellExit.LOST):
            target = index[exit_kind]
        else:
            target = index.get(f"stage-{next_stage_id}")
        if source is not None and target is not None:
            links.append(FlowLink(source, target, count, exit_kind))
    links.sort(key=lambda link: (link.source, link.target, link.kind))
    used = {link.source for link in links} | {link.target for link in links}
    keep = [position for position in range(len(nodes)) if position in used]
    renumber = {old: new for new, old in enumerate(keep)}
    return Flow(
        period=period.key,
        nodes=[nodes[position] for position in keep],
        links=[
            FlowLink(renumber[link.source], renumber[link.target], link.count, link.kind) for link in links
        ],
    )
