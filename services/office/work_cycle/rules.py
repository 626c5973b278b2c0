"""The work cycle's rules, pure functions of data (no I/O): how a unit or a district is scored (考核), when a
finding or a task is overdue, when a monthly payment was on time and in full, which period a meeting reviews,
and who may be commended (表彰).

A score is the weighted mean of the criteria that apply, scaled to 100: each criterion is a share between 0 and
1 (or does not apply, and then neither its weight counts); the weights are parameters (.parameters). Shares are
exact fractions, so a score is never outside 0–100 by a rounding error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Literal, get_args

Criterion = Literal["coverage", "timeliness", "unserved", "findings", "payments"]
CRITERIA: tuple[Criterion, ...] = get_args(Criterion)
# What became of something due by a date: done in time, not (late, short, or still open past it), or not due yet.
Outcome = Literal["met", "missed", "pending"]
MeetingKind = Literal["half_year", "year_end", "ad_hoc"]

POINTS = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Measure:
    """One criterion of one unit or district: its share (``None``: it does not apply) and the figures behind it."""

    criterion: Criterion
    ratio: Fraction | None
    numerator: int | None = None
    denominator: int | None = None
    value: float | None = None
    target: float | None = None


def share(numerator: int, denominator: int) -> Fraction | None:
    """``numerator`` of ``denominator`` as an exact fraction; None when there is nothing to count."""

    if denominator <= 0:
        return None
    if not 0 <= numerator <= denominator:
        raise ValueError(f"{numerator} of {denominator} is not a share")
    return Fraction(numerator, denominator)


def coverage(granted: int, eligible: int) -> Measure:
    """应保尽保: households granted of the households the plan entitles."""

    return Measure("coverage", share(granted, eligible), granted, eligible)


def unserved(left_unserved: int, eligible: int) -> Measure:
    """The share of eligible households *not* on the unserved list (waiting beyond ``unserved_after_days``)."""

    left = share(min(left_unserved, eligible), eligible)
    return Measure("unserved", None if left is None else 1 - left, left_unserved, eligible)


def timeliness_ratio(p90_days: float | None, target_days: int) -> Fraction | None:
    """Full marks when 90 % of grants came within the target; beyond it, the share of the target the 90th
    percentile keeps to (twice the target: half marks). None when nothing was granted."""

    if p90_days is None:
        return None
    if p90_days < 0 or target_days < 0:
        raise ValueError("days cannot be negative")
    p90 = Fraction(p90_days)
    return Fraction(1) if p90 <= target_days else Fraction(target_days) / p90


def timeliness(p90_days: float | None, target_days: int, granted: int) -> Measure:
    return Measure("timeliness", timeliness_ratio(p90_days, target_days), granted, None, p90_days, float(target_days))


def pooled(criterion: Criterion, parts: Iterable[tuple[Fraction | None, int]]) -> Measure:
    """Several measures of one criterion as one (a district's bureaus): their mean weighted by how many each
    counted; parts that do not apply or counted nothing are left out."""

    counted = [(ratio, count) for ratio, count in parts if ratio is not None and count > 0]
    total = sum(count for _, count in counted)
    if not total:
        return Measure(criterion, None, None, 0)
    return Measure(criterion, sum((ratio * count for ratio, count in counted), Fraction(0)) / total, None, total)


def outcomes(criterion: Criterion, met: int, missed: int) -> Measure:
    """Findings resolved on time, or payments on time and in full: met of met + missed (pending ones wait)."""

    return Measure(criterion, share(met, met + missed), met, met + missed)


def score(measures: Iterable[Measure], weights: Mapping[str, Decimal]) -> Decimal | None:
    """The weighted mean of the criteria that apply, out of 100 (to 0.01); None when none applies with a weight."""

    total = Fraction(0)
    weighted = Fraction(0)
    for measure in measures:
        weight = weights[measure.criterion]
        if weight < 0:
            raise ValueError(f"the weight of {measure.criterion} is negative")
        if measure.ratio is None or weight == 0:
            continue
        if not 0 <= measure.ratio <= 1:
            raise ValueError(f"{measure.criterion}: {measure.ratio} is not a share")
        total += Fraction(weight)
        weighted += Fraction(weight) * measure.ratio
    if not total:
        return None
    points = weighted / total * 100
    return (Decimal(points.numerator) / Decimal(points.denominator)).quantize(POINTS, ROUND_HALF_UP)


# ---- findings and tasks -----------------------------------------------------------------------------


def overdue(status: str, due_on: date, today: date) -> bool:
    """Still open after the day it was due (a finding ``open``, a decision ``open``)."""

    return status == "open" and due_on < today


def resolution(due_on: date, resolved_on: date | None, today: date) -> Outcome:
    """A finding (or task) due on ``due_on``: resolved by then, not (late, or still open after it), or not due yet."""

    if resolved_on is not None:
        return "met" if resolved_on <= due_on else "missed"
    return "missed" if due_on < today else "pending"


@dataclass(frozen=True, slots=True)
class FollowUp:
    """Where a task or a finding stands: ``open`` or closed (``done``, ``resolved``) on a day, due by a day."""

    status: str
    closed_on: date | None
    due_on: date


FollowUpRefusal = Literal["due_before_start", "day_without_closing", "closed_before_start"]


class FollowUpRefused(ValueError):
    def __init__(self, reason: FollowUpRefusal, message: str) -> None:
        super().__init__(message)
        self.reason: FollowUpRefusal = reason


def follow_up(
    current: FollowUp,
    *,
    closed: str,
    started_on: date,
    today: date,
    status: str | None = None,
    closed_on: date | None = None,
    due_on: date | None = None,
) -> FollowUp:
    """A change to a task (closed: ``done``) or a finding (closed: ``resolved``) that began on ``started_on``
    (its meeting, its inspection): closing keeps the day (today unless given), reopening forgets it; no day
    before the start, and a closing day only with closing."""

    if due_on is not None and due_on < started_on:
        raise FollowUpRefused("due_before_start", f"{due_on} is before {started_on}")
    new_status = status or current.status
    if closed_on is not None and new_status != closed:
        raise FollowUpRefused("day_without_closing", f'the day goes with "status": "{closed}"')
    day = current.closed_on if new_status == closed else None
    if new_status == closed and (status == closed or closed_on is not None):
        day = closed_on or current.closed_on or today
        if day < started_on:
            raise FollowUpRefused("closed_before_start", f"{day} is before {started_on}")
    return FollowUp(new_status, day, due_on or current.due_on)


# ---- payments: 及时、足额 -------------------------------------------------------------------------------


def payment_deadline(month_end: date, recorded_on: date, grace_days: int) -> date:
    """A month's payment is due by the end of the month, or — for a household the office heard of later (a
    back-dated enrolment) — by the day it heard, plus the grace days."""

    return max(month_end, recorded_on) + timedelta(days=grace_days)


def month_payment(due: Decimal, payments: Sequence[tuple[date, Decimal]], deadline: date, today: date) -> Outcome:
    """A month of dibao owed ``due``: paid in full by the deadline, or not (short or late, once it has passed)."""

    paid = sum((amount for paid_on, amount in payments if paid_on <= deadline), Decimal(0))
    if paid >= due:
        return "met"
    return "missed" if deadline < today else "pending"


def paid_on_time(first_paid_on: date, deadline: date) -> Outcome:
    """A bureau's monthly payment the office saw (what it was due is the bureau's rule, not the office's)."""

    return "met" if first_paid_on <= deadline else "missed"


