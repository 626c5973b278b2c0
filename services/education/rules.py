"""Education assistance rules (就学救助), pure functions of data and dates.

* Compulsory-education pupils (primary, junior) of dibao households: miscellaneous and textbook fees
  waived every term; boarders also get a living subsidy for each month of the term.
* Children of a dibao household with a disabled member, in senior, vocational or higher education:
  a grant once per school year (the school year starts with the autumn term).
* A minor with no parent in the household — the head themself, or recorded as "other" to the head —
  is flagged for the orphans' and children-in-hardship programme.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from shared.entitlements import (
    BEYOND_COMPULSORY,
    BOARDING,
    COMPULSORY,
    DISABILITY,
    FEE_WAIVER,
    NO_PARENT,
    education_programmes,
)
from shared.periods import Period, add_months, month_period

__all__ = ["BEYOND_COMPULSORY", "BOARDING", "COMPULSORY", "DISABILITY", "FEE_WAIVER", "NO_PARENT", "programmes_for"]

_TERM = re.compile(r"^(\d{4})-(spring|autumn)$")

# The predicates are shared with the office's assessment (shared.entitlements).
programmes_for = education_programmes


def registers_as_pupil(programmes: set[str]) -> bool:
    return bool(programmes)


class InvalidTerm(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Term:
    label: str
    season: str  # spring | autumn
    start: date
    months: tuple[Period, ...]

    @property
    def end(self) -> date:
        return self.months[-1].end

    @property
    def period(self) -> Period:
        return Period(self.start, self.end, self.label)

    @property
    def school_year(self) -> str:
        """The autumn term opens a school year: 2026-autumn and 2027-spring are "2026-2027"."""

        first = self.start.year if self.season == "autumn" else self.start.year - 1
        return f"{first}-{first + 1}"


def parse_term(label: str) -> tuple[int, str]:
    match = _TERM.match(label or "")
    if not match:
        raise InvalidTerm(f"{label!r} is not a term: write YYYY-spring or YYYY-autumn")
    if not 1900 <= int(match[1]) <= 2100:
        raise InvalidTerm(f"{label!r}: the year must be between 1900 and 2100")
    return int(match[1]), match[2]


def term(label: str, spring_start: tuple[int, int], autumn_start: tuple[int, int], months: int) -> Term:
    year, season = parse_term(label)
    month, day = spring_start if season == "spring" else autumn_start
    start = date(year, month, day)
    first = month_period(year, month)
    return Term(label, season, start, tuple(add_months(first, i) for i in range(months)))
