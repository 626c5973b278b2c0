"""The heating supplement over time, as pure rules: season days, settling the ledger, the central bill."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from services.utilities import rules
from shared.periods import month_period, parse_month

SEASON = ((10, 20), (4, 20))


def counted_day_by_day(label: str, start: rules.MonthDay, end: rules.MonthDay) -> int:
    month = parse_month(label)
    return sum(1 for n in range(month.days) if rules.in_heating_season(month.start + timedelta(days=n), start, end))


@pytest.mark.parametrize("season", [SEASON, ((11, 1), (3, 31)), ((10, 15), (10, 31)), ((2, 29), (4, 20)),
                                    ((12, 31), (1, 1)), ((4, 21), (4, 20))])
def test_season_days_agree_with_counting_each_day_for_every_month(season):
    for year in (2024, 2026):  # a leap year and a common one
        for number in range(1, 13):
            label = month_period(year, number).label
            assert rules.season_days(parse_month(label), *season) == counted_day_by_day(label, *season), label


def test_season_days_are_twelve_in_october_twenty_in_april_and_the_whole_month_in_winter():
    assert [rules.season_days(parse_month(m), *SEASON) for m in ("2026-10", "2026-11", "2027-02", "2027-04", "2027-05")] \
        == [12, 30, 28, 20, 0]


def line(period: str, amount: str, kind: str = "supplement", withheld: str = "0.00", run: str = "2026-01"):
    return rules.LedgerLine(period=period, kind=kind, amount=D(amount), withheld=D(withheld), run_period=run)


def test_settling_pays_every_month_short_from_enrolment_and_nothing_twice():
    due = {"2025-11": D("60.00"), "2025-12": D("60.00"), "2026-01": D("60.00")}
    first = rules.settle(due, [], "2026-01").lines
    assert [(s.period, s.kind, s.amount, s.transfer) for s in first] == [
        ("2025-11", "supplement", D("60.00"), D("60.00")), ("2025-12", "supplement", D("60.00"), D("60.00")),
        ("2026-01", "supplement", D("60.00"), D("60.00"))]
    ledger = [line(s.period, str(s.amount)) for s in first]
    assert rules.settle(due, ledger, "2026-01").lines == []
    assert rules.settle(due, ledger, "2026-02").lines == []


def test_an_overpaid_month_is_recorded_owed_and_withheld_from_later_payments_never_a_negative_transfer():
    ledger = [line("2025-12", "60.00", run="2025-12")]
    # A late fact: December was worth only 40.00; January is due 60.00.
    settled = rules.settle({"2025-12": D("40.00"), "2026-01": D("60.00")}, ledger, "2026-01")
    lines = settled.lines
    assert [(s.period, s.kind, s.amount, s.withheld, s.transfer) for s in lines] == [
        ("2025-12", "recovery", D("-20.00"), D("0.00"), D("0.00")),
        ("2026-01", "supplement", D("60.00"), D("20.00"), D("40.00"))]
    ledger += [line(s.period, str(s.amount), s.kind, str(s.withheld)) for s in lines]
    assert rules.balance_owed(ledger) == settled.owed == D("0.00")


def test_an_overpayment_larger_than_the_next_payment_is_carried_until_recovered():
    ledger = [line("2025-12", "60.00", run="2025-12")]
    first = rules.settle({"2025-12": D("0.00"), "2026-01": D("20.00")}, ledger, "2026-01").lines
    assert [(s.kind, s.amount, s.transfer) for s in first] == [("recovery", D("-60.00"), D("0.00")),
                                                               ("supplement", D("20.00"), D("0.00"))]
    ledger += [line(s.period, str(s.amount), s.kind, str(s.withheld)) for s in first]
    assert rules.balance_owed(ledger) == D("40.00")
    february = rules.settle({"2025-12": D("0.00"), "2026-01": D("20.00"), "2026-02": D("60.00")}, ledger, "2026-02")
    assert [(s.period, s.withheld, s.transfer) for s in february.lines] == [("2026-02", D("40.00"), D("20.00"))]
    # the same, settling February alone from the balance carried (a run that knows the months before are settled)
    alone = rules.settle({"2026-02": D("60.00")}, [], "2026-02", owed=D("40.00"))
    assert (alone.lines, alone.owed) == (february.lines, D("0.00"))


def test_a_run_of_an_earlier_period_leaves_the_months_after_it_alone():
    ledger = [line("2026-01", "60.00", run="2026-02"), line("2026-02", "60.00", run="2026-02")]
    settled = rules.settle({"2026-01": D("60.00")}, ledger, "2026-01")
    assert (settled.lines, settled.deferred) == ([], False)


def test_a_month_with_a_line_of_the_same_kind_from_this_run_period_is_left_to_the_next_run():
    ledger = [line("2026-01", "50.00", run="2026-01")]
    assert rules.settle({"2026-01": D("60.00")}, ledger, "2026-01").lines == []
    assert rules.settle({"2026-01": D("60.00")}, ledger, "2026-01").deferred
    assert [(s.kind, s.amount) for s in rules.settle({"2026-01": D("60.00")}, ledger, "2026-02").lines] == [
        ("supplement", D("10.00"))]
    # the other kind is still free in the same run period
    assert [(s.kind, s.amount) for s in rules.settle({"2026-01": D("40.00")}, ledger, "2026-01").lines] == [
        ("recovery", D("-10.00"))]


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
