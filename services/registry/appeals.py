"""Appeals (申诉): a household contests a refusal, its amount or its exit, within the days its written notice gives
(``appeal_filing_days``); Civil Affairs decides within ``appeal_decision_days``. An upheld appeal is applied through
the register's own paths, so the money follows by itself:

* a refusal: the application is approved after all, the household enrolled from the day it applied (the next run
  pays the arrears);
* an amount: the corrected facts apply from ``effective_on`` through the change path (the next run settles the
  difference against the ledger);
* an exit: the household is enrolled again from the day it left (a new household; the next run pays the months).

Every decision reaches the household in writing. Flush, never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import applications, notices, rules, service
from services.registry.models import Appeal, Notice
from services.registry.parameters import APPEAL_DECISION_DAYS, APPEAL_FILING_DAYS
from services.registry.schemas import AppealDecisionIn, AppealIn, AppealOut, HouseholdIn, HouseholdPatch, MemberIn
from shared.errors import Conflict, NotFound, Unprocessable
from shared.events import AppealProgressed
from shared.parameters import ParameterBook
from shared.periods import city_today
from shared.unit_of_work import UnitOfWork

CONTESTED_NOTICES = {"refusal": ("refusal",), "amount": ("approval", "amount_changed"), "exit": ("exit",)}


async def lodge(uow: UnitOfWork, body: AppealIn, today: date | None = None) -> Appeal:
    session = uow.session
    today = today or city_today()
    if body.subject == "refusal":
        assert body.application_id is not None
        application = await applications.get(session, body.application_id)
        if application.status != "refused":
            raise Conflict("not_refused", f"the application is {application.status}, not refused")
        case_id, division_code = application.id, application.division_code
    else:
        assert body.household_id is not None
        household = await service.get_household(session, body.household_id)
        if body.subject == "exit" and household.exited_on is None:
            raise Conflict("no_exit", "the household has no exit to contest")
        case_id, division_code = household.id, household.division_code
    book = await ParameterBook.load(session, [APPEAL_FILING_DAYS, APPEAL_DECISION_DAYS])
    contested = await session.scalar(
        select(Notice)
        .where(Notice.household_id == case_id, Notice.kind.in_(CONTESTED_NOTICES[body.subject]))
        .order_by(Notice.issued_on.desc(), Notice.created_at.desc())
        .limit(1)
    )
    if contested is not None:
        last_day = contested.issued_on + timedelta(days=int(book.get(APPEAL_FILING_DAYS, contested.issued_on)))
        if body.lodged_on > last_day:
            raise Unprocessable(
                "appeal_too_late",
                f"the notice of {contested.issued_on} could be contested until {last_day}",
            )
        if body.lodged_on < contested.issued_on:
            raise Unprocessable(
                "date_before_previous_step", f"the notice contested was issued on {contested.issued_on}"
            )
    now = datetime.now(UTC)
    appeal = Appeal(
        id=str(uuid.uuid4()),
        subject=body.subject,
        application_id=body.application_id,
        household_id=body.household_id,
        division_code=division_code,
        lodged_on=body.lodged_on,
        grounds=body.grounds,
        decide_by=body.lodged_on + timedelta(days=int(book.get(APPEAL_DECISION_DAYS, body.lodged_on))),
        status="lodged",
        created_at=now,
        updated_at=now,
    )
    session.add(appeal)
    await session.flush()
    await _announce(uow, appeal)
    return appeal


async def _announce(uow: UnitOfWork, appeal: Appeal) -> None:
    """The appeal lodged or decided, for the office's assessment (registry.procedure)."""

    case_id = appeal.household_id or appeal.application_id
    assert case_id is not None
    await service.outbox.stage(
        uow,
        AppealProgressed(
            household_id=case_id,
            division_code=appeal.division_code,
            appeal_id=appeal.id,
            subject=appeal.subject,  # type: ignore[arg-type]  # stored from the AppealIn's subject
            status=appeal.status,  # type: ignore[arg-type]  # lodged | upheld | dismissed
            lodged_on=appeal.lodged_on,
            decide_by=appeal.decide_by,
            decided_on=appeal.decided_on,
        ),
    )


