"""Employment assistance rules (就业救助), pure functions of data and dates.

A dibao member of working age (from the 16th birthday until the 60th for men, the 55th for women),
able to work and unemployed for more than a year, gets a free Re-employment Preferential Certificate
(再就业优惠证) — on the day the year is up if it is not up yet.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import date, timedelta

from shared.entitlements import WorkingAge, add_years, certificate_due_on

# Working age and the day the certificate falls due are shared with the office's assessment.
__all__ = ["WorkingAge", "add_years", "certificate_due_on", "certificate_number", "certificate_validity"]


def certificate_validity(issued_on: date, valid_years: int) -> tuple[date, date]:
    """Valid from the day of issue through the day before the same date ``valid_years`` later."""

    return issued_on, add_years(issued_on, valid_years) - timedelta(days=1)


def certificate_number(division_code: str, issued_on: date, household_id: str, resident_id: str) -> str:
    """``ZY`` + division + year + ten characters derived from the household's (random) id and the holder.

    The same certificate gets the same number when a replay issues it again; the holder's resident ID
    cannot be read back from it.
    """

    digest = hashlib.sha256(f"{household_id}:{resident_id}:{issued_on.isoformat()}".encode()).digest()
    return f"ZY{division_code}{issued_on:%Y}{base64.b32encode(digest).decode()[:10]}"
