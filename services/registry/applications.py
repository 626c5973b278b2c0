"""Applications (低保申请): a household applies; the street office visits and verifies its income; the list is
posted publicly (张榜公示) and objections are heard; then the application is approved — the household enrolled
from the day it applied, through the register's one enrolment path — or refused, in writing either way.

The procedure is the pure state machine :func:`services.registry.rules.advance`; this module loads and stores
its state. Every step locks the application's row, so two steps on one application queue, and an approved
application's household has the application's id, so it cannot be enrolled twice. Each step's changes are in the
audit trail (the request's unit of work audits every row it flushes). Flush, never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import notices, rules, service
from services.registry.models import Application, ApplicationObjection
from services.registry.parameters import DECISION_DAYS, INVESTIGATION_DAYS, NOTICE_START_DAYS, PUBLIC_NOTICE_DAYS
from services.registry.schemas import (
    ApplicationIn,
    ApplicationOut,
    DecisionIn,
    HouseholdIn,
    HouseholdOut,
    InvestigationIn,
    InvestigationOut,
    MemberOut,
    NoticeIn,
    NoticePeriodOut,
    ObjectionDecisionIn,
    ObjectionIn,
    ObjectionOut,
)
from shared.allowance import allowance_on
from shared.divisions import division_name
from shared.errors import Conflict, DomainError, NotFound, Unprocessable
from shared.events import ApplicationProgressed
from shared.parameters import ParameterBook, ParameterSpec
from shared.periods import city_today
from shared.resident_id import parse_resident_id
from shared.unit_of_work import UnitOfWork

LIMITS: dict[rules.ApplicationStep, ParameterSpec] = {
    "investigation": INVESTIGATION_DAYS,
    "public_notice": NOTICE_START_DAYS,
    "decision": DECISION_DAYS,
}


# ---- the state ------------------------------------------------------------------------------------------------


def state_of(application: Application) -> rules.ApplicationState:
    return rules.ApplicationState(
        applied_on=application.applied_on,
        status=application.status,
        investigated_on=application.visited_on,
        notice_round=application.notice_round,
        notice_from=application.notice_from,
        notice_until=application.notice_until,
        objections=tuple(
            rules.Objection(o.received_on, o.notice_round, o.status, o.decided_on) for o in application.objections
        ),
        decided_on=application.decided_on,
    )


def _problem(refused: rules.StepRefused) -> DomainError:
    kind = {404: NotFound, 422: Unprocessable}.get(refused.status, Conflict)
    return kind(refused.code, refused.detail)


def next_state(application: Application, step: rules.Step) -> rules.ApplicationState:
    """The application's state after ``step``; the procedure's refusal as a 4xx."""

    try:
        return rules.advance(state_of(application), step)
    except rules.StepRefused as refused:
        raise _problem(refused) from None


def advance(application: Application, step: rules.Step) -> rules.ApplicationState:
    """The application's next state after ``step``, stored on the row."""

    state = next_state(application, step)
    store(application, state)
    return state


def store(application: Application, state: rules.ApplicationState) -> None:
    application.status = state.status
    application.notice_round = state.notice_round
    application.notice_from, application.notice_until = state.notice_from, state.notice_until
    application.decided_on = state.decided_on
    application.updated_at = datetime.now(UTC)


async def locked(session: AsyncSession, application_id: str) -> Application:
    application = (
        await session.scalars(select(Application).where(Application.id == application_id).with_for_update())
    ).one_or_none()
    if application is None:
        raise NotFound("application_not_found", f"no application with id {application_id}")
    return application


async def get(session: AsyncSession, application_id: str) -> Application:
    application = await session.get(Application, application_id)
    if application is None:
        raise NotFound("application_not_found", f"no application with id {application_id}")
    return application


async def limits(session: AsyncSession) -> ParameterBook:
    return await ParameterBook.load(session, LIMITS.values())


def due_on(application: Application, book: ParameterBook) -> date | None:
    return rules.due_on(state_of(application), lambda step, since: int(book.get(LIMITS[step], since)))


