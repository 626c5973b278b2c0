from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from services.education import rules as education
from services.employment import rules as employment
from services.housing import rules as housing
from services.legal import rules as legal
from services.medical import rules as medical
from services.utilities import rules as utilities
from shared.periods import parse_month

D = Decimal


# ---- medical ----


def test_medical_assistance_is_the_share_of_out_of_pocket_cost():
    assessed = medical.assess_claim(D("2000.00"), D("1200.00"), D("0.50"), D("3000.00"), D("0"))
    assert (assessed.out_of_pocket, assessed.amount, assessed.capped) == (D("800.00"), D("400.00"), False)


def test_medical_cap_applies_across_claims_in_a_year():
    paid = D("0")
    amounts = []
    for _ in range(4):
        assessed = medical.assess_claim(D("2000.00"), D("0"), D("0.50"), D("3000.00"), paid)
        amounts.append(assessed.amount)
        paid += assessed.amount
    assert amounts == [D("1000.00"), D("1000.00"), D("1000.00"), D("0.00")]


def test_medical_cap_resets_in_a_new_year_because_only_that_years_payments_count():
    last_year_paid, this_year_paid = D("3000.00"), D("0")
    assert medical.assess_claim(D("100"), D("0"), D("0.5"), D("3000"), last_year_paid).amount == D("0.00")
    assert medical.assess_claim(D("100"), D("0"), D("0.5"), D("3000"), this_year_paid).amount == D("50.00")


def test_insurance_above_cost_leaves_nothing_to_pay():
    assert medical.out_of_pocket(D("100"), D("150")) == D("0.00")


def test_designation_period_is_inclusive():
    assert medical.designated_on(date(2026, 1, 1), date(2026, 6, 30), date(2026, 6, 30))
    assert not medical.designated_on(date(2026, 1, 1), date(2026, 6, 30), date(2026, 7, 1))
    assert not medical.designated_on(date(2026, 1, 1), None, date(2025, 12, 31))


# ---- education ----


@pytest.mark.parametrize(
    ("stage", "boarding", "disabled", "expected"),
    [
        ("primary", False, False, {"fee_waiver"}),
        ("junior", True, False, {"fee_waiver", "boarding_subsidy"}),
        ("senior", False, False, set()),
        ("college", False, True, {"disability_grant"}),
        ("preschool", False, True, set()),
    ],
)
def test_who_qualifies_for_what_by_stage(stage, boarding, disabled, expected):
    assert education.programmes_for(stage, boarding, disabled, "child", date(2010, 1, 1), date(2026, 3, 1)) == expected


def test_minor_with_no_parent_in_the_household_is_flagged_and_adults_are_not():
    assert "orphan_and_hardship_aid" in education.programmes_for(
        "junior", False, False, "other", date(2012, 1, 1), date(2026, 3, 1)
    )
    assert "orphan_and_hardship_aid" not in education.programmes_for(
        "college", False, False, "head", date(2000, 1, 1), date(2026, 3, 1)
    )


def test_pupil_who_left_school_gets_no_school_programmes():
    assert (
        education.programmes_for("primary", True, False, "child", date(2015, 1, 1), date(2026, 3, 1), in_school=False)
        == set()
    )


def test_term_months_and_school_year():
    spring = education.term("2026-spring", (3, 1), (9, 1), 5)
    autumn = education.term("2026-autumn", (3, 1), (9, 1), 5)
    assert [m.label for m in spring.months] == ["2026-03", "2026-04", "2026-05", "2026-06", "2026-07"]
    assert [m.label for m in autumn.months] == ["2026-09", "2026-10", "2026-11", "2026-12", "2027-01"]
    assert (spring.school_year, autumn.school_year) == ("2025-2026", "2026-2027")
    with pytest.raises(education.InvalidTerm):
        education.parse_term("2026-summer")


# ---- housing ----


def test_housing_difficulty_threshold_is_inclusive():
    assert housing.qualifies(D("24.00"), 3, D("8"))
    assert not housing.qualifies(D("24.01"), 3, D("8"))


def test_rent_subsidy_is_the_shortfall_from_the_standard_area_times_the_rate():
    assert housing.monthly_rent_subsidy(D("20.00"), 3, D("15"), D("10.00")) == D("250.00")
    assert housing.monthly_rent_subsidy(D("50.00"), 3, D("15"), D("10.00")) == D("0.00")


def test_waitlist_orders_by_need_then_enrolment():
    t = datetime(2026, 1, 1)
    households = {
        "roomier": housing.waitlist_key(D("24"), 3, date(2020, 1, 1), t),
        "neediest": housing.waitlist_key(D("10"), 2, date(2025, 1, 1), t),
        "same_need_later": housing.waitlist_key(D("14"), 2, date(2024, 6, 1), t),
        "same_need_earlier": housing.waitlist_key(D("7"), 1, date(2023, 1, 1), t),
    }
    assert sorted(households, key=households.__getitem__) == [
        "neediest",
        "same_need_earlier",
        "same_need_later",
        "roomier",
    ]


def test_allocation_stops_subsidy_from_the_next_month():
    assert housing.subsidy_due(parse_month("2026-03"), date(2026, 3, 15))
    assert not housing.subsidy_due(parse_month("2026-04"), date(2026, 3, 15))


