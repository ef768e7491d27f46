"""What an oracle would score on the forecast scenarios: `python -m benchmarks forecast_oracle [--seeds 1,2]
[--only name,name] [--cache DIR]`.

Issue #18 asks, per scenario and on one synthetic history, for |bias| <= 5 % of the default method over
its scored months. How often is that reachable at all? The synthetic histories (forecasting/tests/
synthetic.py) come from a known process: deals arrive at a known rate (times the month's factor on the
seasonal scenario), stay an exponential time with a known mean in each stage, move on with a known chance
(times the creation month's factor on the drifting scenario), and on the never-closing scenario 20 % stall
in a stage drawn at creation. The oracle knows all of it, and the state the process is in (the drifting
win rates of every month that has started), but not the draws to come: at each as-of time it forecasts
the *expected* bookings of the target month given that:

* each open deal in stage s, entered at e: amount x P(not stalled | still in s after t - e) x prod of
  its forward chances from s on x P(the rest of its stays ends inside the target window). The stays are
  exponential, so the time left in s is again exponential (no memory); the sum of the remaining stays is
  sampled once per stage (400,000 draws) and the window's share read off it;
* deals not created yet: the expected amount x the arrival rate x the same chance from stage 0, summed over
  the days from the as-of time to the window's end (a quarter of a day at a time);
* what has already closed in the target month (this month only) as the benchmark's rows have it.

It is scored on exactly the benchmark's scored rows (the same as-of times, targets and actuals, from
``scenarios.scenario_rows``), so its bias and WAPE are what a forecaster with perfect knowledge of the
process would get on that history. Pooled over many histories its bias must be near 0: the printout
gives it as the check that the oracle is right. Coverage is not scored (the oracle has no range).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import forecast

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEALFLOW_TESTING", "1")

SAMPLES = 400_000
STEP_DAYS = 0.25
DAY = 86_400


def _remaining_stays(mean_days: tuple[float, ...], rng: np.random.Generator) -> list[np.ndarray]:
    """Per stage s, sorted draws of the time (days) from now to leaving the last stage, for a deal in s:
    the time left in s and every later stay are exponential with the stage's mean."""
    stays = np.stack([rng.exponential(mean, SAMPLES) for mean in mean_days])
    return [np.sort(stays[stage:].sum(axis=0)) for stage in range(len(mean_days))]


