from datetime import date
from decimal import Decimal

import pytest

from services.registry import rules
from services.registry.service import _Account, within_months
from shared.allowance import allowance_for_month, dibao_due
from shared.events import AllowanceStep, ExtensionSpell
from shared.ledger import balance_owed, settle
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
        (date(2026, 1, 10), D("300.00")),
        (date(2026, 4, 1), D("220.00")),
        (date(2026, 7, 1), D("280.00")),
    ]


def test_a_month_is_governed_by_its_first_day_or_the_enrolment_day():
    revisions = [rules.Revision(date(2026, 1, 10), 1, D("0")), rules.Revision(date(2026, 3, 15), 1, D("50.00"))]
    schedule = rules.allowance_schedule(date(2026, 1, 10), revisions, standard, [])
    assert allowance_for_month(schedule, parse_month("2026-01"), date(2026, 1, 10)) == D("200.00")
    assert allowance_for_month(schedule, parse_month("2026-03"), date(2026, 1, 10)) == D("200.00")
    assert allowance_for_month(schedule, parse_month("2026-04"), date(2026, 1, 10)) == D("150.00")


SCHEDULE = [AllowanceStep(effective_from=date(2026, 1, 10), amount=D("200.00"))]


def _due(month: str, *, exited: date | None = None, extensions=()):
    return dibao_due(
        schedule=SCHEDULE,
        enrolled_on=date(2026, 1, 10),
        exited_on=exited,
        extensions=list(extensions),
        month=parse_month(month),
    )


@pytest.mark.parametrize(
    ("exited", "month", "paid"),
    [
        (None, "2025-12", False),  # before enrolment
        (None, "2026-01", True),  # enrolled on the 10th: in dibao on a day of January
        (date(2026, 3, 1), "2026-03", False),  # first day out is 1 March: nothing for March
        (date(2026, 3, 2), "2026-03", True),  # in dibao on 1 March: March is paid in full
    ],
)
def test_a_household_in_dibao_on_any_day_of_a_month_is_paid_that_month(exited, month, paid):
    assert (_due(month, exited=exited) is not None) is paid


def test_extension_runs_from_the_month_the_member_starts_work():
    first, last = rules.extension_months(date(2026, 2, 10), 3)
    assert (first.label, last.label) == ("2026-02", "2026-04")


def test_extension_is_paid_after_the_household_exits_at_the_allowance_before_the_job():
    spell = ExtensionSpell(resident_id="x", first_period="2026-02", last_period="2026-04", monthly_amount=D("200.00"))
    during = _due("2026-04", exited=date(2026, 3, 1), extensions=[spell])
    assert (during.amount, during.kind) == (D("200.00"), "extension")
    assert _due("2026-05", exited=date(2026, 3, 1), extensions=[spell]) is None
    regular = _due("2026-05")
    assert (regular.amount, regular.kind) == (D("200.00"), "dibao")


def test_the_allowance_before_the_job_is_the_one_in_force_the_day_before():
    schedule = [
        AllowanceStep(effective_from=date(2026, 1, 1), amount=D("300.00")),
        AllowanceStep(effective_from=date(2026, 3, 5), amount=D("0.00")),
    ]
    assert rules.allowance_before(schedule, date(2026, 1, 1), date(2026, 3, 5)) == D("300.00")
    assert rules.allowance_before(schedule, date(2026, 1, 1), date(2026, 1, 1)) == D("300.00")


def test_an_income_rise_ends_dibao_with_the_month_or_after_a_running_extension():
    assert rules.exit_after_income_rise(date(2026, 5, 17), []) == date(2026, 6, 1)
    assert rules.exit_after_income_rise(date(2026, 12, 3), []) == date(2027, 1, 1)
    assert rules.exit_after_income_rise(date(2026, 5, 17), [("2026-05", "2026-07")]) == date(2026, 8, 1)
    assert rules.exit_after_income_rise(date(2026, 5, 17), [("2026-01", "2026-03")]) == date(2026, 6, 1)


def test_means_test_requires_income_below_the_standard_for_all_members():
    assert rules.below_standard(D("200.00"), 2, D("399.99"))
    assert not rules.below_standard(D("200.00"), 2, D("400.00"))


# ---- the ledger ----


def test_settling_pays_arrears_and_records_overpayment_as_owed_then_withholds_it():
    lines = settle(
        {"2026-01": (D("300.00"), "dibao"), "2026-02": (D("250.00"), "dibao"), "2026-03": (D("250.00"), "dibao")},
        {"2026-01": D("250.00"), "2026-02": D("300.00")},
        owed=D("0.00"),
    )
    assert [(line.period, line.amount, line.kind, line.withheld) for line in lines] == [
        ("2026-01", D("50.00"), "dibao", D("50.00")),  # arrears, but 50 was paid over in February
        ("2026-02", D("-50.00"), "recovery", D("0.00")),
        ("2026-03", D("250.00"), "dibao", D("0.00")),
    ]
    assert sum(line.transferred for line in lines) == D("250.00")


def test_settling_what_is_settled_writes_nothing():
    assert settle({"2026-01": (D("300.00"), "dibao")}, {"2026-01": D("300.00")}, owed=D("0.00")) == []


def test_what_is_owed_is_never_transferred_negative():
    lines = settle(
        {"2026-01": (D("0.00"), "dibao"), "2026-02": (D("100.00"), "dibao")}, {"2026-01": D("300.00")}, owed=D("0.00")
    )
    assert all(line.transferred >= 0 for line in lines)
    assert sum(line.withheld for line in lines) == D("100.00")
    assert balance_owed(
        sum((line.amount for line in lines if line.kind == "recovery"), D(0)),
        sum((line.withheld for line in lines), D(0)),
    ) == D("200.00")


def test_settlement_looks_at_the_months_after_the_last_settled_one_only():
    through = parse_month("2026-06")
    every = [m.label for m in rules.months_to_settle(date(2026, 1, 10), through, None)]
    assert every == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
    assert [m.label for m in rules.months_to_settle(date(2026, 1, 10), through, None, after="2026-04")] == [
        "2026-05",
        "2026-06",
    ]
    # Settled through a month before enrolment (or never): every month from enrolment.
    assert [m.label for m in rules.months_to_settle(date(2026, 1, 10), through, None, after="2025-12")] == every
    # Nothing after the last month that can hold money, whatever was settled.
    assert [
        m.label for m in rules.months_to_settle(date(2026, 1, 10), through, parse_month("2026-05"), after="2026-03")
    ] == ["2026-04", "2026-05"]
    assert rules.months_to_settle(date(2026, 1, 10), through, None, after="2026-06") == []


def _account(name: str, enrolled_on: date, settled_through: str | None = None) -> _Account:
    settled = 1 if settled_through else 0
    return _Account(name, "230102", enrolled_on, None, [], 1, settled, settled_through, settled)


def test_a_payment_batch_ends_at_its_budget_of_household_months_and_takes_at_least_one():
    june = parse_month("2026-06")
    monthly = [_account(f"m{i}", date(2024, 1, 1), settled_through="2026-05") for i in range(5)]
    assert [a.id for a in within_months(monthly, june, budget=5)] == ["m0", "m1", "m2", "m3", "m4"]
    history = [_account(f"h{i}", date(2026, 1, 15)) for i in range(5)]  # six months each, from January
    assert [a.id for a in within_months(history, june, budget=13)] == ["h0", "h1"]
    assert [a.id for a in within_months(history, june, budget=1)] == ["h0"]