async def _locked(session: AsyncSession, appeal_id: str) -> Appeal:
    appeal = (await session.scalars(select(Appeal).where(Appeal.id == appeal_id).with_for_update())).one_or_none()
    if appeal is None:
        raise NotFound("appeal_not_found", f"no appeal with id {appeal_id}")
    return appeal


async def get(session: AsyncSession, appeal_id: str) -> Appeal:
    appeal = await session.get(Appeal, appeal_id)
    if appeal is None:
        raise NotFound("appeal_not_found", f"no appeal with id {appeal_id}")
    return appeal


async def decide(uow: UnitOfWork, appeal_id: str, body: AppealDecisionIn, today: date | None = None) -> Appeal:
    session = uow.session
    today = today or city_today()
    appeal = await _locked(session, appeal_id)
    if appeal.status != "lodged":
        raise Conflict("appeal_decided", f"the appeal was {appeal.status} on {appeal.decided_on}")
    on = body.decided_on or today
    if on < appeal.lodged_on:
        raise Unprocessable("date_before_previous_step", f"the appeal was lodged on {appeal.lodged_on}")
    remedy: dict[str, Any] | None = None
    remedy_text = None
    if body.outcome == "upheld":
        if appeal.subject == "refusal":
            remedy, remedy_text = await _approve(uow, appeal, body, on, today)
        elif appeal.subject == "amount":
            remedy, remedy_text = await _correct_amount(uow, appeal, body, today)
        else:
            remedy, remedy_text = await _reinstate(uow, appeal, body, today)
    appeal.status, appeal.decided_on, appeal.decision_reason, appeal.remedy = body.outcome, on, body.reason, remedy
    appeal.updated_at = datetime.now(UTC)
    await session.flush()
    await _announce(uow, appeal)
    case_id = appeal.household_id or appeal.application_id
    assert case_id is not None
    await notices.issue(
        uow,
        kind="appeal_outcome",
        household_id=case_id,
        division_code=appeal.division_code,
        to=await _addressee(session, appeal),
        text=notices.appeal_outcome_text(
            appeal.division_code, appeal.subject, appeal.lodged_on, body.outcome == "upheld", body.reason, remedy_text
        ),
        issued_on=today,
        application_id=appeal.application_id,
        appeal_id=appeal.id,
    )
    return appeal


async def _addressee(session: AsyncSession, appeal: Appeal) -> notices.Addressee:
    if appeal.application_id is not None:
        return applications.addressee(await applications.get(session, appeal.application_id))
    household = await service.get_household(session, str(appeal.household_id))
    return notices.head_of(household.members, household.address)


async def _approve(
    uow: UnitOfWork, appeal: Appeal, body: AppealDecisionIn, on: date, today: date
) -> tuple[dict[str, Any], str]:
    """The refusal is overturned: the application is approved, with the facts the appeal corrected."""

    application = await applications.locked(uow.session, str(appeal.application_id))
    state = applications.next_state(application, rules.ApproveOnAppeal(on))
    if body.monthly_income is not None:
        application.verified_income = body.monthly_income
    if body.members is not None:
        application.household = {**application.household, "members": [m.model_dump(mode="json") for m in body.members]}
    enrolled = await applications.approve(uow, application, state, body.reason, today, on_appeal=True)
    await applications.announce(uow, application)
    text = f"你户自{notices.day_text(application.applied_on)}起享受城市居民最低生活保障，详见准予享受最低生活保障决定通知书。"
    return {"household_id": enrolled.id, "enrolled_on": application.applied_on.isoformat()}, text


