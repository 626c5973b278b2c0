from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from services.registry import rules
from shared.allowance import allowance_for_month
from shared.entitlements import WorkingAge
from shared.periods import parse_month

D = Decimal


def test_top_up_is_the_standard_for_all_members_less_income_to_the_fen():
    assert rules.dibao_top_up(D("200.00"), 3, D("123.45")) == D("476.55")
    assert rules.dibao_top_up(D("200.00"), 1, D("250.00")) == D("0.00")
    assert rules.dibao_top_up(D("183.333"), 3, D("0")) == D("550.00")


def test_top_up_needs_a_member():
    with pytest.raises(ValueError):
        rules.dibao_top_up(D("200"), 0, D("0"))


def standard(day: date) -> Decimal:
    return D("230.00") if day >= date(2026, 7, 1) else D("200.00")


def test_schedule_follows_income_revisions_and_standard_changes():
    revisions = [rules.Revision(date(2026, 1, 10), 2, D("100.00")), rules.Revision(date(2026, 4, 1), 2, D("180.00"))]
    schedule = rules.allowance_schedule(date(2026, 1, 10), revisions, standard, [date(2026, 7, 1)])
    assert [(s.effective_from, s.amount) for s in schedule] == [
        (date(2026, 1, 10), D("300.00")), (date(2026, 4, 1), D("220.00")), (date(2026, 7, 1), D("280.00"))]


def test_a_month_is_governed_by_its_first_day_or_the_enrolment_day():
    revisions = [rules.Revision(date(2026, 1, 10), 1, D("0")), rules.Revision(date(2026, 3, 15), 1, D("50.00"))]
    schedule = rules.allowance_schedule(date(2026, 1, 10), revisions, standard, [])
    assert allowance_for_month(schedule, parse_month("2026-01"), date(2026, 1, 10)) == D("200.00")
    assert allowance_for_month(schedule, parse_month("2026-03"), date(2026, 1, 10)) == D("200.00")
    assert allowance_for_month(schedule, parse_month("2026-04"), date(2026, 1, 10)) == D("150.00")


@pytest.mark.parametrize(("enrolled", "exited", "month", "active"), [
    (date(2026, 1, 31), None, "2026-01", True),
    (date(2026, 2, 1), None, "2026-01", False),
    (date(2026, 1, 1), date(2026, 3, 1), "2026-03", False),
    (date(2026, 1, 1), date(2026, 3, 2), "2026-03", True),
])
def test_active_in_month(enrolled, exited, month, active):
    assert rules.active_in_month(enrolled, exited, parse_month(month)) is active


def test_extension_covers_the_three_months_after_the_month_of_employment():
    window = rules.extension_window(date(2026, 2, 10), 3, D("200.00"))
    assert (window.first.label, window.last.label) == ("2026-03", "2026-05")
    assert not window.covers(parse_month("2026-02")) and window.covers(parse_month("2026-05"))
    assert not window.covers(parse_month("2026-06"))


def test_extension_pays_at_least_the_old_allowance_even_when_income_now_exceeds_the_standard():
    window = rules.extension_window(date(2026, 2, 10), 3, D("200.00"))
    during = rules.monthly_payment(D("0.00"), window, parse_month("2026-04"))
    assert (during.amount, during.kind) == (D("200.00"), "extension")
    assert rules.monthly_payment(D("0.00"), window, parse_month("2026-06")) is None
    regular = rules.monthly_payment(D("120.00"), None, parse_month("2026-06"))
    assert (regular.amount, regular.kind) == (D("120.00"), "dibao")


# ---- the office's assessment ----

CRITERIA = rules.AssessmentCriteria(housing_area_per_person=D("8"), working_age=WorkingAge(16, 60, 55),
                                    unemployed_years=1)


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


def expected(members, heating="central", area="40.00", on=date(2026, 6, 1)):  # type: ignore[no-untyped-def]
    return {(e.bureau, tuple(sorted(e.programmes)), e.resident_id) for e in rules.expected_assistance(
        heating=heating, housing_area_m2=D(area), enrolled_on=date(2026, 1, 1), members=members, on=on,
        criteria=CRITERIA)}


def test_every_household_is_owed_water_heating_medical_and_legal_help():
    assert expected([M("A", date(1970, 1, 1))]) == {
        ("utilities", ("water_discount",), ""), ("utilities", ("heating_fee_reduction",), ""),
        ("medical", ("medical_assistance",), "A"), ("legal", ("legal_aid",), "A")}


def test_pupils_housing_difficulty_and_long_unemployed_are_owed_their_bureaus_help():
    members = [M("A", date(1975, 1, 1), able_to_work=True, employment_status="unemployed",
                 unemployed_since=date(2024, 1, 1)),
               M("B", date(2014, 1, 1), relation="child", school_stage="junior", boarding=True)]
    owed = expected(members, heating="non_central", area="16.00")
    assert ("housing", ("low_rent_allocation", "rent_subsidy"), "") in owed
    assert ("employment", ("reemployment_certificate",), "A") in owed
    assert {("education", ("fee_waiver",), "B"), ("education", ("boarding_subsidy",), "B")} <= owed
    assert ("utilities", ("heating_supplement",), "") in owed


def test_certificate_is_not_owed_before_the_year_of_unemployment_is_up():
    member = M("A", date(1975, 1, 1), able_to_work=True, employment_status="unemployed",
               unemployed_since=date(2025, 9, 1))
    assert not any(b == "employment" for b, _, _ in expected([member], on=date(2026, 6, 1)))
    assert any(b == "employment" for b, _, _ in expected([member], on=date(2026, 9, 1)))


def test_percentiles_by_nearest_rank():
    values = [5.0, 1.0, 3.0, 2.0, 4.0, 10.0, 6.0, 7.0, 8.0, 9.0]
    assert rules.percentile(values, 0.5) == 5.0
    assert rules.percentile(values, 0.9) == 9.0
    assert rules.percentile([], 0.5) is None


def test_distinct_persons_counts_a_person_in_two_households_once_and_others_without_keeping_them():
    from services.registry.assessment import DistinctPersons

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
