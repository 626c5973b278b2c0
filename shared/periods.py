"""Reporting and payment periods: months ``YYYY-MM``, half-years ``YYYY-H1``/``YYYY-H2``, years ``YYYY``."""

from __future__ import annotations

import calendar
import functools
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

_MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")
_HALF = re.compile(r"^([0-9]{4})-H([12])$")
_YEAR = re.compile(r"^([0-9]{4})$")


class InvalidPeriod(ValueError):
    pass


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A closed range of dates with the label it was asked for by."""

    start: date
    end: date
    label: str

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def overlaps(self, start: date, end: date | None) -> bool:
        """Whether [start, end) — ``end`` exclusive, open when None — meets this period."""

        return start <= self.end and (end is None or end > self.start)

    def months(self) -> list[Period]:
        result = []
        year, month = self.start.year, self.start.month
        while date(year, month, 1) <= self.end:
            result.append(month_period(year, month))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return result

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


FIRST_YEAR, LAST_YEAR = 1900, 2100


def _check_year(year: int, text: str) -> int:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidPeriod(f"{text!r}: the year must be between {FIRST_YEAR} and {LAST_YEAR}")
    return year


@functools.lru_cache(maxsize=2048)  # periods are immutable; runs ask for the same months 100,000 times
def month_period(year: int, month: int) -> Period:
    last = calendar.monthrange(year, month)[1]
    return Period(date(year, month, 1), date(year, month, last), f"{year:04d}-{month:02d}")


def parse_month(text: str) -> Period:
    match = _MONTH.match(text or "")
    if not match:
        raise InvalidPeriod(f"{text!r} is not a month written YYYY-MM")
    return month_period(_check_year(int(match[1]), text), int(match[2]))


def parse_period(text: str) -> Period:
    """Parse a report period: ``YYYY-MM``, ``YYYY-H1``, ``YYYY-H2`` or ``YYYY``."""

    if _MONTH.match(text or ""):
        return parse_month(text)
    if match := _HALF.match(text or ""):
        year, half = _check_year(int(match[1]), text), int(match[2])
        if half == 1:
            return Period(date(year, 1, 1), date(year, 6, 30), text)
        return Period(date(year, 7, 1), date(year, 12, 31), text)
    if match := _YEAR.match(text or ""):
        year = _check_year(int(match[1]), text)
        return Period(date(year, 1, 1), date(year, 12, 31), text)
    raise InvalidPeriod(f"{text!r} is not a period: use YYYY-MM, YYYY-H1, YYYY-H2 or YYYY")


def month_of(day: date) -> Period:
    return month_period(day.year, day.month)


def add_months(period: Period, count: int) -> Period:
    index = period.start.year * 12 + (period.start.month - 1) + count
    return month_period(index // 12, index % 12 + 1)


# ---- the city's calendar --------------------------------------------------------------------------

# "Today", a month and a term are days in Harbin, never the server's local date or UTC: between
# midnight and 08:00 in Harbin, UTC is still on yesterday. One setting, for a deployment elsewhere.
CITY_TIMEZONE = ZoneInfo(os.environ.get("HARBIN_TIMEZONE", "Asia/Shanghai"))


def city_today(now: datetime | None = None) -> date:
    """Today's date in the city (``now`` an aware instant, for tests)."""

    return (now or datetime.now(UTC)).astimezone(CITY_TIMEZONE).date()


class PeriodInFuture(ValueError):
    """A run asked to pay for a period that has not begun."""


def refuse_future(starts_on: date, label: str, today: date | None = None) -> None:
    """Nothing is paid for a period that has not begun (a month on its 1st, a term on 1 March / 1 September)."""

    today = today or city_today()
    if starts_on > today:
        raise PeriodInFuture(
            f"{label} begins on {starts_on.isoformat()}; nothing is paid for a period that has not "
            f"begun (today is {today.isoformat()} in Harbin)"
        )
