from datetime import date
from decimal import Decimal

import pytest

from services.registry import rules
from shared.allowance import allowance_for_month
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
