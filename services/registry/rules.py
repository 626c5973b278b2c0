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
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

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


# ---- the application procedure (申请 → 入户调查 → 张榜公示 → 审批) -------------------------------------------
#
# A pure state machine: :func:`advance` takes an application's state and one step and returns the new state, or
# raises :class:`StepRefused` with the stable code the API answers. The service stores the state; nothing here
# reads a clock or a database.

ApplicationStatus = Literal["submitted", "investigated", "noticed", "approved", "refused"]
ObjectionStatus = Literal["pending", "upheld", "dismissed"]
OPEN_STATUSES: tuple[ApplicationStatus, ...] = ("submitted", "investigated", "noticed")
DECIDED_STATUSES: tuple[ApplicationStatus, ...] = ("approved", "refused")


class StepRefused(Exception):
    """A step the procedure does not allow now (409) or whose date cannot be (422)."""

    def __init__(self, code: str, detail: str, status: int = 409) -> None:
        super().__init__(detail)
        self.code, self.detail, self.status = code, detail, status


@dataclass(frozen=True, slots=True)
class Objection:
    """An objection to a posted list (公示异议), raised during the ``notice_round``-th notice."""

    received_on: date
    notice_round: int
    status: ObjectionStatus = "pending"
    decided_on: date | None = None


@dataclass(frozen=True, slots=True)
class ApplicationState:
    applied_on: date
    status: ApplicationStatus = "submitted"
    investigated_on: date | None = None
    notice_round: int = 0  # how many times the list has been posted (a new investigation after an upheld objection)
    notice_from: date | None = None
    notice_until: date | None = None  # the first day after the notice
    objections: tuple[Objection, ...] = ()
    decided_on: date | None = None

    @property
    def current_objections(self) -> tuple[Objection, ...]:
        return tuple(o for o in self.objections if o.notice_round == self.notice_round and self.notice_round > 0)

    @property
    def last_step_on(self) -> date:
        days = [self.applied_on, self.investigated_on, self.notice_from, self.decided_on]
        days += [o.received_on for o in self.objections] + [o.decided_on for o in self.objections]
        return max(day for day in days if day is not None)


@dataclass(frozen=True, slots=True)
class Investigate:
    on: date


@dataclass(frozen=True, slots=True)
class PostNotice:
    start: date
    days: int


@dataclass(frozen=True, slots=True)
class Object:
    on: date


@dataclass(frozen=True, slots=True)
class DecideObjection:
    number: int  # from 1, in the order objections were recorded
    upheld: bool
    on: date


@dataclass(frozen=True, slots=True)
class Decide:
    approve: bool
    on: date


@dataclass(frozen=True, slots=True)
class ApproveOnAppeal:
    """An appeal against the refusal was upheld: the application is approved after all."""

    on: date


Step = Investigate | PostNotice | Object | DecideObjection | Decide | ApproveOnAppeal


def _not_before(day: date, earliest: date, what: str) -> None:
    if day < earliest:
        raise StepRefused(
            "date_before_previous_step",
            f"{what} on {day.isoformat()} is before the application's previous step ({earliest.isoformat()})",
            422,
        )


def _open(state: ApplicationState) -> None:
    if state.status in DECIDED_STATUSES:
        raise StepRefused("application_decided", f"the application was {state.status} on {state.decided_on}")


