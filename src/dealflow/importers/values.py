"""Cell values as people type them: amounts with either decimal mark, dates in any common order, yes/no.

Every parser raises ``ValueError`` with a sentence a person understands; the plan turns it into a problem
with the row's line number and column. Two decisions are made per column, never per cell, and never
silently: the order of day and month in dates like 03/04/2024, and the decimal mark of amounts like
1,250. A column's data usually decides (13/04/2024 can only be day-first); when it cannot, the preview
asks (``ColumnDates.order`` / ``ColumnNumbers.decimal`` stay ``None`` until answered).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

EMPTY = {"", "-", "n/a", "na", "null", "none", "nvt", "n.v.t."}

TRUE_WORDS = {"1", "true", "yes", "y", "ja", "j", "waar", "x", "✓", "on", "won", "gewonnen", "t"}
FALSE_WORDS = {"0", "false", "no", "n", "nee", "onwaar", "off", "f"}

CURRENCY_SIGNS = {
    "us$": "USD",
    "€": "EUR",
    "$": "USD",
    "£": "GBP",
    "¥": "JPY",
    "₹": "INR",
    "chf": "CHF",
    "fr.": "CHF",
}
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")

MONTHS = {
    # English and Dutch month names and their usual abbreviations.
    **{
        name: number
        for number, name in enumerate(
            ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1
        )
    },
    **{
        name: number
        for number, name in enumerate(
            [
                "january",
                "february",
                "march",
                "april",
                "may",
                "june",
                "july",
                "august",
                "september",
                "october",
                "november",
                "december",
            ],
            start=1,
        )
    },
    **{
        name: number
        for number, name in enumerate(
            [
                "januari",
                "februari",
                "maart",
                "april",
                "mei",
                "juni",
                "juli",
                "augustus",
                "september",
                "oktober",
                "november",
                "december",
            ],
            start=1,
        )
    },
    "mrt": 3,
    "mei": 5,
    "okt": 10,
    "sept": 9,
}


def is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() in EMPTY
    return False


def parse_text(value: Any) -> str:
    if type(value) is str:  # a CSV cell: what the checks below come to, without their isinstance calls
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an id typed as a number in Excel
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


def parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if is_empty(value):
        return None
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(_("%(value)s is not yes or no.") % {"value": repr(value)})


def parse_int(value: Any) -> int | None:
    number = parse_number(value, decimal=".")
    if number is None:
        return None
    if number != number.to_integral_value():
        raise ValueError(_("%(value)s is not a whole number.") % {"value": repr(value)})
    return int(number)


# ---------------------------------------------------------------------------------- numbers and money


def split_currency(text: str) -> tuple[str, str | None]:
    """Take a currency sign or ISO code off an amount: ('€ 1.250,00') -> ('1.250,00', 'EUR')."""
    stripped = text.strip()
    lowered = stripped.lower()
    for sign, code in CURRENCY_SIGNS.items():
        if lowered.startswith(sign):
            return stripped[len(sign) :].strip(), code
        if lowered.endswith(sign):
            return stripped[: -len(sign)].strip(), code
    if len(stripped) > 3:
        head, tail = stripped[:3], stripped[-3:]
        if _CURRENCY_CODE.match(head.upper()) and head.isalpha() and not stripped[3:4].isalpha():
            return stripped[3:].strip(), head.upper()
        if _CURRENCY_CODE.match(tail.upper()) and tail.isalpha() and not stripped[-4:-3].isalpha():
            return stripped[:-3].strip(), tail.upper()
    return stripped, None


# The whole part: plain digits, or groups of three after thousands separators (here turned into spaces).
_GROUPED = re.compile(r"^[+-]?(\d+|\d{1,3}([ \u00a0\u202f]\d{3})+)?$")
_NUMBER_SHAPE = re.compile(r"^[+-]?[0-9][0-9.,' \u00a0\u202f]*$|^[+-]?[.,][0-9]+$")


def number_evidence(text: str) -> str | None:
    """Which decimal mark a number's own shape proves: ',' or '.', or None when it could be either."""
    digits = text.strip().lstrip("+-")
    has_point, has_comma = "." in digits, "," in digits
    if has_point and has_comma:
        return "," if digits.rfind(",") > digits.rfind(".") else "."
    for mark in (",", "."):
        if mark in digits:
            if digits.count(mark) > 1:
                return "." if mark == "," else ","  # 1.234.567 -> point is the thousands separator
            whole, _, fraction = digits.partition(mark)
            if len(fraction) != 3 or not whole or whole in {"0", "-0"}:
                return mark  # 12,5 / 0,250 / 1234,56 -> the mark is decimal
            return None  # 1,250 or 1.250: thousands or decimal
    if " " in digits or "'" in digits or "\u00a0" in digits:
        return None
    return None


