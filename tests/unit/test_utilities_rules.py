"""The heating supplement over time, as pure rules: season days, settling its ledger, the central bill."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from services.utilities import rules
from shared.ledger import owed_by, settle
from shared.periods import month_period, parse_month

SEASON = ((10, 20), (4, 20))


def counted_day_by_day(label: str, start: rules.MonthDay, end: rules.MonthDay) -> int:
    month = parse_month(label)
    return sum(1 for n in range(month.days) if rules.in_heating_season(month.start + timedelta(days=n), start, end))


@pytest.mark.parametrize(
    "season",
    [SEASON, ((11, 1), (3, 31)), ((10, 15), (10, 31)), ((2, 29), (4, 20)), ((12, 31), (1, 1)), ((4, 21), (4, 20))],
)
def test_season_days_agree_with_counting_each_day_for_every_month(season):
    for year in (2024, 2026):  # a leap year and a common one
        for number in range(1, 13):
            label = month_period(year, number).label
            assert rules.season_days(parse_month(label), *season) == counted_day_by_day(label, *season), label


def test_season_days_are_twelve_in_october_twenty_in_april_and_the_whole_month_in_winter():
    assert [
        rules.season_days(parse_month(m), *SEASON) for m in ("2026-10", "2026-11", "2027-02", "2027-04", "2027-05")
    ] == [12, 30, 28, 20, 0]


def supplement(*months: tuple[str, str]) -> dict[str, tuple[D, str]]:
    return {period: (D(amount), "supplement") for period, amount in months}


def test_settling_pays_every_month_short_from_enrolment_and_nothing_twice():
    due = supplement(("2025-11", "60.00"), ("2025-12", "60.00"), ("2026-01", "60.00"))
    first = settle(due, {}, owed=D("0.00"))
    assert [(s.period, s.kind, s.amount, s.transferred) for s in first] == [
        ("2025-11", "supplement", D("60.00"), D("60.00")),
        ("2025-12", "supplement", D("60.00"), D("60.00")),
        ("2026-01", "supplement", D("60.00"), D("60.00")),
    ]
    assert settle(due, {s.period: s.amount for s in first}, owed=D("0.00")) == []


def test_an_overpayment_larger_than_the_next_payment_is_carried_until_recovered():
    # A late fact: December (60.00 paid) was worth nothing; January is due 20.00.
    first = settle(supplement(("2025-12", "0.00"), ("2026-01", "20.00")), {"2025-12": D("60.00")}, owed=D("0.00"))
    assert [(s.kind, s.amount, s.withheld, s.transferred) for s in first] == [
        ("recovery", D("-60.00"), D("0.00"), D("0.00")),
        ("supplement", D("20.00"), D("20.00"), D("0.00")),
    ]
    assert owed_by(first) == D("40.00")
    # February settled alone from the balance the account carries (the months before are settled)
    february = settle(supplement(("2026-02", "60.00")), {}, owed=D("40.00"))
    assert [(s.period, s.withheld, s.transferred) for s in february] == [("2026-02", D("40.00"), D("20.00"))]
    assert owed_by([*first, *february]) == D("0.00")


def test_supplement_is_twenty_percent_of_the_extension_paid_pro_rata_in_october():
    # 300.00 paid in October (extension), 12 of 31 days in the season
    assert rules.heating_supplement(D("300.00"), D("0.20"), 12, 31).amount == D("23.23")


def test_season_dates_span_the_new_year_and_refuse_anything_but_consecutive_years():
    assert rules.season_dates("2025-2026", *SEASON) == (date(2025, 10, 20), date(2026, 4, 20))
    for bad in ("2025-2027", "2026-2025", "2025"):
        with pytest.raises(ValueError):
            rules.season_dates(bad, *SEASON)


def test_central_reduction_is_thirty_percent_of_the_bill_to_the_fen():
    assert rules.central_reduction(D("2400.00"), D("0.30")) == D("720.00")
    assert rules.central_reduction(D("1234.55"), D("0.30")) == D("370.37")  # 370.365 rounds half up
