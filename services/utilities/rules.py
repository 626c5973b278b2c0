"""Water and heating relief rules (生活用水、家庭供暖救助), pure functions.

* Water: a discount per m³ on the household's monthly usage, up to a cap per person.
* Heating: centrally heated households get a reduction of the heating fee for the season;
  households without central heating get **+20% of their dibao allowance for every month of the
  heating season**, per household (the plan's own figure), pro rata for the days of the month that
  are inside the season — and inside the household's time in dibao.
"""

from __future__ import annotations

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
    """Days of the month inside the heating season while the household is in dibao."""

    day, count = month.start, 0
    while day <= month.end:
        if in_heating_season(day, start, end) and enrolled_on <= day and (exited_on is None or day < exited_on):
            count += 1
        day += timedelta(days=1)
    return count


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


@dataclass(frozen=True, slots=True)
class WaterDiscount:
    usage_m3: Decimal
    discounted_m3: Decimal
    discount: Decimal


def water_discount(usage_m3: Decimal, members: int, cap_per_person: Decimal, discount_per_m3: Decimal) -> WaterDiscount:
    discounted = to_fen(min(usage_m3, cap_per_person * members))
    return WaterDiscount(usage_m3, discounted, to_fen(discounted * discount_per_m3))


__all__ = ["heating_relief_programme"]
