"""Input types refuse what used to be coerced or let through: Unicode digits, numbers as dates, "yes" as
a boolean, control characters as text, periods before the 2004 plan."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from services.education.schemas import PartnerAidIn
from shared.parameters import PLAN_DATE
from shared.resident_id import InvalidResidentId, make_resident_id, parse_resident_id
from shared.validators import (
    PLAN_DAY,
    Day,
    Flag,
    MonthIn,
    PastPlanDay,
    PeriodIn,
    ResidentIdIn,
    TermIn,
    Text,
    WholeNumber,
)

ASCII_ID = make_resident_id("230102", date(1980, 1, 1), 11)
FULL_WIDTH = ASCII_ID.translate({ord(c): ord(c) - ord("0") + 0xFF10 for c in "0123456789"})
ARABIC_INDIC = ASCII_ID.translate({ord(c): ord(c) - ord("0") + 0x0660 for c in "0123456789"})


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resident_id: ResidentIdIn | None = None
    day: Day | None = None
    since_plan: PastPlanDay | None = None
    flag: Flag | None = None
    count: WholeNumber | None = None
    text: Text | None = None
    month: MonthIn | None = None
    period: PeriodIn | None = None
    term: TermIn | None = None


def code_of(**fields: Any) -> str:
    with pytest.raises(ValidationError) as raised:
        Body.model_validate(fields)
    return str(raised.value.errors()[0]["ctx"]["code"])


def test_a_full_width_resident_id_is_the_same_person_as_the_ascii_one():
    assert parse_resident_id(FULL_WIDTH).number == ASCII_ID
    assert Body.model_validate({"resident_id": FULL_WIDTH}).resident_id == ASCII_ID
    assert Body.model_validate({"resident_id": f" {ASCII_ID[:17]}{ASCII_ID[17].lower()} "}).resident_id == ASCII_ID


@pytest.mark.parametrize(
    "raw", [ARABIC_INDIC, ASCII_ID + "\x00", ASCII_ID[:16] + "\u0663" + ASCII_ID[17], "2" * 10_000]
)
def test_other_unicode_digits_and_trailing_junk_are_not_a_resident_id(raw):
    if len(raw) < 100:
        with pytest.raises(InvalidResidentId):
            parse_resident_id(raw)
    assert code_of(resident_id=raw) == "invalid_resident_id"


@pytest.mark.parametrize("value", [0, 20260501, 1.5, True, "2026-05-01T00:00:00", "20260501", "٢٠٢٦-٠٥-٠١", "2026-5-1"])
def test_a_date_is_yyyy_mm_dd_text_only(value):
    assert code_of(day=value) == "invalid_date"


def test_a_date_as_text_or_from_python_is_still_a_date():
    assert Body.model_validate({"day": "2026-05-01"}).day == date(2026, 5, 1)
    assert Body.model_validate({"day": date(2026, 5, 1)}).day == date(2026, 5, 1)
    assert Body.model_validate_json('{"day": "2026-05-01"}').day == date(2026, 5, 1)


def test_a_day_in_the_scheme_is_not_before_the_2004_plan():
    assert PLAN_DAY == PLAN_DATE
    assert code_of(since_plan="2003-12-31") == "date_before_plan"
    assert Body.model_validate({"since_plan": "2004-01-01"}).since_plan == PLAN_DAY


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, "off", "", "null"])
def test_only_json_true_and_false_are_booleans(value):
    assert code_of(flag=value) == "invalid_boolean"
    assert Body.model_validate({"flag": False}).flag is False


@pytest.mark.parametrize("value", ["60", "60.0", 60.5, True, float("nan")])
def test_only_a_json_number_without_a_fraction_is_a_whole_number(value):
    assert code_of(count=value) == "invalid_integer"
    assert Body.model_validate({"count": 60}).count == 60
    # The JSON number 60.0 is 60 (JSON Schema's integer accepts it too): the same number, no meaning changed.
    assert Body.model_validate({"count": 60.0}).count == 60


@pytest.mark.parametrize("value", ["a\x00b", "line\nbreak", "tab\there", "\x7f", "c1\x85", "\x1b[31m", "lone \ud800"])
def test_control_characters_are_not_text(value):
    assert code_of(text=value) == "invalid_text"


def test_text_keeps_chinese_and_ordinary_punctuation():
    assert (
        Body.model_validate({"text": "哈尔滨市道里区测试街1号 (东门) — №7"}).text
        == "哈尔滨市道里区测试街1号 (东门) — №7"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("month", "1900-01"),
        ("month", "2003-12"),
        ("month", "٢٠٢٦-01"),
        ("period", "1900"),
        ("period", "2003-H2"),
        ("period", "2101"),
        ("term", "2003-autumn"),
        ("term", "1900-spring"),
        ("term", "２０２６-spring"),
    ],
)
def test_periods_start_with_the_2004_plan(field, value):
    assert code_of(**{field: value}) == "invalid_period"


def test_periods_from_2004_are_accepted():
    assert Body.model_validate({"month": "2004-01", "period": "2004", "term": "2004-spring"}).term == "2004-spring"


def test_partner_aid_in_kind_without_an_amount_is_zero_yuan_as_money():
    # The default was the string "0.00": pydantic does not validate defaults, so it reached the ledger as str.
    aid = PartnerAidIn.model_validate(
        {"resident_id": ASCII_ID, "organisation": "womens_federation", "kind": "学习用品", "given_on": "2026-03-01"}
    )
    assert isinstance(aid.amount, Decimal) and aid.amount == Decimal("0.00")


@pytest.mark.parametrize(
    ("cell", "sent"),
    [("300", "300.00"), ("300.5", "300.50"), ("300.50", "300.50"), ("0", "0.00"), ("3e2", "3e2"), ("-1", "-1")],
)
def test_the_ops_cli_pads_a_spreadsheets_money_to_the_fen_and_leaves_the_rest_to_the_service(cell, sent):
    from ops.caseload import money_text

    assert money_text(cell) == sent
