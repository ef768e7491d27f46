"""Calendar and fiscal periods: '2026-11', '2026-Q3', '2026' (fiscal year start is a setting)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from dealflow.core.errors import ApplicationError


@dataclass(frozen=True)
class Period:
    key: str
    start: dt.date  # inclusive
    end: dt.date  # exclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def previous(self) -> Period:
        return period_containing(self.start - dt.timedelta(days=1), kind=self.kind)

    def next(self) -> Period:
        return period_containing(self.end, kind=self.kind)

    @property
    def kind(self) -> str:
        if "-Q" in self.key:
            return "quarter"
        if re.fullmatch(r"\d{4}-\d{2}", self.key):
            return "month"
        if re.fullmatch(r"(FY)?\d{4}", self.key):
            return "year"
        return "custom"


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.year * 12 + (day.month - 1) + months
    return dt.date(month_index // 12, month_index % 12 + 1, 1)


def fiscal_start_month() -> int:
    return int(str(settings.DEALFLOW.get("FISCAL_YEAR_START_MONTH", 1)))


# The years a period may fall in: outside them a period's next or previous would overflow Python's dates
# (year 0001 has no previous month, 9999 no next one), and no CRM record means them.
FIRST_YEAR = 1900
LAST_YEAR = 2999


def _year_checked(year: int, *, field: str) -> int:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ApplicationError(
            _("%(name)s must lie between the years %(first)s and %(last)s.")
            % {"name": field, "first": FIRST_YEAR, "last": LAST_YEAR},
            field=field,
        )
    return year


def parse_period(text: str, *, field: str = "period") -> Period:
    """Parse '2026-11' (month), '2026-Q3' (fiscal quarter), '2026' (fiscal year) or 'YYYY-MM-DD..YYYY-MM-DD'."""
    value = (text or "").strip().upper()
    if not value.isascii():  # str.isdigit and \d accept ² and other scripts' digits
        value = "?"
    start_month = fiscal_start_month()
    if match := re.fullmatch(r"(\d{4})-(\d{2})", value):
        year, month = _year_checked(int(match[1]), field=field), int(match[2])
        if not 1 <= month <= 12:
            raise ApplicationError(f"Month {month} does not exist.", field=field)
        start = dt.date(year, month, 1)
        return Period(value, start, _add_months(start, 1))
    if match := re.fullmatch(r"(?:FY)?(\d{4})-?Q([1-4])", value):
        year, quarter = _year_checked(int(match[1]), field=field), int(match[2])
        # Fiscal year N starts in year N when the start month is January, else in year N-1.
        year_start = dt.date(year if start_month == 1 else year - 1, start_month, 1)
        start = _add_months(year_start, 3 * (quarter - 1))
        return Period(f"{year}-Q{quarter}", start, _add_months(start, 3))
    if match := re.fullmatch(r"(?:FY)?(\d{4})", value):
        year = _year_checked(int(match[1]), field=field)
        start = dt.date(year if start_month == 1 else year - 1, start_month, 1)
        return Period(str(year), start, _add_months(start, 12))
    if match := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", value):
        try:
            start, last = dt.date.fromisoformat(match[1]), dt.date.fromisoformat(match[2])
        except ValueError as error:
            raise ApplicationError(f"{text!r} holds an impossible date.", field=field) from error
        _year_checked(start.year, field=field)
        _year_checked(last.year, field=field)
        if last < start:
            raise ApplicationError("A custom period must end on or after its start.", field=field)
        return Period(f"{start.isoformat()}..{last.isoformat()}", start, last + dt.timedelta(days=1))
    raise ApplicationError(
        f"Unknown period {text!r}; use 2026-11, 2026-Q3, 2026 or 2026-01-01..2026-03-31.", field=field
    )


def period_containing(day: dt.date, *, kind: str = "month") -> Period:
    start_month = fiscal_start_month()
    if kind == "month":
        return parse_period(f"{day.year:04d}-{day.month:02d}")
    offset = (day.month - start_month) % 12
    fy_start = _add_months(dt.date(day.year, day.month, 1), -offset)
    fiscal_year = fy_start.year if start_month == 1 else fy_start.year + 1
    if kind == "quarter":
        return parse_period(f"{fiscal_year}-Q{offset // 3 + 1}")
    if kind == "year":
        return parse_period(str(fiscal_year))
    raise ApplicationError(f"Unknown period kind {kind!r}.", field="period")
