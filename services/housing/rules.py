"""Low-rent housing rules (廉租住房): rent subsidy first (租金补贴), in-kind allocation second (实物配租).

* A dibao household whose floor area per person is at or below the difficulty threshold qualifies.
* Rent subsidy per month = (standard area per person × members − current area) × subsidy per m².
* The waitlist for a flat is ordered by need: least area per person first, then earliest enrolment,
  then earliest request.
* A flat allocated during a month ends the rent subsidy from the next month.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from shared.entitlements import housing_difficulty
from shared.money import ZERO, to_fen
from shared.periods import Period


def area_per_person(area_m2: Decimal, members: int) -> Decimal:
    if members < 1:
        raise ValueError("a household has at least one member")
    return to_fen(area_m2 / members)


# The difficulty test is shared with the office's assessment (shared.entitlements).
qualifies = housing_difficulty


def monthly_rent_subsidy(area_m2: Decimal, members: int, standard_per_person: Decimal, per_m2: Decimal) -> Decimal:
    shortfall = max(ZERO, standard_per_person * members - area_m2)
    return to_fen(shortfall * per_m2)


def waitlist_key(area_m2: Decimal, members: int, enrolled_on: date, requested_at: datetime) -> tuple:
    return (area_m2 / members, enrolled_on, requested_at)


def subsidy_due(month: Period, allocated_on: date | None) -> bool:
    """No subsidy for the months after the one in which a flat was allocated."""

    return allocated_on is None or allocated_on >= month.start