def advance(state: ApplicationState, step: Step) -> ApplicationState:
    """The application after ``step``; :class:`StepRefused` when the procedure does not allow it."""

    if isinstance(step, ApproveOnAppeal):
        if state.status != "refused":
            raise StepRefused("not_refused", "only a refused application can be approved on appeal")
        _not_before(step.on, state.last_step_on, "the appeal's decision")
        return replace(state, status="approved", decided_on=step.on)
    _open(state)
    if isinstance(step, Investigate):
        if state.status == "noticed" and not any(o.status == "upheld" for o in state.current_objections):
            raise StepRefused(
                "notice_running",
                "the list is posted: the household is investigated again only after an upheld objection",
            )
        _not_before(step.on, state.last_step_on, "the home visit")
        return replace(state, status="investigated", investigated_on=step.on, notice_from=None, notice_until=None)
    if isinstance(step, PostNotice):
        if state.status == "submitted":
            raise StepRefused("not_investigated", "the list is posted after the household has been investigated")
        if state.status == "noticed":
            raise StepRefused("notice_running", f"the list is already posted from {state.notice_from}")
        assert state.investigated_on is not None
        _not_before(step.start, state.last_step_on, "the public notice")
        if step.days < 1:
            raise ValueError("a notice lasts at least a day")
        return replace(
            state,
            status="noticed",
            notice_round=state.notice_round + 1,
            notice_from=step.start,
            notice_until=step.start + timedelta(days=step.days),
        )
    if isinstance(step, Object):
        if state.status != "noticed":
            raise StepRefused("notice_not_running", "objections are received while the list is posted")
        assert state.notice_from is not None and state.notice_until is not None
        if not state.notice_from <= step.on < state.notice_until:
            raise StepRefused(
                "objection_outside_notice",
                f"the list is posted from {state.notice_from} until {state.notice_until - timedelta(days=1)}",
                422,
            )
        return replace(state, objections=(*state.objections, Objection(step.on, state.notice_round)))
    if isinstance(step, DecideObjection):
        if not 1 <= step.number <= len(state.objections):
            raise StepRefused("objection_not_found", f"the application has no objection {step.number}", 404)
        objection = state.objections[step.number - 1]
        if objection.status != "pending":
            raise StepRefused("objection_decided", f"objection {step.number} was {objection.status}")
        _not_before(step.on, objection.received_on, "the decision on the objection")
        decided = replace(objection, status="upheld" if step.upheld else "dismissed", decided_on=step.on)
        objections = (*state.objections[: step.number - 1], decided, *state.objections[step.number :])
        return replace(state, objections=objections)
    # Decide
    _not_before(step.on, state.last_step_on, "the decision")
    if step.approve:
        if state.status != "noticed":
            raise StepRefused("notice_not_held", "an application is approved only after its public notice (公示)")
        assert state.notice_until is not None
        if step.on < state.notice_until:
            raise StepRefused(
                "notice_not_ended",
                f"the public notice runs until {state.notice_until - timedelta(days=1)}: approve from {state.notice_until}",
            )
        current = state.current_objections
        if any(o.status == "pending" for o in current):
            raise StepRefused("objection_pending", "decide every objection to the notice first")
        if any(o.status == "upheld" for o in current):
            raise StepRefused("objection_upheld", "an objection to the notice was upheld: investigate again, or refuse")
    return replace(state, status="approved" if step.approve else "refused", decided_on=step.on)


ApplicationStep = Literal["investigation", "public_notice", "decision"]


def awaited_step(state: ApplicationState) -> tuple[ApplicationStep, date] | None:
    """What the application waits for and since when (its time limit runs from that day); None once decided."""

    if state.status == "submitted":
        return "investigation", state.applied_on
    if state.status == "investigated":
        assert state.investigated_on is not None
        return "public_notice", state.investigated_on
    if state.status == "noticed":
        assert state.notice_until is not None
        return "decision", state.notice_until
    return None


def due_on(state: ApplicationState, limit_days: Callable[[ApplicationStep, date], int]) -> date | None:
    """The day by which the awaited step is due: its time limit (the value in force when the wait began) after
    the day the wait began; None once decided."""

    awaited = awaited_step(state)
    if awaited is None:
        return None
    step, since = awaited
    return since + timedelta(days=limit_days(step, since))


# ---- periodic reviews and appeals --------------------------------------------------------------------------


def add_months_to_day(day: date, months: int) -> date:
    """The same day ``months`` months on, or the month's last day when it is shorter (31 Jan + 1 → 28/29 Feb)."""

    month = add_months(month_of(day), months)
    return min(month.start + timedelta(days=day.day - 1), month.end)


def review_due_on(
    enrolled_on: date, last_reviewed_on: date | None, interval_months: Callable[[date], int], flagged_from: date | None
) -> date:
    """A household is reviewed every ``interval_months`` (as in force when the last review, or enrolment, was)
    after its last review or its enrolment — or sooner, from the day it was flagged for one (not reviewed since)."""

    base = last_reviewed_on or enrolled_on
    due = add_months_to_day(base, interval_months(base))
    if flagged_from is not None and (last_reviewed_on is None or last_reviewed_on < flagged_from):
        due = min(due, flagged_from)
    return due


def first_change(
    before: Sequence[AllowanceStep], after: Sequence[AllowanceStep]
) -> tuple[date, Decimal, Decimal] | None:
    """The first day the allowance differs between two schedules, with the amounts before and after; None when the
    two schedules pay the same every day (what a notice of a change of amount says)."""

    for day in sorted({step.effective_from for step in (*before, *after)}):
        old, new = allowance_on(before, day), allowance_on(after, day)
        if old != new:
            return day, old, new
    return None
