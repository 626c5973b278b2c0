"""Who the plan entitles to what: predicates shared by the bureaus that grant and the office that checks.

The education, housing and employment bureaus decide with these predicates and their own parameters;
the leading-group office (registry) uses the same predicates, with its assessment criteria, to list
households a bureau should have served and has not. Keeping them here means the check and the
decision cannot quietly disagree about the rule itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from shared.resident_id import age_on

# ---- education (就学救助) -------------------------------------------------------------------------

COMPULSORY = frozenset({"primary", "junior"})
BEYOND_COMPULSORY = frozenset({"senior", "vocational", "college"})
ADULT_AGE = 18

FEE_WAIVER = "fee_waiver"
BOARDING = "boarding_subsidy"
DISABILITY = "disability_grant"
NO_PARENT = "orphan_and_hardship_aid"


def education_programmes(
    stage: str,
    boarding: bool,
    household_has_disabled: bool,
    relation: str,
    birth_date: date,
    on: date,
    in_school: bool = True,
) -> set[str]:
    """Compulsory pupils: fee waiver (+ boarding subsidy); beyond compulsory with a disabled member in the
    household: the disability grant; a minor with no parent in the household (the head, or "other"): flagged."""

    programmes: set[str] = set()
    if in_school and stage in COMPULSORY:
        programmes.add(FEE_WAIVER)
        if boarding:
            programmes.add(BOARDING)
    if in_school and stage in BEYOND_COMPULSORY and household_has_disabled:
        programmes.add(DISABILITY)
    if age_on(birth_date, on) < ADULT_AGE and relation in ("head", "other"):
        programmes.add(NO_PARENT)
    return programmes


# ---- housing (住房救助) ---------------------------------------------------------------------------


def housing_difficulty(area_m2: Decimal, members: int, threshold_per_person: Decimal) -> bool:
    """At or below the threshold per person; compared exactly (area ≤ threshold × members)."""

    return members >= 1 and area_m2 <= threshold_per_person * members


# ---- employment (就业救助) ------------------------------------------------------------------------


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


def certificate_due_on(
    *,
    birth_date: date,
    sex: str,
    able_to_work: bool,
    employment_status: str,
    unemployed_since: date | None,
    in_dibao_from: date,
    working_age: WorkingAge,
    unemployed_years: int,
) -> date | None:
    """The day a member qualifies for the Re-employment Preferential Certificate (再就业优惠证), or None."""

    if not able_to_work or employment_status != "unemployed" or unemployed_since is None:
        return None
    due = max(add_years(unemployed_since, unemployed_years), working_age.start(birth_date), in_dibao_from)
    return due if due < working_age.end(birth_date, sex) else None


# ---- heating (家庭供暖救助) ----------------------------------------------------------------------


def heating_relief_programme(heating: str) -> str:
    return "heating_fee_reduction" if heating == "central" else "heating_supplement"