def parse_number(value: Any, *, decimal: str | None) -> Decimal | None:
    """A decimal number; ``decimal`` is the column's decimal mark (',' or '.'), None if not yet known."""
    if isinstance(value, bool):
        raise ValueError(_("%(value)s is not a number.") % {"value": repr(value)})
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value
    if is_empty(value):
        return None
    text = str(value).strip()
    negative = text.startswith("(") and text.endswith(")")  # accounting style (1.250,00)
    if negative:
        text = text[1:-1].strip()
    if not _NUMBER_SHAPE.match(text):
        raise ValueError(_("%(value)s is not a number.") % {"value": repr(value)})
    mark = number_evidence(text) or decimal
    if mark is None:
        mark = "."  # only reached by callers that have checked the column first (no thousands doubt)
    thousands = "," if mark == "." else "."
    whole = text.split(mark)[0] if mark in text else text
    if text.count(mark) > 1 or not _GROUPED.match(whole.replace(thousands, " ").replace("'", " ")):
        raise ValueError(_("%(value)s is not a number.") % {"value": repr(value)})
    cleaned = text.replace(thousands, "").replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    cleaned = cleaned.replace("'", "").replace(mark, ".")
    try:
        number = Decimal(cleaned)
    except InvalidOperation as error:
        raise ValueError(_("%(value)s is not a number.") % {"value": repr(value)}) from error
    if not number.is_finite():
        raise ValueError(_("%(value)s is not a number.") % {"value": repr(value)})
    return -number if negative else number


class ColumnNumbers:
    """Collects each amount column's evidence for its decimal mark (see ``number_evidence``)."""

    def __init__(self, *, decimal: str | None = None) -> None:
        self.decimal = decimal  # decided by the user, or by the data in ``decide``
        self.seen: set[str] = set()
        self.has_doubt = False
        self.example = ""

    def observe(self, text: str) -> None:
        evidence = number_evidence(text)
        if evidence:
            self.seen.add(evidence)
        elif ("," in text or "." in text) and not self.has_doubt:
            self.has_doubt = True
            self.example = text

    def decide(self, *, hint: str | None = None) -> tuple[str | None, str | None]:
        """The decimal mark and, when the data alone could not decide, why (for a notice or a question)."""
        if self.decimal:
            return self.decimal, None
        if len(self.seen) == 1:
            return next(iter(self.seen)), None
        if len(self.seen) > 1:
            return None, "mixed"
        if not self.has_doubt:
            return ".", None
        if hint:
            return hint, "hint"
        return None, "ambiguous"


PLAIN_NUMBER = re.compile(r"^-?\d+(\.\d{1,2}|\.\d{4,})?$")  # 1250 / 1250.5 / 1250.50: no doubt about the mark


def parse_money(value: Any, *, decimal: str | None) -> tuple[Decimal | None, str | None]:
    """An amount and the currency its sign or code names, if any: '€ 1.250,50' -> (1250.50, 'EUR')."""
    if isinstance(value, str) and PLAIN_NUMBER.match(value):
        return Decimal(value), None
    if not isinstance(value, str):
        return parse_number(value, decimal=decimal), None
    if is_empty(value):
        return None, None
    text, currency = split_currency(value)
    return parse_number(text, decimal=decimal), currency


def money_text(value: Any) -> str:
    """The number part of a money cell, for decimal-mark evidence."""
    if not isinstance(value, str):
        return ""
    return split_currency(value)[0]


# ---------------------------------------------------------------------------------- dates


_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_ISO_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6})\d*)?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_NUMERIC_DATE = re.compile(
    r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?$"
)
_YEAR_FIRST_SLASH = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")
# A cell this matches (a four-digit year and a hyphen first: ISO dates and times) is never a PendingDate:
# parse_date_cell makes those from _NUMERIC_DATE alone, which starts with one or two digits.
NEVER_PENDING = re.compile(r"\d{4}-")
_WORD_DATE = re.compile(
    r"^(\d{1,2})\.?\s+([A-Za-z]+)\.?,?\s+(\d{4})$|^([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})$"
)


