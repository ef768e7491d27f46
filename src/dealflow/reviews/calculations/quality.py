"""Data quality per rep and bottleneck statistics per stage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy, ngettext

from dealflow.metrics import calculations as metrics_calc


# -------------------------------------------------------------------------------------- data quality
@dataclass
class RepQuality:
    owner_id: int
    open_deals: int
    missing_amount: int
    missing_close_date: int
    missing_next_step: int
    past_close_date: int

    def share(self, count: int) -> float | None:
        return count / self.open_deals if self.open_deals else None

    @property
    def missing_amount_share(self) -> float | None:
        return self.share(self.missing_amount)

    @property
    def missing_close_date_share(self) -> float | None:
        return self.share(self.missing_close_date)

    @property
    def missing_next_step_share(self) -> float | None:
        return self.share(self.missing_next_step)

    @property
    def past_close_date_share(self) -> float | None:
        return self.share(self.past_close_date)

    @property
    def clean_share(self) -> float | None:
        """Share of open deals with none of the four problems."""
        return self.share(self.clean) if self.open_deals else None

    clean: int = 0


@dataclass(frozen=True)
class QualityRow:
    owner_id: int
    amount_minor: int
    expected_close_on: dt.date | None
    has_next_step: bool


def data_quality(rows: Iterable[QualityRow], *, as_of_on: dt.date) -> list[RepQuality]:
    """Per rep: open deals missing an amount (0), a close date, a next step, or past their close date."""
    per_owner: dict[int, RepQuality] = {}
    for row in rows:
        quality = per_owner.setdefault(row.owner_id, RepQuality(row.owner_id, 0, 0, 0, 0, 0))
        quality.open_deals += 1
        problems = 0
        if row.amount_minor <= 0:
            quality.missing_amount += 1
            problems += 1
        if row.expected_close_on is None:
            quality.missing_close_date += 1
            problems += 1
        elif row.expected_close_on < as_of_on:
            quality.past_close_date += 1
            problems += 1
        if not row.has_next_step:
            quality.missing_next_step += 1
            problems += 1
        quality.clean += int(problems == 0)
    return sorted(
        per_owner.values(), key=lambda quality: (-(quality.open_deals - quality.clean), quality.owner_id)
    )


# ------------------------------------------------------------------------------------- bottlenecks
@dataclass
class StageFlow:
    """One stage's stays in the window before a backdated snapshot: how they ended and how long they took."""

    stage_id: int
    name: str
    order: int
    entered: int = 0
    advanced: int = 0  # forward or won
    lost: int = 0
    back: int = 0
    finished_days: dict[int, int] = field(default_factory=dict)  # whole days -> stays that ended after them
    open_days: dict[int, int] = field(default_factory=dict)  # whole days -> stays still running at that age
    open_deals: int = 0
    open_value_minor: int = 0
    stuck_deals: list[int] = field(default_factory=list)
    won_days: int | None = None  # the won-deal benchmark (P90 of won deals' stays)


BOTTLENECK_REASONS = {
    "slowest": gettext_lazy("Deals wait longest here."),
    "leakiest": gettext_lazy("Most deals are lost here."),
    "most_value_waiting": gettext_lazy("Holds the most waiting value."),
}


def stuck_reason(count: int) -> str:
    return ngettext(
        "%(count)d open deal is past the won-deal benchmark.",
        "%(count)d open deals are past the won-deal benchmark.",
        count,
    ) % {"count": count}


def bottleneck_rows(flows: Sequence[StageFlow], *, window_days: int) -> list[dict[str, Any]]:
    """Per stage, as of a backdated snapshot: stay-based conversion (moved on / ended) with its Wilson
    interval, the share lost, median and P80 days (Kaplan-Meier, running stays censored: metrics'
    estimator), Little's law waiting time, and which stage holds deals longest, loses most or holds the
    most value. A review taken now uses the Dashboard's stage times instead (services.bottlenecks.bottlenecks_live)."""
    rows: list[dict[str, Any]] = []
    codes: list[list[str]] = []
    for flow in flows:
        ended = flow.advanced + flow.lost + flow.back
        interval = metrics_calc.wilson_interval(flow.advanced, ended)
        curve = metrics_calc.kaplan_meier(flow.finished_days, flow.open_days)
        arrivals = flow.entered / window_days if window_days else 0.0
        rows.append(
            {
                "stage_id": flow.stage_id,
                "stage": flow.name,
                "entered": flow.entered,
                "finished": ended,
                "conversion": round(flow.advanced / ended, 4) if ended else None,
                "conversion_low": interval[0] if interval else None,
                "conversion_high": interval[1] if interval else None,
                "lost_share": round(flow.lost / ended, 4) if ended else None,
                "median_days": curve.median,
                "p80_days": curve.p80,
                "won_days": flow.won_days,
                "won_label": "P90",
                "open_deals": flow.open_deals,
                "open_value_minor": flow.open_value_minor,
                "little_days": round(flow.open_deals / arrivals, 1) if arrivals else None,
                "stuck_deals": list(flow.stuck_deals),
                "source": "review",
            }
        )
        codes.append([])
    _mark(rows, codes, "median_days", "slowest", lambda row: row["median_days"] is not None)
    _mark(
        rows,
        codes,
        "lost_share",
        "leakiest",
        lambda row: row["lost_share"] is not None and row["finished"] >= 5,
    )
    _mark(rows, codes, "open_value_minor", "most_value_waiting", lambda row: row["open_value_minor"] > 0)
    for row, row_codes in zip(rows, codes, strict=True):
        row["reasons"] = [str(BOTTLENECK_REASONS[code]) for code in row_codes]
        if row["stuck_deals"]:
            row["reasons"].append(stuck_reason(len(row["stuck_deals"])))
    return rows


def _mark(rows: list[dict[str, Any]], codes: list[list[str]], key: str, reason: str, eligible) -> None:
    candidates = [index for index, row in enumerate(rows) if eligible(row)]
    if candidates:
        worst = max(candidates, key=lambda index: (rows[index][key], -index))
        codes[worst].append(reason)
