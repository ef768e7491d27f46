"""Recent trends the fit scales by: stage exits lately against the trailing window (deals open now and
deals not created yet), and the run-rate's month-of-year factors."""

from __future__ import annotations

import numpy as np

from dealflow.forecasting.calculations.history import DAY, LOST, OPEN, TRAILING_DAYS, WON, Calendar, History
from dealflow.forecasting.calculations.seasonality import run_rate_factors, season_factors

TREND_DAYS = 42  # recent stage exits: the last six weeks
TREND_PRIOR = 30.0  # pseudo-exits at the long-run rate the recent rate is shrunk to


def stage_trend(history: History, moment: int) -> np.ndarray:
    """Per stage, how much more (or less) likely a deal in it is to win now than over the trailing window,
    from stage exits: the share of the spells leaving stage s that did not end lost, over the last
    TREND_DAYS against the trailing TRAILING_DAYS, shrunk with TREND_PRIOR pseudo-exits at the long-run
    share: k_s = ((S_r + m q_s) / (N_r + m)) / q_s. A deal in stage s still has to leave s and every
    later open stage of its pipeline, so its factor is the product of k over those stages."""
    stages = len(history.stage_ids)
    result = np.ones(stages)
    rows = np.nonzero(history.stage_time <= moment)[0]
    if len(rows) < 2:
        return result
    deal = history.stage_deal[rows]
    same_next = np.r_[deal[1:] == deal[:-1], False]
    spell = (history.stage_status[rows] == OPEN) & same_next
    exit_time = np.r_[history.stage_time[rows][1:], 0][spell]
    survived = (np.r_[history.stage_status[rows][1:], 0][spell] != LOST).astype(float)
    stage = history.stage_event_index()[rows][spell]
    window = exit_time > moment - TRAILING_DAYS * DAY
    recent = exit_time > moment - TREND_DAYS * DAY
    n_long = np.bincount(stage[window], minlength=stages).astype(float)
    s_long = np.bincount(stage[window], weights=survived[window], minlength=stages)
    n_recent = np.bincount(stage[recent], minlength=stages).astype(float)
    s_recent = np.bincount(stage[recent], weights=survived[recent], minlength=stages)
    share = np.divide(s_long, n_long, out=np.ones(stages), where=n_long > 0)
    ratio = np.divide(
        (s_recent + TREND_PRIOR * share) / (n_recent + TREND_PRIOR),
        share,
        out=np.ones(stages),
        where=share > 0,
    )
    is_open = np.asarray(history.stage_is_open, dtype=bool)
    for index in range(stages):
        if not is_open[index]:
            continue
        factor, later = 1.0, index
        while later < stages and is_open[later]:
            factor *= ratio[later]
            later += 1
        result[index] = factor
    return result


def new_deal_trend(history: History, moment: int, trend: np.ndarray) -> float:
    """The recent-exit factor of a deal that does not exist yet: it will start in a first stage and has to
    get through it and every later one, so its factor is ``trend`` of the stage deals start in, averaged
    over the deals created in the trailing window (by where they started; several pipelines can have
    different first stages). 1 when no deal was created in the window."""
    if len(history.stage_deal) == 0:
        return 1.0
    first = np.r_[0, np.nonzero(np.diff(history.stage_deal))[0] + 1]
    first = first[history.stage_time[first] <= moment]
    created = history.deal_created[history.stage_deal[first]]
    first = first[(created <= moment) & (created > moment - TRAILING_DAYS * DAY)]
    if len(first) == 0:
        return 1.0
    return float(np.mean(np.asarray(trend, dtype=float)[history.stage_event_index()[first]]))


def season_run_rate(history: History, calendar: Calendar, moment: int, horizons: int) -> list[list[float]]:
    """Per horizon, the run-rate's factor per target period of the year at ``moment`` (``run_rate_factors``).

    From the periods that started in the trailing window and ended by ``moment``: the amounts of the deals
    created in each (``season_factors``), and, from the deals won in them (first win, at or before
    ``moment``), the share of the horizon-h run-rate's bookings created 0..h periods before their win's
    period. Nothing after ``moment`` is seen: a period counts once it has ended, a win once it happened."""
    current = int(calendar.index_of(moment))
    first = int(calendar.index_of(moment - TRAILING_DAYS * DAY))
    periods = np.arange(max(first + 1, 0), current, dtype=np.int64)
    periods = periods[calendar.start_times[periods + 1] <= moment]
    ones = [[1.0] * calendar.periods_per_year for _ in range(horizons)]
    if len(periods) == 0 or len(history.stage_deal) == 0:
        return ones
    # Arrivals: the amount each deal was created with, by the period it was created in.
    opening = np.r_[0, np.nonzero(np.diff(history.stage_deal))[0] + 1]
    created_deal = history.stage_deal[opening]
    created_period = calendar.index_of(history.deal_created[created_deal])
    amount = history.stage_amount[opening].astype(float)
    position = created_period - periods[0]
    inside = (position >= 0) & (position < len(periods))
    inside &= np.isin(created_period, periods)
    size = len(periods)
    totals = np.bincount(position[inside], weights=amount[inside], minlength=size)[:size]
    squares = np.bincount(position[inside], weights=amount[inside] ** 2, minlength=size)[:size]
    seasons = np.array([calendar.season_of(int(period)) for period in periods], dtype=np.int64)
    arrivals = season_factors(totals, squares, seasons, calendar.periods_per_year)
    # Shares: of the bookings won in the window's periods, how much was created 0, 1, ... periods before.
    won = (history.stage_status == WON) & (history.stage_time <= moment)
    won_deal, index = np.unique(history.stage_deal[won], return_index=True)  # a deal's first win counts
    won_period = calendar.index_of(history.stage_time[won][index])
    won_amount = history.stage_amount[won][index].astype(float)
    lag = won_period - calendar.index_of(history.deal_created[won_deal])
    in_window = np.isin(won_period, periods)
    result = []
    for horizon in range(horizons):
        chosen = in_window & (lag >= 0) & (lag <= horizon)
        by_lag = np.bincount(lag[chosen], weights=won_amount[chosen], minlength=horizon + 1)
        total = float(by_lag.sum())
        shares = by_lag / total if total > 0 else np.r_[1.0, np.zeros(horizon)]
        result.append(run_rate_factors(arrivals, shares).tolist())
    return result
