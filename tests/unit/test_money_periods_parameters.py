from datetime import date
from decimal import Decimal

import pytest

from shared.logging import mask_text
from shared.money import to_fen
from shared.parameters import (
    InvalidParameterValue,
    MissingParameter,
    ParameterRow,
    ParameterSpec,
    canonical_text,
    change_dates,
    resolve,
)
from shared.periods import InvalidPeriod, add_months, parse_month, parse_period


def test_money_rounds_half_up_to_the_fen():
    assert to_fen(Decimal("0.005")) == Decimal("0.01")
    assert to_fen(Decimal("2.344999")) == Decimal("2.34")
    assert to_fen(Decimal("-0.005")) == Decimal("-0.01")


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026-02", date(2026, 2, 1), date(2026, 2, 28)),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("2026-H1", date(2026, 1, 1), date(2026, 6, 30)),
        ("2026-H2", date(2026, 7, 1), date(2026, 12, 31)),
        ("2026", date(2026, 1, 1), date(2026, 12, 31)),
    ],
)
def test_report_periods(text, start, end):
    period = parse_period(text)
    assert (period.start, period.end, period.label) == (start, end, text)


@pytest.mark.parametrize("text", ["2026-13", "2026-H3", "26-01", "", "2026-1"])
def test_bad_periods_are_refused(text):
    with pytest.raises(InvalidPeriod):
        parse_period(text)


def test_adding_months_crosses_years():
    assert add_months(parse_month("2026-11"), 3).label == "2027-02"
    assert add_months(parse_month("2026-01"), -1).label == "2025-12"


ROWS = [
    ParameterRow("std", "*", "150.00", date(2004, 1, 1)),
    ParameterRow("std", "230102", "200.00", date(2004, 1, 1)),
    ParameterRow("std", "230102", "230.00", date(2026, 7, 1)),
    ParameterRow("std", "*", "260.00", date(2027, 1, 1)),
]


def test_parameter_in_force_on_a_day_prefers_the_division_on_the_same_date():
    assert resolve(ROWS, date(2026, 6, 30), "230102").value == "200.00"
    assert resolve(ROWS, date(2026, 7, 1), "230102").value == "230.00"
    assert resolve(ROWS, date(2026, 7, 1), "230125").value == "150.00"


def test_a_later_city_wide_value_supersedes_an_earlier_division_value():
    assert resolve(ROWS, date(2027, 1, 1), "230102").value == "260.00"


def test_no_value_before_the_first_effective_date():
    with pytest.raises(MissingParameter):
        resolve(ROWS, date(2003, 12, 31), "230102")


def test_change_dates_after_a_day_for_a_division():
    assert change_dates(ROWS, "230102", date(2026, 1, 1)) == [date(2026, 7, 1), date(2027, 1, 1)]
    assert change_dates(ROWS, "230125", date(2026, 1, 1)) == [date(2027, 1, 1)]


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("money", "230", "230.00"),
        ("rate", "0.5", "0.5"),
        ("integer", "16", "16"),
        ("month_day", "10-20", "10-20"),
    ],
)
def test_parameter_values_are_stored_canonically(kind, raw, expected):
    assert canonical_text(ParameterSpec("p", kind, "p"), raw) == expected


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("money", "-1"),
        ("money", "abc"),
        ("rate", "1.5"),
        ("integer", "1.5"),
        ("month_day", "13-01"),
        ("money", "NaN"),
    ],
)
def test_bad_parameter_values_are_refused(kind, raw):
    with pytest.raises(InvalidParameterValue):
        canonical_text(ParameterSpec("p", kind, "p"), raw)


def test_resident_ids_are_masked_in_free_text_but_other_numbers_are_not():
    text = "claim for 11010519491231002X and 230102198001010014, offset 12345678901234567890"
    assert mask_text(text) == "claim for 110105********002X and 230102********0014, offset 12345678901234567890"
