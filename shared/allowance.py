"""Reading a household's dibao allowance schedule (carried by the registry's household events).

A month is governed by the values in force on its first day, or on the enrolment day for the month
a household is enrolled in; the registry pays by this rule and the bureaus that depend on the
allowance (the +20% heating supplement) read it the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from shared.events import AllowanceStep
from shared.money import ZERO
from shared.periods import Period


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