async def _correct_amount(
    uow: UnitOfWork, appeal: Appeal, body: AppealDecisionIn, today: date
) -> tuple[dict[str, Any], str | None]:
    """The amount was wrong: the corrected facts hold from ``effective_on``; the next run settles the difference."""

    if body.effective_on is None or (body.monthly_income is None and body.members is None):
        raise Unprocessable(
            "appeal_remedy", "an upheld appeal against an amount names the corrected facts and effective_on"
        )
    household_id = str(appeal.household_id)
    locked = await service.lock_household(uow.session, household_id)
    before = service.schedule_of(locked) if locked is not None else []
    patch = HouseholdPatch.model_validate(
        {
            key: value
            for key, value in (
                ("monthly_income", body.monthly_income),
                ("members", body.members),
                ("effective_on", body.effective_on),
            )
            if value is not None
        }
    )
    household = await service.change(uow, household_id, patch, today)
    remedy: dict[str, Any] = {"effective_on": body.effective_on.isoformat()}
    if body.monthly_income is not None:
        remedy["monthly_income"] = str(body.monthly_income)
    if body.members is not None:
        remedy["members"] = len(body.members)
    moved = rules.first_change(before, service.schedule_of(household))
    if moved is None:
        return remedy, None
    day, old, new = moved
    remedy.update({"from": day.isoformat(), "old_amount": str(old), "new_amount": str(new)})
    text = (
        f"自{notices.day_text(day)}起，你户每月低保金由{notices.yuan(old)}调整为{notices.yuan(new)}，"
        "已发放数额与应发数额的差额在下一次发放时补发或者扣回。"
    )
    return remedy, text


async def _reinstate(
    uow: UnitOfWork, appeal: Appeal, body: AppealDecisionIn, today: date
) -> tuple[dict[str, Any], str]:
    """The exit was wrong: the household is enrolled again from the day it left, with the facts the appeal
    corrected (a new household: the old one keeps its history)."""

    household = await service.get_household(uow.session, str(appeal.household_id))
    left_on = household.exited_on
    assert left_on is not None  # an exit appeal is lodged only against an exit
    if left_on > today:
        raise Conflict(
            "exit_not_yet_effective",
            f"the household stays in dibao until {left_on}: decide the appeal once the exit has taken effect",
        )
    members = body.members or [_member_in(member) for member in household.members]
    enrolled = await service.enrol(
        uow,
        HouseholdIn(
            division_code=household.division_code,
            address=household.address,
            heating=household.heating,
            housing_area_m2=household.housing_area_m2,
            monthly_income=body.monthly_income if body.monthly_income is not None else household.monthly_income,
            members=members,
            enrolled_on=left_on,
        ),
        today,
    )
    text = (
        f"你户自{notices.day_text(left_on)}起恢复享受城市居民最低生活保障，每月低保金{notices.yuan(enrolled.monthly_allowance)}，"
        "停发期间的低保金在下一次发放时补发。"
    )
    return {"household_id": enrolled.id, "enrolled_on": left_on.isoformat()}, text


def _member_in(member: Any) -> MemberIn:
    return MemberIn.model_validate({name: getattr(member, name) for name in MemberIn.model_fields})


def to_out(appeal: Appeal, today: date | None = None) -> AppealOut:
    today = today or city_today()
    return AppealOut.model_validate(
        {
            **{name: getattr(appeal, name) for name in AppealOut.model_fields if name != "overdue"},
            "overdue": appeal.status == "lodged" and today > appeal.decide_by,
        }
    )


async def listing(
    session: AsyncSession,
    *,
    status: str | None,
    division_code: str | None,
    only_overdue: bool,
    page: int,
    size: int,
    today: date | None = None,
) -> tuple[Sequence[Appeal], int]:
    today = today or city_today()
    conditions = []
    if status:
        conditions.append(Appeal.status == status)
    if division_code:
        conditions.append(Appeal.division_code == division_code)
    if only_overdue:
        conditions += [Appeal.status == "lodged", Appeal.decide_by < today]
    total = await session.scalar(select(func.count()).select_from(Appeal).where(*conditions))
    rows = (
        await session.scalars(
            select(Appeal)
            .where(*conditions)
            .order_by(Appeal.decide_by, Appeal.id)
            .offset((page - 1) * size)
            .limit(size)
        )
    ).all()
    return rows, int(total or 0)
