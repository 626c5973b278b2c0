"""Civil Affairs' use cases: enrol, change, exit, pay, extend. Flush, never commit (the caller owns the unit of work)."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.registry import rules
from services.registry.models import (
    EmploymentExtension,
    Household,
    HouseholdRevision,
    Member,
    Payment,
    PaymentRun,
)
from services.registry.parameters import DIBAO_STANDARD, EXTENSION_MONTHS
from services.registry.schemas import (
    BulkError,
    BulkResult,
    DivisionReport,
    ExitIn,
    HouseholdIn,
    HouseholdOut,
    HouseholdPatch,
    MemberIn,
    MemberOut,
    PaymentRunOut,
    PersonOut,
    Report,
)
from shared import audit
from shared.allowance import allowance_for_month, allowance_on
from shared.divisions import division_name
from shared.errors import Conflict, NotFound, Unprocessable, validation_details
from shared.events import (
    AllowanceStep,
    HouseholdChanged,
    HouseholdEnrolled,
    HouseholdExited,
    MemberEmployed,
    MemberSnapshot,
)
from shared.logging import mask_text
from shared.money import ZERO, to_fen
from shared.outbox import Outbox
from shared.parameters import CITY_WIDE, ParameterBook, change_dates
from shared.periods import Period, add_months, month_of, parse_month
from shared.platform_models import PolicyParameter
from shared.resident_id import mask_resident_id, parse_resident_id
from shared.runs import run_in_batches

log = logging.getLogger("services.registry")
outbox = Outbox(producer="registry")


# ---- reading ------------------------------------------------------------------------------------


def schedule_of(household: Household) -> list[AllowanceStep]:
    return [AllowanceStep.model_validate(step) for step in household.allowance_schedule]


def to_out(household: Household, today: date | None = None,
           members: Sequence[Member | dict[str, Any]] | None = None) -> HouseholdOut:
    today = today or date.today()
    members = household.members if members is None else members
    return HouseholdOut(
        id=household.id,
        status=household.status,  # type: ignore[arg-type]
        division_code=household.division_code,
        division_name=division_name(household.division_code),
        address=household.address,
        heating=household.heating,  # type: ignore[arg-type]
        housing_area_m2=household.housing_area_m2,
        monthly_income=household.monthly_income,
        monthly_allowance=allowance_on(schedule_of(household), max(today, household.enrolled_on)),
        allowance_schedule=schedule_of(household),
        enrolled_on=household.enrolled_on,
        exited_on=household.exited_on,
        exit_reason=household.exit_reason,
        review_due=household.review_from is not None and today >= household.review_from,
        review_reason=household.review_reason,
        members=[MemberOut.model_validate(member, from_attributes=True) for member in members],
        created_at=household.created_at,
        updated_at=household.updated_at,
    )


async def get_household(session: AsyncSession, household_id: str) -> Household:
    household = await session.get(Household, household_id)
    if household is None:
        raise NotFound("household_not_found", f"no household with id {household_id}")
    return household


async def list_households(session: AsyncSession, division_code: str | None, status: str | None, page: int,
                          size: int) -> tuple[list[Household], int]:
    conditions = []
    if division_code:
        conditions.append(Household.division_code == division_code)
    if status:
        conditions.append(Household.status == status)
    total = await session.scalar(select(func.count()).select_from(Household).where(*conditions))
    rows = (await session.scalars(select(Household).where(*conditions).order_by(Household.created_at, Household.id)
                                  .offset((page - 1) * size).limit(size))).all()
    return list(rows), int(total or 0)


async def find_person(session: AsyncSession, resident_id: str) -> PersonOut:
    try:
        number = parse_resident_id(resident_id).number
    except ValueError:
        raise NotFound("person_not_found", "no person with that resident ID") from None
    # The person's current membership if any, else the most recent one.
    row = (await session.execute(
        select(Member, Household)
        .join(Household, Household.id == Member.household_id)
        .where(Member.resident_id == number)
        .order_by(Member.active.desc(), Household.enrolled_on.desc(), Member.id.desc())
        .limit(1)
    )).first()
    if row is None:
        raise NotFound("person_not_found", "no person with that resident ID")
    member, household = row
    return PersonOut(resident_id=member.resident_id, name=member.name, sex=member.sex, birth_date=member.birth_date,
                     relation=member.relation, household_id=household.id, household_status=household.status,
                     division_code=household.division_code, in_dibao=member.active)


# ---- enrolment ----------------------------------------------------------------------------------


def _member_row(household_id: str, position: int, member: MemberIn) -> dict[str, Any]:
    identity = parse_resident_id(member.resident_id)
    return {
        "household_id": household_id, "position": position, "resident_id": identity.number, "name": member.name,
        "sex": identity.sex, "birth_date": identity.birth_date, "relation": member.relation,
        "able_to_work": member.able_to_work, "employment_status": member.employment_status,
        "unemployed_since": member.unemployed_since, "disabled": member.disabled,
        "school_stage": member.school_stage, "boarding": member.boarding, "removed": False, "active": True,
    }


def _schedule(book: ParameterBook, division_code: str, enrolled_on: date,
              revisions: Sequence[rules.Revision]) -> list[AllowanceStep]:
    return rules.allowance_schedule(
        enrolled_on,
        revisions,
        standard_on=lambda day: book.get(DIBAO_STANDARD, day, division_code),
        standard_changes=change_dates(book.history(DIBAO_STANDARD), division_code, enrolled_on),
    )


async def _active_conflicts(session: AsyncSession, resident_ids: Iterable[str],
                            except_household: str | None = None) -> list[str]:
    ids = list(resident_ids)
    if not ids:
        return []
    query = select(Member.resident_id).where(Member.active.is_(True), Member.resident_id.in_(ids))
    if except_household:
        query = query.where(Member.household_id != except_household)
    return list(await session.scalars(query))


def _person_conflict(resident_ids: Sequence[str]) -> Conflict:
    masked = ", ".join(mask_resident_id(number) for number in resident_ids)
    return Conflict("person_in_active_household",
                    f"already a member of another active dibao household: {masked}")


@dataclass
class _Prepared:
    household: dict[str, Any]
    members: list[dict[str, Any]]
    revision: dict[str, Any]
    event: HouseholdEnrolled


def _prepare(body: HouseholdIn, book: ParameterBook, today: date) -> _Prepared:
    household_id = str(uuid.uuid4())
    enrolled_on = body.enrolled_on or today
    revision = rules.Revision(enrolled_on, len(body.members), body.monthly_income)
    schedule = _schedule(book, body.division_code, enrolled_on, [revision])
    members = [_member_row(household_id, index, member) for index, member in enumerate(body.members)]
    now = datetime.now(UTC)
    household = {
        "id": household_id, "division_code": body.division_code, "address": body.address, "heating": body.heating,
        "housing_area_m2": body.housing_area_m2, "monthly_income": body.monthly_income, "status": "active",
        "enrolled_on": enrolled_on, "allowance_schedule": [s.model_dump(mode="json") for s in schedule],
        "created_at": now, "updated_at": now,
    }
    event = HouseholdEnrolled(
        household_id=household_id, division_code=body.division_code, address=body.address, heating=body.heating,
        housing_area_m2=body.housing_area_m2, monthly_income=body.monthly_income,
        monthly_allowance=allowance_on(schedule, enrolled_on), enrolled_on=enrolled_on,
        allowance_schedule=schedule, members=[_member_snapshot(row) for row in members],
    )
    return _Prepared(household, members, {"household_id": household_id, "effective_on": enrolled_on,
                                          "member_count": len(members), "monthly_income": body.monthly_income}, event)


def _member_snapshot(row: dict[str, Any] | Member) -> MemberSnapshot:
    fields = MemberSnapshot.model_fields
    if isinstance(row, dict):
        return MemberSnapshot.model_validate({name: row[name] for name in fields})
    return MemberSnapshot.model_validate(row, from_attributes=True)


async def _insert_prepared(session: AsyncSession, prepared: Sequence[_Prepared]) -> None:
    """Insert inside a savepoint; the caller stages the events once the savepoint has held."""

    await session.execute(insert(Household.__table__), [p.household for p in prepared])
    await session.execute(insert(Member.__table__), [row for p in prepared for row in p.members])
    await session.execute(insert(HouseholdRevision.__table__), [p.revision for p in prepared])
    await audit.record_many(session, "households", [
        (p.household["id"], None, {**p.household, "members": p.members}) for p in prepared])


async def enrol(session: AsyncSession, body: HouseholdIn, today: date | None = None) -> HouseholdOut:
    """Enrol one household. The unique index on active members is the check that each person is in one
    household only (race-free); it is asked who clashed only when it refused."""

    book = await ParameterBook.load(session, [DIBAO_STANDARD])
    prepared = _prepare(body, book, today or date.today())
    try:
        async with session.begin_nested():
            await _insert_prepared(session, [prepared])
    except IntegrityError:
        ids = [row["resident_id"] for row in prepared.members]
        raise _person_conflict(await _active_conflicts(session, ids) or ids) from None
    await outbox.stage(session, prepared.event)
    # Answered from what was written, not read back: the same columns, two queries fewer per enrolment.
    return to_out(Household(**prepared.household), members=prepared.members)


def _bulk_error(exc: Exception) -> BulkError:
    if isinstance(exc, ValidationError):
        code, detail, errors = validation_details(exc.errors())
        return BulkError(code=code, detail=detail, errors=errors)
    if isinstance(exc, (Conflict, Unprocessable, NotFound)):
        return BulkError(code=exc.code, detail=mask_text(exc.detail))
    raise exc


async def enrol_bulk(session: AsyncSession, rows: Sequence[dict[str, Any]], today: date | None = None) -> list[BulkResult]:
    """Good rows land, bad rows say why. One transaction; a row that fails leaves the others intact."""

    today = today or date.today()
    results: list[BulkResult | None] = [None] * len(rows)
    bodies: dict[int, HouseholdIn] = {}
    for index, row in enumerate(rows):
        try:
            bodies[index] = HouseholdIn.model_validate(row)
        except ValidationError as exc:
            results[index] = BulkResult(index=index, id=None, error=_bulk_error(exc))

    # A person may appear in only one household: in the database, and within this request.
    taken = set(await _active_conflicts(session, (m.resident_id for b in bodies.values() for m in b.members)))
    claimed: set[str] = set()
    good: dict[int, HouseholdIn] = {}
    for index, body in bodies.items():
        ids = [member.resident_id for member in body.members]
        clash = [number for number in ids if number in taken or number in claimed]
        if clash:
            results[index] = BulkResult(index=index, id=None, error=_bulk_error(_person_conflict(clash)))
            continue
        claimed.update(ids)
        good[index] = body

    book = await ParameterBook.load(session, [DIBAO_STANDARD])
    prepared = {index: _prepare(body, book, today) for index, body in good.items()}
    try:
        async with session.begin_nested():
            await _insert_prepared(session, list(prepared.values()))
    except IntegrityError:
        # A concurrent enrolment took someone: fall back to one savepoint per row to find who.
        for index, item in prepared.items():
            try:
                async with session.begin_nested():
                    await _insert_prepared(session, [item])
            except IntegrityError:
                ids = [m["resident_id"] for m in item.members]
                results[index] = BulkResult(index=index, id=None, error=_bulk_error(_person_conflict(ids)))
    landed = [item for index, item in prepared.items() if results[index] is None]
    await outbox.stage_many(session, (item.event for item in landed))
    for index, item in prepared.items():
        if results[index] is None:
            results[index] = BulkResult(index=index, id=item.household["id"], error=None)
    return [result for result in results if result is not None]


# ---- change and exit ----------------------------------------------------------------------------


def _require_active(household: Household) -> None:
    if household.status != "active":
        raise Conflict("household_not_active", f"household {household.id} exited dibao on {household.exited_on}")


async def _revisions(session: AsyncSession, household_id: str) -> list[rules.Revision]:
    rows = (await session.scalars(select(HouseholdRevision).where(HouseholdRevision.household_id == household_id))).all()
    return [rules.Revision(r.effective_on, r.member_count, r.monthly_income) for r in rows]


def changed_event(household: Household, members: Sequence[Member], effective_on: date,
                  changed: list[str]) -> HouseholdChanged:
    schedule = schedule_of(household)
    return HouseholdChanged(
        household_id=household.id, division_code=household.division_code, address=household.address,
        heating=household.heating, housing_area_m2=household.housing_area_m2,  # type: ignore[arg-type]
        monthly_income=household.monthly_income,
        monthly_allowance=allowance_on(schedule, max(effective_on, household.enrolled_on)),
        enrolled_on=household.enrolled_on, allowance_schedule=schedule,
        members=[_member_snapshot(member) for member in members], effective_on=effective_on, changed=changed,
    )


async def change(session: AsyncSession, household_id: str, patch: HouseholdPatch, today: date | None = None) -> Household:
    household = await get_household(session, household_id)
    _require_active(household)
    effective_on = patch.effective_on or today or date.today()
    if effective_on < household.enrolled_on:
        raise Unprocessable("effective_before_enrolment",
                            f"a change cannot take effect before enrolment on {household.enrolled_on}")
    changed = patch.changed_fields()
    new_ids = [member.resident_id for member in patch.members or ()]
    if patch.members is not None:
        if conflicts := await _active_conflicts(session, new_ids, except_household=household.id):
            raise _person_conflict(conflicts)
        await audit.record(session, "members", household.id,
                           before=[_member_snapshot(m).model_dump() for m in household.members],
                           after=[m.model_dump() for m in patch.members])
        await session.execute(update(Member).where(Member.household_id == household.id, Member.removed.is_(False))
                              .values(removed=True, active=False))
        await session.flush()
        await session.execute(insert(Member.__table__), [_member_row(household.id, i, m) for i, m in enumerate(patch.members)])
    for name in ("address", "heating", "housing_area_m2", "monthly_income"):
        value = getattr(patch, name)
        if value is not None:
            setattr(household, name, value)

    if "members" in changed or "monthly_income" in changed:
        member_count = len(patch.members) if patch.members is not None else len(household.members)
        existing = await session.scalar(select(HouseholdRevision).where(
            HouseholdRevision.household_id == household.id, HouseholdRevision.effective_on == effective_on))
        if existing is None:
            session.add(HouseholdRevision(household_id=household.id, effective_on=effective_on,
                                          member_count=member_count, monthly_income=household.monthly_income))
        else:
            existing.member_count, existing.monthly_income = member_count, household.monthly_income
        await session.flush()
        book = await ParameterBook.load(session, [DIBAO_STANDARD])
        schedule = _schedule(book, household.division_code, household.enrolled_on, await _revisions(session, household.id))
        household.allowance_schedule = [s.model_dump(mode="json") for s in schedule]
    household.updated_at = datetime.now(UTC)
    try:
        await session.flush()
    except IntegrityError:
        raise _person_conflict(new_ids) from None
    await session.refresh(household, ["members"])
    await outbox.stage(session, changed_event(household, household.members, effective_on, changed))
    return household


async def exit_household(session: AsyncSession, household_id: str, body: ExitIn) -> Household:
    household = await get_household(session, household_id)
    _require_active(household)
    if body.on < household.enrolled_on:
        raise Unprocessable("exit_before_enrolment", f"the exit date is before enrolment on {household.enrolled_on}")
    household.status, household.exited_on, household.exit_reason = "exited", body.on, body.reason
    household.updated_at = datetime.now(UTC)
    await session.execute(update(Member).where(Member.household_id == household.id).values(active=False))
    await outbox.stage(session, HouseholdExited(household_id=household.id, division_code=household.division_code,
                                                exited_on=body.on, reason=body.reason))
    await session.flush()
    return household


async def standard_changed(session: AsyncSession, row: PolicyParameter) -> int:
    """A new dibao standard from a date: recompute affected households' schedules and tell the bureaus."""

    book = await ParameterBook.load(session, [DIBAO_STANDARD])
    query = select(Household).where(Household.status == "active")
    if row.scope != CITY_WIDE:
        query = query.where(Household.division_code == row.scope)
    changed = 0
    households = list((await session.scalars(query.order_by(Household.id))).all())
    revisions_by_household: dict[str, list[rules.Revision]] = {}
    for start in range(0, len(households), 500):
        chunk = [h.id for h in households[start:start + 500]]
        for r in (await session.scalars(select(HouseholdRevision).where(HouseholdRevision.household_id.in_(chunk)))).all():
            revisions_by_household.setdefault(r.household_id, []).append(
                rules.Revision(r.effective_on, r.member_count, r.monthly_income))
    events = []
    for household in households:
        schedule = _schedule(book, household.division_code, household.enrolled_on,
                             revisions_by_household.get(household.id, []))
        dumped = [s.model_dump(mode="json") for s in schedule]
        if dumped == household.allowance_schedule:
            continue
        household.allowance_schedule = dumped
        events.append(changed_event(household, household.members, max(row.effective_from, household.enrolled_on),
                                    ["dibao_standard"]))
        changed += 1
    await session.flush()
    await outbox.stage_many(session, events)
    return changed