# ---- meetings and commendations -----------------------------------------------------------------------

_HALF = re.compile(r"^[0-9]{4}-H[12]$")
_YEAR = re.compile(r"^[0-9]{4}$")


class PeriodKindMismatch(ValueError):
    pass


def half_year_of(day: date) -> str:
    return f"{day.year:04d}-H{1 if day.month <= 6 else 2}"


def meeting_period(kind: MeetingKind, held_on: date, given: str | None = None) -> str:
    """The period a meeting reviews: the one named, else the last one of its kind to end — the half-year just
    ended (the one it is held in, when held in its last month: June, December), the year just ended (the one it
    is held in, when held in December) — and for an ad hoc meeting the half-year it is held in. A half-yearly
    meeting reviews a half-year, a year-end one a year."""

    if given is None:
        if kind == "year_end":
            return f"{held_on.year if held_on.month == 12 else held_on.year - 1:04d}"
        if kind == "half_year" and held_on.month not in (6, 12):
            return f"{held_on.year - 1:04d}-H2" if held_on.month < 6 else f"{held_on.year:04d}-H1"
        return half_year_of(held_on)
    if kind == "half_year" and not _HALF.match(given):
        raise PeriodKindMismatch(f"a half-yearly meeting reviews a half-year (YYYY-H1 or YYYY-H2), not {given}")
    if kind == "year_end" and not _YEAR.match(given):
        raise PeriodKindMismatch(f"a year-end meeting reviews a year (YYYY), not {given}")
    return given


def is_assessment_period(label: str) -> bool:
    """Units and districts are assessed, and commended, for a half-year or a year (四、(一): 每半年和年终)."""

    return bool(_HALF.match(label) or _YEAR.match(label))


CommendationRefusal = Literal["score_not_computed", "score_below_threshold"]


def commendation_refusal(score_points: Decimal | None, threshold: Decimal) -> CommendationRefusal | None:
    """Why a unit or district with this score cannot be commended (None: it can)."""

    if score_points is None:
        return "score_not_computed"
    if score_points < threshold:
        return "score_below_threshold"
    return None
