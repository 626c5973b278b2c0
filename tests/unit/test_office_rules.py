"""The office's rules without I/O: who each bureau should have served, percentiles, distinct persons."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from services.office import rules
from services.office.assessment import DistinctPersons
from shared.entitlements import WorkingAge

D = Decimal

CRITERIA = rules.AssessmentCriteria(
    housing_area_per_person=D("8"), working_age=WorkingAge(16, 60, 55), unemployed_years=1
)


@dataclass
class M:
    resident_id: str
    birth_date: date
    sex: str = "male"
    relation: str = "head"
    able_to_work: bool = False
    employment_status: str = "none"
    unemployed_since: date | None = None
    disabled: bool = False
    school_stage: str = "none"
    boarding: bool = False


def expected(members, heating="central", area="40.00", on=date(2026, 6, 1)):
    return {
        (e.bureau, tuple(sorted(e.programmes)), e.resident_id)
        for e in rules.expected_assistance(
            heating=heating,
            housing_area_m2=D(area),
            enrolled_on=date(2026, 1, 1),
            members=members,
            on=on,
            criteria=CRITERIA,
        )
    }


def test_every_household_is_owed_water_heating_medical_and_legal_help():
    assert expected([M("A", date(1970, 1, 1))]) == {
        ("utilities", ("water_discount",), ""),
        ("utilities", ("heating_fee_reduction",), ""),
        ("medical", ("medical_assistance",), "A"),
        ("legal", ("legal_aid",), "A"),
    }


def test_pupils_housing_difficulty_and_long_unemployed_are_owed_their_bureaus_help():
    members = [
        M("A", date(1975, 1, 1), able_to_work=True, employment_status="unemployed", unemployed_since=date(2024, 1, 1)),
        M("B", date(2014, 1, 1), relation="child", school_stage="junior", boarding=True),
    ]
    owed = expected(members, heating="non_central", area="16.00")
    assert ("housing", ("low_rent_allocation", "rent_subsidy"), "") in owed
    assert ("employment", ("reemployment_certificate",), "A") in owed
    assert {("education", ("fee_waiver",), "B"), ("education", ("boarding_subsidy",), "B")} <= owed
    assert ("utilities", ("heating_supplement",), "") in owed


def test_certificate_is_not_owed_before_the_year_of_unemployment_is_up():
    member = M(
        "A", date(1975, 1, 1), able_to_work=True, employment_status="unemployed", unemployed_since=date(2025, 9, 1)
    )
    assert not any(b == "employment" for b, _, _ in expected([member], on=date(2026, 6, 1)))
    assert any(b == "employment" for b, _, _ in expected([member], on=date(2026, 9, 1)))


def test_percentiles_by_nearest_rank():
    values = [5.0, 1.0, 3.0, 2.0, 4.0, 10.0, 6.0, 7.0, 8.0, 9.0]
    assert rules.percentile(values, 0.5) == 5.0
    assert rules.percentile(values, 0.9) == 9.0
    assert rules.percentile([], 0.5) is None


def test_distinct_persons_counts_a_person_in_two_households_once_and_others_without_keeping_them():
    moved = "230102198001011234"
    division_a, division_b = DistinctPersons(frozenset({moved})), DistinctPersons(frozenset({moved}))
    for resident_id in ("230102199001011111", moved):
        division_a.add(resident_id)
    for resident_id in ("230102199202022222", moved):
        division_b.add(resident_id)
    assert (len(division_a), len(division_b)) == (2, 2)
    city = DistinctPersons(frozenset({moved}))
    city.merge(division_a)
    city.merge(division_b)
    assert len(city) == 3
    assert city.seen == {moved}, "only the repeated person's ID is held"
