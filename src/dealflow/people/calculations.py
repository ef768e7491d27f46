"""Survey maths without the ORM: eNPS, distributions, the anonymity rule, and run dates per cadence."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MINIMUM_THRESHOLD = 3


@dataclass(frozen=True)
class Enps:
    """eNPS of n answers on 0-10: promoters 9-10, passives 7-8, detractors 0-6.

    score = % promoters - % detractors, from -100 to +100 (rounded to one decimal for display).
    """

    promoters: int
    passives: int
    detractors: int

    @property
    def total(self) -> int:
        return self.promoters + self.passives + self.detractors

    def _share(self, count: int) -> float:
        return round(100 * count / self.total, 1) if self.total else 0.0

    @property
    def promoter_share(self) -> float:
        return self._share(self.promoters)

    @property
    def passive_share(self) -> float:
        return self._share(self.passives)

    @property
    def detractor_share(self) -> float:
        return self._share(self.detractors)

    @property
    def score(self) -> float | None:
        if not self.total:
            return None
        return round(100 * (self.promoters - self.detractors) / self.total, 1)


def enps_from_counts(counts: Mapping[int, int]) -> Enps:
    """eNPS from {score: how many answered it}."""
    promoters = sum(count for value, count in counts.items() if value >= 9)
    passives = sum(count for value, count in counts.items() if 7 <= value <= 8)
    detractors = sum(count for value, count in counts.items() if value <= 6)
    return Enps(promoters=promoters, passives=passives, detractors=detractors)


def enps_from_scores(scores: Iterable[int]) -> Enps:
    counts: dict[int, int] = {}
    for value in scores:
        if not 0 <= value <= 10:
            raise ValueError(f"An eNPS answer lies between 0 and 10, got {value}.")
        counts[value] = counts.get(value, 0) + 1
    return enps_from_counts(counts)


def mean_from_counts(counts: Mapping[int, int]) -> float | None:
    total = sum(counts.values())
    if not total:
        return None
    return round(sum(value * count for value, count in counts.items()) / total, 2)


def response_rate(*, answered: int, invited: int) -> float | None:
    """Answered invitations as a percentage of invitations, one decimal."""
    if not invited:
        return None
    return round(100 * answered / invited, 1)


def group_is_reportable(*, count: int, threshold: int) -> bool:
    """A group's results show only when at least ``threshold`` people answered."""
    return count >= max(threshold, MINIMUM_THRESHOLD)


def subgroup_is_reportable(*, count: int, total: int, threshold: int) -> bool:
    """A filtered subgroup shows only when it, and the rest of the group it leaves out, are both large enough.

    The second condition blocks differencing: with 6 answers in all and 5 in one team, showing the
    whole group and that team would reveal the sixth person's answers by subtraction.
    """
    rest = total - count
    return group_is_reportable(count=count, threshold=threshold) and (
        rest == 0 or group_is_reportable(count=rest, threshold=threshold)
    )


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def run_date(*, starts_on: dt.date, cadence: str, number: int) -> dt.date:
    """The opening day of run ``number`` (0 for the first) of a survey."""
    if cadence == "once":
        return starts_on
    if cadence == "weekly":
        return starts_on + dt.timedelta(weeks=number)
    if cadence == "monthly":
        return _add_months(starts_on, number)
    if cadence == "quarterly":
        return _add_months(starts_on, 3 * number)
    raise ValueError(f"Unknown cadence {cadence!r}.")


def latest_run_date(*, starts_on: dt.date, cadence: str, today: dt.date) -> dt.date | None:
    """The last opening day on or before ``today``, or None before the start."""
    if today < starts_on:
        return None
    if cadence == "once":
        return starts_on
    if cadence == "weekly":
        return run_date(starts_on=starts_on, cadence=cadence, number=(today - starts_on).days // 7)
    step = 1 if cadence == "monthly" else 3
    months = (today.year - starts_on.year) * 12 + today.month - starts_on.month
    number = months // step
    while number > 0 and run_date(starts_on=starts_on, cadence=cadence, number=number) > today:
        number -= 1
    return run_date(starts_on=starts_on, cadence=cadence, number=number)
