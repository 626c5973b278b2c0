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
from datetime import date, timedelta
from decimal import Decimal

from shared.allowance import allowance_on
from shared.events import AllowanceStep
from shared.money import ZERO, to_fen
from shared.periods import Period, add_months, month_of, parse_month


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


def below_standard(standard: Decimal, members: int, monthly_income: Decimal) -> bool:
    """The means test: a household is eligible while its income is below the standard for all its members."""

    return monthly_income < standard * members


def extension_months(employed_on: date, months: int) -> tuple[Period, Period]:
    """延发三个月: from the month the member starts work, ``months`` months (policy: "runs from the month a
    member starts work")."""

    first = month_of(employed_on)
    return first, add_months(first, months - 1)


def allowance_before(schedule: Sequence[AllowanceStep], enrolled_on: date, employed_on: date) -> Decimal:
    """The allowance in force before the job: on the day before it started (or on enrolment, if that was later)."""

    return allowance_on(schedule, max(enrolled_on, employed_on - timedelta(days=1)))


def exit_after_income_rise(effective_on: date, extensions: Sequence[tuple[str, str]]) -> date:
    """A change that lifts income to the line ends dibao at the end of that month, or after a running extension
    ((first, last) months) ends, whichever is later: the first day out."""

    last = month_of(effective_on)
    for _first, final in extensions:
        if final > last.label:
            last = parse_month(final)
    return add_months(last, 1).start


def months_to_settle(enrolled_on: date, through: Period, last_relevant: Period | None, after: str = "") -> list[Period]:
    """The months a settlement through ``through`` looks at: from the month of enrolment (or the month after
    ``after``, the last one already settled) to ``through``, but not past the last month that can hold money
    (the last month in dibao, of an extension or of a line)."""

    end = through if last_relevant is None or last_relevant.start > through.start else last_relevant
    month = month_of(enrolled_on)
    if after >= month.label:
        month = add_months(parse_month(after), 1)
    months = []
    while month.start <= end.start:
        months.append(month)
        month = add_months(month, 1)
    return months
