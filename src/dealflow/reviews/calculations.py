"""Review maths without the ORM: flags, priority values, the two ranked lists, the waterfall, data quality,
bottleneck statistics and the what-if adjustment (docs/reviews.md gives every definition).

Money is integer minor units of the base currency; probabilities are fractions 0..1; days are floats
(elapsed time) compared in whole days, so a flag with a threshold of N days fires on day N, not before.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from dealflow.core.periods import period_containing
from dealflow.forecasting import calculations as forecast_calc
from dealflow.metrics import calculations as metrics_calc

# Thresholds from FORECASTING.md ("Priorities and flags for pipeline reviews").
SHRINK_FACTOR = (4, 5)  # amount <= 4/5 of its peak: down 20 % or more
MODEL_DROP_FACTOR = 0.7  # p fell below 70 % of its stage-entry value
SLIPPED_PUSHES = 2  # close date pushed (later) twice
MIN_DAYS_TO_CLOSE = 7  # value per day divides by at least a week
NO_DATE_DAYS_TO_CLOSE = 90  # a deal without a close date is assumed 90 days out
# Learned thresholds and their fallbacks.
STUCK_QUANTILE = 0.9  # stuck: days in stage past the P90 of won deals' stays there
STALE_QUANTILE = 0.9  # stale: days without activity past the P90 of won deals' quiet spells
MIN_WON_SPELLS = 10  # fewer won stays in a stage: stuck falls back to 2 x the stage's rotting days
MIN_WON_GAPS = 30  # fewer quiet spells of won deals: stale falls back to the stage's rotting days
STUCK_FALLBACK_FACTOR = 2

FLAG_CODES = (
    "stale",
    "stuck",
    "slipped",
    "overdue",
    "regressed",
    "shrinking",
    "no_next_step",
    "model_drop",
)


def whole_days(days: float) -> int:
    """Elapsed days counted in whole days (23.9 -> 23): a threshold of N days is reached on day N."""
    return math.floor(days + 1e-9)


# ---------------------------------------------------------------------------------------- thresholds
def quantile_days(values: Sequence[float], quantile: float) -> int:
    """The quantile (linear interpolation) of day counts, rounded up to whole days."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = quantile * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return max(1, math.ceil(value - 1e-9))


@dataclass(frozen=True)
class StageThreshold:
    stale_days: int
    stale_source: str  # "learned" (won deals' quiet spells) or "stage" (the stage's rotting days)
    stuck_days: int
    stuck_source: str  # "learned" (P90 of won deals' stays) or "stage" (2 x rotting days)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stale_days": self.stale_days,
            "stale_source": self.stale_source,
            "stuck_days": self.stuck_days,
            "stuck_source": self.stuck_source,
        }


def stage_threshold(
    *, rotting_days: int, won_stay_days: Sequence[float], won_quiet_days: Sequence[float]
) -> StageThreshold:
    """Stale and stuck thresholds of one stage: learned from won deals when there are enough of them."""
    if len(won_quiet_days) >= MIN_WON_GAPS:
        stale, stale_source = quantile_days(won_quiet_days, STALE_QUANTILE), "learned"
    else:
        stale, stale_source = max(1, rotting_days), "stage"
    if len(won_stay_days) >= MIN_WON_SPELLS:
        stuck, stuck_source = quantile_days(won_stay_days, STUCK_QUANTILE), "learned"
    else:
        stuck, stuck_source = max(1, STUCK_FALLBACK_FACTOR * rotting_days), "stage"
    return StageThreshold(stale, stale_source, stuck, stuck_source)


def quiet_spells(touches: Sequence[dt.datetime]) -> list[float]:
    """Days between consecutive touches (creation, stage changes, done activities, the win) of one deal."""
    ordered = sorted(touches)
    return [(later - earlier).total_seconds() / 86400 for earlier, later in itertools.pairwise(ordered)]


