"""Period-of-year factors for the run-rate of deals not created yet (pure maths, no ORM).

The run-rate resamples past weeks' bookings from deals created after them. Without a period-of-year
term every target month gets the mean of the past two years, so a company whose new deals swing
0.4x-1.9x by month forecasts its quiet months high and its busy months low. ``season_factors`` measures
how much was created in each month of the year (quarter of the year, for quarterly periods) against the
others, shrunk toward 1 by how little the data says (empirical Bayes); ``run_rate_factors`` turns that
into the run-rate's factor per target month, by how much of the run-rate comes from deals created in the
target month itself and how much from the month before.

Why what was created and not the run-rate's own bookings: next month's run-rate is about 7 deals a month
on the six-deals-a-day scenarios and this month's under one, too few to tell a season from chance (a
factor of 3.4 for a month of the demo, which has none); every deal created counts towards its month's
arrivals, about 180 a month there.
"""

from __future__ import annotations

import numpy as np

# Estimated only when every period of the year was seen at least once and at least this share of them
# twice (about two years of history): with one year the season cannot be told from a one-off month.
SEASON_MIN_REPEATED = 0.5


def season_factors(
    totals: np.ndarray, squares: np.ndarray, seasons: np.ndarray, periods_per_year: int
) -> np.ndarray:
    """Per period of the year (0..periods_per_year-1), its factor against the year's mean.

    One entry per past period p: ``totals`` what it had, B_p (the amounts of the deals created in it),
    ``squares`` the sum of those amounts squared Q_p, ``seasons`` its period of the year.

    1. raw_m = (mean B_p over the n_m periods of period-of-year m) / (mean B_p over all periods), then
       divided by the mean of raw over the year, so that the factors average 1.
    2. Noise of raw_m: e_m = s^2 / n_m, with s^2 the larger of (a) what a handful of deals explains,
       mean Q_p / (mean B_p)^2 (a sum of N random amounts varies by about the sum of their squares), and
       (b) the pooled variance of B_p / mean B around raw_m over the periods of the year seen twice or more
       (growth, drift, anything else that moves a month).
    3. The spread of the true factors tau^2 = max(0, variance of raw_m across the year - mean e_m).
    4. f_m = 1 + (raw_m - 1) tau^2 / (tau^2 + e_m): with no season in the data (tau^2 = 0) 1 everywhere;
       a strong season measured on many deals keeps most of it.

    All ones when a period of the year was never seen, fewer than SEASON_MIN_REPEATED of them twice, or
    nothing was booked.
    """
    ones = np.ones(periods_per_year)
    totals = np.asarray(totals, dtype=float)
    squares = np.asarray(squares, dtype=float)
    seasons = np.asarray(seasons, dtype=np.int64)
    if len(totals) == 0 or periods_per_year < 2:
        return ones
    mean = float(totals.mean())
    if mean <= 0:
        return ones
    n = np.bincount(seasons, minlength=periods_per_year).astype(float)
    if (n == 0).any() or np.count_nonzero(n >= 2) < SEASON_MIN_REPEATED * periods_per_year:
        return ones
    y = totals / mean
    raw = np.bincount(seasons, weights=y, minlength=periods_per_year) / n
    level = float(raw.mean())
    raw, y = raw / level, y / level
    freedom = float((n - 1).sum())
    pooled = float(((y - raw[seasons]) ** 2).sum()) / freedom
    few_deals = float(squares.mean()) / (mean * level) ** 2
    error = max(pooled, few_deals) / n
    spread = max(0.0, float(((raw - 1.0) ** 2).sum()) / (periods_per_year - 1) - float(error.mean()))
    if spread <= 0:
        return ones
    return 1.0 + (raw - 1.0) * spread / (spread + error)


def run_rate_factors(arrivals: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """The run-rate's factor per target period of the year: f_m = sum_k w_k a_(m-k), with a the arrivals'
    factors (``season_factors``) and w_k the share of the run-rate's past bookings that came from deals
    created k periods before the period they were won in (k = 0: the same period). Next month's run-rate
    is partly deals created later this month, so its factor for March mixes February's and March's."""
    arrivals = np.asarray(arrivals, dtype=float)
    shares = np.asarray(shares, dtype=float)
    result = np.zeros(len(arrivals))
    for lag, share in enumerate(shares.tolist()):
        result += share * np.roll(arrivals, lag)
    return result
