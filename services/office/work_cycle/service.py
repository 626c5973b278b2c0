"""The work cycle's use cases: record and follow up joint meetings and inspections, commend, record the partner
organisations' activities. Flush, never commit (the request's unit of work commits, and audits every row)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.office.service import get_household, status_on
from services.office.work_cycle import rules, scores
from services.office.work_cycle.models import Commendation, Decision, Finding, Inspection, Meeting, PartnerActivity
from services.office.work_cycle.schemas import (
    CommendationIn,
    CommendationOut,
    CriterionOut,
    DecisionIn,
    DecisionOut,
    DecisionPatch,
    FindingIn,
    FindingOut,
    FindingPatch,
    InspectionIn,
    InspectionOut,
    MeetingIn,
    MeetingOut,
    PartnerActivityIn,
)
from services.office.work_cycle.units import DISABLED_PERSONS_FEDERATION, unit_name
from shared.divisions import division_name
from shared.errors import Conflict, NotFound, Unprocessable
from shared.periods import Period, city_today, parse_period
from shared.projection import DibaoMember, facts_on

LIST_LIMIT = 5000


def _no_repeats(units: Sequence[str], what: str) -> None:
    repeated = sorted({unit for unit in units if units.count(unit) > 1})
    if repeated:
        raise Unprocessable("duplicate_unit", f"{what} names {', '.join(repeated)} more than once")


# A meeting's decisions and an inspection's findings: tasks numbered from 1 within their parent, followed up the
# same way (closed with a day, reopened, given a new due day, a free text), each kind with its own words.
Item = TypeVar("Item", Decision, Finding)


@dataclass(frozen=True, slots=True)
class Items(Generic[Item]):
    model: type[Item]
    parent: Any  # the column naming the parent (meeting, inspection)
    parent_name: str
    what: str  # decision | finding
    closed: str  # the status that closes one: done | resolved
    closed_day: str  # the column and patch field of the day it closed: done_on | resolved_on
    text: str  # the free text a follow-up may set: note | resolution
    # The follow-up's refusals, as this kind words them.
    refusals: dict[rules.FollowUpRefusal, str]

    def parent_id(self, item: Item) -> int:
        return int(getattr(item, self.parent.key))


DECISIONS = Items(
    Decision,
    Decision.meeting_id,
    "meeting",
    "decision",
    "done",
    "done_on",
    "note",
    {
        "due_before_start": "due_before_meeting",
        "day_without_closing": "done_on_without_done",
        "closed_before_start": "done_before_meeting",
    },
)
FINDINGS = Items(
    Finding,
    Finding.inspection_id,
    "inspection",
    "finding",
    "resolved",
    "resolved_on",
    "resolution",
    {
        "due_before_start": "due_before_inspection",
        "day_without_closing": "resolved_on_without_resolved",
        "closed_before_start": "resolved_before_inspection",
    },
)


async def _numbered(session: AsyncSession, items: Items[Item], parent_ids: list[int]) -> dict[int, list[Item]]:
    found: dict[int, list[Item]] = defaultdict(list)
    query = select(items.model).where(items.parent.in_(parent_ids)).order_by(items.parent, items.model.n)
    for item in await session.scalars(query):
        found[items.parent_id(item)].append(item)
    return found


async def _follow_up(
    session: AsyncSession,
    items: Items[Item],
    parent_id: int,
    started_on: date,
    n: int,
    body: DecisionPatch | FindingPatch,
) -> Item:
    """Follow up item ``n`` of a parent that began on ``started_on``; the row locked until the change is committed
    (two follow-ups of one item do not interleave)."""

    if not body.model_fields_set:
        raise Unprocessable("empty_change", "send at least one field to change")
    item = await session.scalar(
        select(items.model).where(items.parent == parent_id, items.model.n == n).with_for_update()
    )
    if item is None:
        raise NotFound(f"{items.what}_not_found", f"{items.parent_name} {parent_id} has no {items.what} {n}")
    try:
        changed = rules.follow_up(
            rules.FollowUp(item.status, getattr(item, items.closed_day), item.due_on),
            closed=items.closed,
            started_on=started_on,
            today=city_today(),
            status=body.status,
            closed_on=getattr(body, items.closed_day),
            due_on=body.due_on,
        )
    except rules.FollowUpRefused as exc:
        raise Unprocessable(items.refusals[exc.reason], str(exc)) from None
    item.status, item.due_on = changed.status, changed.due_on
    setattr(item, items.closed_day, changed.closed_on)
    if items.text in body.model_fields_set:
        setattr(item, items.text, getattr(body, items.text))
    item.updated_at = datetime.now(UTC)
    await session.flush()
    return item


def _due_after_start(items: Items[Item], tasks: Sequence[DecisionIn | FindingIn], started_on: date) -> None:
    for n, task in enumerate(tasks, start=1):
        if task.due_on < started_on:
            raise Unprocessable(
                f"due_before_{items.parent_name}",
                f"{items.what} {n} is due on {task.due_on}, before the {items.parent_name}",
            )


def _numbered_items(
    items: Items[Item], parent_id: int, tasks: Sequence[DecisionIn | FindingIn], now: datetime, **extra: Any
) -> list[Item]:
    return [
        items.model(
            **{items.parent.key: parent_id},
            n=n,
            description=task.description,
            unit=task.unit,
            due_on=task.due_on,
            status="open",
            updated_at=now,
            **extra,
        )
        for n, task in enumerate(tasks, start=1)
    ]


def _item_fields(item: Decision | Finding, today: date) -> dict[str, Any]:
    """What a decision's and a finding's answers share."""

    return {
        "n": item.n,
        "description": item.description,
        "unit": item.unit,
        "unit_name": unit_name(item.unit),
        "due_on": item.due_on,
        "status": item.status,
        "overdue": rules.overdue(item.status, item.due_on, today),
    }


# ---- joint meetings (联席会议) ----------------------------------------------------------------------


async def record_meeting(session: AsyncSession, body: MeetingIn) -> tuple[Meeting, list[Decision]]:
    _no_repeats(body.units, "the meeting")
    try:
        period = rules.meeting_period(body.kind, body.date, body.period)
    except rules.PeriodKindMismatch as exc:
        raise Unprocessable("period_kind_mismatch", str(exc)) from None
    if parse_period(period).start > body.date:
        raise Unprocessable("period_after_meeting", f"a meeting on {body.date} cannot review {period}, not begun then")
    _due_after_start(DECISIONS, body.decisions, body.date)
    now = datetime.now(UTC)
    meeting = Meeting(
        held_on=body.date, kind=body.kind, period=period, units=list(body.units), summary=body.summary, created_at=now
    )
    session.add(meeting)
    await session.flush()
    decisions = _numbered_items(DECISIONS, meeting.id, body.decisions, now)
    session.add_all(decisions)
    await session.flush()
    return meeting, decisions


async def get_meeting(session: AsyncSession, meeting_id: int) -> tuple[Meeting, list[Decision]]:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound("meeting_not_found", f"no joint meeting with id {meeting_id}")
    return meeting, (await _numbered(session, DECISIONS, [meeting.id]))[meeting.id]


async def list_meetings(
    session: AsyncSession, kind: str | None, held_in: Period | None, unit: str | None
) -> list[tuple[Meeting, list[Decision]]]:
    query = select(Meeting).order_by(Meeting.held_on.desc(), Meeting.id.desc())
    if kind:
        query = query.where(Meeting.kind == kind)
    if held_in:
        query = query.where(Meeting.held_on >= held_in.start, Meeting.held_on <= held_in.end)
    if unit:
        query = query.where(Meeting.id.in_(select(Decision.meeting_id).where(Decision.unit == unit)))
    meetings = list((await session.scalars(query.limit(LIST_LIMIT))).all())
    decisions = await _numbered(session, DECISIONS, [m.id for m in meetings])
    return [(m, decisions[m.id]) for m in meetings]


async def update_decision(session: AsyncSession, meeting_id: int, n: int, body: DecisionPatch) -> Decision:
    meeting, _ = await get_meeting(session, meeting_id)
    return await _follow_up(session, DECISIONS, meeting_id, meeting.held_on, n, body)


def decision_out(decision: Decision, today: date) -> DecisionOut:
    return DecisionOut.model_validate(
        {**_item_fields(decision, today), "done_on": decision.done_on, "note": decision.note}
    )


def meeting_out(meeting: Meeting, decisions: list[Decision], today: date | None = None) -> MeetingOut:
    today = today or city_today()
    return MeetingOut(
        id=str(meeting.id),
        date=meeting.held_on,
        kind=meeting.kind,  # type: ignore[arg-type]  # stored from MeetingKind
        period=meeting.period,
        units=meeting.units,  # type: ignore[arg-type]  # stored from MemberUnit
        summary=meeting.summary,
        decisions=[decision_out(d, today) for d in decisions],
    )


# ---- inspections (督导检查) -------------------------------------------------------------------------


async def record_inspection(session: AsyncSession, body: InspectionIn) -> tuple[Inspection, list[Finding]]:
    _no_repeats(body.units, "the inspection")
    _due_after_start(FINDINGS, body.findings, body.date)
    now = datetime.now(UTC)
    inspection = Inspection(
        division_code=body.division_code,
        inspected_on=body.date,
        units=list(body.units),
        summary=body.summary,
        created_at=now,
    )
    session.add(inspection)
    await session.flush()
    findings = _numbered_items(FINDINGS, inspection.id, body.findings, now, division_code=inspection.division_code)
    session.add_all(findings)
    await session.flush()
    return inspection, findings


async def get_inspection(session: AsyncSession, inspection_id: int) -> tuple[Inspection, list[Finding]]:
    inspection = await session.get(Inspection, inspection_id)
    if inspection is None:
        raise NotFound("inspection_not_found", f"no inspection with id {inspection_id}")
    return inspection, (await _numbered(session, FINDINGS, [inspection.id]))[inspection.id]


async def list_inspections(
    session: AsyncSession,
    division_code: str | None,
    unit: str | None,
    overdue_only: bool,
    held_in: Period | None,
    today: date | None = None,
) -> list[tuple[Inspection, list[Finding]]]:
    today = today or city_today()
    query = select(Inspection).order_by(Inspection.inspected_on.desc(), Inspection.id.desc())
    if division_code:
        query = query.where(Inspection.division_code == division_code)
    if held_in:
        query = query.where(Inspection.inspected_on >= held_in.start, Inspection.inspected_on <= held_in.end)
    finding_filter = []
    if unit:
        finding_filter.append(Finding.unit == unit)
    if overdue_only:
        finding_filter += [Finding.status == "open", Finding.due_on < today]
    if finding_filter:
        query = query.where(Inspection.id.in_(select(Finding.inspection_id).where(*finding_filter)))
    inspections = list((await session.scalars(query.limit(LIST_LIMIT))).all())
    findings = await _numbered(session, FINDINGS, [i.id for i in inspections])
    return [(i, findings[i.id]) for i in inspections]


async def update_finding(session: AsyncSession, inspection_id: int, n: int, body: FindingPatch) -> Finding:
    inspection, _ = await get_inspection(session, inspection_id)
    return await _follow_up(session, FINDINGS, inspection_id, inspection.inspected_on, n, body)


def finding_out(finding: Finding, today: date) -> FindingOut:
    return FindingOut.model_validate(
        {**_item_fields(finding, today), "resolved_on": finding.resolved_on, "resolution": finding.resolution}
    )


def inspection_out(inspection: Inspection, findings: list[Finding], today: date | None = None) -> InspectionOut:
    today = today or city_today()
    return InspectionOut(
        id=str(inspection.id),
        division_code=inspection.division_code,
        division_name=division_name(inspection.division_code),
        date=inspection.inspected_on,
        units=inspection.units,  # type: ignore[arg-type]  # stored from MemberUnit
        summary=inspection.summary,
        findings=[finding_out(f, today) for f in findings],
    )


# ---- commendations (表彰) ---------------------------------------------------------------------------


async def commend(session: AsyncSession, body: CommendationIn, today: date | None = None) -> Commendation:
    """Commend a unit or a district for a half-year or a year, with the score it has now; refused without a
    score, below ``commendation_min_score``, or a second time for the same period (409)."""

    today = today or city_today()
    if (body.unit is None) == (body.division_code is None):
        raise Unprocessable("unit_or_division_required", "name either a unit or a division_code, not both")
    if not rules.is_assessment_period(body.period):
        raise Unprocessable(
            "invalid_commendation_period", "units and districts are assessed for a half-year or a year (YYYY-H1, YYYY)"
        )
    period = parse_period(body.period)
    commended_on = body.commended_on or today
    if commended_on < period.start:
        raise Unprocessable("commended_before_period", f"{period.label} had not begun on {commended_on}")
    kind, subject = ("unit", body.unit) if body.unit is not None else ("division", body.division_code)
    assert subject is not None
    if await _commendation(session, period.label, kind, subject) is not None:
        raise Conflict("already_commended", f"{subject} was already commended for {period.label}")
    result = await scores.compute(session, period, today)
    row = next(
        (r for r in result.units if r.unit == subject)
        if kind == "unit"
        else (r for r in result.divisions if r.division_code == subject)
    )
    threshold = Decimal(result.commendation_min_score)
    points = None if row.score is None else Decimal(str(row.score))
    refusal = rules.commendation_refusal(points, threshold)
    if refusal == "score_not_computed":
        raise Unprocessable(refusal, f"{subject} has no score for {period.label}: no criterion applies to it")
    if refusal == "score_below_threshold":
        raise Unprocessable(refusal, f"{subject} scored {points} for {period.label}, below {threshold}")
    assert points is not None
    commendation = Commendation(
        period=period.label,
        subject_kind=kind,
        subject=subject,
        score=points,
        threshold=threshold,
        citation=body.citation,
        commended_on=commended_on,
        figures=[c.model_dump(mode="json") for c in row.criteria],
        created_at=datetime.now(UTC),
    )
    session.add(commendation)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("already_commended", f"{subject} was already commended for {period.label}") from None
    return commendation


async def _commendation(session: AsyncSession, period: str, kind: str, subject: str) -> Commendation | None:
    found: Commendation | None = await session.scalar(
        select(Commendation).where(
            Commendation.period == period, Commendation.subject_kind == kind, Commendation.subject == subject
        )
    )
    return found


async def list_commendations(
    session: AsyncSession, period: str | None, unit: str | None, division_code: str | None
) -> list[Commendation]:
    query = select(Commendation).order_by(Commendation.period.desc(), Commendation.score.desc(), Commendation.id)
    if period:
        query = query.where(Commendation.period == period)
    if unit:
        query = query.where(Commendation.subject_kind == "unit", Commendation.subject == unit)
    if division_code:
        query = query.where(Commendation.subject_kind == "division", Commendation.subject == division_code)
    return list((await session.scalars(query.limit(LIST_LIMIT))).all())


def commendation_out(commendation: Commendation) -> CommendationOut:
    is_unit = commendation.subject_kind == "unit"
    return CommendationOut(
        id=str(commendation.id),
        period=commendation.period,
        unit=commendation.subject if is_unit else None,  # type: ignore[arg-type]  # stored from MemberUnit
        division_code=None if is_unit else commendation.subject,
        name=unit_name(commendation.subject) if is_unit else division_name(commendation.subject),
        score=float(commendation.score),
        threshold=float(commendation.threshold),
        citation=commendation.citation,
        commended_on=commendation.commended_on,
        criteria=[CriterionOut.model_validate(c) for c in commendation.figures],
    )


# ---- partner organisations' activities (三、(二) 3–4) ---------------------------------------------------


async def record_partner_activity(session: AsyncSession, body: PartnerActivityIn) -> PartnerActivity:
    """An activity for a household in dibao on its date, or for a member of one; the disabled persons'
    federation serves a disabled member (市残联对享受城市低保待遇的残疾人提供优惠政策咨询和服务)."""

    if body.household_id is None and body.resident_id is None:
        raise Unprocessable("household_or_person_required", "name the household_id or the resident_id served")
    if body.organisation == DISABLED_PERSONS_FEDERATION and body.resident_id is None:
        raise Unprocessable("person_required", "the disabled persons' federation serves a person: send resident_id")
    resident_id = body.resident_id
    if resident_id is not None:
        household_id, disabled = await _membership(session, resident_id, body.household_id, body.date)
        if body.organisation == DISABLED_PERSONS_FEDERATION and not disabled:
            raise Unprocessable("person_not_disabled", "the disabled persons' federation serves disabled members")
    else:
        assert body.household_id is not None
        household_id = body.household_id
    household = await get_household(session, household_id)
    if household.enrolled_on > body.date or status_on(household, body.date) != "active":
        raise Unprocessable("not_in_dibao", f"household {household_id} was not in dibao on {body.date}")
    activity = PartnerActivity(
        organisation=body.organisation,
        kind=body.kind,
        held_on=body.date,
        household_id=household_id,
        resident_id=resident_id,
        division_code=facts_on(household, body.date)["division_code"],
        description=body.description,
        created_at=datetime.now(UTC),
    )
    session.add(activity)
    await session.flush()
    return activity


async def _membership(session: AsyncSession, resident_id: str, household_id: str | None, day: date) -> tuple[str, bool]:
    """The household the person was a dibao member of on ``day`` (the one named, if one is), and whether disabled."""

    rows = list(
        (
            await session.scalars(
                select(DibaoMember).where(DibaoMember.resident_id == resident_id).order_by(DibaoMember.id)
            )
        ).all()
    )
    if household_id is not None:
        await get_household(session, household_id)
        rows = [row for row in rows if row.household_id == household_id]
        if not rows:
            raise Unprocessable("person_not_in_household", f"the person is not a member of household {household_id}")
    if not rows:
        raise NotFound("person_not_found", "no dibao member with this resident ID is known to the office")
    on_day = [row for row in rows if row.eligible_on(day)]
    if not on_day:
        raise Unprocessable("not_in_dibao", f"the person was not a dibao member on {day}")
    row = on_day[-1]
    return row.household_id, bool(row.member.disabled)


async def list_partner_activities(
    session: AsyncSession,
    organisation: str | None,
    division_code: str | None,
    household_id: str | None,
    held_in: Period | None,
) -> list[PartnerActivity]:
    query = select(PartnerActivity).order_by(PartnerActivity.held_on.desc(), PartnerActivity.id.desc())
    if organisation:
        query = query.where(PartnerActivity.organisation == organisation)
    if division_code:
        query = query.where(PartnerActivity.division_code == division_code)
    if household_id:
        query = query.where(PartnerActivity.household_id == household_id)
    if held_in:
        query = query.where(PartnerActivity.held_on >= held_in.start, PartnerActivity.held_on <= held_in.end)
    return list((await session.scalars(query.limit(LIST_LIMIT))).all())
