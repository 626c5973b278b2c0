"""Input types for request bodies, each failing with a stable ``code`` the error handler reports.

``PydanticCustomError`` carries ``code`` in its context; :mod:`shared.errors` lifts it into the
problem document so a caller can branch on ``invalid_resident_id`` rather than parse a message.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from shared.divisions import is_harbin_division
from shared.money import to_fen
from shared.resident_id import InvalidResidentId, parse_resident_id


def fail(code: str, message: str, **context: Any) -> PydanticCustomError:
    return PydanticCustomError(code, message, {"code": code, **context})


def _resident_id(value: str) -> str:
    try:
        return parse_resident_id(value).number
    except InvalidResidentId as exc:
        raise fail("invalid_resident_id", "invalid resident ID ({reason}): {why}", reason=exc.reason, why=str(exc)) from None


def _division(value: str) -> str:
    if not is_harbin_division(value):
        raise fail("unknown_division", "{value} is not one of Harbin's division codes (GB/T 2260, e.g. 230102)",
                   value=str(value)[:12])
    return value


def _no_float(value: Any) -> Any:
    # JSON numbers arrive as float; turn them into text first so 0.1 stays 0.1 (never binary floating point).
    if isinstance(value, bool):
        raise fail("invalid_amount", "an amount is a decimal number such as \"230.00\"")
    if isinstance(value, float):
        return repr(value)
    return value


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


def _area(value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0:
        raise fail("invalid_area", "a floor area is a non-negative number of square metres")
    if value >= Decimal("100000") or value != to_fen(value):
        raise fail("invalid_area", "a floor area is given to 0.01 m² and below 100000 m²")
    return to_fen(value)


def _not_future(value: date) -> date:
    if value > date.today():
        raise fail("date_in_future", "{value} is in the future", value=value.isoformat())
    return value


ResidentIdIn = Annotated[str, Field(min_length=15, max_length=18, description="居民身份证号码, 18 characters (or a legacy 15)"),
                         AfterValidator(_resident_id)]
DivisionCodeIn = Annotated[str, Field(pattern=r"^\d{6}$", description="Harbin division code (GB/T 2260), e.g. 230102"),
                           AfterValidator(_division)]
MoneyIn = Annotated[Decimal, BeforeValidator(_no_float), AfterValidator(_money),
                    Field(description="yuan to the fen, as a string such as \"300.00\"")]
AreaIn = Annotated[Decimal, BeforeValidator(_no_float), AfterValidator(_area), Field(description="square metres")]

EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(2100, 12, 31)


def _sane_day(value: date) -> date:
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise fail("date_out_of_range", "{value} is outside 1900-01-01 … 2100-12-31", value=value.isoformat())
    return value


# Every date a caller sends: bounded, so date arithmetic on it can never overflow.
Day = Annotated[date, AfterValidator(_sane_day)]
PastDay = Annotated[date, AfterValidator(_sane_day), AfterValidator(_not_future)]
# Ids in paths: positive and within what every database stores.
RowId = Annotated[int, Path(ge=1, le=2**53)]


class ResidentIdQuery(BaseModel):
    """Send a resident ID in a body rather than a URL: URLs end up in proxies' logs."""

    model_config = ConfigDict(extra="forbid")

    resident_id: ResidentIdIn
    on: Day | None = Field(default=None, description="the day asked about (default today)")


def _month(value: str) -> str:
    from shared.periods import InvalidPeriod, parse_month

    try:
        return parse_month(value).label
    except InvalidPeriod as exc:
        raise fail("invalid_period", "{why}", why=str(exc)) from None


def _report_period(value: str) -> str:
    from shared.periods import InvalidPeriod, parse_period

    try:
        return parse_period(value).label
    except InvalidPeriod as exc:
        raise fail("invalid_period", "{why}", why=str(exc)) from None


MonthIn = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM"), AfterValidator(_month)]
PeriodIn = Annotated[str, Field(pattern=r"^\d{4}(-(0[1-9]|1[0-2]|H1|H2))?$", description="YYYY-MM, YYYY-H1, YYYY-H2 or YYYY"),
                     AfterValidator(_report_period)]