# --------------------------------------------------------------------------------------------- flags
@dataclass
class DealFacts:
    """What the flags of one open deal are computed from, as of the review's start."""

    as_of_on: dt.date
    period_kind: str
    stage_name: str
    days_in_stage: float
    days_since_activity: float
    expected_close_on: dt.date | None
    close_pushes: list[tuple[dt.date, dt.date]]  # (from, to) of every change that moved the date later
    previous_stage_name: str | None  # set when the deal entered its stage by moving back
    amount_minor: int
    peak_amount_minor: int
    has_next_step: bool
    p_entry: float
    p_model: float


def flags_for(facts: DealFacts, threshold: StageThreshold) -> list[dict[str, Any]]:
    """The review flags of one deal, each with the numbers behind it (FORECASTING.md, docs/reviews.md)."""
    flags: list[dict[str, Any]] = []
    quiet = whole_days(facts.days_since_activity)
    if quiet >= threshold.stale_days:
        flags.append(
            {
                "code": "stale",
                "days": quiet,
                "threshold": threshold.stale_days,
                "source": threshold.stale_source,
            }
        )
    in_stage = whole_days(facts.days_in_stage)
    if in_stage >= threshold.stuck_days:
        flags.append(
            {
                "code": "stuck",
                "days": in_stage,
                "threshold": threshold.stuck_days,
                "source": threshold.stuck_source,
                "stage": facts.stage_name,
            }
        )
    pushes = len(facts.close_pushes)
    crossings = [
        (before, after)
        for before, after in facts.close_pushes
        if period_containing(before, kind=facts.period_kind).key
        != period_containing(after, kind=facts.period_kind).key
    ]
    if pushes >= SLIPPED_PUSHES or crossings:
        first, last = facts.close_pushes[0][0], facts.close_pushes[-1][1]
        flag: dict[str, Any] = {
            "code": "slipped",
            "pushes": pushes,
            "from": first.isoformat(),
            "to": last.isoformat(),
        }
        if crossings:
            flag["from_period"] = period_containing(crossings[-1][0], kind=facts.period_kind).key
            flag["to_period"] = period_containing(crossings[-1][1], kind=facts.period_kind).key
        flags.append(flag)
    if facts.expected_close_on is not None and facts.expected_close_on < facts.as_of_on:
        flags.append({"code": "overdue", "days": (facts.as_of_on - facts.expected_close_on).days})
    if facts.previous_stage_name:
        flags.append(
            {"code": "regressed", "from_stage": facts.previous_stage_name, "stage": facts.stage_name}
        )
    shrink_num, shrink_den = SHRINK_FACTOR
    if (
        facts.peak_amount_minor > 0
        and facts.amount_minor * shrink_den <= facts.peak_amount_minor * shrink_num
    ):
        flags.append(
            {
                "code": "shrinking",
                "peak": facts.peak_amount_minor,
                "amount": facts.amount_minor,
                "drop": 1 - facts.amount_minor / facts.peak_amount_minor,
            }
        )
    if not facts.has_next_step:
        flags.append({"code": "no_next_step"})
    if facts.p_entry > 0 and facts.p_model < MODEL_DROP_FACTOR * facts.p_entry:
        flags.append({"code": "model_drop", "p_entry": facts.p_entry, "p_now": facts.p_model})
    return flags


def flag_text(flag: dict[str, Any]) -> str:
    """A flag as the reason a reviewer reads ("stale 21 days", "close date pushed twice", ...)."""
    code = flag["code"]
    if code == "stale":
        return _("stale %(days)d days (no activity; limit %(limit)d)") % {
            "days": flag["days"],
            "limit": flag["threshold"],
        }
    if code == "stuck":
        values = {"days": flag["days"], "stage": flag["stage"], "limit": flag["threshold"]}
        if flag.get("source") == "learned":
            return _("%(days)d days in %(stage)s (9 in 10 won deals left it within %(limit)d)") % values
        return _("%(days)d days in %(stage)s (limit %(limit)d)") % values
    if code == "slipped":
        if flag["pushes"] == 2:
            text = _("close date pushed twice")
        else:
            text = ngettext(
                "close date pushed %(count)d time", "close date pushed %(count)d times", flag["pushes"]
            ) % {"count": flag["pushes"]}
        if flag.get("from_period"):
            text += " " + _("(from %(start)s into %(end)s)") % {
                "start": flag["from_period"],
                "end": flag["to_period"],
            }
        return text
    if code == "overdue":
        return ngettext(
            "close date passed %(days)d day ago", "close date passed %(days)d days ago", flag["days"]
        ) % {"days": flag["days"]}
    if code == "regressed":
        return _("moved back from %(stage)s") % {"stage": flag["from_stage"]}
    if code == "shrinking":
        return _("amount down %(drop)d %% from its peak") % {"drop": round(100 * flag["drop"])}
    if code == "no_next_step":
        return _("no next step")
    if code == "model_drop":
        return _("win probability fell from %(entry)d %% to %(now)d %%") % {
            "entry": round(100 * flag["p_entry"]),
            "now": round(100 * flag["p_now"]),
        }
    return code


