"""Water and heating relief rules (生活用水、家庭供暖救助), pure functions.

* Water: a discount per m³ on the household's monthly usage, up to a cap per person.
* Heating: centrally heated households get a reduction of the heating company's bill for the season;
  households without central heating get **+20 % of what dibao actually pays them for every month of
  the heating season** (the plan's own figure; the employment extension included), pro rata for the
  days of the month inside the season (October and April).
* Settling: each run compares what is due for every month with the month's lines in the supplement
  ledger; a shortfall is paid, an overpayment is recorded as owed and withheld from later payments.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

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


# ---- settling a household's supplement ledger ----------------------------------------------------

LineKind = Literal["supplement", "recovery"]


@dataclass(frozen=True, slots=True)
class LedgerLine:
    """A line already in the ledger: what it did to the month, and what was withheld from it."""

    period: str
    kind: str
    amount: Decimal
    withheld: Decimal
    run_period: str


@dataclass(frozen=True, slots=True)
class Settlement:
    """A new line: ``amount`` > 0 is paid (less ``withheld``), < 0 is an overpayment now owed."""

    period: str
    kind: LineKind
    amount: Decimal
    withheld: Decimal

    @property
    def transfer(self) -> Decimal:
        return self.amount - self.withheld if self.amount > ZERO else ZERO


def balance_owed(lines: Iterable[LedgerLine]) -> Decimal:
    """What the household still owes: overpayments recorded, less what later payments withheld."""

    owed = ZERO
    for line in lines:
        owed += -line.amount if line.kind == "recovery" else ZERO
        owed -= line.withheld
    return owed


@dataclass(frozen=True, slots=True)
class Settled:
    lines: list[Settlement]
    owed: Decimal  # what the household owes once the new lines are written
    deferred: bool  # some month's difference was left to the next run


def settle(due: Mapping[str, Decimal], lines: Iterable[LedgerLine], run_period: str,
           owed: Decimal | None = None) -> Settled:
    """The new lines that bring every month's lines to what is due for it.

    ``due`` and ``lines`` cover the months being settled; ``owed`` is the household's balance (by
    default taken from ``lines``, when they are the whole ledger). Overpayments are recorded first,
    then shortfalls are paid oldest month first, each withholding what the household owes before any
    money leaves — a transfer is never negative. Months after ``run_period`` are left alone, whatever
    their lines. A month that already has a line of the same kind from a run of ``run_period`` is left
    to the next run (one line per household, month, kind and run period).
    """

    lines = list(lines)
    paid: dict[str, Decimal] = {}
    taken: set[tuple[str, str]] = set()
    for line in lines:
        paid[line.period] = paid.get(line.period, ZERO) + line.amount
        if line.run_period == run_period:
            taken.add((line.period, line.kind))
    # Months after the run's own are another run's business (an earlier period may run after a later one).
    differences = [(period, to_fen(due.get(period, ZERO) - paid.get(period, ZERO)))
                   for period in sorted(set(due) | set(paid)) if period <= run_period]
    deferred = any((period, "recovery" if diff < ZERO else "supplement") in taken
                   for period, diff in differences if diff != ZERO)
    recoveries = [Settlement(period, "recovery", diff, ZERO) for period, diff in differences
                  if diff < ZERO and (period, "recovery") not in taken]
    balance = (balance_owed(lines) if owed is None else owed) - sum((line.amount for line in recoveries), ZERO)
    payments = []
    for period, diff in differences:
        if diff > ZERO and (period, "supplement") not in taken:
            withheld = min(balance, diff)
            balance -= withheld
            payments.append(Settlement(period, "supplement", diff, withheld))
    return Settled([*recoveries, *payments], balance, deferred)


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
