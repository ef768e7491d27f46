"""Pure maths behind the pipeline metrics (no ORM): rates, intervals, survival curves, decompositions.

Every function takes the integer counts and sums that the selectors read with SQL aggregates, so the same
inputs give the same numbers on SQLite and PostgreSQL. "No data" is None, never 0/0.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

Number = int | float | Decimal | Fraction


def ratio(numerator: Number | None, denominator: Number | None) -> Fraction | None:
    """numerator / denominator as an exact fraction; None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return Fraction(numerator) / Fraction(denominator)


def as_float(value: Number | None, digits: int = 4) -> float | None:
    """A rate or count for display and JSON (the same exact input gives the same digits on both engines)."""
    if value is None:
        return None
    return round(float(value), digits)


def as_decimal(value: Fraction | None, places: int) -> Decimal | None:
    """An exact fraction rounded half-up to ``places`` decimals (money, days)."""
    if value is None:
        return None
    quantum = Decimal(1).scaleb(-places)
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(quantum, rounding=ROUND_HALF_UP)


def median_of_middle(middle: list[int]) -> Fraction | None:
    """The median from the one (odd count) or two (even count) middle values of a sorted list."""
    if not middle:
        return None
    return Fraction(sum(middle), len(middle))


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float] | None:
    """95 % Wilson score interval of a proportion; None without trials."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, round(centre - half, 4)), min(1.0, round(centre + half, 4))


@dataclass(frozen=True)
class Survival:
    """A Kaplan-Meier curve of time in stage: ``points`` are (day, share still in the stage after it)."""

    points: tuple[tuple[int, float], ...]
    count: int
    finished: int

    def quantile(self, share_left: float) -> int | None:
        """Smallest day by which at most ``share_left`` are still in the stage; None if never reached."""
        for day, survival in self.points:
            if survival <= share_left + 1e-12:
                return day
        return None

    @property
    def median(self) -> int | None:
        return self.quantile(0.5)

    @property
    def p80(self) -> int | None:
        """The day by which 80 % have left the stage."""
        return self.quantile(0.2)


def kaplan_meier(finished: Mapping[int, int], still_open: Mapping[int, int]) -> Survival:
    """Kaplan-Meier estimate from stays that ended after d days and open stays aged d days (censored).

    Ties: at day d the stays that ended count before the censored ones, which stay at risk through d.
    """
    days = sorted(set(finished) | set(still_open))
    at_risk = sum(finished.values()) + sum(still_open.values())
    survival = 1.0
    points: list[tuple[int, float]] = []
    for day in days:
        ended = finished.get(day, 0)
        if ended and at_risk:
            survival *= 1 - ended / at_risk
            points.append((day, survival))
        at_risk -= ended + still_open.get(day, 0)
    return Survival(
        points=tuple(points),
        count=sum(finished.values()) + sum(still_open.values()),
        finished=sum(finished.values()),
    )


def quantile_of_counts(counts: Mapping[int, int], share: float) -> int | None:
    """Smallest value v with at least ``share`` of the observations <= v (all observations finished)."""
    total = sum(counts.values())
    if not total:
        return None
    running = 0
    for value in sorted(counts):
        running += counts[value]
        if running >= share * total - 1e-9:
            return value
    return None


def velocity(
    *, open_deals: int, win_rate: Fraction | None, average_size: Fraction | None, cycle_days: Fraction | None
) -> Fraction | None:
    """Pipeline velocity in money per day: open deals x win rate x average deal size / cycle length.

    A cycle shorter than one day counts as one day (deals won the day they were created).
    """
    if win_rate is None or average_size is None or cycle_days is None:
        return None
    return Fraction(open_deals) * win_rate * average_size / max(cycle_days, Fraction(1))


def _log_mean(current: float, previous: float) -> float:
    if math.isclose(current, previous, rel_tol=1e-12):
        return current
    return (current - previous) / (math.log(current) - math.log(previous))


def lmdi(
    current: Mapping[str, Fraction | None],
    previous: Mapping[str, Fraction | None],
    exponents: Mapping[str, int],
) -> dict[str, float] | None:
    """Split the change of a product of factors into one additive contribution per factor (LMDI-I).

    For V = prod(f ** e), contribution(f) = L(V1, V0) * e * ln(f1 / f0) with L the logarithmic mean;
    the contributions add up exactly to V1 - V0. None when a factor is missing or not positive.
    """
    values: dict[str, tuple[float, float]] = {}
    for name in exponents:
        now, before = current.get(name), previous.get(name)
        if now is None or before is None or now <= 0 or before <= 0:
            return None
        values[name] = (float(now), float(before))
    v1 = math.prod(now ** exponents[name] for name, (now, _) in values.items())
    v0 = math.prod(before ** exponents[name] for name, (_, before) in values.items())
    weight = _log_mean(v1, v0)
    return {name: weight * exponents[name] * math.log(now / before) for name, (now, before) in values.items()}


def change(current: Number | None, previous: Number | None, digits: int = 4) -> float | None:
    """current - previous, or None when either is missing."""
    if current is None or previous is None:
        return None
    return round(float(Fraction(current) - Fraction(previous)), digits)


def relative_change(current: Number | None, previous: Number | None) -> float | None:
    """(current - previous) / previous, or None when either is missing or previous is 0."""
    if current is None or previous is None or previous == 0:
        return None
    return round(float((Fraction(current) - Fraction(previous)) / Fraction(previous)), 4)


def cumulative(values: Iterable[int], start: int = 0) -> list[int]:
    total = start
    result = []
    for value in values:
        total += value
        result.append(total)
    return result


# --- Stale deals (docs/metrics.md): decided here, used by the dashboard, the one-on-one page and the API ---


def stale_threshold(*, now: dt.datetime, rotting_days: int) -> dt.datetime | None:
    """Deals quiet since before this moment are stale; None when the stage never rots (0 rotting days)."""
    return now - dt.timedelta(days=rotting_days) if rotting_days > 0 else None


def quiet_days(
    *, now: dt.datetime, last_activity_at: dt.datetime | None, stage_entered_at: dt.datetime
) -> int:
    """Whole days since the deal's last activity, else since it entered its stage."""
    return (now - (last_activity_at or stage_entered_at)).days


def stale_days(
    *,
    now: dt.datetime,
    last_activity_at: dt.datetime | None,
    stage_entered_at: dt.datetime,
    rotting_days: int,
) -> int | None:
    """Whole days a stale deal has been quiet (since its last activity, else since it entered its stage);
    None when it is not stale."""
    threshold = stale_threshold(now=now, rotting_days=rotting_days)
    quiet_since = last_activity_at or stage_entered_at
    if threshold is None or quiet_since >= threshold:
        return None
    return quiet_days(now=now, last_activity_at=last_activity_at, stage_entered_at=stage_entered_at)