FLAG_LABELS = {
    "stale": gettext_lazy("Stale"),
    "stuck": gettext_lazy("Stuck"),
    "slipped": gettext_lazy("Slipped"),
    "overdue": gettext_lazy("Overdue"),
    "regressed": gettext_lazy("Moved back"),
    "shrinking": gettext_lazy("Shrinking"),
    "no_next_step": gettext_lazy("No next step"),
    "model_drop": gettext_lazy("Probability drop"),
}


# ------------------------------------------------------------------------------------ priority values
@dataclass(frozen=True)
class Priority:
    expected_value: int  # p x A
    expected_period: int  # p(P) x A
    value_at_risk: int  # A x max(0, p(stage, 0) - p(stage, age))
    value_per_day: int  # p x A / max(7, days to close)


def priority_values(
    *,
    amount_minor: int,
    p_win: float,
    p_period: float,
    p_entry: float,
    p_model: float,
    expected_close_on: dt.date | None,
    as_of_on: dt.date,
) -> Priority:
    """FORECASTING.md's priority values for one deal, in minor units (rounded half away from zero)."""
    if expected_close_on is None:
        days_to_close = NO_DATE_DAYS_TO_CLOSE
    else:
        days_to_close = max(MIN_DAYS_TO_CLOSE, (expected_close_on - as_of_on).days)
    expected = p_win * amount_minor
    return Priority(
        expected_value=round(expected),
        expected_period=round(p_period * amount_minor),
        value_at_risk=round(amount_minor * max(0.0, p_entry - p_model)),
        value_per_day=round(expected / days_to_close),
    )


class RankedRow(Protocol):
    deal_id: int
    amount_minor: int
    expected_value_minor: int
    expected_period_minor: int
    value_at_risk_minor: int
    flags: list


def rank_close_this_period(rows: Iterable[RankedRow]) -> list:
    """Deals that may close inside the period, by expected value within it (then amount, then id)."""
    candidates = [row for row in rows if row.expected_period_minor > 0]
    return sorted(candidates, key=lambda row: (-row.expected_period_minor, -row.amount_minor, row.deal_id))


def rank_rescue(rows: Iterable[RankedRow]) -> list:
    """Flagged deals by value at risk; ties (a model without ageing puts every risk at 0) by expected value."""
    candidates = [row for row in rows if row.flags]
    return sorted(
        candidates,
        key=lambda row: (-row.value_at_risk_minor, -row.expected_value_minor, -row.amount_minor, row.deal_id),
    )


# ------------------------------------------------------------------------------------------ waterfall
@dataclass(frozen=True)
class WaterfallDeal:
    """A deal as one side of the comparison saw it: open (in scope) or, after the last review, closed."""

    deal_id: int
    title: str
    amount_minor: int
    expected_close_on: dt.date | None
    status: str = "open"  # open, won, lost; "gone" when it left the review's scope
    closed_on: dt.date | None = None


WATERFALL_BUCKETS = (
    "start",
    "new",
    "pulled_in",
    "pushed_out",
    "increased",
    "decreased",
    "won",
    "lost",
    "end",
)


