"""Input types for request bodies, each failing with a stable ``code`` the error handler reports.

``PydanticCustomError`` carries ``code`` in its context; :mod:`shared.errors` lifts it into the
problem document so a caller can branch on ``invalid_resident_id`` rather than parse a message.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict, WithJsonSchema
from pydantic_core import PydanticCustomError

from shared.divisions import DIVISIONS, is_harbin_division
from shared.money import MONEY_PATTERN, to_fen
from shared.periods import InvalidPeriod, city_today, parse_month, parse_period
from shared.resident_id import InvalidResidentId, parse_resident_id

# The 2004 work plan (哈政办综〔2004〕25号): no dibao standard, no programme, no period before it.
# The same day as shared.parameters.PLAN_DATE, from which every parameter's default is in force.
PLAN_DAY = date(2004, 1, 1)
PLAN_YEAR, LAST_YEAR = PLAN_DAY.year, 2100


def fail(code: str, message: str, **context: Any) -> PydanticCustomError:
    return PydanticCustomError(code, message, {"code": code, **context})


def _resident_id(value: str) -> str:
    if len(value) > 40:
        raise fail(
            "invalid_resident_id",
            "invalid resident ID ({reason}): {why}",
            reason="format",
            why="a resident ID has 18 characters",
        )
    try:
        return parse_resident_id(value).number
    except InvalidResidentId as exc:
        raise fail(
            "invalid_resident_id", "invalid resident ID ({reason}): {why}", reason=exc.reason, why=str(exc)
        ) from None


def _division(value: str) -> str:
    if not is_harbin_division(value):
        raise fail(
            "unknown_division",
            "{value} is not one of Harbin's division codes (GB/T 2260, e.g. 230102)",
            value=str(value)[:12],
        )
    return value


def _money_text(value: Any) -> Any:
    """Money is the text "230.00": never a JSON number (binary floating point), one way to write it."""

    if isinstance(value, Decimal):  # from Python (a model validated again), never from JSON
        return value
    if not isinstance(value, str):
        raise fail("invalid_amount", 'money is a string of yuan with two decimals, such as "230.00", not a number')
    if re.fullmatch(MONEY_PATTERN, value, re.ASCII):
        return Decimal(value)
    if value.startswith("-") and re.fullmatch(MONEY_PATTERN, value[1:], re.ASCII):
        raise fail("negative_amount", "an amount cannot be negative")
    raise fail("invalid_amount", 'money is written in yuan with two decimals, such as "230.00", below 10000000000')


def _money(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise fail("invalid_amount", "an amount must be a finite number")
    if value < 0:
        raise fail("negative_amount", "an amount cannot be negative")
    # The size check comes first: quantizing an enormous number would overflow the decimal context.
    if value >= Decimal("10000000000"):
        raise fail("invalid_amount", "the amount is too large")
    if value != to_fen(value):
        raise fail("invalid_amount", "an amount is given to the fen (at most two decimal places)")
    return to_fen(value)


def quantity_text(code: str, what: str, pattern: str) -> Any:
    """A measured quantity (m², m³) as text such as "45.5" matching ``pattern``; never a JSON number."""

    def parse(value: Any) -> Any:
        if isinstance(value, Decimal):
            return value
        if not isinstance(value, str) or not re.fullmatch(pattern, value, re.ASCII):
            raise fail(code, "{what}", what=what)
        return Decimal(value)

    return parse


AREA_PATTERN = r"^(0|[1-9][0-9]{0,4})(\.[0-9]{1,2})?$"


def _area(value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0:
        raise fail("invalid_area", "a floor area is a non-negative number of square metres")
    if value >= Decimal("100000") or value != to_fen(value):
        raise fail("invalid_area", "a floor area is given to 0.01 m² and below 100000 m²")
    return to_fen(value)


def _not_future(value: date) -> date:
    if value > city_today():
        raise fail("date_in_future", "{value} is in the future", value=value.isoformat())
    return value


# Documented as ASCII; full-width digits (and a lower-case x) are accepted and stored normalised (NFKC).
RESIDENT_ID_PATTERN = r"^([1-9][0-9]{16}[0-9Xx]|[1-9][0-9]{14})$"
ResidentIdIn = Annotated[
    str,
    AfterValidator(_resident_id),
    Field(
        description="居民身份证号码, 18 characters (or a legacy 15)",
        json_schema_extra={
            "pattern": RESIDENT_ID_PATTERN,
            "minLength": 15,
            "maxLength": 18,
            "format": "resident-id",
            "examples": ["230102198001010110"],
        },
    ),
]
DivisionCodeIn = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{6}$",
        description="Harbin division code (GB/T 2260), e.g. 230102",
        json_schema_extra={"enum": sorted(DIVISIONS), "examples": ["230102"]},
    ),
    AfterValidator(_division),
]
MoneyIn = Annotated[
    Decimal,
    BeforeValidator(_money_text),
    AfterValidator(_money),
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN, "examples": ["300.00"]}, mode="validation"),
    Field(description='yuan with two decimals, as a string such as "300.00"'),
]
AreaIn = Annotated[
    Decimal,
    BeforeValidator(
        quantity_text("invalid_area", 'a floor area is text such as "45.50": m² to 0.01, below 100000', AREA_PATTERN)
    ),
    AfterValidator(_area),
    WithJsonSchema({"type": "string", "pattern": AREA_PATTERN, "examples": ["45.50"]}, mode="validation"),
    Field(description='square metres to 0.01, as a string such as "45.50"'),
]

EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(2100, 12, 31)


def _sane_day(value: date) -> date:
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise fail("date_out_of_range", "{value} is outside 1900-01-01 … 2100-12-31", value=value.isoformat())
    return value


_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _iso_day(value: Any) -> Any:
    """No coercion: a date is the text YYYY-MM-DD in JSON (a ``date`` from Python), never a number,
    a timestamp or a date-time. (Pydantic's ``Strict`` cannot say this: FastAPI validates the decoded
    JSON in Python mode, where a strict date refuses every string.)"""

    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DAY.fullmatch(value):
        return value
    raise fail("invalid_date", 'a date is written YYYY-MM-DD, e.g. "2026-05-01"')


def _since_plan(value: date) -> date:
    if value < PLAN_DAY:
        raise fail(
            "date_before_plan",
            "{value} is before {plan}: no dibao standard or programme was in force",
            value=value.isoformat(),
            plan=PLAN_DAY.isoformat(),
        )
    return value


_MONTH_DAY = "(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
DAY_PATTERN = f"^(19[0-9]{{2}}|20[0-9]{{2}}|2100)-{_MONTH_DAY}$"
# From the plan's year (2004) to 2100, ASCII digits only.
PLAN_DAY_PATTERN = f"^(200[4-9]|20[1-9][0-9]|2100)-{_MONTH_DAY}$"
_DAY_SCHEMA = Field(json_schema_extra={"pattern": DAY_PATTERN, "examples": ["2026-05-01"]})
_PLAN_DAY_SCHEMA = Field(
    json_schema_extra={"pattern": PLAN_DAY_PATTERN, "formatMinimum": PLAN_DAY.isoformat(), "examples": ["2026-05-01"]}
)

# Every date a caller sends: bounded, so date arithmetic on it can never overflow.
Day = Annotated[date, BeforeValidator(_iso_day), AfterValidator(_sane_day), _DAY_SCHEMA]
PastDay = Annotated[
    date, BeforeValidator(_iso_day), AfterValidator(_sane_day), AfterValidator(_not_future), _DAY_SCHEMA
]
# A day something takes effect in the scheme (an enrolment, a change): from the 2004 plan, not in the future.
PlanDay = Annotated[
    date,
    BeforeValidator(_iso_day),
    AfterValidator(_sane_day),
    AfterValidator(_since_plan),
    _PLAN_DAY_SCHEMA,
]
PastPlanDay = Annotated[
    date,
    BeforeValidator(_iso_day),
    AfterValidator(_sane_day),
    AfterValidator(_since_plan),
    AfterValidator(_not_future),
    _PLAN_DAY_SCHEMA,
]


def _boolean(value: Any) -> Any:
    if not isinstance(value, bool):
        raise fail("invalid_boolean", 'a yes/no field is true or false (not "yes", 1 or "off")')
    return value


def _whole_number(value: Any) -> Any:
    # 60.0 is the JSON number 60 (JSON has one kind of number; JSON Schema's integer accepts it), so it is 60.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail("invalid_integer", 'a whole number is a JSON number without a fraction, such as 60 (not "60")')
    return value


# No coercion of request bodies: only JSON true/false is a boolean, only a JSON number without a fraction an integer.
Flag = Annotated[bool, Strict(), BeforeValidator(_boolean)]
WholeNumber = Annotated[int, Strict(), BeforeValidator(_whole_number)]

# C0 and C1 control characters (NUL, tab and line breaks included) and lone surrogates: none is text.
_NOT_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
TEXT_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"


def _text(value: str) -> str:
    if _NOT_TEXT.search(value):
        raise fail("invalid_text", "text cannot hold control characters (NUL, tab, line breaks…) or lone surrogates")
    return value


# Every free-text field of a request body: names, addresses, reasons, invoice numbers, notes.
Text = Annotated[str, AfterValidator(_text), Field(json_schema_extra={"pattern": TEXT_PATTERN})]
# Ids in paths: positive and within what every database stores.
RowId = Annotated[int, Path(ge=1, le=2**53, examples=[1])]
# A resident ID in a path where an invalid one is simply not found (the registry's person look-up).
ResidentIdPath = Annotated[
    str,
    Path(min_length=1, max_length=40, description="居民身份证号码, 18 characters", examples=["230102198001010110"]),
]
# A household's id (as the registry made it: a UUID) in a path.
HOUSEHOLD_ID_PATTERN = r"^[0-9A-Za-z_-]{1,36}$"
HouseholdIdPath = Annotated[
    str,
    Path(
        pattern=HOUSEHOLD_ID_PATTERN,
        description="the household's id, as the registry gave it at enrolment",
        examples=["5f0c3b1e-8d7a-4e0b-9a51-2f1d3c4b5a69"],
    ),
]
# The id of a record the registry made (an application, an appeal, a notice: UUIDs) in a path.
RecordIdPath = Annotated[
    str,
    Path(
        pattern=HOUSEHOLD_ID_PATTERN,
        description="the id the service gave it",
        examples=["8c2e4f7a-1b3d-4e5f-9a0b-6c7d8e9f0a1b"],
    ),
]


class ResidentIdQuery(BaseModel):
    """Send a resident ID in a body rather than a URL: URLs end up in proxies' logs."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"resident_id": "230102198001010110", "on": "2026-05-01"}]}
    )

    resident_id: ResidentIdIn
    on: PlanDay | None = Field(default=None, description="the day asked about (default today), from the 2004 plan on")


