"""A seeded synthetic pipeline with known conversion and slipping behaviour, for tests and benchmarks.

Each deal is created (Poisson arrivals), starts in stage 0 and, after an exponential stay in each stage,
moves forward with probability FORWARD[stage] or is lost; leaving the last open stage forward is a win.
So the true win rate of a deal that reached stage s is prod(FORWARD[s:]). The expected close date is set
optimistically at creation and pushed SLIP_DAYS further each time it passes while the deal is still
open (a close-date change event), which is why "win probability x dated in period" over-forecasts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from dealflow.forecasting import calculations as calc

FORWARD = (0.60, 0.70, 0.75, 0.80, 0.85)
MEAN_DAYS = (10.0, 14.0, 18.0, 14.0, 10.0)
CONFIGURED = (0.10, 0.25, 0.45, 0.65, 0.85)
OPTIMISM = 0.6  # the first close date assumes the deal moves 40 % faster than it does
SLIP_DAYS = 30
OPEN_STAGE_IDS = (1, 2, 3, 4, 5)
WON_STAGE_ID, LOST_STAGE_ID = 6, 7


def true_reached_rate(stage: int) -> float:
    return float(np.prod(FORWARD[stage:]))


@dataclass
class SyntheticDeal:
    owner: int
    created: int  # epoch seconds
    amount: float  # minor units
    close_on: int  # first expected close date (ordinal)
    steps: list[tuple[int, str, int]] = field(default_factory=list)  # (time, kind, value)
    # kinds: "move" (value = stage index), "won", "lost", "close" (value = new close ordinal)


def epoch(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def ordinal_of(moment: float) -> int:
    return dt.datetime.fromtimestamp(moment, tz=dt.UTC).date().toordinal()


def generate(
    *,
    seed: int,
    start: dt.date,
    days: int,
    deals_per_day: float = 3.0,
    owners: int = 4,
    forward: tuple[float, ...] = FORWARD,
    mean_days: tuple[float, ...] = MEAN_DAYS,
    dated: bool = True,
    never_close: float = 0.0,
    season: tuple[float, ...] | None = None,
) -> list[SyntheticDeal]:
    """Deals created over ``days`` from ``start``, each simulated to the end of its life.

    ``dated=False``: no deal has an expected close date. ``never_close``: the share of deals that stall
    in a random stage and stay open for good (no event after it). ``season``: twelve multipliers of the
    arrival rate, January first.
    """
    rng = np.random.default_rng(seed)
    deals = []
    first = epoch(start)
    total_days = sum(mean_days)
    for day in range(days):
        rate = deals_per_day
        if season is not None:
            rate *= season[(start + dt.timedelta(days=day)).month - 1]
        for _ in range(rng.poisson(rate)):
            created = first + day * calc.DAY + int(rng.uniform(0, calc.DAY))
            close_on = ordinal_of(created + OPTIMISM * total_days * calc.DAY) if dated else calc.NO_DATE
            deal = SyntheticDeal(
                owner=int(rng.integers(owners)) + 1,
                created=created,
                amount=float(round(rng.lognormal(np.log(20_000), 0.6)) * 100),
                close_on=close_on,
            )
            stall = -1
            if never_close > 0 and rng.random() < never_close:  # no draw otherwise: seeds keep their deals
                stall = int(rng.integers(len(forward)))
            moment = float(created)
            for stage in range(len(forward)):
                if stage == stall:
                    break  # stays open in this stage for good
                leave = moment + rng.exponential(mean_days[stage]) * calc.DAY
                # The close date slips each time it passes while the deal is still open.
                passes = epoch(dt.date.fromordinal(close_on + 1)) if dated else leave
                while passes < leave:
                    new_close = close_on + SLIP_DAYS
                    deal.steps.append((passes, "close", new_close))
                    close_on = new_close
                    passes = epoch(dt.date.fromordinal(close_on + 1))
                moment = leave
                if rng.random() >= forward[stage]:
                    deal.steps.append((int(moment), "lost", -1))
                    break
                if stage == len(forward) - 1:
                    deal.steps.append((int(moment), "won", -1))
                else:
                    deal.steps.append((int(moment), "move", stage + 1))
            deals.append(deal)
    return deals


def generate_drifting(
    *, seed: int, start: dt.date, months: int, deals_per_day: float, drift: float, walk: bool = False
) -> list[SyntheticDeal]:
    """Like ``generate``, but every month's new deals move forward at rates scaled by one factor
    exp(N(0, drift)) drawn for that month (capped at 0.97): rates that run high or low together, which
    independent deal draws around one learned rate cannot reproduce. With ``walk`` the factor is a
    random walk (each month's is the last one's times exp(N(0, drift)), kept within 0.6..1.25): win
    rates that drift away from what the history says."""
    deals: list[SyntheticDeal] = []
    day = dt.date(start.year, start.month, 1)
    for month, factor in enumerate(month_factors(seed=seed, months=months, drift=drift, walk=walk)):
        following = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
        deals += generate(
            seed=seed * 1000 + month,
            start=day,
            days=(following - day).days,
            deals_per_day=deals_per_day,
            forward=scaled_forward(factor),
        )
        day = following
    return deals


def month_factors(*, seed: int, months: int, drift: float, walk: bool) -> list[float]:
    """``generate_drifting``'s win-rate factor of each month from its start, drawn from ``seed`` alone (the
    benchmark's oracle replays them): exp(N(0, drift)) a month, or with ``walk`` the last month's times
    that, kept within 0.6..1.25."""
    rng = np.random.default_rng(seed)
    level, factors = 1.0, []
    for _ in range(months):
        if walk:
            level = float(np.clip(level * np.exp(rng.normal(0, drift)), 0.6, 1.25))
            factors.append(level)
        else:
            factors.append(float(np.exp(rng.normal(0, drift))))
    return factors


def scaled_forward(factor: float) -> tuple[float, ...]:
    """FORWARD times a month's factor, each chance capped at 0.97."""
    return tuple(min(0.97, rate * factor) for rate in FORWARD)


