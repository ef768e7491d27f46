"""Accuracy, WAPE, bias, coverage and calibration (Brier, skill, ECE)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


# ------------------------------------------------------------------------------------------ accuracy
def accuracy(actual: float, forecast: float) -> float | None:
    """1 - |A - F| / A; undefined (None) when nothing closed."""
    if actual <= 0:
        return None
    return 1 - abs(actual - forecast) / actual


def wape(actuals: list[float], forecasts: list[float]) -> float | None:
    """Weighted absolute percentage error: sum |A - F| / sum A."""
    total = sum(actuals)
    if total <= 0:
        return None
    return sum(abs(a - f) for a, f in zip(actuals, forecasts, strict=True)) / total


def bias(actuals: list[float], forecasts: list[float]) -> float | None:
    """sum (F - A) / sum A: positive means over-forecast."""
    total = sum(actuals)
    if total <= 0:
        return None
    return sum(f - a for a, f in zip(actuals, forecasts, strict=True)) / total


def coverage(actuals: list[float], lows: list[float], highs: list[float]) -> float | None:
    """Share of actuals inside [P10, P90]."""
    if not actuals:
        return None
    inside = sum(1 for a, low, high in zip(actuals, lows, highs, strict=True) if low <= a <= high)
    return inside / len(actuals)


@dataclass
class Calibration:
    count: int
    predicted: float
    observed: float
    brier: float
    base_rate_brier: float
    skill: float | None
    ece: float
    reliability: list[dict]


def calibration(
    predicted: np.ndarray, outcome: np.ndarray, *, bins: int = 10, base_rate: float | None = None
) -> Calibration:
    """Brier score, skill against predicting the base rate, reliability table and expected calibration error."""
    predicted = np.asarray(predicted, dtype=float)
    outcome = np.asarray(outcome, dtype=float)
    count = len(predicted)
    if count == 0:
        return Calibration(0, 0.0, 0.0, 0.0, 0.0, None, 0.0, [])
    rate = float(outcome.mean()) if base_rate is None else base_rate
    brier = float(np.mean((predicted - outcome) ** 2))
    reference = float(np.mean((rate - outcome) ** 2))
    skill = 1 - brier / reference if reference > 0 else None
    index = np.minimum((predicted * bins).astype(int), bins - 1)
    reliability, ece = [], 0.0
    for bin_index in range(bins):
        mask = index == bin_index
        if not mask.any():
            continue
        mean_predicted, mean_observed = float(predicted[mask].mean()), float(outcome[mask].mean())
        ece += mask.sum() / count * abs(mean_predicted - mean_observed)
        reliability.append(
            {
                "low": bin_index / bins,
                "high": (bin_index + 1) / bins,
                "count": int(mask.sum()),
                "predicted": mean_predicted,
                "observed": mean_observed,
            }
        )
    return Calibration(
        count=count,
        predicted=float(predicted.mean()),
        observed=float(outcome.mean()),
        brier=brier,
        base_rate_brier=reference,
        skill=skill,
        ece=float(ece),
        reliability=reliability,
    )


def calibration_from_groups(
    probability_bin: np.ndarray,
    outcome: np.ndarray,
    count: np.ndarray,
    sum_p: np.ndarray,
    sum_p2: np.ndarray,
    *,
    bins: int = 10,
    base_rate: float | None = None,
) -> Calibration:
    """``calibration`` from rows already grouped by (probability bin, outcome), as SQL returns them.

    Each group holds ``count`` rows with outcome 0 or 1, the sum of their probabilities and of their
    squares; with y in {0, 1}, sum (p - y)^2 = sum p^2 - 2 y sum p + y n, so every figure is exact.
    """
    probability_bin = np.asarray(probability_bin, dtype=np.int64)
    outcome, count = np.asarray(outcome, dtype=float), np.asarray(count, dtype=float)
    sum_p, sum_p2 = np.asarray(sum_p, dtype=float), np.asarray(sum_p2, dtype=float)
    total = int(count.sum())
    if total == 0:
        return Calibration(0, 0.0, 0.0, 0.0, 0.0, None, 0.0, [])
    observed = float((count * outcome).sum() / total)
    rate = observed if base_rate is None else base_rate
    brier = float((sum_p2 - 2 * outcome * sum_p + outcome * count).sum() / total)
    reference = float((count * (rate - outcome) ** 2).sum() / total)
    reliability, ece = [], 0.0
    for bin_index in range(bins):
        mask = np.minimum(probability_bin, bins - 1) == bin_index
        members = count[mask].sum()
        if not members:
            continue
        mean_predicted = float(sum_p[mask].sum() / members)
        mean_observed = float((count[mask] * outcome[mask]).sum() / members)
        ece += members / total * abs(mean_predicted - mean_observed)
        reliability.append(
            {
                "low": bin_index / bins,
                "high": (bin_index + 1) / bins,
                "count": int(members),
                "predicted": mean_predicted,
                "observed": mean_observed,
            }
        )
    return Calibration(
        count=total,
        predicted=float(sum_p.sum() / total),
        observed=observed,
        brier=brier,
        base_rate_brier=reference,
        skill=1 - brier / reference if reference > 0 else None,
        ece=float(ece),
        reliability=reliability,
    )