# Years from the 2004 plan to 2100, ASCII digits only.
_YEARS = "(200[4-9]|20[1-9][0-9]|2100)"
MONTH_PATTERN = f"^{_YEARS}-(0[1-9]|1[0-2])$"
PERIOD_PATTERN = f"^{_YEARS}(-(0[1-9]|1[0-2]|H1|H2))?$"


def check_period_text(value: str, pattern: str, what: str) -> None:
    """Refuse a period outside the plan's years (or not ASCII) with ``invalid_period`` before parsing it."""

    if not re.fullmatch(pattern, value or "", re.ASCII):
        raise fail(
            "invalid_period",
            "{value!r} is not {what} between {first} and {last}",
            value=str(value)[:20],
            what=what,
            first=PLAN_YEAR,
            last=LAST_YEAR,
        )


def _month(value: str) -> str:
    check_period_text(value, MONTH_PATTERN, "a month YYYY-MM")
    try:
        return parse_month(value).label
    except InvalidPeriod as exc:
        raise fail("invalid_period", "{why}", why=str(exc)) from None


def _report_period(value: str) -> str:
    check_period_text(value, PERIOD_PATTERN, "a period YYYY-MM, YYYY-H1, YYYY-H2 or YYYY")
    try:
        return parse_period(value).label
    except InvalidPeriod as exc:
        raise fail("invalid_period", "{why}", why=str(exc)) from None


TERM_PATTERN = f"^{_YEARS}-(spring|autumn)$"
# A report period or a school term (the education bureau reports by either).
PERIOD_OR_TERM_PATTERN = f"^{_YEARS}(-(0[1-9]|1[0-2]|H1|H2|spring|autumn))?$"


def _term(value: str) -> str:
    check_period_text(value, TERM_PATTERN, "a school term YYYY-spring or YYYY-autumn")
    return value


MonthIn = Annotated[
    str,
    Field(description="YYYY-MM, from 2004-01", json_schema_extra={"pattern": MONTH_PATTERN, "examples": ["2026-05"]}),
    AfterValidator(_month),
]
PeriodIn = Annotated[
    str,
    Field(
        description="YYYY-MM, YYYY-H1, YYYY-H2 or YYYY, from 2004",
        json_schema_extra={"pattern": PERIOD_PATTERN, "examples": ["2026-H1"]},
    ),
    AfterValidator(_report_period),
]
TermIn = Annotated[
    str,
    Field(
        description="YYYY-spring or YYYY-autumn, from 2004",
        json_schema_extra={"pattern": TERM_PATTERN, "examples": ["2026-autumn"]},
    ),
    AfterValidator(_term),
]