# ---- payments -----------------------------------------------------------------------------------


def check_payable(month: Period, today: date) -> None:
    # Dibao is paid for the month in advance at the latest: the next month may be paid, no further.
    if month.start > add_months(month_of(today), 1).start:
        raise Unprocessable("period_in_future", f"{month.label} is too far ahead; the latest payable month is "
                                                f"{add_months(month_of(today), 1).label}")


async def run_payments(sessions: async_sessionmaker[AsyncSession], period: str, today: date | None = None, batch_size: int = 2000) -> PaymentRunOut:
    """Pay every household active in ``period`` that no run has paid for it yet (see shared.runs)."""

    month = parse_month(period)
    check_payable(month, today or date.today())

    async def fetch(session: AsyncSession, after: str, limit: int) -> Sequence[Any]:
        return (await session.execute(
            select(Household.id, Household.division_code, Household.enrolled_on, Household.allowance_schedule)
            .where(
                Household.id > after,
                Household.enrolled_on <= month.end,
                (Household.exited_on.is_(None)) | (Household.exited_on > month.start),
                ~exists().where(and_(Payment.household_id == Household.id, Payment.period == month.label)),
            )
            .order_by(Household.id)
            .limit(limit)
        )).all()

    async def build(session: AsyncSession, households: Sequence[Any], run_id: int) -> list[dict[str, Any]]:
        extensions = await _extensions_covering(session, [h.id for h in households], month)
        rows = []
        for household_id, division_code, enrolled_on, schedule in households:
            regular = allowance_for_month([AllowanceStep.model_validate(s) for s in schedule], month, enrolled_on)
            payment = rules.monthly_payment(regular, extensions.get(household_id), month)
            if payment is not None:
                rows.append({"household_id": household_id, "period": month.label, "amount": payment.amount,
                             "kind": payment.kind, "division_code": division_code, "run_id": run_id})
        return rows

    result = await run_in_batches(
        sessions, run_model=PaymentRun, payment_model=Payment, period=month.label, fetch_batch=fetch,
        key_of=lambda row: row.id, build_rows=build, conflict_columns=["household_id", "period"],
        returning=[Payment.amount], batch_size=batch_size)
    return PaymentRunOut(period=result.period, households_paid=result.paid, total_amount=result.total,
                         already_paid=result.already_paid)


