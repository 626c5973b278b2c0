"""Civil Affairs' policy rules, pure functions of data and dates (no I/O).

The dibao top-up (补差): the household receives the difference between the local standard for all
its members and its own monthly income — ``max(0, standard × members − income)`` — on household
totals, to the fen.

A month is governed by the values in force on its first day, or on the enrolment day for the month
a household is enrolled in: a change from mid-month takes effect the month after
(:mod:`shared.allowance`, which the bureaus read the schedule with too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from shared.events import AllowanceStep
from shared.money import ZERO, to_fen
from shared.periods import Period, add_months, month_of


def dibao_top_up(standard: Decimal, members: int, monthly_income: Decimal) -> Decimal:
    """补差: what dibao adds to bring the household up to the standard for all its members."""

    if members < 1:
        raise ValueError("a household has at least one member")
    return to_fen(max(ZERO, standard * members - monthly_income))


@dataclass(frozen=True, slots=True)
class Revision:
    """What the allowance depends on, from ``effective_on`` on."""

    effective_on: date
    member_count: int
    monthly_income: Decimal


def revision_on(revisions: Sequence[Revision], day: date) -> Revision | None:
    best = None
    for revision in revisions:
        if revision.effective_on <= day and (best is None or revision.effective_on >= best.effective_on):
            best = revision
    return best


def allowance_schedule(
    enrolled_on: date,
    revisions: Sequence[Revision],
    standard_on: Callable[[date], Decimal],
    standard_changes: Iterable[date],
) -> list[AllowanceStep]:
    """Every change of the monthly allowance from enrolment on, from income/member revisions and
    from changes of the standard (including ones already set for a future date)."""

    days = {enrolled_on}
    days.update(r.effective_on for r in revisions if r.effective_on > enrolled_on)
    days.update(d for d in standard_changes if d > enrolled_on)
    steps: list[AllowanceStep] = []
    for day in sorted(days):
        revision = revision_on(revisions, day)
        if revision is None:
            continue
        amount = dibao_top_up(standard_on(day), revision.member_count, revision.monthly_income)
        if not steps or steps[-1].amount != amount:
            steps.append(AllowanceStep(effective_from=day, amount=amount))
    return steps


def active_in_month(enrolled_on: date, exited_on: date | None, month: Period) -> bool:
    """Enrolled by the month's end and not exited before it began (``exited_on`` is the first day out)."""

    return month.overlaps(enrolled_on, exited_on)


@dataclass(frozen=True, slots=True)
class ExtensionWindow:
    """延发三个月: the months after the month a member found work, paid at least the old allowance."""

    first: Period
    last: Period
    monthly_amount: Decimal

    def covers(self, month: Period) -> bool:
        return self.first.start <= month.start <= self.last.start


def extension_window(employed_on: date, months: int, allowance_before: Decimal) -> ExtensionWindow:
    employed_month = month_of(employed_on)
    return ExtensionWindow(add_months(employed_month, 1), add_months(employed_month, months), allowance_before)


@dataclass(frozen=True, slots=True)
class MonthlyPayment:
    amount: Decimal
    kind: str  # "dibao" | "extension"


def monthly_payment(regular: Decimal, extension: ExtensionWindow | None, month: Period) -> MonthlyPayment | None:
    """What a household is paid for ``month``; None when there is nothing to pay.

    During an employment extension the household keeps at least the allowance it had before the
    member found work, even if its income now exceeds the standard.
    """

    if extension is not None and extension.covers(month):
        amount = max(regular, extension.monthly_amount)
        return MonthlyPayment(amount, "extension") if amount > ZERO else None
    if regular > ZERO:
        return MonthlyPayment(regular, "dibao")
    return None