@dataclass
class Waterfall:
    totals: dict[str, int]
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"totals": self.totals, "items": self.items}

    @property
    def adds_up(self) -> bool:
        t = self.totals
        return (
            t["start"]
            + t["new"]
            + t["pulled_in"]
            - t["pushed_out"]
            + t["increased"]
            - t["decreased"]
            - t["won"]
            - t["lost"]
            == t["end"]
        )


def _dated_in(close_on: dt.date | None, start: dt.date, end: dt.date) -> bool:
    return close_on is not None and start <= close_on < end


def waterfall(
    *,
    previous: dict[int, WaterfallDeal],
    current: dict[int, WaterfallDeal],
    since: dict[int, WaterfallDeal],
    period_start: dt.date,
    period_end: dt.date,
) -> Waterfall:
    """What changed in the period's pipeline between the last review and this one.

    ``previous``: the open deals of the last review's snapshot; ``current``: this snapshot's open deals;
    ``since``: for every other deal that matters, its state now (won, lost, open elsewhere or gone).
    The period's pipeline is the open deals dated inside the period (start <= close date < end).

    - start: the pipeline at the last review, at its amounts then (a0);
    - new: deals that were not open in scope at the last review (created, reopened, moved into scope)
      and are in the pipeline now or were won inside the period since, at their amount now (a1);
    - pulled in: deals open at the last review but dated outside the period, now in it (or won inside
      it), at their amount then (a0);
    - pushed out: deals of the start that are still open but dated outside the period now, or left the
      scope, at their amount now (a1);
    - increased / decreased: a1 - a0 of every deal counted in start or pulled in;
    - won / lost: deals of the start (or pulled in or new) closed since, at their amount now (a1);
    - end: the pipeline now, at its amounts now.

    Per deal the contributions cancel exactly, so start + new + pulled in - pushed out + increased
    - decreased - won - lost = end holds in integers.
    """
    totals = dict.fromkeys(WATERFALL_BUCKETS, 0)
    items: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def add(bucket: str, deal: WaterfallDeal, amount: int, **extra: Any) -> None:
        totals[bucket] += amount
        items[bucket].append({"deal_id": deal.deal_id, "title": deal.title, "amount_minor": amount, **extra})

    def change(before: WaterfallDeal, after: WaterfallDeal) -> None:
        delta = after.amount_minor - before.amount_minor
        if delta > 0:
            add("increased", after, delta, from_minor=before.amount_minor, to_minor=after.amount_minor)
        elif delta < 0:
            add("decreased", after, -delta, from_minor=before.amount_minor, to_minor=after.amount_minor)

    def dates(before: WaterfallDeal | None, after: WaterfallDeal) -> dict[str, str | None]:
        return {
            "from_close_on": before.expected_close_on.isoformat()
            if before and before.expected_close_on
            else None,
            "to_close_on": after.expected_close_on.isoformat() if after.expected_close_on else None,
        }

    def now_of(deal_id: int) -> WaterfallDeal | None:
        return current.get(deal_id) or since.get(deal_id)

    def counts_now(deal: WaterfallDeal) -> str | None:
        """Where a deal stands now with respect to the period: in it, won/lost out of it, or elsewhere."""
        if deal.status == "open" and deal.deal_id in current:
            return "in" if _dated_in(deal.expected_close_on, period_start, period_end) else "outside"
        if deal.status == "won":
            return "won"
        if deal.status == "lost":
            return "lost"
        return "gone"

    start_ids = {
        deal_id
        for deal_id, deal in previous.items()
        if _dated_in(deal.expected_close_on, period_start, period_end)
    }
    for deal_id in sorted(start_ids):
        before = previous[deal_id]
        add("start", before, before.amount_minor, **dates(None, before))
        after = now_of(deal_id) or WaterfallDeal(
            deal_id, before.title, before.amount_minor, before.expected_close_on, status="gone"
        )
        state = counts_now(after)
        change(before, after)
        if state == "in":
            continue
        if state == "won":
            add("won", after, after.amount_minor)
        elif state == "lost":
            add("lost", after, after.amount_minor)
        else:  # still open but dated outside the period, or no longer in scope
            add("pushed_out", after, after.amount_minor, left_scope=state == "gone", **dates(before, after))

    entering = {
        deal_id
        for deal_id, deal in current.items()
        if _dated_in(deal.expected_close_on, period_start, period_end)
    }
    entering |= {
        deal_id
        for deal_id, deal in since.items()
        if deal.status == "won" and _dated_in(deal.closed_on, period_start, period_end)
    }
    for deal_id in sorted(entering - start_ids):
        entered = now_of(deal_id)
        assert entered is not None
        earlier = previous.get(deal_id)
        if earlier is None:
            add("new", entered, entered.amount_minor, **dates(None, entered))
        else:
            add("pulled_in", earlier, earlier.amount_minor, **dates(earlier, entered))
            change(earlier, entered)
        if entered.status == "won":
            add("won", entered, entered.amount_minor)

    for deal_id in sorted(current):
        deal = current[deal_id]
        if _dated_in(deal.expected_close_on, period_start, period_end):
            totals["end"] += deal.amount_minor
            items["end"].append({"deal_id": deal_id, "title": deal.title, "amount_minor": deal.amount_minor})
    return Waterfall(totals=totals, items=dict(items))


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
    most value. A review taken now uses the Dashboard's stage times instead (snapshot.bottlenecks_live)."""
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