def to_out(application: Application, book: ParameterBook, today: date | None = None) -> ApplicationOut:
    today = today or city_today()
    household = application.household
    awaited = rules.awaited_step(state_of(application))
    due = due_on(application, book)
    investigation = None
    if application.visited_on is not None:
        assert application.verified_income is not None and application.verified_area_m2 is not None
        investigation = InvestigationOut(
            visited_on=application.visited_on,
            verified_income=application.verified_income,
            verified_area_m2=application.verified_area_m2,
            notes=application.investigation_notes,
        )
    notice = None
    if application.notice_from is not None and application.notice_until is not None:
        notice = NoticePeriodOut(
            start=application.notice_from,
            last_day=application.notice_until - timedelta(days=1),
            round=application.notice_round,
        )
    return ApplicationOut(
        id=application.id,
        status=application.status,
        division_code=application.division_code,
        division_name=division_name(application.division_code),
        address=household["address"],
        heating=household["heating"],
        housing_area_m2=household["housing_area_m2"],
        monthly_income=household["monthly_income"],
        members=[_member_out(member) for member in household["members"]],
        applied_on=application.applied_on,
        investigation=investigation,
        notice=notice,
        objections=[ObjectionOut.model_validate(o, from_attributes=True) for o in application.objections],
        decided_on=application.decided_on,
        decision_reason=application.decision_reason,
        household_id=application.household_id,
        awaiting=awaited[0] if awaited else None,
        due_on=due,
        overdue=due is not None and today > due,
        created_at=application.created_at,
        updated_at=application.updated_at,
    )


def _member_out(member: dict[str, object]) -> MemberOut:
    identity = parse_resident_id(str(member["resident_id"]))
    return MemberOut.model_validate({**member, "sex": identity.sex, "birth_date": identity.birth_date})


async def _reloaded(uow: UnitOfWork, application: Application) -> Application:
    """The application after a step, its objections read again, and where it now stands announced."""

    await uow.session.flush()
    await uow.session.refresh(application, ["objections"])
    await announce(uow, application)
    return application


async def announce(uow: UnitOfWork, application: Application) -> None:
    """Where the application stands, for the office's assessment (registry.procedure)."""

    awaited = rules.awaited_step(state_of(application))
    await service.outbox.stage(
        uow,
        ApplicationProgressed(
            household_id=application.id,
            division_code=application.division_code,
            status=application.status,
            applied_on=application.applied_on,
            decided_on=application.decided_on,
            awaiting=awaited[0] if awaited else None,
            due_on=due_on(application, await limits(uow.session)),
        ),
    )


# ---- the steps ------------------------------------------------------------------------------------------------


async def submit(uow: UnitOfWork, body: ApplicationIn) -> Application:
    """A household applies. Someone in a dibao household on the day of application cannot apply again (the same
    test as enrolment's: 409 person_in_active_household)."""

    session = uow.session
    numbers = [member.resident_id for member in body.members]
    held = await service._memberships(session, numbers)
    clashes = [number for number in numbers if service._claim(held.get(number, ()), body.applied_on)[1]]
    if clashes:
        raise service._person_conflict(clashes)
    now = datetime.now(UTC)
    application = Application(
        id=str(uuid.uuid4()),
        status="submitted",
        division_code=body.division_code,
        applied_on=body.applied_on,
        household=body.model_dump(mode="json", exclude={"applied_on"}),
        notice_round=0,
        created_at=now,
        updated_at=now,
    )
    session.add(application)
    return await _reloaded(uow, application)


async def investigate(uow: UnitOfWork, application_id: str, body: InvestigationIn) -> Application:
    application = await locked(uow.session, application_id)
    advance(application, rules.Investigate(body.visited_on))
    application.visited_on = body.visited_on
    application.verified_income = body.verified_income
    application.verified_area_m2 = body.verified_area_m2
    application.investigation_notes = body.notes
    return await _reloaded(uow, application)


async def post_notice(uow: UnitOfWork, application_id: str, body: NoticeIn) -> Application:
    """The list is posted from ``body.start`` for the days the parameter in force that day gives."""

    session = uow.session
    application = await locked(session, application_id)
    book = await ParameterBook.load(session, [PUBLIC_NOTICE_DAYS])
    advance(application, rules.PostNotice(body.start, int(book.get(PUBLIC_NOTICE_DAYS, body.start))))
    return await _reloaded(uow, application)


async def record_objection(uow: UnitOfWork, application_id: str, body: ObjectionIn) -> Application:
    session = uow.session
    application = await locked(session, application_id)
    number = len(application.objections) + 1
    state = advance(application, rules.Object(body.received_on))
    session.add(
        ApplicationObjection(
            application_id=application.id,
            number=number,
            notice_round=state.notice_round,
            received_on=body.received_on,
            objector=body.objector,
            grounds=body.grounds,
            status="pending",
        )
    )
    return await _reloaded(uow, application)


async def decide_objection(
    uow: UnitOfWork, application_id: str, number: int, body: ObjectionDecisionIn, today: date | None = None
) -> Application:
    session = uow.session
    application = await locked(session, application_id)
    on = body.decided_on or today or city_today()
    state = advance(application, rules.DecideObjection(number, body.outcome == "upheld", on))
    objection = application.objections[number - 1]
    objection.status = state.objections[number - 1].status
    objection.decided_on, objection.decision_reason = on, body.reason
    return await _reloaded(uow, application)