def to_history(deals: list[SyntheticDeal], *, now: int) -> calc.History:
    """The arrays a forecast sees at ``now``: only events at or before ``now`` exist yet."""
    visible = [deal for deal in deals if deal.created <= now]
    stage_rows, close_rows = [], []
    created, owners, current_close = [], [], []
    for index, deal in enumerate(visible):
        created.append(deal.created)
        owners.append(deal.owner)
        stage_rows.append((index, deal.created, OPEN_STAGE_IDS[0], calc.OPEN, deal.amount))
        close_on = deal.close_on
        for moment, kind, value in deal.steps:
            if moment > now:
                break
            if kind == "move":
                stage_rows.append((index, moment, OPEN_STAGE_IDS[value], calc.OPEN, deal.amount))
            elif kind == "won":
                stage_rows.append((index, moment, WON_STAGE_ID, calc.WON, deal.amount))
            elif kind == "lost":
                stage_rows.append((index, moment, LOST_STAGE_ID, calc.LOST, deal.amount))
            else:
                close_rows.append((index, moment, close_on, value))
                close_on = value
        current_close.append(close_on)
    stage = np.array(stage_rows, dtype=np.float64).reshape(-1, 5)
    close = np.array(close_rows, dtype=np.int64).reshape(-1, 4)
    empty_int = np.zeros(0, dtype=np.int64)
    return calc.History(
        deal_ids=np.arange(1, len(visible) + 1, dtype=np.int64),
        deal_created=np.array(created, dtype=np.int64),
        deal_owner=np.array(owners, dtype=np.int64),
        deal_close_on=np.array(current_close, dtype=np.int64),
        deal_category=np.full(len(visible), -1, dtype=np.int64),
        deal_probability=np.full(len(visible), np.nan),
        stage_deal=stage[:, 0].astype(np.int64),
        stage_time=stage[:, 1].astype(np.int64),
        stage_stage=stage[:, 2].astype(np.int64),
        stage_status=stage[:, 3].astype(np.int64),
        stage_amount=stage[:, 4],
        amount_deal=stage[:, 0].astype(np.int64),
        amount_time=stage[:, 1].astype(np.int64),
        amount_value=stage[:, 4],
        close_deal=close[:, 0],
        close_time=close[:, 1],
        close_from=close[:, 2],
        close_to=close[:, 3],
        owner_deal=empty_int,
        owner_time=empty_int,
        owner_from=empty_int,
        owner_to=empty_int,
        category_deal=empty_int,
        category_time=empty_int,
        category_from=empty_int,
        category_to=empty_int,
        probability_deal=empty_int,
        probability_time=empty_int,
        probability_from=np.zeros(0),
        probability_to=np.zeros(0),
        stage_ids=np.array([*OPEN_STAGE_IDS, WON_STAGE_ID, LOST_STAGE_ID], dtype=np.int64),
        stage_probability=np.array([*CONFIGURED, 1.0, 0.0]),
        stage_category=np.array([0, 0, 1, 1, 2, -1, -1], dtype=np.int64),
        stage_is_open=np.array([True] * 5 + [False, False]),
        stage_names=["S1", "S2", "S3", "S4", "S5", "Won", "Lost"],
    )


def month_calendar(first: dt.date, months: int) -> calc.Calendar:
    """Calendar months in UTC from the month of ``first``."""
    keys, starts = [], []
    year, month = first.year, first.month
    for _ in range(months + 1):
        keys.append(f"{year:04d}-{month:02d}")
        starts.append(dt.date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return calc.Calendar(
        keys=keys[:-1],
        start_times=np.array([epoch(day) for day in starts], dtype=np.int64),
        start_ordinals=np.array([day.toordinal() for day in starts], dtype=np.int64),
        periods_per_year=12,
    )
