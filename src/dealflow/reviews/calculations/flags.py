"""Risk flags and the per-stage thresholds they compare against (stale, stuck, slipped, ...), in whole days."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from dealflow.core.periods import period_containing

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