async def decide(uow: UnitOfWork, application_id: str, body: DecisionIn, today: date | None = None) -> Application:
    """Approve (the household enrolled from the day it applied; its arrears paid by the next run) or refuse; a
    written notice either way."""

    session = uow.session
    today = today or city_today()
    application = await locked(session, application_id)
    on = body.decided_on or today
    state = next_state(application, rules.Decide(body.decision == "approve", on))
    application.decision_reason = body.reason
    if body.decision == "approve":
        dismissed = any(o.status == "dismissed" for o in state.current_objections)
        await approve(uow, application, state, body.reason, today, objections_dismissed=dismissed)
    else:
        store(application, state)
        await session.flush()
        days = await notices.filing_days(session, today)
        await notices.issue(
            uow,
            kind="refusal",
            household_id=application.id,
            division_code=application.division_code,
            to=addressee(application),
            text=notices.refusal_text(application.division_code, application.applied_on, body.reason, days),
            issued_on=today,
            application_id=application.id,
        )
    return await _reloaded(uow, application)


def addressee(application: Application) -> notices.Addressee:
    return notices.head_of(application.household["members"], application.household["address"])


def household_body(application: Application) -> HouseholdIn:
    """What the household is enrolled with: as it applied, with the income and area the investigation verified."""

    facts = dict(application.household)
    if application.verified_income is not None:
        facts["monthly_income"] = str(application.verified_income)
    if application.verified_area_m2 is not None:
        facts["housing_area_m2"] = str(application.verified_area_m2)
    return HouseholdIn.model_validate({**facts, "enrolled_on": application.applied_on.isoformat()})


async def approve(
    uow: UnitOfWork,
    application: Application,
    approved: rules.ApplicationState,
    reason: str,
    today: date,
    *,
    objections_dismissed: bool = False,
    on_appeal: bool = False,
) -> HouseholdOut:
    """Enrol the applicant household from the day it applied, under the application's id, record the approval
    (``approved``, the state the procedure allowed) and say so in writing. The row changes only once the
    household exists: approved and enrolled are one fact (a constraint)."""

    enrolled = await service.enrol(uow, household_body(application), today, household_id=application.id)
    store(application, approved)
    application.household_id = enrolled.id
    await uow.session.flush()
    steps = [(application.applied_on, allowance_on(enrolled.allowance_schedule, application.applied_on))]
    steps += [
        (s.effective_from, s.amount) for s in enrolled.allowance_schedule if s.effective_from > application.applied_on
    ]
    facts = notices.Approval(
        applied_on=application.applied_on,
        visited_on=application.visited_on,
        notice_from=application.notice_from,
        notice_last_day=application.notice_until - timedelta(days=1) if application.notice_until else None,
        objections_dismissed=objections_dismissed,
        members=len(enrolled.members),
        monthly_income=enrolled.monthly_income,
        allowance=steps,
        reason=reason,
        on_appeal=on_appeal,
    )
    days = await notices.filing_days(uow.session, today)
    await notices.issue(
        uow,
        kind="approval",
        household_id=enrolled.id,
        division_code=application.division_code,
        to=addressee(application),
        text=notices.approval_text(application.division_code, facts, days),
        issued_on=today,
        application_id=application.id,
    )
    return enrolled


# ---- reading --------------------------------------------------------------------------------------------------


async def overdue(
    session: AsyncSession, book: ParameterBook, division_code: str | None, today: date
) -> list[Application]:
    """Open applications whose awaited step is past its time limit, the most overdue first."""

    query = select(Application).where(Application.status.in_(rules.OPEN_STATUSES))
    if division_code:
        query = query.where(Application.division_code == division_code)
    late = []
    for application in (await session.scalars(query)).all():
        due = due_on(application, book)
        if due is not None and today > due:
            late.append((due, application.id, application))
    return [application for _, _, application in sorted(late, key=lambda item: (item[0], item[1]))]


async def listing(
    session: AsyncSession,
    book: ParameterBook,
    *,
    status: str | None,
    division_code: str | None,
    only_overdue: bool,
    page: int,
    size: int,
    today: date,
) -> tuple[Sequence[Application], int, int]:
    """(a page of applications, how many match, how many of the open ones are overdue)."""

    late = await overdue(session, book, division_code, today)
    if only_overdue:
        matching = [a for a in late if status is None or a.status == status]
        return matching[(page - 1) * size : page * size], len(matching), len(late)
    conditions = []
    if status:
        conditions.append(Application.status == status)
    if division_code:
        conditions.append(Application.division_code == division_code)
    total = await session.scalar(select(func.count()).select_from(Application).where(*conditions))
    rows = (
        await session.scalars(
            select(Application)
            .where(*conditions)
            .order_by(Application.applied_on, Application.id)
            .offset((page - 1) * size)
            .limit(size)
        )
    ).all()
    return rows, int(total or 0), len(late)
