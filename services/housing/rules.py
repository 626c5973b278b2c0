"""Low-rent housing rules (廉租住房): rent subsidy first (租金补贴), in-kind allocation second (实物配租).

* A dibao household whose floor area per person is at or below the difficulty threshold qualifies.
* Rent subsidy per month = (standard area per person × members − area) × subsidy per m², with the
  members, area and parameters in force on the month's governing day (its first day, or the enrolment
  day in the month of enrolment).
* The waitlist for a flat is ordered by need: least area per person first, then earliest enrolment,
  then earliest request.
* A household housed in a low-rent flat on a month's governing day is due no subsidy for it: a flat
  allocated during a month ends the rent subsidy from the next month.
* Late facts: every month is settled again against the ledger. What was short is paid; what was paid
  over is recorded as a recovery the household owes, withheld from its later payments first — never a
  negative transfer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from shared.allowance import governing_day
from shared.entitlements import housing_difficulty
from shared.ledger import RECOVERY as RECOVERY  # the kind of a recovery line, as every ledger writes it
from shared.ledger import LedgerLine, owed_by
from shared.ledger import settle as ledger_settle
from shared.money import ZERO, to_fen
from shared.periods import Period

PAYMENT = "rent_subsidy"


def area_per_person(area_m2: Decimal, members: int) -> Decimal:
    if members < 1:
        raise ValueError("a household has at least one member")
    return to_fen(area_m2 / members)


# The difficulty test is shared with the office's assessment (shared.entitlements).
qualifies = housing_difficulty


def monthly_rent_subsidy(area_m2: Decimal, members: int, standard_per_person: Decimal, per_m2: Decimal) -> Decimal:
    shortfall = max(ZERO, standard_per_person * members - area_m2)
    return to_fen(shortfall * per_m2)


def waitlist_key(
    area_m2: Decimal, members: int, enrolled_on: date, requested_at: datetime
) -> tuple[Decimal, date, datetime]:
    return (area_m2 / members, enrolled_on, requested_at)


def subsidy_due(month: Period, allocated_on: date | None, enrolled_on: date | None = None) -> bool:
    """Whether the household still rents privately on the month's governing day (not yet housed in a flat)."""

    return allocated_on is None or allocated_on > governing_day(month, enrolled_on or month.start)


@dataclass(frozen=True, slots=True)
class MonthFacts:
    """What a month's subsidy is computed from, all as in force on the month's governing day."""

    members: int
    area_m2: Decimal
    difficulty_per_person: Decimal
    standard_per_person: Decimal
    per_m2: Decimal


def month_due(facts: MonthFacts) -> Decimal:
    """The subsidy due for a month: nothing without members in dibao or without housing difficulty."""

    if facts.members < 1 or not qualifies(facts.area_m2, facts.members, facts.difficulty_per_person):
        return ZERO
    return monthly_rent_subsidy(facts.area_m2, facts.members, facts.standard_per_person, facts.per_m2)


# The ledger is settled as every bureau's is (shared.ledger); a rent subsidy line is of kind PAYMENT.
Line = LedgerLine
balance_owed = owed_by


def settle(due: Mapping[str, Decimal], booked: Mapping[str, Decimal], owed: Decimal = ZERO) -> list[Line]:
    """The lines that bring each month's ledger (``booked``: the sum of its lines) to what is ``due``."""

    return ledger_settle({month: (amount, PAYMENT) for month, amount in due.items()}, dict(booked), owed)