async def _extensions_covering(session: AsyncSession, household_ids: list[str],
                               month: Period) -> dict[str, rules.ExtensionWindow]:
    rows = (await session.scalars(select(EmploymentExtension).where(
        EmploymentExtension.household_id.in_(household_ids),
        EmploymentExtension.first_period <= month.label,
        EmploymentExtension.last_period >= month.label,
    ))).all()
    windows: dict[str, rules.ExtensionWindow] = {}
    for row in rows:
        window = rules.ExtensionWindow(parse_month(row.first_period), parse_month(row.last_period), row.monthly_amount)
        current = windows.get(row.household_id)
        if current is None or window.monthly_amount > current.monthly_amount:
            windows[row.household_id] = window
    return windows


async def payments_of(session: AsyncSession, household_id: str) -> list[Payment]:
    await get_household(session, household_id)
    return list((await session.scalars(select(Payment).where(Payment.household_id == household_id)
                                       .order_by(Payment.period))).all())


# ---- the employment extension (延发三个月) -------------------------------------------------------


async def record_employment(session: AsyncSession, event: MemberEmployed) -> EmploymentExtension | None:
    household = await session.get(Household, event.household_id)
    if household is None or not rules.active_in_month(household.enrolled_on, household.exited_on, month_of(event.employed_on)):
        log.info("employment of a member outside an active household ignored",
                 extra={"ctx_household": event.household_id})
        return None
    book = await ParameterBook.load(session, [EXTENSION_MONTHS])
    months = book.get(EXTENSION_MONTHS, event.employed_on)
    before = allowance_for_month(schedule_of(household), month_of(event.employed_on), household.enrolled_on)
    window = rules.extension_window(event.employed_on, months, before)
    extension = EmploymentExtension(household_id=household.id, resident_id=event.resident_id,
                                    employed_on=event.employed_on, kind=event.kind, first_period=window.first.label,
                                    last_period=window.last.label, monthly_amount=window.monthly_amount)
    session.add(extension)
    review_from = add_months(window.last, 1).start
    if household.review_from is None or review_from > household.review_from:
        household.review_from = review_from
        household.review_reason = f"employment extension ends {window.last.label}: review the household's income"
    await session.flush()
    return extension


