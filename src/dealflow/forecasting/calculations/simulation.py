"""The seeded, vectorised Monte Carlo of revenue per owner, period and draw."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from dealflow.forecasting.calculations.fitting import drift_factors


# -------------------------------------------------------------------------------------- Monte Carlo
def simulate(
    *,
    amounts: np.ndarray,
    p_period: np.ndarray,
    leaf: np.ndarray,
    leaves: int,
    draws: int,
    seed: int,
    new_samples: list[np.ndarray] | None = None,
    drift: np.ndarray | None = None,
    chunk: int = 64,
) -> np.ndarray:
    """Revenue from open deals (plus new bookings) per leaf, horizon and draw: array [leaves, H, draws].

    With ``drift`` (a relative SD per horizon), each draw's revenue from open deals is multiplied by one
    factor of mean 1 shared by all deals and leaves (``drift_factors``): win rates that run high or low
    together in a given week, which independent deal draws cannot show.

    Each deal draws one outcome per draw: won in horizon h (probability p_period[:, h]) or not won in
    the horizons at all. One uniform number u per (deal, draw), compared with the deal's cumulative
    probabilities, decides it: won in h when c[h-1] <= u < c[h]. Uniforms are 16-bit integers (the
    probabilities are rounded to 1/65536, a bias below 0.00002 per deal), taken four at a time from the
    generator's raw 64-bit output, because generating and comparing them is several times faster than
    float64. Deals are processed by leaf (owner) in chunks of ``chunk`` rows, small enough for the
    chunk's uniforms, masks and products to stay in the CPU cache; a chunk's revenue per draw is a
    multiply-and-sum over its rows in float32 (plain numpy, no BLAS: OpenBLAS threads made the same
    product 4-20x slower on a busy 2-core machine, see docs/benchmarks.md).

    A row's random numbers depend only on its position among the rows with a chance of winning, in
    leaf order, so changing one deal's probability leaves every other deal's draws as they were;
    ``row_uniforms`` reads one row's numbers without drawing the others'.
    """
    horizons = p_period.shape[1] if p_period.ndim == 2 else 0
    result = np.zeros((leaves, horizons, draws))
    rng = np.random.default_rng(seed)
    if len(amounts) and horizons:
        order = np.argsort(leaf, kind="stable")
        cumulative = np.cumsum(np.clip(p_period[order], 0, 1), axis=1)
        thresholds = np.minimum(np.round(cumulative * 65536), 65536).astype(np.uint32)
        active = thresholds[:, -1] > 0  # a deal with no chance in any horizon draws nothing
        order, thresholds = order[active], thresholds[active]
        amounts32 = np.asarray(amounts, dtype=np.float64)[order].astype(np.float32)[:, None]
        # Compare uint16 with uint16; a threshold of 65536 (a certain win) becomes 65535 plus a fix-up.
        thresholds16 = np.minimum(thresholds, 65535).astype(np.uint16)
        certain = thresholds == 65536
        sorted_leaf = leaf[order]
        boundaries = np.r_[0, np.nonzero(np.diff(sorted_leaf))[0] + 1, len(order)]
        mask = np.empty((chunk, draws), dtype=bool)
        product = np.empty((chunk, draws), dtype=np.float32)
        revenue = np.empty(draws, dtype=np.float32)
        previous = np.empty(draws, dtype=np.float32)
        for first, last in itertools.pairwise(boundaries.tolist()):
            if first == last:
                continue  # no deal with a chance left (boundaries [0, 0]): nothing to draw
            target = result[sorted_leaf[first]]
            for start in range(first, last, chunk):
                stop = min(start + chunk, last)
                rows = stop - start
                words = -(-rows * draws // 4)
                uniform = rng.bit_generator.random_raw(words).view(np.uint16)[: rows * draws]
                uniform = uniform.reshape(rows, draws)
                previous.fill(0)
                for horizon in range(horizons):
                    np.less(uniform, thresholds16[start:stop, horizon : horizon + 1], out=mask[:rows])
                    fix = np.nonzero(certain[start:stop, horizon])[0]
                    if len(fix):
                        mask[fix] = True
                    np.multiply(mask[:rows], amounts32[start:stop], out=product[:rows])
                    np.sum(product[:rows], axis=0, out=revenue)
                    target[horizon] += revenue
                    target[horizon] -= previous
                    previous, revenue = revenue, previous
    if drift is not None and horizons and np.any(np.asarray(drift)[:horizons] > 0):
        result *= drift_factors(np.asarray(drift)[:horizons], draws, seed)[None, :, :]
    if new_samples is not None:
        for horizon, matrix in enumerate(new_samples[:horizons]):
            if not matrix.any():
                continue
            pick = rng.integers(0, matrix.shape[0], size=draws)
            result[:, horizon, :] += matrix[pick].T
    return result


def row_uniforms(*, position: int, draws: int, seed: int, chunk: int = 64) -> np.ndarray:
    """The 16-bit uniforms ``simulate`` compares the row at ``position`` with, one per draw, when every row
    has a chance and all share one leaf (``reviews.calculations.simulate_rows``), without drawing the others'.

    A chunk of ``chunk`` rows takes ``ceil(rows x draws / 4)`` raw 64-bit words and reads them as uint16
    in row order; ``chunk`` is a multiple of 4, so every chunk before the row's takes exactly
    ``chunk x draws / 4`` words, and the row's numbers are the 16-bit values ``position x draws`` onwards
    of the generator's stream (a test holds this equal to ``simulate``)."""
    if chunk % 4:
        raise ValueError("chunk must be a multiple of 4")
    start = position * draws
    generator = np.random.PCG64(seed)  # default_rng(seed)'s bit generator
    generator.advance(start // 4)
    skip = start % 4
    words = generator.random_raw(-(-(skip + draws) // 4))
    return words.view(np.uint16)[skip : skip + draws]


@dataclass
class Summary:
    mean: float
    p10: float
    p50: float
    p90: float
    p_quota: float | None
    standard_error: float


def summarise(revenue: np.ndarray, *, closed: float = 0.0, quota: float | None = None) -> Summary:
    """Mean, P10, P50, P90 and P(revenue >= quota) of draws (closed-to-date added to every draw)."""
    total = revenue + closed
    p10, p50, p90 = np.quantile(total, [0.1, 0.5, 0.9])
    p_quota = float(np.mean(total >= quota)) if quota is not None else None
    return Summary(
        mean=float(total.mean()),
        p10=float(p10),
        p50=float(p50),
        p90=float(p90),
        p_quota=p_quota,
        standard_error=float(total.std(ddof=1) / math.sqrt(len(total))) if len(total) > 1 else 0.0,
    )


def expected_and_variance(amounts: np.ndarray, probabilities: np.ndarray) -> tuple[float, float]:
    """The normal approximation: mean = sum p A, variance = sum p (1 - p) A^2."""
    return float((probabilities * amounts).sum()), float(
        (probabilities * (1 - probabilities) * amounts**2).sum()
    )


def simulate_plain_python(
    amounts: list[float], p_period: list[list[float]], draws: int, seed: int
) -> list[list[float]]:
    """The same Monte Carlo as ``simulate`` for one leaf, as plain Python loops (the benchmark baseline)."""
    import random

    generator = random.Random(seed)
    horizons = len(p_period[0]) if p_period else 0
    result = [[0.0] * draws for _ in range(horizons)]
    for draw in range(draws):
        for amount, probabilities in zip(amounts, p_period, strict=True):
            u = generator.random()
            cumulative = 0.0
            for horizon in range(horizons):
                cumulative += probabilities[horizon]
                if u < cumulative:
                    result[horizon][draw] += amount
                    break
    return result