class PendingDate:
    """A day/month pair whose order the column decides: 03/04/2024 is 3 April or 4 March."""

    __slots__ = ("first", "hour", "minute", "second", "second_part", "text", "year")

    def __init__(self, first: int, second_part: int, year: int, time: tuple[int, int, int] | None, text: str):
        self.first, self.second_part, self.year = first, second_part, year
        self.hour, self.minute, self.second = time if time else (-1, 0, 0)
        self.text = text

    @property
    def evidence(self) -> str | None:
        if self.first > 12 and self.second_part <= 12:
            return "dmy"
        if self.second_part > 12 and self.first <= 12:
            return "mdy"
        return None

    def resolve(self, order: str) -> dt.date | dt.datetime:
        day, month = (self.first, self.second_part) if order == "dmy" else (self.second_part, self.first)
        label = _("day/month/year") if order == "dmy" else _("month/day/year")
        try:
            day_value = dt.date(self.year, month, day)
        except ValueError as error:
            raise ValueError(
                _("%(value)s is not a date (read as %(order)s).") % {"value": repr(self.text), "order": label}
            ) from error
        if self.hour < 0:
            return day_value
        return aware(dt.datetime(self.year, month, day, self.hour, self.minute, self.second))


# (zone, local day) -> the zone's UTC offset all that day, or None when the offset changes that day.
_DAY_OFFSETS: dict[tuple[dt.tzinfo, dt.date], dt.timedelta | None] = {}
_UNKNOWN = dt.timedelta(days=-99)  # not an offset any zone has: "not looked up yet"
_NAIVE_EPOCH, _UTC_EPOCH = dt.datetime(1970, 1, 1), dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _day_offset(zone: dt.tzinfo, day: dt.date) -> dt.timedelta | None:
    key = (zone, day)
    try:
        return _DAY_OFFSETS[key]
    except KeyError:
        first = dt.datetime.combine(day, dt.time(0), tzinfo=zone).utcoffset()
        last = dt.datetime.combine(day, dt.time.max, tzinfo=zone).utcoffset()
        if len(_DAY_OFFSETS) >= 100_000:
            _DAY_OFFSETS.clear()
        offset = _DAY_OFFSETS[key] = first if first == last else None
        return offset


def aware(moment: dt.datetime) -> dt.datetime:
    """A time in UTC; a time without zone is local. (Aware datetimes sharing one ZoneInfo subtract as
    wall-clock times across a DST change, so everything the importer computes with is UTC.)"""
    if moment.tzinfo is None:
        # What make_aware does, in the installation's TIME_ZONE (imports run outside any request). The
        # zone's offset is looked up once per local day (a file holds hundreds of thousands of times);
        # on the days the offset changes, the zone decides each time.
        zone = timezone.get_default_timezone()
        offset = _DAY_OFFSETS.get((zone, moment.date()), _UNKNOWN)
        if offset is _UNKNOWN:
            offset = _day_offset(zone, moment.date())
        if offset is not None:
            # moment - offset, in UTC: a timedelta added to the UTC epoch; .replace(tzinfo=...) on the
            # naive result cost seven times as much (about 1 us, for every time cell of a file).
            return _UTC_EPOCH + (moment - offset - _NAIVE_EPOCH)
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(dt.UTC)


_FAST_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_FAST_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 70 else 1900
    return year


def _impossible(value: Any) -> ValueError:
    return ValueError(_("%(value)s is not a date.") % {"value": repr(value)})


