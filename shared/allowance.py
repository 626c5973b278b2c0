"""What dibao pays a household for a month, from the facts in force in that month.

One rule, read the same way by the registry (which pays it) and by the bureaus that depend on it (the
+20 % heating supplement is 20 % of what dibao actually pays for the month, extension included):

* a month is governed by the allowance in force on its first day, or on the enrolment day for the month
  the household was enrolled in (a change from mid-month takes effect the month after);
* a household in dibao on any day of a month is paid that month (``exited_on`` is the first day out);
* during an employment extension (延发三个月) the household is paid at least the allowance it had before
  the job, whatever else happened to it — the extension survives an exit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from shared.events import AllowanceStep, ExtensionSpell
from shared.money import ZERO
from shared.periods import Period

DueKind = Literal["dibao", "extension"]


def allowance_on(schedule: Sequence[AllowanceStep], day: date) -> Decimal:
    best = None
    for step in schedule:
        if step.effective_from <= day and (best is None or step.effective_from >= best.effective_from):
            best = step
    return best.amount if best else ZERO


def governing_day(month: Period, enrolled_on: date) -> date:
    return max(month.start, enrolled_on)


def allowance_for_month(schedule: Sequence[AllowanceStep], month: Period, enrolled_on: date) -> Decimal:
    return allowance_on(schedule, governing_day(month, enrolled_on))


@dataclass(frozen=True, slots=True)
class MonthDue:
    amount: Decimal
    kind: DueKind


def dibao_due(
    *,
    schedule: Sequence[AllowanceStep],
    enrolled_on: date,
    exited_on: date | None,
    extensions: Sequence[ExtensionSpell],
    month: Period,
) -> MonthDue | None:
    """What dibao owes the household for ``month`` under the facts given; None when nothing."""

    regular = allowance_for_month(schedule, month, enrolled_on) if month.overlaps(enrolled_on, exited_on) else ZERO
    covering = [spell.monthly_amount for spell in extensions if spell.covers(month.label)]
    if covering:
        amount = max(regular, *covering)
        return MonthDue(amount, "extension") if amount > ZERO else None
    return MonthDue(regular, "dibao") if regular > ZERO else None
