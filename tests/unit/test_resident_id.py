from datetime import date

import pytest

from shared.resident_id import (
    InvalidResidentId,
    check_character,
    mask_resident_id,
    parse_resident_id,
    upgrade_fifteen,
)


@pytest.mark.parametrize(
    ("number", "born", "sex"),
    [
        ("11010519491231002X", date(1949, 12, 31), "female"),  # the example in GB 11643-1999
        ("440524188001010014", date(1880, 1, 1), "male"),
        ("110101199003074477", date(1990, 3, 7), "male"),
    ],
)
def test_real_resident_ids_are_accepted_with_birth_date_and_sex(number, born, sex):
    parsed = parse_resident_id(number)
    assert (parsed.number, parsed.birth_date, parsed.sex) == (number, born, sex)


def test_lower_case_x_is_read_as_the_check_character_x():
    assert parse_resident_id("11010519491231002x").number == "11010519491231002X"


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("110105194912310021", "checksum"),
        ("11010519491231002", "format"),
        ("1101051949123100212", "format"),
        ("A1010519491231002X", "format"),
        ("011010519491231002", "format"),
    ],
)
def test_malformed_or_mistyped_ids_are_refused_with_the_reason(number, reason):
    with pytest.raises(InvalidResidentId) as caught:
        parse_resident_id(number)
    assert caught.value.reason == reason


def test_impossible_and_future_birth_dates_are_refused():
    first17 = "23010219900230001"
    with pytest.raises(InvalidResidentId) as impossible:
        parse_resident_id(first17 + check_character(first17))
    assert impossible.value.reason == "birth_date"
    future17 = "23010220990101001"
    with pytest.raises(InvalidResidentId) as future:
        parse_resident_id(future17 + check_character(future17), today=date(2026, 1, 1))
    assert future.value.reason == "birth_date"


def test_fifteen_digit_legacy_number_becomes_eighteen_with_century_and_check():
    assert upgrade_fifteen("320311770706001") == "320311197707060018"
    assert parse_resident_id("320311770706001").birth_date == date(1977, 7, 6)


def test_masking_keeps_region_and_last_four():
    assert mask_resident_id("11010519491231002X") == "110105********002X"