def parse_date_cell(value: Any) -> dt.date | dt.datetime | PendingDate | None:
    """A date or a date and time; a PendingDate when day and month could be either way round."""
    if type(value) is str:
        # The usual cell first ("2024-03-01 09:30:00"): no empty word and no number looks like it. A cell
        # that only starts like it goes the long way below, which explains what is wrong.
        text = value.strip()
        if _FAST_DATETIME.match(text):
            try:
                return aware(dt.datetime.fromisoformat(text))
            except ValueError:
                pass
    if isinstance(value, dt.datetime):
        return aware(value)
    if isinstance(value, dt.date):
        return value
    if is_empty(value):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(_("%(value)s is a number, not a date.") % {"value": repr(value)})
    text = str(value).strip()
    if _FAST_DATETIME.match(text):
        try:
            return aware(dt.datetime.fromisoformat(text))
        except ValueError:
            pass  # the slower patterns below explain what is wrong
    elif _FAST_DATE.match(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError as error:
            raise _impossible(value) from error
    try:
        if match := _ISO_DATE.match(text):
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        if match := _ISO_DATETIME.match(text):
            fraction = int((match[7] or "0").ljust(6, "0"))
            moment = dt.datetime(
                int(match[1]),
                int(match[2]),
                int(match[3]),
                int(match[4]),
                int(match[5]),
                int(match[6] or 0),
                fraction,
            )
            zone = match[8]
            if zone:
                if zone == "Z":
                    return moment.replace(tzinfo=dt.UTC)
                sign = 1 if zone[0] == "+" else -1
                digits = zone[1:].replace(":", "")
                offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
                return moment.replace(tzinfo=dt.timezone(sign * offset)).astimezone(dt.UTC)
            return aware(moment)
        if match := _YEAR_FIRST_SLASH.match(text):
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        if match := _NUMERIC_DATE.match(text):
            time = None
            if match[4]:
                hour = int(match[4])
                if match[7]:
                    if hour > 12:
                        raise _impossible(value)
                    hour = hour % 12 + (12 if match[7].lower() == "pm" else 0)
                time = (hour, int(match[5]), int(match[6] or 0))
                if hour > 23 or time[1] > 59 or time[2] > 59:
                    raise _impossible(value)
            first, second = int(match[1]), int(match[2])
            if first > 31 or second > 31 or (first > 12 and second > 12) or 0 in (first, second):
                raise _impossible(value)
            return PendingDate(first, second, _year(match[3]), time, text)
        if match := _WORD_DATE.match(text):
            if match[1]:
                day, month_name, year = int(match[1]), match[2], int(match[3])
            else:
                month_name, day, year = match[4], int(match[5]), int(match[6])
            month = MONTHS.get(month_name.lower())
            if month is None:
                raise _impossible(value)
            return dt.date(year, month, day)
    except ValueError as error:
        raise _impossible(value) from error
    raise ValueError(_("%(value)s is not a date we can read (use YYYY-MM-DD).") % {"value": repr(value)})


class ColumnDates:
    """Collects a date column's evidence for day-first or month-first and resolves its pending dates."""

    def __init__(self, *, order: str | None = None) -> None:
        self.order = order  # "dmy" / "mdy": chosen by the user; else decided by the data
        self.evidence: dict[str, str] = {}  # order -> first example proving it
        self.pending = 0
        self.examples: set[str] = set()  # the smallest pending texts, when the rows are not kept

    def observe(self, parsed: Any) -> None:
        if isinstance(parsed, PendingDate):
            self.pending += 1
            evidence = parsed.evidence
            if evidence and evidence not in self.evidence:
                self.evidence[evidence] = parsed.text

    def decide(self) -> tuple[str | None, str | None]:
        """The order and, if it cannot be decided, why: 'mixed' or 'ambiguous'."""
        if self.order:
            return self.order, None
        if not self.pending:
            return "dmy", None  # nothing to decide: every date was ISO or written out
        if len(self.evidence) == 1:
            return next(iter(self.evidence)), None
        if len(self.evidence) > 1:
            return None, "mixed"
        return None, "ambiguous"


def as_datetime(value: dt.date | dt.datetime) -> dt.datetime:
    """A date becomes the start of that day in the local time zone."""
    if isinstance(value, dt.datetime):
        return aware(value)
    return aware(dt.datetime(value.year, value.month, value.day))


def as_date(value: dt.date | dt.datetime) -> dt.date:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def check_year(value: dt.date | dt.datetime, *, text: Any) -> None:
    if not 1970 <= value.year <= 2200:
        raise ValueError(_("%(value)s lies outside 1970-2200.") % {"value": repr(text)})


# ---------------------------------------------------------------------------------- headers


_HEADER_CURRENCY = re.compile(
    r"^(?P<head>.*?\S)\s*[(\[]\s*(?:in\s+)?(?P<currency>[A-Za-z]{3}|US\$|€|\$|£)\s*[)\]]\s*$", re.IGNORECASE
)


def header_currency(header: str) -> tuple[str, str | None]:
    """'BEDRAG (EUR)' -> ('BEDRAG', 'EUR'), 'Value [€]' -> ('Value', 'EUR'); other headers unchanged."""
    match = _HEADER_CURRENCY.match(str(header or "").strip())
    if match is None:
        return str(header or ""), None
    currency = match.group("currency")
    code = CURRENCY_SIGNS.get(currency.lower(), currency.upper())
    if not (len(code) == 3 and code.isalpha() and code.isascii()):
        return str(header), None
    return match.group("head"), code


@lru_cache(maxsize=4096)
def normalize_header(text: Any) -> str:
    """'Verwachte sluitingsdatum', 'verwachte_sluitings-datum ' and 'VERWACHTE SLUITINGSDATUM' all match."""
    value = unicodedata.normalize("NFKD", str(text or ""))
    value = "".join(char for char in value if not unicodedata.combining(char))
    return re.sub(r"[^0-9a-z]+", "", value.lower())


@lru_cache(maxsize=65536)
def normalize_name(text: Any) -> str:
    """Names of stages, owners and organizations compared loosely: case, spaces and accents ignored."""
    value = unicodedata.normalize("NFKD", str(text or ""))
    value = "".join(char for char in value if not unicodedata.combining(char))
    return " ".join(re.sub(r"[^0-9a-z@.]+", " ", value.lower()).split())
