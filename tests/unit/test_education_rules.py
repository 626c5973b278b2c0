"""Education rules over time (pure): who qualifies, a term's months, what a term makes due, the settlement."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.education import rules
from shared.ledger import owed_by
from shared.periods import PeriodInFuture, city_today, refuse_future

D = Decimal
SPRING = rules.term("2026-spring", (3, 1), (9, 1), 5)
AUTUMN = rules.term("2026-autumn", (3, 1), (9, 1), 5)


class FixedRates:
    def __init__(self, boarding_from_may: Decimal = D("60.00")) -> None:
        self.boarding_from_may = boarding_from_may

    def fees(self, day: date, division_code: str) -> tuple[Decimal, Decimal]:
        return D("120.00"), D("80.00")

    def boarding(self, day: date, division_code: str) -> Decimal:
        return self.boarding_from_may if day >= date(2026, 5, 1) else D("60.00")

    def disability(self, day: date, division_code: str) -> Decimal:
        return D("1000.00")


def record(
    *history: rules.SchoolFacts, household: str = "h1", left_school_on: date | None = None
) -> dict[str, rules.PupilRecord]:
    return {
        household: rules.PupilRecord(household, "230102", "child", date(2013, 1, 1), tuple(history), left_school_on)
    }


def facts(on: date, stage: str = "junior", boarding: bool = True, disabled: bool = False) -> rules.SchoolFacts:
    return rules.SchoolFacts(on, stage, boarding, disabled)


def dues(
    term: rules.Term,
    spells: list[rules.Spell],
    records: dict[str, rules.PupilRecord],
    starts: list[date] | None = None,
    rates: FixedRates | None = None,
) -> dict[str, tuple[str, Decimal]]:
    found = rules.term_dues(term, spells, records, rates or FixedRates(), starts or [term.start])
    return {due.programme: (due.period, due.amount) for due in found}


@pytest.mark.parametrize(
    ("stage", "qualifies"),
    [
        ("none", False),
        ("preschool", False),
        ("primary", False),
        ("junior", False),
        ("senior", True),
        ("vocational", True),
        ("college", True),
    ],
)
def test_the_disabled_family_grant_covers_secondary_higher_education_and_vocational_training(stage, qualifies):
    assert (stage in rules.DISABILITY_GRANT_STAGES) is qualifies
    granted = rules.programmes_for(stage, False, True, "child", date(2007, 1, 1), date(2026, 9, 1))
    assert (rules.DISABILITY in granted) is qualifies


def test_a_terms_months_are_march_to_july_and_september_to_january():
    assert [m.label for m in SPRING.months] == ["2026-03", "2026-04", "2026-05", "2026-06", "2026-07"]
    assert [m.label for m in AUTUMN.months] == ["2026-09", "2026-10", "2026-11", "2026-12", "2027-01"]
    assert (SPRING.start, AUTUMN.start, AUTUMN.end) == (date(2026, 3, 1), date(2026, 9, 1), date(2027, 1, 31))
    assert (
        rules.school_year_terms("2027-spring")
        == rules.school_year_terms("2026-autumn")
        == ("2026-autumn", "2027-spring")
    )


def test_a_term_begins_on_its_first_day_in_harbin_not_in_utc():
    one_in_the_morning_in_harbin = datetime(2026, 8, 31, 17, 0, tzinfo=UTC)
    refuse_future(AUTUMN.start, "term 2026-autumn", today=city_today(one_in_the_morning_in_harbin))
    with pytest.raises(PeriodInFuture):
        refuse_future(AUTUMN.start, "term 2026-autumn", today=date(2026, 8, 31))


def test_a_pupil_who_left_dibao_in_the_terms_first_month_gets_the_waiver_and_one_month():
    due = dues(SPRING, [rules.Spell("h1", date(2026, 1, 10), date(2026, 3, 15))], record(facts(date(2026, 1, 10))))
    assert due == {
        "fee_waiver": ("2026-spring", D("200.00")),
        "boarding_subsidy": ("2026-spring", D("60.00")),
        "disability_grant": ("2025-2026", D("0")),
    }


def test_a_pupil_who_joins_dibao_after_the_first_day_gets_no_waiver_but_boarding_from_that_month():
    due = dues(SPRING, [rules.Spell("h1", date(2026, 4, 30))], record(facts(date(2026, 4, 30))))
    assert due["fee_waiver"] == ("2026-spring", D("0"))
    assert due["boarding_subsidy"] == ("2026-spring", D("240.00"))  # April (its last day), May, June, July


def test_a_month_is_counted_when_the_pupil_boards_on_any_day_of_it_at_that_months_rate():
    history = (
        facts(date(2026, 1, 1), boarding=False),
        facts(date(2026, 5, 31), boarding=True),
        facts(date(2026, 7, 1), boarding=False),
    )
    due = dues(SPRING, [rules.Spell("h1", date(2026, 1, 1))], record(*history), rates=FixedRates(D("70.00")))
    assert due["boarding_subsidy"] == ("2026-spring", D("140.00"))  # May and June at 70
    assert due["fee_waiver"] == ("2026-spring", D("200.00"))


def test_a_pupil_who_left_school_gets_nothing_from_that_day():
    due = dues(
        SPRING, [rules.Spell("h1", date(2026, 1, 1))], record(facts(date(2026, 1, 1)), left_school_on=date(2026, 4, 1))
    )
    assert due["boarding_subsidy"] == ("2026-spring", D("60.00"))


def test_the_disability_grant_is_once_a_school_year_when_qualifying_on_a_terms_first_day():
    student = record(facts(date(2026, 1, 1), stage="vocational", boarding=False, disabled=True))
    both = [AUTUMN.start, date(2027, 3, 1)]
    in_autumn_only = [rules.Spell("h1", date(2026, 1, 1), date(2026, 12, 1))]
    spring = rules.term("2027-spring", (3, 1), (9, 1), 5)
    # Paid on the autumn day, it stays due for the school year when the spring run settles it.
    assert dues(spring, in_autumn_only, student, both)["disability_grant"] == ("2026-2027", D("1000.00"))
    joined_in_winter = [rules.Spell("h1", date(2026, 12, 1))]
    assert dues(AUTUMN, joined_in_winter, student, [AUTUMN.start])["disability_grant"] == ("2026-2027", D("0"))
    assert dues(spring, joined_in_winter, student, both)["disability_grant"] == ("2026-2027", D("1000.00"))


def test_the_household_of_the_day_decides_after_a_move():
    spells = [rules.Spell("h1", date(2026, 1, 1), date(2026, 4, 10)), rules.Spell("h2", date(2026, 4, 10))]
    records = {
        **record(facts(date(2026, 1, 1)), household="h1"),
        **record(facts(date(2026, 4, 10), boarding=False), household="h2"),
    }
    found = {due.programme: due for due in rules.term_dues(SPRING, spells, records, FixedRates(), [SPRING.start])}
    assert found["boarding_subsidy"].amount == D("120.00")  # March, April in h1; no longer boarding in h2
    assert found["fee_waiver"].household_id == "h1"


def entry(resident: str, programme: str, period: str, due: str, booked: str = "0") -> rules.Entry:
    return rules.Entry(resident, rules.Due(programme, period, D(due), "h1", "230102", "d"), D(booked))


def settled(entries: list[rules.Entry], owed: str = "0") -> list[tuple[str, str, str, str, Decimal, Decimal]]:
    return [
        (e.resident_id, e.due.programme, e.due.period, line.kind, line.amount, line.withheld)
        for e, line in rules.settle_household(entries, D(owed))
    ]


def test_settlement_pays_what_is_short_and_records_what_was_paid_over():
    assert settled([entry("A", "boarding_subsidy", "2026-spring", "300.00")]) == [
        ("A", "boarding_subsidy", "2026-spring", "payment", D("300.00"), D("0"))
    ]
    assert settled([entry("A", "boarding_subsidy", "2026-spring", "120.00", booked="300.00")]) == [
        ("A", "boarding_subsidy", "2026-spring", "recovery", D("-180.00"), D("0"))
    ]
    assert (
        settled(
            [
                entry("A", "boarding_subsidy", "2026-spring", "120.00", booked="120.00"),
                entry("A", "fee_waiver", "2026-spring", "0"),
            ]
        )
        == []
    )


def test_what_the_household_owes_is_withheld_from_its_payments_oldest_period_first():
    entries = [
        entry("B", "fee_waiver", "2026-autumn", "200.00"),
        entry("C", "disability_grant", "2026-2027", "1000.00"),
    ]
    # The school year's grant (from 1 September) before the autumn term's waiver; never more than is owed.
    assert settled(entries, owed="1100.00") == [
        ("C", "disability_grant", "2026-2027", "payment", D("1000.00"), D("1000.00")),
        ("B", "fee_waiver", "2026-autumn", "payment", D("200.00"), D("100.00")),
    ]
    assert settled(entries, owed="300.00") == [
        ("C", "disability_grant", "2026-2027", "payment", D("1000.00"), D("300.00")),
        ("B", "fee_waiver", "2026-autumn", "payment", D("200.00"), D("0")),
    ]


def test_a_recovery_of_one_pupil_is_withheld_from_another_pupils_payment_in_the_same_settlement():
    lines = rules.settle_household(
        [
            entry("A", "boarding_subsidy", "2026-spring", "120.00", booked="300.00"),
            entry("B", "fee_waiver", "2026-spring", "200.00"),
        ],
        D("0"),
    )
    assert [(e.resident_id, line.kind, line.amount, line.withheld, line.transferred) for e, line in lines] == [
        ("A", "recovery", D("-180.00"), D("0"), D("0")),
        ("B", "payment", D("200.00"), D("180.00"), D("20.00")),
    ]
    assert owed_by(line for _, line in lines) == D("0.00")
    # Each line keeps its amount: a period's lines sum to what is due, whatever was withheld.
    assert lines[1][1].amount == D("200.00")


def test_a_late_report_supersedes_what_was_known_from_its_day_and_a_repeat_is_not_kept():
    history = rules.record_facts([], facts(date(2026, 1, 1)))
    history = rules.record_facts(history, facts(date(2026, 6, 1), boarding=False))
    assert rules.record_facts(history, facts(date(2026, 7, 1), boarding=False)) == history
    back_dated = rules.record_facts(history, facts(date(2026, 4, 1), stage="senior", boarding=False))
    assert [(f.effective_on, f.school_stage) for f in back_dated] == [
        (date(2026, 1, 1), "junior"),
        (date(2026, 4, 1), "senior"),
    ]
    assert rules.facts_on(back_dated, date(2025, 12, 1)) is None
    assert rules.facts_on(back_dated, date(2026, 5, 1)) == back_dated[1]


def test_a_child_registered_when_starting_school_is_not_paid_for_a_term_before():
    # In dibao since 2025; the registry reported the child in primary school from 1 September 2026 only.
    starts_school = record(facts(date(2026, 9, 1), stage="primary", boarding=True))
    spells = [rules.Spell("h1", date(2025, 5, 1))]
    assert dues(SPRING, spells, starts_school) == {
        "fee_waiver": ("2026-spring", D("0")),
        "boarding_subsidy": ("2026-spring", D("0")),
        "disability_grant": ("2025-2026", D("0")),
    }
    assert dues(AUTUMN, spells, starts_school)["fee_waiver"] == ("2026-autumn", D("200.00"))