# --------------------------------------------------------------------------------------------- what-if
@dataclass(frozen=True)
class WhatIfRow:
    amount_minor: int
    p_win: float
    p_period: float
    p_period_in: float
    p_period_out: float
    expected_close_on: dt.date | None


def what_if_row(
    row: WhatIfRow,
    *,
    period_start: dt.date,
    period_end: dt.date,
    horizon: int,
    probability: float | None = None,
    amount_minor: int | None = None,
    expected_close_on: dt.date | None = None,
) -> tuple[int, float]:
    """A deal's amount and in-period probability after a proposed change (as the forecast would see it).

    A new close date picks the in- or out-of-period probability frozen for the deal (for the as-of period
    an overdue date counts inside, as in the forecast). A new win probability scales the in-period
    probability by new / old, as a rep's override does in the forecast, never above the new probability.
    """
    amount = row.amount_minor if amount_minor is None else amount_minor

    def inside(day: dt.date | None) -> bool:
        return day is not None and day < period_end and (horizon == 0 or day >= period_start)

    p_period = row.p_period
    if expected_close_on is not None:
        p_period = row.p_period_in if inside(expected_close_on) else row.p_period_out
    if probability is not None:
        if row.p_win > 0:
            p_period = p_period * probability / row.p_win
        else:  # nothing to scale: counts fully in the period when dated inside it, as without a model
            p_period = probability if inside(expected_close_on or row.expected_close_on) else 0.0
        p_period = min(p_period, probability)
    return amount, max(0.0, min(1.0, p_period))


# Every open deal draws in the review's simulation, a deal with no chance this period at 1/65,536, so a
# what-if that changes one deal leaves every other deal's random numbers as they were.
MIN_SIMULATED_P = 1 / 65536


def simulate_rows(
    *, amounts: list[int], p_period: list[float], new_samples: list[float], draws: int, seed: int
) -> np.ndarray:
    """Revenue draws of the period from the frozen rows (the forecast's Monte Carlo) plus the run-rate.

    Rows keep their order (deal id), every row draws (see MIN_SIMULATED_P), and the run-rate is resampled
    with its own generator, so two calls that differ in one deal share every other random number.
    """
    probabilities = np.maximum(np.asarray(p_period, dtype=np.float64), MIN_SIMULATED_P).reshape(-1, 1)
    revenue = forecast_calc.simulate(
        amounts=np.asarray(amounts, dtype=np.float64),
        p_period=probabilities if len(amounts) else np.zeros((0, 1)),
        leaf=np.zeros(len(amounts), dtype=np.int64),
        leaves=1,
        draws=draws,
        seed=seed,
    )[0, 0]
    if new_samples:
        picks = np.random.default_rng(seed + 1).integers(0, len(new_samples), size=draws)
        revenue = revenue + np.asarray(new_samples, dtype=np.float64)[picks]
    return revenue