# ---- employment ----

AGE = employment.WorkingAge(16, 60, 55)


@pytest.mark.parametrize(
    ("born", "sex", "day", "working"),
    [
        (date(1966, 5, 1), "male", date(2026, 4, 30), True),
        (date(1966, 5, 1), "male", date(2026, 5, 1), False),
        (date(1971, 5, 1), "female", date(2026, 5, 1), False),
        (date(1971, 5, 1), "female", date(2026, 4, 30), True),
        (date(2010, 6, 1), "male", date(2026, 6, 1), True),
        (date(2010, 6, 1), "male", date(2026, 5, 31), False),
    ],
)
def test_working_age_by_sex_and_birth_date(born, sex, day, working):
    assert AGE.contains(born, sex, day) is working


def _due(**overrides):
    fields: dict[str, Any] = dict(
        birth_date=date(1980, 1, 1),
        sex="male",
        able_to_work=True,
        employment_status="unemployed",
        unemployed_since=date(2025, 3, 10),
        in_dibao_from=date(2025, 1, 1),
        working_age=AGE,
        unemployed_years=1,
    )
    fields.update(overrides)
    return employment.certificate_due_on(**fields)


def test_certificate_falls_due_the_day_the_year_of_unemployment_is_up():
    assert _due() == date(2026, 3, 10)
    assert _due(unemployed_since=date(2024, 2, 29)) == date(2025, 2, 28)


def test_certificate_due_no_earlier_than_enrolment_and_never_beyond_working_age():
    assert _due(unemployed_since=date(2020, 1, 1), in_dibao_from=date(2026, 1, 5)) == date(2026, 1, 5)
    assert _due(birth_date=date(1966, 2, 1), unemployed_since=date(2025, 6, 1)) is None
    assert _due(able_to_work=False) is None
    assert _due(employment_status="employed") is None


def test_certificate_validity_and_number():
    assert employment.certificate_validity(date(2026, 1, 5), 3) == (date(2026, 1, 5), date(2029, 1, 4))
    number = employment.certificate_number("230102", date(2026, 1, 5), "household-uuid", "11010519491231002X")
    assert number.startswith("ZY2301022026") and len(number) == 22
    assert number == employment.certificate_number("230102", date(2026, 1, 5), "household-uuid", "11010519491231002X")
    assert number != employment.certificate_number("230102", date(2026, 1, 5), "other-household", "11010519491231002X")
    assert "1231002X" not in number


# ---- utilities ----

SEASON = ((10, 20), (4, 20))


@pytest.mark.parametrize(
    ("day", "inside"),
    [
        (date(2026, 10, 19), False),
        (date(2026, 10, 20), True),
        (date(2027, 1, 15), True),
        (date(2027, 4, 20), True),
        (date(2027, 4, 21), False),
        (date(2027, 7, 1), False),
    ],
)
def test_heating_season_boundaries(day, inside):
    assert utilities.in_heating_season(day, *SEASON) is inside


def test_season_days_in_october_and_april():
    assert utilities.covered_days(parse_month("2026-10"), *SEASON, date(2020, 1, 1), None) == 12
    assert utilities.covered_days(parse_month("2027-04"), *SEASON, date(2020, 1, 1), None) == 20
    assert utilities.covered_days(parse_month("2027-01"), *SEASON, date(2027, 1, 11), None) == 21


def test_supplement_is_twenty_percent_of_the_allowance_pro_rata():
    assert utilities.heating_supplement(D("300.00"), D("0.20"), 31, 31).amount == D("60.00")
    assert utilities.heating_supplement(D("300.00"), D("0.20"), 12, 31).amount == D("23.23")
    assert utilities.heating_supplement(D("0.00"), D("0.20"), 31, 31).amount == D("0.00")


def test_changed_allowance_mid_season_changes_the_next_months_supplement():
    from shared.allowance import allowance_for_month
    from shared.events import AllowanceStep

    schedule = [
        AllowanceStep(effective_from=date(2026, 9, 1), amount=D("300.00")),
        AllowanceStep(effective_from=date(2026, 12, 10), amount=D("250.00")),
    ]
    december = allowance_for_month(schedule, parse_month("2026-12"), date(2026, 9, 1))
    january = allowance_for_month(schedule, parse_month("2027-01"), date(2026, 9, 1))
    assert utilities.heating_supplement(december, D("0.20"), 31, 31).amount == D("60.00")
    assert utilities.heating_supplement(january, D("0.20"), 31, 31).amount == D("50.00")


def test_water_discount_capped_per_person():
    discount = utilities.water_discount(D("13.50"), 2, D("5"), D("0.50"))
    assert (discount.discounted_m3, discount.discount) == (D("10.00"), D("5.00"))
    assert utilities.water_discount(D("3.20"), 2, D("5"), D("0.50")).discount == D("1.60")


# ---- legal ----


def test_case_moves_forward_only_and_closed_is_final():
    assert legal.can_move("received", "assigned")
    assert legal.can_move("assigned", "assigned")
    assert legal.can_move("assigned", "in_progress")
    assert not legal.can_move("received", "in_progress")
    assert not legal.can_move("closed", "in_progress")
    assert legal.allowed_next("closed") == []