# ---- report -------------------------------------------------------------------------------------


async def report(session: AsyncSession, period: Period) -> Report:
    """What Civil Affairs did per division in the period: caseload, enrolments, exits, money paid."""

    active = (await session.execute(
        select(Household.division_code, Household.id, Household.enrolled_on, Household.exited_on)
        .where(Household.enrolled_on <= period.end,
               (Household.exited_on.is_(None)) | (Household.exited_on > period.start)))).all()
    persons = dict((await session.execute(
        select(Household.division_code, func.count(func.distinct(Member.resident_id)))
        .join(Member, Member.household_id == Household.id)
        .where(Member.removed.is_(False), Household.enrolled_on <= period.end,
               (Household.exited_on.is_(None)) | (Household.exited_on > period.start))
        .group_by(Household.division_code))).all())
    months = [month.label for month in period.months()]
    paid = {division: (count, amount) for division, count, amount in (await session.execute(
        select(Payment.division_code, func.count(), func.sum(Payment.amount))
        .where(Payment.period.in_(months)).group_by(Payment.division_code))).all()}
    households: dict[str, int] = defaultdict(int)
    enrolled: dict[str, int] = defaultdict(int)
    exited: dict[str, int] = defaultdict(int)
    for division, _, enrolled_on, exited_on in active:
        households[division] += 1
        enrolled[division] += period.contains(enrolled_on)
        exited[division] += exited_on is not None and period.contains(exited_on)
    divisions = sorted(set(households) | set(paid))
    items = [DivisionReport(division_code=code, division_name=division_name(code),
                            households_active=households.get(code, 0), persons_active=persons.get(code, 0),
                            enrolled=enrolled.get(code, 0), exited=exited.get(code, 0),
                            payments=paid.get(code, (0, ZERO))[0], amount_paid=to_fen(paid.get(code, (0, ZERO))[1] or ZERO))
             for code in divisions]
    return Report(period=period.label, divisions=items, total_amount_paid=to_fen(sum((i.amount_paid for i in items), ZERO)))
