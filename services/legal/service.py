"""Legal aid use cases: eligibility from events, intake, assignment, progress, report."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.legal import rules
from services.legal.models import Case, CaseTransition, Lawyer
from services.legal.schemas import (
    CaseIn,
    CaseOut,
    CasePatch,
    DivisionReport,
    EligibilityOut,
    LawyerIn,
    LawyerOut,
    Report,
    TransitionOut,
)
from shared.divisions import division_name
from shared.errors import Conflict, NotFound, Unprocessable
from shared.grants import GrantLedger, grant_to_every_member
from shared.money import ZERO
from shared.outbox import Outbox
from shared.periods import Period, city_today
from shared.projection import (
    HouseholdDelta,
    ineligibility_reason,
    member_on,
    memberships,
)
from shared.unit_of_work import UnitOfWork

PROGRAMME = "legal_aid"
ledger = GrantLedger("legal", Outbox(producer="legal"))


async def apply_delta(uow: UnitOfWork, delta: HouseholdDelta) -> None:
    """Every dibao member may have free legal services from enrolment until exit; open cases go on."""

    await grant_to_every_member(uow, ledger, delta, PROGRAMME, "免费法律咨询、代写文书、刑事辩护、民事与行政代理")


async def eligibility(session: AsyncSession, resident_id: str, on: date) -> EligibilityOut:
    rows = await memberships(session, resident_id)
    current = next((row for row in rows if row.eligible_on(on)), None)
    if current is None:
        return EligibilityOut(resident_id=resident_id, on=on, eligible=False, reason=ineligibility_reason(rows, on))
    return EligibilityOut(
        resident_id=resident_id,
        on=on,
        eligible=True,
        household_id=current.household_id,
        since=current.eligible_from,
        until=current.eligible_until,
    )


# ---- lawyers ------------------------------------------------------------------------------------


def lawyer_out(lawyer: Lawyer) -> LawyerOut:
    return LawyerOut(
        id=str(lawyer.id),
        name=lawyer.name,
        firm=lawyer.firm,
        division_code=lawyer.division_code,
        kind=lawyer.kind,
        active=lawyer.active,
    )


async def register_lawyer(session: AsyncSession, body: LawyerIn) -> Lawyer:
    lawyer = Lawyer(**body.model_dump(), created_at=datetime.now(UTC))
    session.add(lawyer)
    await session.flush()
    return lawyer


async def get_lawyer(session: AsyncSession, lawyer_id: str | int) -> Lawyer:
    lawyer = await session.get(Lawyer, int(lawyer_id))
    if lawyer is None:
        raise NotFound("lawyer_not_found", f"no lawyer or legal-aid office with id {lawyer_id}")
    return lawyer


async def list_lawyers(session: AsyncSession, division_code: str | None, active: bool | None) -> list[Lawyer]:
    query = select(Lawyer).order_by(Lawyer.id)
    if division_code:
        query = query.where(Lawyer.division_code == division_code)
    if active is not None:
        query = query.where(Lawyer.active.is_(active))
    return list((await session.scalars(query)).all())


# ---- cases --------------------------------------------------------------------------------------


async def case_out(session: AsyncSession, case: Case) -> CaseOut:
    history = (
        await session.scalars(
            select(CaseTransition).where(CaseTransition.case_id == case.id).order_by(CaseTransition.id)
        )
    ).all()
    return CaseOut(
        id=str(case.id),
        resident_id=case.resident_id,
        household_id=case.household_id,
        division_code=case.division_code,
        kind=case.kind,
        summary=case.summary,
        status=case.status,
        lawyer_id=str(case.lawyer_id) if case.lawyer_id else None,
        outcome=case.outcome,
        fee=case.fee,
        intake_on=case.intake_on,
        received_at=case.received_at,
        assigned_at=case.assigned_at,
        started_at=case.started_at,
        closed_at=case.closed_at,
        next_statuses=rules.allowed_next(case.status),
        history=[
            TransitionOut(
                from_status=t.from_status,
                to_status=t.to_status,
                lawyer_id=str(t.lawyer_id) if t.lawyer_id else None,
                note=t.note,
                at=t.at,
            )
            for t in history
        ],
    )


async def open_case(session: AsyncSession, body: CaseIn, today: date | None = None) -> Case:
    intake_on = today or city_today()
    membership = await member_on(session, body.resident_id, intake_on)
    if membership is None:
        reason = ineligibility_reason(await memberships(session, body.resident_id), intake_on)
        raise Unprocessable("not_eligible", f"free legal aid is for dibao members; on {intake_on}: {reason}")
    now = datetime.now(UTC)
    case = Case(
        resident_id=body.resident_id,
        household_id=membership.household_id,
        division_code=membership.division_code,
        kind=body.kind,
        summary=body.summary,
        status="received",
        fee=ZERO,
        intake_on=intake_on,
        received_at=now,
    )
    session.add(case)
    await session.flush()
    session.add(CaseTransition(case_id=case.id, from_status=None, to_status="received", at=now))
    await session.flush()
    return case


async def get_case(session: AsyncSession, case_id: str | int) -> Case:
    case = await session.get(Case, int(case_id))
    if case is None:
        raise NotFound("case_not_found", f"no case with id {case_id}")
    return case


async def move_case(session: AsyncSession, case_id: str | int, patch: CasePatch) -> Case:
    """A case already open stays served after the household exits: no eligibility check here."""

    case = await get_case(session, case_id)
    if not rules.can_move(case.status, patch.status):
        raise Conflict(
            "invalid_transition",
            f"a {case.status} case cannot become {patch.status}; "
            f"allowed: {', '.join(rules.allowed_next(case.status)) or 'none'}",
        )
    now = datetime.now(UTC)
    if patch.status == "assigned":
        if patch.lawyer_id is None:
            raise Unprocessable("lawyer_required", "assigning a case needs lawyer_id")
        lawyer = await get_lawyer(session, patch.lawyer_id)
        if not lawyer.active:
            raise Unprocessable("lawyer_inactive", f"lawyer {lawyer.id} is not active")
        case.lawyer_id, case.assigned_at = lawyer.id, case.assigned_at or now
    elif patch.status == "in_progress":
        case.started_at = now
    elif patch.status == "closed":
        if not patch.outcome:
            raise Unprocessable("outcome_required", "closing a case needs its outcome")
        case.outcome, case.closed_at = patch.outcome, now
    session.add(
        CaseTransition(
            case_id=case.id,
            from_status=case.status,
            to_status=patch.status,
            lawyer_id=case.lawyer_id if patch.status == "assigned" else None,
            note=patch.note,
            at=now,
        )
    )
    case.status = patch.status
    await session.flush()
    return case


async def list_cases(
    session: AsyncSession, *, status: str | None, kind: str | None, resident_id: str | None, lawyer_id: str | None
) -> list[Case]:
    query = select(Case)
    if status:
        query = query.where(Case.status == status)
    if kind:
        query = query.where(Case.kind == kind)
    if resident_id:
        query = query.where(Case.resident_id == resident_id)
    if lawyer_id:
        query = query.where(Case.lawyer_id == int(lawyer_id))
    return list((await session.scalars(query.order_by(Case.id).limit(1000))).all())


async def report(session: AsyncSession, period: Period) -> Report:
    cases = (
        await session.scalars(select(Case).where(Case.intake_on >= period.start, Case.intake_on <= period.end))
    ).all()
    by_division: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        by_division[case.division_code].append(case)
    items = []
    for code in sorted(by_division):
        rows = by_division[code]
        waits = [(c.assigned_at - c.received_at).total_seconds() / 86400 for c in rows if c.assigned_at]
        items.append(
            DivisionReport(
                division_code=code,
                division_name=division_name(code),
                cases=len(rows),
                by_kind=dict(Counter(c.kind for c in rows)),
                by_status=dict(Counter(c.status for c in rows)),
                average_days_to_assignment=round(sum(waits) / len(waits), 2) if waits else None,
            )
        )
    return Report(period=period.label, divisions=items)
