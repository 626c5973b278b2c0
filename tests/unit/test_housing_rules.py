"""The rent subsidy's rules over time: a month's due from its own facts, and settling months against the ledger."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from services.housing import rules
from services.housing.rules import PAYMENT, RECOVERY, Line, MonthFacts
from shared.periods import parse_month


def facts(
    members: int = 2, area: str = "14.00", difficulty: str = "8", standard: str = "15", per_m2: str = "10.00"
) -> MonthFacts:
    return MonthFacts(
        members=members,
        area_m2=D(area),
        difficulty_per_person=D(difficulty),
        standard_per_person=D(standard),
        per_m2=D(per_m2),
    )


def test_a_month_is_due_the_shortfall_with_its_own_members_area_and_rate():
    assert rules.month_due(facts()) == D("160.00")
    assert rules.month_due(facts(members=3)) == D("310.00")
    assert rules.month_due(facts(per_m2="12.00")) == D("192.00")


def test_a_month_without_members_in_dibao_or_without_housing_difficulty_is_due_nothing():
    assert rules.month_due(facts(members=0)) == D("0.00")
    assert rules.month_due(facts(area="16.01")) == D("0.00")
    assert rules.month_due(facts(area="16.00")) == D("140.00")


def test_a_flat_ends_the_subsidy_from_the_first_month_whose_governing_day_finds_the_household_housed():
    march, april = parse_month("2026-03"), parse_month("2026-04")
    assert rules.subsidy_due(march, date(2026, 3, 15))
    assert not rules.subsidy_due(april, date(2026, 3, 15))
    assert not rules.subsidy_due(march, date(2026, 3, 1))
    # The month of enrolment is governed by the enrolment day.
    assert not rules.subsidy_due(march, date(2026, 3, 15), enrolled_on=date(2026, 3, 20))
    assert rules.subsidy_due(march, date(2026, 3, 25), enrolled_on=date(2026, 3, 20))
    assert rules.subsidy_due(march, None)


def test_settling_pays_what_is_short_and_records_what_was_paid_over():
    lines = rules.settle(
        {"2026-01": D("160.00"), "2026-02": D("200.00"), "2026-03": D("0.00")},
        {"2026-01": D("160.00"), "2026-02": D("160.00"), "2026-03": D("160.00")},
    )
    assert lines == [Line("2026-02", PAYMENT, D("40.00"), withheld=D("40.00")), Line("2026-03", RECOVERY, D("-160.00"))]


def test_what_is_owed_is_withheld_from_later_payments_oldest_month_first_never_a_negative_transfer():
    lines = rules.settle({"2026-04": D("250.00"), "2026-05": D("250.00")}, {}, owed=D("320.00"))
    assert lines == [
        Line("2026-04", PAYMENT, D("250.00"), withheld=D("250.00")),
        Line("2026-05", PAYMENT, D("250.00"), withheld=D("70.00")),
    ]
    assert [line.transferred for line in lines] == [D("0.00"), D("180.00")]
    assert rules.balance_owed([Line("2026-02", RECOVERY, D("-320.00")), *lines]) == D("0.00")


def test_a_month_settled_again_comes_to_what_is_due_and_a_second_settlement_adds_nothing():
    due = {"2026-01": D("160.00"), "2026-02": D("0.00"), "2026-04": D("250.00")}
    booked = {"2026-01": D("100.00"), "2026-02": D("160.00"), "2026-03": D("90.00")}
    lines = rules.settle(due, booked, owed=D("10.00"))
    after = dict(booked)
    for line in lines:
        after[line.period] = after.get(line.period, D("0")) + line.amount
    assert {month: amount for month, amount in after.items() if amount} == {
        "2026-01": D("160.00"),
        "2026-04": D("250.00"),
    }
    assert all(line.transferred >= 0 for line in lines)
    # Owed: 10.00 before, 160.00 + 90.00 paid over now; 60.00 + 250.00 due, all of it withheld but 60.00.
    assert rules.balance_owed([Line("x", RECOVERY, D("-10.00")), *lines]) == D("0.00")
    assert sum(line.transferred for line in lines) == D("50.00")
    assert rules.settle(due, after) == []
