"""Money is ``Decimal`` to the fen, rounded half-up as Chinese finance rounds (四舍五入)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


def to_fen(amount: Decimal) -> Decimal:
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


# Money in JSON is a string of yuan with two decimals, such as "230.00": exact, and the one way the public
# contract writes it, going in (shared.validators.MoneyIn, never negative) and coming out (negative for a
# recovery line).
MONEY_PATTERN = r"^(0|[1-9][0-9]{0,9})\.[0-9]{2}$"
SIGNED_MONEY_PATTERN = r"^-?(0|[1-9][0-9]*)\.[0-9]{2}$"
MoneyStr = Annotated[
    Decimal,
    PlainSerializer(lambda v: f"{to_fen(v):.2f}", return_type=str, when_used="always"),
    WithJsonSchema(
        {"type": "string", "pattern": SIGNED_MONEY_PATTERN, "examples": ["230.00"]},
        mode="serialization",
    ),
]