def _share(sorted_draws: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The share of the draws within [low, high) (days from now), elementwise."""
    return (np.searchsorted(sorted_draws, high) - np.searchsorted(sorted_draws, low)) / len(sorted_draws)


class Oracle:
    """The expected bookings of a window, from the process that generated one history."""

    def __init__(self, scenario, deals, *, seed: int, scale: float) -> None:
        from dealflow.forecasting.tests import synthetic as syn

        self.syn = syn
        self.stages = len(syn.FORWARD)
        self.scenario = scenario
        self.rate = scenario.deals_per_day * scale
        self.never_close = scenario.never_close
        self.start_month = scenario.start.year * 12 + scenario.start.month - 1
        self.factors = (
            syn.month_factors(seed=seed, months=240, drift=scenario.walk, walk=True) if scenario.walk else []
        )
        self.stays = _remaining_stays(syn.MEAN_DAYS, np.random.default_rng(12345))
        # the generator's amount: round(lognormal(log 20,000, 0.6)) x 100; its mean
        self.mean_amount = 100 * 20_000 * math.exp(0.6**2 / 2)
        count = len(deals)
        self.created = np.array([deal.created for deal in deals], dtype=float)
        self.amount = np.array([deal.amount for deal in deals], dtype=float)
        self.enter = np.full((count, self.stages), np.inf)
        self.enter[:, 0] = self.created
        self.end = np.full(count, np.inf)
        for index, deal in enumerate(deals):
            for moment, kind, value in deal.steps:
                if kind == "move":
                    self.enter[index, value] = moment
                elif kind in ("won", "lost"):
                    self.end[index] = moment
        self.suffix = np.stack([self._suffix(self._forward(moment)) for moment in self.created])

    def _month_of(self, moment: float) -> dt.date:
        return dt.datetime.fromtimestamp(moment, tz=dt.UTC).date()

    def _forward(self, created: float, moment: float | None = None) -> tuple[float, ...]:
        """The forward chances of a deal created at ``created``. On the drifting scenario they are the
        creation month's; for a month that starts after ``moment`` (a deal not created yet in a later
        month) the oracle does not know that month's draw and takes the current month's level (the walk's
        expected next step is 1, up to exp(sd^2 / 2) = 1.003)."""
        if not self.factors:
            return self.syn.FORWARD
        day = self._month_of(created if moment is None else min(created, moment))
        factor = self.factors[day.year * 12 + day.month - 1 - self.start_month]
        return self.syn.scaled_forward(factor)

    @staticmethod
    def _suffix(forward: tuple[float, ...]) -> np.ndarray:
        return np.array([math.prod(forward[stage:]) for stage in range(len(forward))])

    def _can_win(self, stage: np.ndarray, waited_days: np.ndarray) -> np.ndarray:
        """P(a deal in ``stage`` for ``waited_days`` will not stall, there or later). Among the deals that
        reach stage s, a share never_close / 5 / (1 - never_close x s / 5) stall in s (the stage is drawn
        at creation, 0-4 alike); one that has not stalled is still in s after w days with chance
        exp(-w / mean), a staller always, so P(not stalled in s) = (1 - pi) e / ((1 - pi) e + pi). Of
        those not stalling in s, a share (1 - never_close) / (1 - never_close x (s + 1) / 5) never stalls."""
        if not self.never_close:
            return np.ones(len(stage))
        share = self.never_close / self.stages
        prior = share / (1 - share * stage)
        still = np.exp(-waited_days / np.asarray(self.syn.MEAN_DAYS)[stage])
        not_here = (1 - prior) * still / ((1 - prior) * still + prior)
        return not_here * (1 - self.never_close) / (1 - share * (stage + 1))

    def expected(self, moment: int, low: int, high: int) -> float:
        """Expected bookings won in [low, high) as seen at ``moment`` (low >= moment for later months)."""
        start = max(low, moment)
        open_now = (self.created <= moment) & (self.end > moment)
        stage = (self.enter[open_now] <= moment).sum(axis=1) - 1
        entered = self.enter[open_now][np.arange(len(stage)), stage]
        chance = self.suffix[open_now][np.arange(len(stage)), stage] * self._can_win(
            stage, (moment - entered) / DAY
        )
        window_low = np.full(len(stage), (start - moment) / DAY)
        window_high = np.full(len(stage), (high - moment) / DAY)
        inside = np.zeros(len(stage))
        for each in range(self.stages):
            rows = stage == each
            inside[rows] = _share(self.stays[each], window_low[rows], window_high[rows])
        total = float((self.amount[open_now] * chance * inside).sum())
        # deals not created yet: arrivals from now to the window's end
        steps = np.arange(moment, high, STEP_DAYS * DAY, dtype=float) + STEP_DAYS * DAY / 2
        if len(steps):
            rate = np.full(len(steps), self.rate * STEP_DAYS)
            if self.scenario.season is not None:
                months = [self._month_of(step).month - 1 for step in steps]
                rate *= np.asarray(self.scenario.season)[months]
            reach = np.array([self._suffix(self._forward(step, moment))[0] for step in steps]) * (
                1 - self.never_close
            )
            share = _share(self.stays[0], (start - steps) / DAY, (high - steps) / DAY)
            total += float((rate * reach * share).sum()) * self.mean_amount
        return total


def history_scores(scenario, seed: int, *, scale: float, cache: Path | None) -> dict:
    """The oracle's and the default method's next-month and this-month scores on one history."""
    from dealflow.forecasting import calibration
    from dealflow.forecasting.tests import scenarios as catalogue
    from dealflow.forecasting.tests import synthetic as syn

    deals, _ = catalogue.history_for(scenario, scale=scale, seed=seed)
    rows, scored_from, count = forecast._raw_backtest(
        catalogue, scenario, scale=scale, seed=seed, months=scenario.scored_months, cache=cache
    )
    table = catalogue.tables_from_rows(
        rows, {"now": calibration.CURRENT}, scored_from=scored_from, deals=count
    )
    oracle = Oracle(scenario, deals, seed=seed, scale=scale)
    calendar = syn.month_calendar(dt.date(2020, 1, 1), 96)
    result = {}
    for horizon in (0, 1):
        chosen = [
            row
            for row in rows
            if row.method == "dealflow" and row.horizon == horizon and row.as_of >= scored_from
        ]
        expected, actual = [], []
        for row in chosen:
            low = int(calendar.start_times[int(calendar.index_of(row.target_end - 1))])
            expected.append(row.closed + oracle.expected(row.as_of, low, row.target_end))
            actual.append(row.actual)
        forecast_array, actual_array = np.array(expected), np.array(actual)
        total = float(actual_array.sum())
        entry = table["now"]["by_horizon"][str(horizon)]
        default = entry["scores"][entry["default"]]
        result[horizon] = {
            "oracle_bias": float((forecast_array - actual_array).sum()) / total,
            "oracle_wape": float(np.abs(forecast_array - actual_array).sum()) / total,
            "default_bias": default["bias"],
            "default_wape": default["wape"],
            "default": entry["default"],
            "total": total,
            "error": float((forecast_array - actual_array).sum()),
            "absolute": float(np.abs(forecast_array - actual_array).sum()),
        }
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks forecast_oracle")
    parser.add_argument(
        "--seeds", type=forecast._numbers(int), default=[1], metavar="1,2,3", help="seeds (default 1)"
    )
    parser.add_argument("--only", help="comma-separated scenario names")
    parser.add_argument("--scale", type=float, default=1.0, help="size of each history (default 1.0)")
    parser.add_argument(
        "--cache", type=Path, metavar="DIR", help="the forecast benchmark's raw-backtest cache"
    )
    options = parser.parse_args(argv)
    seeds = options.seeds
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    from dealflow.forecasting.tests import scenarios as catalogue

    names = [scenario.name for scenario in catalogue.SCENARIOS]
    only = options.only.split(",") if options.only else names
    unknown = sorted(set(only) - set(names))
    if unknown:
        parser.error(f"--only: no scenario named {', '.join(unknown)} (scenarios: {', '.join(names)})")
    started = time.perf_counter()
    pooled: dict[tuple[str, int], dict[str, float]] = {}
    met: dict[tuple[str, int], list[int]] = {}
    print("| scenario | seed | horizon | oracle WAPE | oracle bias | default | default WAPE | default bias |")
    print("|---|---|---|---|---|---|---|---|")
    for seed, scenario in itertools.product(seeds, catalogue.SCENARIOS):
        if scenario.name not in only:
            continue
        scores = history_scores(scenario, seed, scale=options.scale, cache=options.cache)
        for horizon, score in scores.items():
            print(
                f"| {scenario.name} | {seed} | {'this month' if horizon == 0 else 'next month'} | "
                f"{score['oracle_wape']:.1%} | {score['oracle_bias']:+.1%} | `{score['default']}` | "
                f"{score['default_wape']:.1%} | {score['default_bias']:+.1%} |",
                flush=True,
            )
            pool = pooled.setdefault((scenario.name, horizon), {"error": 0.0, "absolute": 0.0, "total": 0.0})
            for key in pool:
                pool[key] += score[key]
            tally = met.setdefault((scenario.name, horizon), [0, 0, 0])
            tally[0] += 1
            tally[1] += abs(score["oracle_bias"]) <= 0.05
            tally[2] += abs(score["default_bias"]) <= 0.05
    print(
        "\nPooled over the seeds (the oracle's pooled bias is near 0 if it is right), and how many histories"
    )
    print("meet |bias| <= 5 %, the oracle's and the default method's:\n")
    print(
        "| scenario | horizon | oracle WAPE | oracle bias | histories: oracle within 5 % | default within 5 % |"
    )
    print("|---|---|---|---|---|---|")
    for (name, horizon), pool in pooled.items():
        histories, oracle_met, default_met = met[(name, horizon)]
        print(
            f"| {name} | {'this month' if horizon == 0 else 'next month'} | {pool['absolute'] / pool['total']:.1%} | "
            f"{pool['error'] / pool['total']:+.1%} | {oracle_met} of {histories} | {default_met} of {histories} |"
        )
    print(f"\n{time.perf_counter() - started:.1f} s")
    return 0
