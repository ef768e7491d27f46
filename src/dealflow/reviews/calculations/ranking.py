"""Priority values, the two ranked lists (close this period, rescue) and the what-if adjustment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from dealflow.forecasting import calculations as forecast_calc
from dealflow.reviews.calculations.flags import MIN_DAYS_TO_CLOSE, NO_DATE_DAYS_TO_CLOSE


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


# The two lists' orders as field names ("-" = descending), so the database can rank them the same way
# (the review page asks it for the top 20 instead of loading every row).
CLOSE_ORDER = ("-expected_period_minor", "-amount_minor", "deal_id")
RESCUE_ORDER = ("-value_at_risk_minor", "-expected_value_minor", "-amount_minor", "deal_id")


def _order_key(order: tuple[str, ...]):
    fields = [(name.lstrip("-"), -1 if name.startswith("-") else 1) for name in order]
    return lambda row: tuple(sign * getattr(row, name) for name, sign in fields)


def rank_close_this_period(rows: Iterable[RankedRow]) -> list:
    """Deals that may close inside the period, by expected value within it (then amount, then id)."""
    candidates = [row for row in rows if row.expected_period_minor > 0]
    return sorted(candidates, key=_order_key(CLOSE_ORDER))


def rank_rescue(rows: Iterable[RankedRow]) -> list:
    """Flagged deals by value at risk; ties (a model without ageing puts every risk at 0) by expected value."""
    candidates = [row for row in rows if row.flags]
    return sorted(candidates, key=_order_key(RESCUE_ORDER))


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


def _row_revenue(uniform: np.ndarray, *, amount_minor: int, p_period: float) -> np.ndarray:
    """One row's revenue per draw as ``forecast_calc.simulate`` decides it (a 16-bit threshold, in float32)."""
    probability = min(max(float(p_period), MIN_SIMULATED_P), 1.0)
    threshold = int(min(np.round(probability * 65536), 65536))
    won = np.ones(len(uniform), dtype=bool) if threshold == 65536 else uniform < threshold
    return won * np.float64(np.float32(float(amount_minor)))


def simulate_rows_change(
    *,
    position: int,
    before: tuple[int, float],
    after: tuple[int, float],
    draws: int,
    seed: int,
) -> np.ndarray:
    """How each of ``simulate_rows``' draws changes when the row at ``position`` (in deal order) goes from
    ``before`` to ``after`` (amount in minor units, in-period probability), from that row's own random
    numbers alone: ``simulate_rows`` of the changed rows equals ``simulate_rows`` of the frozen ones plus
    this (up to float32 rounding of a chunk's sum; a test holds them equal). The what-if's cost then no
    longer grows with the review's size."""
    uniform = forecast_calc.row_uniforms(position=position, draws=draws, seed=seed)
    return _row_revenue(uniform, amount_minor=after[0], p_period=after[1]) - _row_revenue(
        uniform, amount_minor=before[0], p_period=before[1]
    )
