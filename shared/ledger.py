"""Settling a period against a ledger: what is short is paid, what was paid over is recovered.

Every bureau that pays by month or term keeps a ledger of lines. A run for a period settles every period
up to it: for each, it compares what is due under the facts now known with the sum of the lines already
written, and writes the difference — a payment when short, a ``recovery`` (negative) when paid over. What a
household owes is withheld from its later payments first, so no transfer is ever negative, and the lines
of a period always sum to what is due for it. Settling again with nothing new writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from shared.money import ZERO, to_fen

RECOVERY = "recovery"


@dataclass(frozen=True, slots=True)
class LedgerLine:
    period: str
    kind: str
    amount: Decimal  # negative for a recovery
    withheld: Decimal = ZERO  # of a payment, kept back against what is owed; the transfer is amount - withheld

    @property
    def transferred(self) -> Decimal:
        return self.amount - self.withheld if self.amount > ZERO else ZERO


def settle(due: dict[str, tuple[Decimal, str]], ledger: dict[str, Decimal], owed: Decimal) -> list[LedgerLine]:
    """The lines that bring each period's ledger to what is due, in period order.

    ``due`` maps a period to (amount, kind of payment); ``ledger`` a period to the sum of its lines so far;
    ``owed`` is what the household already owes from earlier overpayments. Periods sort as their labels do.
    """

    differences = {
        period: to_fen(due.get(period, (ZERO, ""))[0] - ledger.get(period, ZERO))
        for period in sorted(set(due) | set(ledger))
    }
    owed -= sum((difference for difference in differences.values() if difference < ZERO), ZERO)
    lines: list[LedgerLine] = []
    for period, difference in differences.items():
        if difference < ZERO:
            lines.append(LedgerLine(period, RECOVERY, difference))
        elif difference > ZERO:
            withheld = min(difference, owed)
            owed -= withheld
            lines.append(LedgerLine(period, due[period][1], difference, withheld))
    return lines


def balance_owed(recoveries: Decimal, withheld: Decimal) -> Decimal:
    """What a household still owes: its recoveries (negative lines) less what was already withheld."""

    return to_fen(max(ZERO, -recoveries - withheld))


class Line(Protocol):
    """What :func:`owed_by` reads of a line: a :class:`LedgerLine` or a bureau's own ledger row."""

    @property
    def kind(self) -> str: ...

    @property
    def amount(self) -> Decimal: ...

    @property
    def withheld(self) -> Decimal: ...


def owed_by(lines: Iterable[Line]) -> Decimal:
    """:func:`balance_owed` of lines in hand."""

    lines = list(lines)
    return balance_owed(
        sum((line.amount for line in lines if line.kind == RECOVERY), ZERO),
        sum((line.withheld for line in lines), ZERO),
    )
