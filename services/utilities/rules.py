"""Water and heating relief rules (生活用水、家庭供暖救助), pure functions.

* Water: a discount per m³ on the household's monthly usage, up to a cap per person.
* Heating: centrally heated households get a reduction of the heating company's bill for the season;
  households without central heating get **+20 % of what dibao actually pays them for every month of
  the heating season** (the plan's own figure; the employment extension included), pro rata for the
  days of the month inside the season (October and April).

Settling the supplement ledger (a shortfall paid, an overpayment recovered) is shared.ledger's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from shared.entitlements import heating_relief_programme
from shared.money import ZERO, to_fen
from shared.periods import Period

MonthDay = tuple[int, int]


def in_heating_season(day: date, start: MonthDay, end: MonthDay) -> bool:
    """The season runs from ``start`` through ``end`` inclusive, across the new year (20 Oct – 20 Apr)."""

    key = (day.month, day.day)
    if start <= end:
        return start <= key <= end
    return key >= start or key <= end


def covered_days(month: Period, start: MonthDay, end: MonthDay, enrolled_on: date, exited_on: date | None) -> int:
    """Days of the month inside the heating season while the household is in dibao (a day count; the
    supplement itself follows dibao's whole months, see :func:`season_days`)."""

    day, count = month.start, 0
    while day <= month.end:
        if in_heating_season(day, start, end) and enrolled_on <= day and (exited_on is None or day < exited_on):
            count += 1
        day += timedelta(days=1)
    return count


def season_days(month: Period, start: MonthDay, end: MonthDay) -> int:
    """Days of ``month`` inside the heating season (whoever is in dibao): counted, not looped over."""

    last, number = month.days, month.start.month

    def from_day(first: int) -> int:  # days first..last of the month
        return max(0, last - first + 1)

    def through_day(final: int) -> int:  # days 1..final of the month
        return max(0, min(final, last))

    if start <= end:  # a season inside one calendar year
        if not start[0] <= number <= end[0]:
            return 0
        first = start[1] if number == start[0] else 1
        final = end[1] if number == end[0] else last
        return max(0, min(final, last) - first + 1)
    # across the new year: [start, 31 Dec] and [1 Jan, end], which cannot overlap
    days = last if number > start[0] else from_day(start[1]) if number == start[0] else 0
    days += last if number < end[0] else through_day(end[1]) if number == end[0] else 0
    return min(days, last)


@dataclass(frozen=True, slots=True)
class Supplement:
    allowance: Decimal
    rate: Decimal
    days: int
    days_in_month: int
    amount: Decimal


def heating_supplement(allowance: Decimal, rate: Decimal, days: int, days_in_month: int) -> Supplement:
    amount = to_fen(allowance * rate * days / days_in_month) if days and allowance > ZERO else ZERO
    return Supplement(allowance, rate, days, days_in_month, amount)


# ---- central heating ------------------------------------------------------------------------------

_SEASON = re.compile(r"^([0-9]{4})-([0-9]{4})$")


def season_dates(season: str, start: MonthDay, end: MonthDay) -> tuple[date, date]:
    """First and last day of a heating season written ``YYYY-YYYY`` (the second year the next one)."""

    match = _SEASON.match(season)
    if not match or int(match[2]) != int(match[1]) + 1:
        raise ValueError(f"{season!r} is not a heating season written YYYY-YYYY (e.g. 2025-2026)")
    first_year = int(match[1])
    last_year = first_year + 1 if start > end else first_year
    return date(first_year, *start), date(last_year, *end)


def central_reduction(fee: Decimal, rate: Decimal) -> Decimal:
    """集中供热费减免: the share of the heating company's bill for the season that is waived."""

    return to_fen(fee * rate)


@dataclass(frozen=True, slots=True)
class WaterDiscount:
    usage_m3: Decimal
    discounted_m3: Decimal
    discount: Decimal


def water_discount(usage_m3: Decimal, members: int, cap_per_person: Decimal, discount_per_m3: Decimal) -> WaterDiscount:
    discounted = to_fen(min(usage_m3, cap_per_person * members))
    return WaterDiscount(usage_m3, discounted, to_fen(discounted * discount_per_m3))


__all__ = ["heating_relief_programme"]
