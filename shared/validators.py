"""Input types for request bodies, each failing with a stable ``code`` the error handler reports.

``PydanticCustomError`` carries ``code`` in its context; :mod:`shared.errors` lifts it into the
problem document so a caller can branch on ``invalid_resident_id`` rather than parse a message.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field
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
    if value != to_fen(value):
        raise fail("invalid_amount", "an amount is given to the fen (at most two decimal places)")
    if value >= Decimal("10000000000"):
        raise fail("invalid_amount", "the amount is too large")
    return to_fen(value)


def _area(value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0:
        raise fail("invalid_area", "a floor area is a non-negative number of square metres")
    if value != to_fen(value) or value >= Decimal("100000"):
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
PastDate = Annotated[date, AfterValidator(_not_future)]
