"""Employment assistance rules (就业救助), pure functions of data and dates.

A dibao member of working age (from the 16th birthday until the 60th for men, the 55th for women),
able to work and unemployed for more than a year, gets a free Re-employment Preferential Certificate
(再就业优惠证) — on the day the year is up if it is not up yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


def add_years(day: date, years: int) -> date:
    """The same day ``years`` later; 29 February becomes 28 February in a common year."""

    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True, slots=True)
class WorkingAge:
    minimum: int
    end_male: int
    end_female: int

    def start(self, birth_date: date) -> date:
        return add_years(birth_date, self.minimum)

    def end(self, birth_date: date, sex: str) -> date:
        """The first day no longer of working age (the 60th or 55th birthday)."""

        return add_years(birth_date, self.end_male if sex == "male" else self.end_female)

    def contains(self, birth_date: date, sex: str, day: date) -> bool:
        return self.start(birth_date) <= day < self.end(birth_date, sex)


def certificate_due_on(*, birth_date: date, sex: str, able_to_work: bool, employment_status: str,
                       unemployed_since: date | None, in_dibao_from: date, working_age: WorkingAge,
                       unemployed_years: int) -> date | None:
    """The day the member qualifies for the certificate, or None if they never will as things stand."""

    if not able_to_work or employment_status != "unemployed" or unemployed_since is None:
        return None
    due = max(add_years(unemployed_since, unemployed_years), working_age.start(birth_date), in_dibao_from)
    return due if due < working_age.end(birth_date, sex) else None


def certificate_validity(issued_on: date, valid_years: int) -> tuple[date, date]:
    """Valid from the day of issue through the day before the same date ``valid_years`` later."""

    return issued_on, add_years(issued_on, valid_years) - timedelta(days=1)


def certificate_number(division_code: str, issued_on: date, serial: int) -> str:
    return f"ZY{division_code}{issued_on:%Y}{serial:07d}"
