"""Money is ``Decimal`` to the fen, rounded half-up as Chinese finance rounds (四舍五入)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import PlainSerializer

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


def to_fen(amount: Decimal) -> Decimal:
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


# Money in JSON is a string such as "230.00": exact, and what the public contract promises.
MoneyStr = Annotated[Decimal, PlainSerializer(lambda v: f"{to_fen(v):.2f}", return_type=str, when_used="always")]
