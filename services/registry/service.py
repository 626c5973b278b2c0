"""Civil Affairs' use cases: enrol, change, exit, pay, extend. Flush, never commit (the caller owns the unit of work)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, case, func, insert, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import rules
from services.registry.models import (
    OWING,
    EmploymentExtension,
    Household,
    HouseholdRevision,
    Member,
    Payment,
    PaymentRun,
    Review,
)
from services.registry.parameters import DIBAO_STANDARD, EXTENSION_MONTHS, REVIEW_INTERVAL_MONTHS
from services.registry.schemas import (
    IDEMPOTENCY_KEY_PATTERN,
    BulkError,
    BulkResult,
    Clash,
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
from shared.allowance import allowance_on, dibao_due
from shared.db import insert_ignore, insert_many, table_of
from shared.divisions import division_name
from shared.errors import Conflict, NotFound, Unprocessable, validation_details
from shared.events import (
    AllowanceStep,
    AssistancePaid,
    ExtensionSpell,
    HouseholdChangedFacts,
    HouseholdEnrolledFacts,
    HouseholdExited,
    MemberEmployed,
    MemberSnapshot,
    ReviewScheduled,
)
from shared.grants import GrantLedger
from shared.ledger import RECOVERY, settle
from shared.ledger import balance_owed as ledger_balance
from shared.logging import mask_text
from shared.money import ZERO, to_fen
from shared.outbox import Outbox
from shared.parameters import CITY_WIDE, MissingParameter, ParameterBook, change_dates, hold_parameters
from shared.periods import Period, add_months, city_today, month_of, parse_month, refuse_future
from shared.platform_models import PolicyParameter
from shared.resident_id import mask_resident_id, parse_resident_id
from shared.runs import MONTHS_PER_BATCH, RunTally, finish_run, months_from, start_run, within_budget
from shared.sealing import seal
from shared.unit_of_work import UnitOfWork, UnitsOfWork

log = logging.getLogger("services.registry")
outbox = Outbox(producer="registry")
# Civil Affairs announces its dibao payments on assistance.grants as every bureau announces its own.
grant_ledger = GrantLedger("civil_affairs", outbox)


# ---- reading ------------------------------------------------------------------------------------


def schedule_of(household: Household | _Account) -> list[AllowanceStep]:
    return [AllowanceStep.model_validate(step) for step in household.allowance_schedule]


def to_out(
    household: Household,
    today: date | None = None,
    members: Sequence[Member | dict[str, Any]] | None = None,
    balance_owed: Decimal = ZERO,
) -> HouseholdOut:
    today = today or city_today()
    members = household.members if members is None else members
    status = household.status_on(today)
    return HouseholdOut(
        id=household.id,
        status=status,
        division_code=household.division_code,
        division_name=division_name(household.division_code),
        address=household.address,
        heating=household.heating,
        housing_area_m2=household.housing_area_m2,
        monthly_income=household.monthly_income,
        monthly_allowance=allowance_on(schedule_of(household), max(today, household.enrolled_on)),
        allowance_schedule=schedule_of(household),
        enrolled_on=household.enrolled_on,
        exited_on=household.exited_on if status == "exited" else None,
        exit_on=household.exited_on,
        exit_reason=household.exit_reason,
        balance_owed=balance_owed,
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


async def list_households(
    session: AsyncSession, division_code: str | None, status: str | None, page: int, size: int
) -> tuple[list[Household], int]:
    conditions = []
    today = city_today()
    if division_code:
        conditions.append(Household.division_code == division_code)
    if status == "active":
        conditions.append(Household.exited_on.is_(None) | (Household.exited_on > today))
    elif status == "exited":
        conditions.append(Household.exited_on <= today)
    total = await session.scalar(select(func.count()).select_from(Household).where(*conditions))
    rows = (
        await session.scalars(
            select(Household)
            .where(*conditions)
            .order_by(Household.created_at, Household.id)
            .offset((page - 1) * size)
            .limit(size)
        )
    ).all()
    return list(rows), int(total or 0)


async def find_person(session: AsyncSession, resident_id: str) -> PersonOut:
    try:
        number = parse_resident_id(resident_id).number
    except ValueError:
        raise NotFound("person_not_found", "no person with that resident ID") from None
    rows = (
        await session.execute(
            select(Member, Household)
            .join(Household, Household.id == Member.household_id)
            .where(Member.resident_id == number)
            .order_by(Member.joined_on.desc(), Member.id.desc())
        )
    ).all()
    if not rows:
        raise NotFound("person_not_found", "no person with that resident ID")
    today = city_today()
    # The membership in force today if any, else the most recent one.
    member, household = next(((m, h) for m, h in rows if _spell_covers(m, today)), rows[0])
    status = household.status_on(today)
    return PersonOut(
        resident_id=member.resident_id,
        name=member.name,
        sex=member.sex,
        birth_date=member.birth_date,
        relation=member.relation,
        household_id=household.id,
        household_status=status,
        division_code=household.division_code,
        in_dibao=_spell_covers(member, today) and status == "active",
    )


def _spell_covers(member: Member, day: date) -> bool:
    return member.joined_on <= day and (member.left_on is None or day < member.left_on)


# ---- enrolment ----------------------------------------------------------------------------------


def _member_row(household_id: str, position: int, member: MemberIn, joined_on: date) -> dict[str, Any]:
    identity = parse_resident_id(member.resident_id)
    return {
        "household_id": household_id,
        "position": position,
        "resident_id": identity.number,
        "name": member.name,
        "sex": identity.sex,
        "birth_date": identity.birth_date,
        "relation": member.relation,
        "able_to_work": member.able_to_work,
        "employment_status": member.employment_status,
        "unemployed_since": member.unemployed_since,
        "disabled": member.disabled,
        "school_stage": member.school_stage,
        "boarding": member.boarding,
        "joined_on": joined_on,
        "left_on": None,
        "removed": False,
        "active": True,
    }


def _schedule(
    book: ParameterBook, division_code: str, enrolled_on: date, revisions: Sequence[rules.Revision]
) -> list[AllowanceStep]:
    return rules.allowance_schedule(
        enrolled_on,
        revisions,
        standard_on=lambda day: book.get(DIBAO_STANDARD, day, division_code),
        standard_changes=change_dates(book.history(DIBAO_STANDARD), division_code, enrolled_on),
    )


def _standard_on(book: ParameterBook, division_code: str, day: date) -> Decimal:
    try:
        return Decimal(book.get(DIBAO_STANDARD, day, division_code))
    except MissingParameter:
        raise Unprocessable(
            "no_standard_in_force", f"no dibao standard is in force on {day.isoformat()} for {division_code}"
        ) from None


# ---- one person, one household at a time -------------------------------------------------------------
#
# Each person has at most one membership row that "holds" them (``Member.active``; a partial unique index).
# A holding row whose time in its household has ended (``left_on`` on or before the new joining day) is
# released by the transaction that inserts the person's next holding row, so two transactions claiming the
# same person cannot both succeed: the unique index refuses the second. Rows already released are history;
# they change only together with a holding insert for the same person, so checking them for an overlap is
# as safe as the index itself.


@dataclass(frozen=True, slots=True)
class _Held:
    id: int
    household_id: str
    joined_on: date
    left_on: date | None
    active: bool


async def _memberships(session: AsyncSession, resident_ids: Iterable[str]) -> dict[str, list[_Held]]:
    ids = sorted(set(resident_ids))
    held: dict[str, list[_Held]] = defaultdict(list)
    for start in range(0, len(ids), 1000):
        for row in (
            await session.execute(
                select(
                    Member.id, Member.resident_id, Member.household_id, Member.joined_on, Member.left_on, Member.active
                ).where(Member.resident_id.in_(ids[start : start + 1000]))
            )
        ).all():
            held[row.resident_id].append(_Held(row.id, row.household_id, row.joined_on, row.left_on, row.active))
    return held


def _claim(rows: Sequence[_Held], joined_on: date, household_id: str | None = None) -> tuple[list[int], bool]:
    """(holding rows to release, whether the claim clashes) for a person joining a household on ``joined_on``."""

    release, clash = [], False
    for row in rows:
        if household_id is not None and row.household_id == household_id and row.left_on is None:
            continue  # the person's own open membership in the household being changed
        if row.left_on is not None and row.left_on <= joined_on:
            if row.active:
                release.append(row.id)
        else:
            clash = True
    return release, clash


async def _release(session: AsyncSession, member_ids: Sequence[int]) -> None:
    if member_ids:
        await session.execute(
            update(Member).where(Member.id.in_(list(member_ids)), Member.active.is_(True)).values(active=False)
        )


def _person_conflict(resident_ids: Sequence[str]) -> Conflict:
    masked = ", ".join(mask_resident_id(number) for number in resident_ids)
    return Conflict("person_in_active_household", f"already a member of another dibao household on that day: {masked}")


@dataclass
class _Prepared:
    household: dict[str, Any]
    members: list[dict[str, Any]]
    revision: dict[str, Any]
    event: HouseholdEnrolledFacts
    review: ReviewScheduled


def _prepare(body: HouseholdIn, book: ParameterBook, today: date, household_id: str | None = None) -> _Prepared:
    household_id = household_id or str(uuid.uuid4())
    enrolled_on = body.enrolled_on or today
    standard = _standard_on(book, body.division_code, enrolled_on)
    if not rules.below_standard(standard, len(body.members), body.monthly_income):
        raise Unprocessable(
            "income_above_standard",
            f"monthly income {body.monthly_income} is not below the dibao standard for "
            f"{len(body.members)} (¥{standard} × {len(body.members)} on {enrolled_on.isoformat()})",
        )
    revision = rules.Revision(enrolled_on, len(body.members), body.monthly_income)
    schedule = _schedule(book, body.division_code, enrolled_on, [revision])
    members = [_member_row(household_id, index, member, enrolled_on) for index, member in enumerate(body.members)]
    now = datetime.now(UTC)
    household = {
        "id": household_id,
        "division_code": body.division_code,
        "address": body.address,
        "heating": body.heating,
        "housing_area_m2": body.housing_area_m2,
        "monthly_income": body.monthly_income,
        "enrolled_on": enrolled_on,
        "allowance_schedule": [s.model_dump(mode="json") for s in schedule],
        "revision": 1,
        "settled_revision": 0,
        "settlement": 0,
        "idempotency_key": None,
        "request_digest": None,
        "created_at": now,
        "updated_at": now,
    }
    event = HouseholdEnrolledFacts(
        household_id=household_id,
        division_code=body.division_code,
        sealed=seal({"address": body.address}),
        heating=body.heating,
        housing_area_m2=body.housing_area_m2,
        enrolled_on=enrolled_on,
        allowance_schedule=schedule,
        members=[_member_snapshot(row) for row in members],
    )
    review = review_scheduled(household_id, body.division_code, enrolled_on, None, None, review_interval(book))
    return _Prepared(
        household,
        members,
        {
            "household_id": household_id,
            "effective_on": enrolled_on,
            "member_count": len(members),
            "monthly_income": body.monthly_income,
        },
        event,
        review,
    )


# ---- periodic reviews: when each household's next one falls due (the office counts them) -------------


def review_interval(book: ParameterBook) -> Callable[[date], int]:
    """The review interval in months in force on a day."""

    return lambda day: int(book.get(REVIEW_INTERVAL_MONTHS, day))


def review_scheduled(
    household_id: str,
    division_code: str,
    enrolled_on: date,
    last_reviewed_on: date | None,
    flagged_from: date | None,
    interval: Callable[[date], int],
) -> ReviewScheduled:
    due_on = rules.review_due_on(enrolled_on, last_reviewed_on, interval, flagged_from)
    return ReviewScheduled(
        household_id=household_id, division_code=division_code, due_on=due_on, last_reviewed_on=last_reviewed_on
    )


async def announce_review(uow: UnitOfWork, household: Household) -> None:
    """When the household's next review falls due, for the office's assessment (registry.procedure): announced
    at enrolment, when the household is flagged for an early review and after each review."""

    session = uow.session
    book = await ParameterBook.load(session, [REVIEW_INTERVAL_MONTHS])
    last = await session.scalar(select(func.max(Review.reviewed_on)).where(Review.household_id == household.id))
    await outbox.stage(
        uow,
        review_scheduled(
            household.id,
            household.division_code,
            household.enrolled_on,
            last,
            household.review_from,
            review_interval(book),
        ),
    )


def _member_snapshot(row: dict[str, Any] | Member) -> MemberSnapshot:
    fields = MemberSnapshot.model_fields
    if isinstance(row, dict):
        return MemberSnapshot.model_validate({name: row[name] for name in fields})
    return MemberSnapshot.model_validate(row, from_attributes=True)


async def _insert_prepared(uow: UnitOfWork, prepared: Sequence[_Prepared]) -> None:
    """Insert the prepared households; the caller stages their events once the rows have held."""

    session = uow.session
    await session.execute(insert(table_of(Household)), [p.household for p in prepared])
    await session.execute(insert(table_of(Member)), [row for p in prepared for row in p.members])
    await session.execute(insert(table_of(HouseholdRevision)), [p.revision for p in prepared])
    uow.audit_many("households", [(p.household["id"], None, {**p.household, "members": p.members}) for p in prepared])


def _claims_of(prepared: _Prepared, held: dict[str, list[_Held]]) -> tuple[list[int], list[str]]:
    """(rows to release, people who clash) for enrolling ``prepared``."""

    release: list[int] = []
    clashes: list[str] = []
    for row in prepared.members:
        freed, clash = _claim(held.get(row["resident_id"], ()), row["joined_on"])
        release.extend(freed)
        if clash:
            clashes.append(row["resident_id"])
    return release, clashes


async def enrol(
    uow: UnitOfWork, body: HouseholdIn, today: date | None = None, household_id: str | None = None
) -> HouseholdOut:
    """Enrol one household. The unique index on holding memberships is the check that each person is in one
    household at a time (race-free); earlier memberships are read only to release ended ones and to refuse
    a back-dated enrolment that overlaps one. An approved application gives the household its own id."""

    session = uow.session
    book = await ParameterBook.load(session, [DIBAO_STANDARD, REVIEW_INTERVAL_MONTHS])
    prepared = _prepare(body, book, today or city_today(), household_id)
    ids = [row["resident_id"] for row in prepared.members]
    release, clashes = _claims_of(prepared, await _memberships(session, ids))
    if clashes:
        raise _person_conflict(clashes)
    # No savepoint (two round trips): a concurrent enrolment that took someone fails this whole transaction,
    # and the 409 rolls it back with whatever the caller (an approval, an appeal) wrote before.
    try:
        await _release(session, release)
        await _insert_prepared(uow, [prepared])
    except IntegrityError:
        raise _person_conflict(ids) from None
    await outbox.stage(uow, prepared.event, prepared.review)
    # Answered from what was written, not read back: the same columns, two queries fewer per enrolment.
    return to_out(Household(**prepared.household), members=prepared.members)


def _bulk_error(exc: Exception) -> BulkError:
    if isinstance(exc, ValidationError):
        code, detail, errors = validation_details(exc.errors())
        return BulkError(code=code, detail=detail, errors=errors)
    if isinstance(exc, (Conflict, Unprocessable, NotFound)):
        return BulkError(code=exc.code, detail=mask_text(exc.detail))
    raise exc


_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


def _idempotency_key(row: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """(the row's idempotency key, the household body without it)."""

    if not isinstance(row, dict) or "idempotency_key" not in row:
        return None, row
    key = row["idempotency_key"]
    if not isinstance(key, str) or not _IDEMPOTENCY_KEY.match(key):
        raise Unprocessable("invalid_idempotency_key", "an idempotency key is 8 to 64 of A-Z a-z 0-9 . _ : -")
    return key, {name: value for name, value in row.items() if name != "idempotency_key"}


def _request_digest(body: HouseholdIn) -> str:
    """The household as validated (normalised: a resident ID's x is X), fingerprinted."""

    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _enrolled_under(session: AsyncSession, keys: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    """household id and request digest of the households enrolled under these keys."""

    wanted = list(set(keys))
    if not wanted:
        return {}
    rows = await session.execute(
        select(Household.idempotency_key, Household.id, Household.request_digest).where(
            Household.idempotency_key.in_(wanted)
        )
    )
    return {key: (household_id, digest) for key, household_id, digest in rows.all() if key is not None}


def _repeat(index: int, found: tuple[str, str | None], digest: str) -> BulkResult:
    household_id, earlier = found
    if earlier != digest:
        conflict = Conflict(
            "idempotency_key_reused",
            f"this idempotency key enrolled household {household_id} with other data; change that household "
            "with PATCH /households/{id}, or send this one under a key of its own",
        )
        return BulkResult(index=index, id=None, error=_bulk_error(conflict))
    return BulkResult(index=index, id=household_id, error=None, already_enrolled=True)


def _clashes(item: _Prepared, held: dict[str, list[_Held]], claimed: set[str]) -> list[Clash]:
    """Who of ``item``'s members is already in a household on the day it would join (and which one)."""

    clashes = []
    for position, row in enumerate(item.members):
        number, joined_on = row["resident_id"], row["joined_on"]
        if number in claimed:
            clashes.append(Clash(member=position, household_id=None))
            continue
        for earlier in held.get(number, ()):
            if _claim([earlier], joined_on)[1]:
                clashes.append(Clash(member=position, household_id=earlier.household_id))
                break
    return clashes


def _person_clash(index: int, item: _Prepared, clashes: list[Clash]) -> BulkResult:
    error = _bulk_error(_person_conflict([item.members[c.member]["resident_id"] for c in clashes]))
    error.clashes = clashes
    return BulkResult(index=index, id=None, error=error)


async def enrol_bulk(uow: UnitOfWork, rows: Sequence[dict[str, Any]], today: date | None = None) -> list[BulkResult]:
    """Good rows land, bad rows say why. One transaction; a row that fails leaves the others intact.

    A row with an ``idempotency_key`` already used for the same data is answered with the household enrolled
    then (``already_enrolled``), so a file sent again resumes where it stopped instead of clashing with itself;
    the unique index on the key settles two requests sending the same key at once."""

    session = uow.session
    today = today or city_today()
    results: list[BulkResult | None] = [None] * len(rows)
    book = await ParameterBook.load(session, [DIBAO_STANDARD, REVIEW_INTERVAL_MONTHS])
    prepared: dict[int, _Prepared] = {}
    for index, row in enumerate(rows):
        try:
            key, row = _idempotency_key(row)
            body = HouseholdIn.model_validate(row)
            prepared[index] = _prepare(body, book, today)
            if key is not None:
                prepared[index].household.update(idempotency_key=key, request_digest=_request_digest(body))
        except (ValidationError, Unprocessable) as exc:
            results[index] = BulkResult(index=index, id=None, error=_bulk_error(exc))

    keyed = {index: item.household["idempotency_key"] for index, item in prepared.items()}
    known = await _enrolled_under(session, (key for key in keyed.values() if key is not None))
    keys_sent: set[str] = set()
    for index, key in keyed.items():
        if key is None:
            continue
        if key in known:
            results[index] = _repeat(index, known[key], prepared.pop(index).household["request_digest"])
        elif key in keys_sent:
            duplicate = Unprocessable("duplicate_idempotency_key", "the same idempotency key twice in one request")
            results[index] = BulkResult(index=index, id=None, error=_bulk_error(duplicate))
            del prepared[index]
        keys_sent.add(key)

    # A person may be in one household at a time: in the database, and within this request.
    held = await _memberships(session, (m["resident_id"] for p in prepared.values() for m in p.members))
    claimed: set[str] = set()
    release: dict[int, list[int]] = {}
    for index, item in list(prepared.items()):
        ids = [m["resident_id"] for m in item.members]
        freed, clashes = _claims_of(item, held)
        if clashes or any(number in claimed for number in ids):
            results[index] = _person_clash(index, item, _clashes(item, held, claimed))
            del prepared[index]
            continue
        claimed.update(ids)
        release[index] = freed

    try:
        # Nothing to insert: an INSERT with no rows would be one row of NULLs, refused only by a constraint.
        if prepared:
            async with session.begin_nested():
                await _release(session, [member_id for freed in release.values() for member_id in freed])
                await _insert_prepared(uow, list(prepared.values()))
    except IntegrityError:
        # A concurrent enrolment took someone: fall back to one savepoint per row to find who.
        for index, item in prepared.items():
            try:
                async with session.begin_nested():
                    await _release(session, release[index])
                    await _insert_prepared(uow, [item])
            except IntegrityError:
                results[index] = await _lost_race(session, index, item)
    landed = [item for index, item in prepared.items() if results[index] is None]
    await outbox.stage_many(uow, (event for item in landed for event in (item.event, item.review)))
    for index, item in prepared.items():
        if results[index] is None:
            results[index] = BulkResult(index=index, id=item.household["id"], error=None)
    return [result for result in results if result is not None]


async def _lost_race(session: AsyncSession, index: int, item: _Prepared) -> BulkResult:
    """A concurrent request enrolled this household (under the same key) or one of its members first."""

    key = item.household["idempotency_key"]
    if key is not None and (found := (await _enrolled_under(session, [key])).get(key)):
        return _repeat(index, found, item.household["request_digest"])
    held = await _memberships(session, [m["resident_id"] for m in item.members])
    clashes = _clashes(item, held, set()) or [Clash(member=n, household_id=None) for n in range(len(item.members))]
    return _person_clash(index, item, clashes)


# ---- change and exit ----------------------------------------------------------------------------


def _require_in_dibao(household: Household, today: date) -> None:
    if household.status_on(today) != "active":
        raise Conflict("household_not_active", f"household {household.id} left dibao on {household.exited_on}")


async def _revisions(session: AsyncSession, household_id: str) -> list[rules.Revision]:
    rows = (
        await session.scalars(select(HouseholdRevision).where(HouseholdRevision.household_id == household_id))
    ).all()
    return [rules.Revision(r.effective_on, r.member_count, r.monthly_income) for r in rows]


async def _extension_rows(session: AsyncSession, household_ids: Sequence[str]) -> dict[str, list[EmploymentExtension]]:
    rows: dict[str, list[EmploymentExtension]] = defaultdict(list)
    if household_ids:
        for row in (
            await session.scalars(
                select(EmploymentExtension)
                .where(EmploymentExtension.household_id.in_(list(household_ids)))
                .order_by(EmploymentExtension.id)
            )
        ).all():
            rows[row.household_id].append(row)
    return rows


def extension_spells(
    schedule: Sequence[AllowanceStep], enrolled_on: date, rows: Sequence[EmploymentExtension]
) -> list[ExtensionSpell]:
    """The household's extensions, each at the allowance in force before its job, as the schedule now says."""

    return [
        ExtensionSpell(
            resident_id=row.resident_id,
            first_period=row.first_period,
            last_period=row.last_period,
            monthly_amount=rules.allowance_before(schedule, enrolled_on, row.employed_on),
        )
        for row in rows
    ]


def changed_event(
    household: Household,
    members: Sequence[Member],
    effective_on: date,
    changed: list[str],
    extensions: Sequence[EmploymentExtension] = (),
) -> HouseholdChangedFacts:
    schedule = schedule_of(household)
    return HouseholdChangedFacts(
        household_id=household.id,
        division_code=household.division_code,
        sealed=seal({"address": household.address}),
        heating=household.heating,
        housing_area_m2=household.housing_area_m2,
        enrolled_on=household.enrolled_on,
        allowance_schedule=schedule,
        members=[_member_snapshot(member) for member in members],
        effective_on=effective_on,
        changed=changed,
        extensions=extension_spells(schedule, household.enrolled_on, extensions),
        exit_on=household.exited_on,
    )


async def lock_household(session: AsyncSession, household_id: str) -> Household | None:
    """The household, its row locked for this transaction (changes, exits and runs of one household queue).

    The parameters' lock is taken first, as a new standard takes it before locking the households it
    recomputes: a change that locked the household and then read the standard would deadlock with it."""

    await hold_parameters(session, exclusive=False)
    return await session.get(Household, household_id, with_for_update=True)


async def _locked_household(session: AsyncSession, household_id: str) -> Household:
    household = await lock_household(session, household_id)
    if household is None:
        raise NotFound("household_not_found", f"no household with id {household_id}")
    return household


async def change(uow: UnitOfWork, household_id: str, patch: HouseholdPatch, today: date | None = None) -> Household:
    session = uow.session
    today = today or city_today()
    household = await _locked_household(session, household_id)
    _require_in_dibao(household, today)
    effective_on = patch.effective_on or today
    if effective_on < household.enrolled_on:
        raise Unprocessable(
            "effective_before_enrolment", f"a change cannot take effect before enrolment on {household.enrolled_on}"
        )
    if household.exited_on is not None and effective_on >= household.exited_on:
        raise Unprocessable("effective_after_exit", f"the household leaves dibao on {household.exited_on}")
    changed = patch.changed_fields()
    if patch.members is not None:
        await _change_members(uow, household, patch.members, effective_on)
    for name in ("address", "heating", "housing_area_m2"):
        value = getattr(patch, name)
        if value is not None:
            setattr(household, name, value)

    extensions = (await _extension_rows(session, [household.id]))[household.id]
    exit_set = False
    if "members" in changed or "monthly_income" in changed:
        # The facts from ``effective_on`` on: what the change names, the rest as they stood that day. Revisions
        # already recorded for later days are statements of their own and stay.
        revisions = await _revisions(session, household.id)
        as_of = rules.revision_on(revisions, effective_on)
        assert as_of is not None  # the enrolment's revision is in force from the enrolment day
        member_count = len(patch.members) if patch.members is not None else as_of.member_count
        income = patch.monthly_income if patch.monthly_income is not None else as_of.monthly_income
        existing = await session.scalar(
            select(HouseholdRevision).where(
                HouseholdRevision.household_id == household.id, HouseholdRevision.effective_on == effective_on
            )
        )
        if existing is None:
            session.add(
                HouseholdRevision(
                    household_id=household.id,
                    effective_on=effective_on,
                    member_count=member_count,
                    monthly_income=income,
                )
            )
        else:
            existing.member_count, existing.monthly_income = member_count, income
        await session.flush()
        revisions = await _revisions(session, household.id)
        latest = rules.revision_on(revisions, max(today, effective_on))
        household.monthly_income = latest.monthly_income if latest else income
        book = await ParameterBook.load(session, [DIBAO_STANDARD])
        schedule = _schedule(book, household.division_code, household.enrolled_on, revisions)
        household.allowance_schedule = [s.model_dump(mode="json") for s in schedule]
        standard = _standard_on(book, household.division_code, effective_on)
        if not rules.below_standard(standard, member_count, income):
            # Income at or over the line: dibao ends with the month, or after a running extension.
            exit_on = rules.exit_after_income_rise(effective_on, [(e.first_period, e.last_period) for e in extensions])
            if household.exited_on is None or exit_on < household.exited_on:
                _set_exit(household, exit_on, "收入达到低保标准 income reached the dibao standard")
                await _close_memberships(session, household)
                exit_set = True
    household.revision += 1
    household.updated_at = datetime.now(UTC)
    await session.flush()
    await session.refresh(household, ["members"])
    await outbox.stage(uow, changed_event(household, household.members, effective_on, changed, extensions))
    if exit_set:
        await outbox.stage(uow, _exited_event(household))
    return household


async def _change_members(
    uow: UnitOfWork, household: Household, members: Sequence[MemberIn], effective_on: date
) -> None:
    """The new list of members from ``effective_on``: those kept are updated, those gone leave on that day, those
    new join on it (each person still in one household at a time)."""

    session = uow.session
    current = {member.resident_id: member for member in household.members}
    incoming = {parse_resident_id(member.resident_id).number: member for member in members}
    added = [number for number in incoming if number not in current]
    held = await _memberships(session, added)
    release, clashes = [], []
    for number in added:
        freed, clash = _claim(held.get(number, ()), effective_on, household.id)
        release.extend(freed)
        if clash:
            clashes.append(number)
    if clashes:
        raise _person_conflict(clashes)
    uow.audit(
        "members",
        household.id,
        before=[_member_snapshot(m).model_dump() for m in household.members],
        after=[m.model_dump() for m in members],
    )
    for number, row in current.items():
        if number not in incoming:
            await session.execute(
                update(Member).where(Member.id == row.id).values(removed=True, left_on=max(effective_on, row.joined_on))
            )
    for position, (number, member) in enumerate(incoming.items()):
        if number in current:
            fields = _member_row(household.id, position, member, current[number].joined_on)
            await session.execute(
                update(Member)
                .where(Member.id == current[number].id)
                .values(
                    **{
                        key: value
                        for key, value in fields.items()
                        if key not in ("household_id", "joined_on", "left_on", "removed", "active")
                    }
                )
            )
    try:
        async with session.begin_nested():
            await _release(session, release)
            new_rows = [
                _member_row(household.id, position, member, effective_on)
                for position, (number, member) in enumerate(incoming.items())
                if number in added
            ]
            if new_rows:
                await session.execute(insert(table_of(Member)), new_rows)
    except IntegrityError:
        raise _person_conflict(added) from None


def _set_exit(household: Household, on: date, reason: str) -> None:
    household.exited_on, household.exit_reason = on, reason
    household.updated_at = datetime.now(UTC)


async def _close_memberships(session: AsyncSession, household: Household) -> None:
    """Members' time in the household ends with its exit (they keep their place until then)."""

    on = household.exited_on
    await session.execute(
        update(Member)
        .where(
            Member.household_id == household.id,
            Member.removed.is_(False),
            Member.left_on.is_(None) | (Member.left_on > on),
        )
        .values(left_on=on)
    )


def _exited_event(household: Household) -> HouseholdExited:
    assert household.exited_on is not None
    return HouseholdExited(
        household_id=household.id,
        division_code=household.division_code,
        exited_on=household.exited_on,
        reason=household.exit_reason or "",
    )


async def exit_household(uow: UnitOfWork, household_id: str, body: ExitIn, today: date | None = None) -> Household:
    """The household leaves dibao on ``body.on`` — not before: an exit set ahead keeps it, and its members, where
    they are until then. An exit already set may be brought forward, not pushed back."""

    session = uow.session
    today = today or city_today()
    household = await _locked_household(session, household_id)
    _require_in_dibao(household, today)
    if body.on < household.enrolled_on:
        raise Unprocessable("exit_before_enrolment", f"the exit date is before enrolment on {household.enrolled_on}")
    if household.exited_on is not None and body.on >= household.exited_on:
        raise Conflict(
            "exit_already_set",
            f"the household already leaves dibao on {household.exited_on}; "
            "an exit can be brought forward, not pushed back",
        )
    _set_exit(household, body.on, body.reason)
    household.revision += 1
    await _close_memberships(session, household)
    await outbox.stage(uow, _exited_event(household))
    await session.flush()
    await session.refresh(household, ["members"])
    return household


async def standard_changed(uow: UnitOfWork, row: PolicyParameter) -> int:
    """A new dibao standard from a date: recompute the schedules of the households in dibao on or after it
    (a retroactive standard too: the next runs settle the months it touches) and tell the bureaus."""

    session = uow.session
    book = await ParameterBook.load(session, [DIBAO_STANDARD])
    query = select(Household).where(Household.exited_on.is_(None) | (Household.exited_on > row.effective_from))
    if row.scope != CITY_WIDE:
        query = query.where(Household.division_code == row.scope)
    changed = 0
    households = list((await session.scalars(query.order_by(Household.id).with_for_update())).all())
    revisions_by_household: dict[str, list[rules.Revision]] = {}
    for start in range(0, len(households), 500):
        chunk = [h.id for h in households[start : start + 500]]
        for r in (
            await session.scalars(select(HouseholdRevision).where(HouseholdRevision.household_id.in_(chunk)))
        ).all():
            revisions_by_household.setdefault(r.household_id, []).append(
                rules.Revision(r.effective_on, r.member_count, r.monthly_income)
            )
    events = []
    updated = []
    for household in households:
        schedule = _schedule(
            book, household.division_code, household.enrolled_on, revisions_by_household.get(household.id, [])
        )
        dumped = [s.model_dump(mode="json") for s in schedule]
        if dumped == household.allowance_schedule:
            continue
        household.allowance_schedule = dumped
        household.revision += 1
        updated.append(household)
        changed += 1
    extensions = await _extension_rows(session, [h.id for h in updated])
    for household in updated:
        events.append(
            changed_event(
                household,
                household.members,
                max(row.effective_from, household.enrolled_on),
                ["dibao_standard"],
                extensions[household.id],
            )
        )
    await session.flush()
    await outbox.stage_many(uow, events)
    return changed


# ---- payments: every run settles the past against the ledger ------------------------------------


@dataclass(frozen=True, slots=True)
class _Settled:
    households: int
    transferred: Decimal
    withheld: Decimal
    overpaid: Decimal


@dataclass(frozen=True, slots=True)
class _Account:
    """What a payment run reads of a household: its dated facts and its settlement marks, not the whole row."""

    id: str
    division_code: str
    enrolled_on: date
    exited_on: date | None
    allowance_schedule: list[dict[str, Any]]
    revision: int
    settled_revision: int
    settled_through: str | None
    settlement: int

    @property
    def settled_before(self) -> str:
        """The last month already settled under the facts as they stand ("" when every month must be looked at):
        a household whose facts have not changed since its last settlement is settled from the month after."""

        if self.settled_revision == self.revision and self.settled_through:
            return self.settled_through
        return ""


_ACCOUNT_COLUMNS = [Household.__table__.c[name] for name in _Account.__slots__]


def within_months(accounts: Sequence[_Account], through: Period, budget: int = MONTHS_PER_BATCH) -> list[_Account]:
    """The first of ``accounts`` whose months to settle through ``through`` fit in ``budget`` (at least one)."""

    def months(account: _Account) -> int:
        after = account.settled_before
        if after:
            return months_from(parse_month(after).start, through.start, inclusive=False)
        return months_from(account.enrolled_on, through.start, inclusive=True)

    return within_budget(accounts, months, budget)


async def run_payments(
    units: UnitsOfWork,
    uow: UnitOfWork,
    period: str,
    today: date | None = None,
    batch_size: int = 2000,
    dry_run: bool = False,
    months_per_batch: int = MONTHS_PER_BATCH,
) -> PaymentRunOut:
    """Settle every household's months from enrolment through ``period`` against the ledger.

    For each month, what is due under the facts now known is compared with the month's lines; the
    difference is written as a payment (arrears included) or a recovery (see shared.ledger). Households are
    read in batches ordered by id, each batch committed on its own (an interrupted run keeps what it paid)
    with its rows locked (a change or another run of the same household waits). A household already settled
    through ``period`` with nothing new since is not read again, so a second run adds nothing and is fast.
    A dry run settles the same batches and writes nothing (shared.runs).
    """

    month = parse_month(period)
    refuse_future(month.start, month.label, today)
    run_id = 0 if dry_run else await start_run(units, PaymentRun, month.label)
    tally = RunTally(dry_run=dry_run)

    # On PostgreSQL the households are settled in two halves of the key space at once, so that one half's
    # rules run while the other's batch is being written; SQLite has one writer at a time, so one half there.
    bounds: list[tuple[str, str | None]] = (
        [("", "8"), ("8", None)] if units.sessions.kw["bind"].dialect.name == "postgresql" else [("", None)]
    )
    halves = await asyncio.gather(
        *(_settle_keys(units, month, run_id, low, high, batch_size, months_per_batch, tally) for low, high in bounds)
    )
    paid = sum(half.households for half in halves)
    transferred = sum((half.transferred for half in halves), ZERO)
    withheld = sum((half.withheld for half in halves), ZERO)
    overpaid = sum((half.overpaid for half in halves), ZERO)

    # Finished in the request's unit of work, which audits the run and commits both together.
    if not dry_run:
        await finish_run(uow, PaymentRun, run_id, paid, transferred)
    already = await uow.session.scalar(
        select(func.count(func.distinct(Payment.household_id))).where(
            Payment.period == month.label, Payment.run_id != run_id
        )
    )
    log.info(
        "payment dry run finished" if dry_run else "payment run finished",
        extra={"ctx_period": month.label, "ctx_paid": paid, "ctx_total": str(transferred)},
    )
    return PaymentRunOut(
        period=month.label,
        households_paid=paid,
        total_amount=to_fen(transferred),
        recovered=to_fen(withheld),
        overpaid=to_fen(overpaid),
        already_paid=int(already or 0),
        **tally.report(),
    )


async def _settle_keys(
    units: UnitsOfWork,
    month: Period,
    run_id: int,
    low: str,
    high: str | None,
    batch_size: int,
    months_per_batch: int,
    tally: RunTally,
) -> _Settled:
    """Settle the households with ids from ``low`` up to ``high`` (excluded; open when None), batch by batch."""

    paid, transferred, withheld, overpaid, last_id = 0, ZERO, ZERO, ZERO, None
    while True:
        async with units.begin() as batch:
            session = batch.session
            # Core rows, not ORM objects: a run reads a few columns of every household and never its members.
            accounts = [
                _Account(*row)
                for row in (
                    await session.execute(
                        select(*_ACCOUNT_COLUMNS)
                        .where(
                            Household.id >= low if last_id is None else Household.id > last_id,
                            Household.id < high if high is not None else true(),
                            Household.enrolled_on <= month.end,
                            (Household.settled_revision != Household.revision)
                            | Household.settled_through.is_(None)
                            | (Household.settled_through < month.label),
                        )
                        .order_by(Household.id)
                        .limit(batch_size)
                        .with_for_update()
                    )
                ).all()
            ]
            if not accounts:
                return _Settled(paid, transferred, withheld, overpaid)
            # The rest of what was read (and locked) is read again by the next batch.
            accounts = within_months(accounts, month, months_per_batch)
            last_id = accounts[-1].id
            settled = await _settle(batch, accounts, month, run_id, tally)
            if not tally.dry_run:  # a dry run's batch is rolled back as it ends
                await batch.commit()
        paid += settled.households
        transferred += settled.transferred
        withheld += settled.withheld
        overpaid += settled.overpaid


async def _ledger_after(
    session: AsyncSession, accounts: Sequence[_Account], through: Period
) -> dict[str, dict[str, Decimal]]:
    """Each household's ledger sums by month, for the months after it was last settled, through ``through``.

    One query per distinct starting point (a monthly run has one or two): reading a changed household's whole
    history must not make the batch read everyone's."""

    by_start: dict[str, list[str]] = defaultdict(list)
    for account in accounts:
        by_start[account.settled_before].append(account.id)
    ledger: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for start, ids in by_start.items():
        for household_id, period, amount in (
            await session.execute(
                select(Payment.household_id, Payment.period, func.sum(Payment.amount))
                .where(Payment.household_id.in_(ids), Payment.period > start, Payment.period <= through.label)
                .group_by(Payment.household_id, Payment.period)
            )
        ).all():
            ledger[household_id][period] = amount
    return ledger


async def _settle(
    uow: UnitOfWork, accounts: Sequence[_Account], through: Period, run_id: int, tally: RunTally
) -> _Settled:
    session = uow.session
    ids = [account.id for account in accounts]
    extensions = await _extension_rows(session, ids)
    ledger = await _ledger_after(session, accounts, through)
    # Only recoveries and withholdings make a balance; reading those alone keeps a monthly run's reads small.
    owed = {
        household_id: ledger_balance(recoveries or ZERO, kept or ZERO)
        for household_id, recoveries, kept in (
            await session.execute(
                select(
                    Payment.household_id,
                    func.sum(case((Payment.kind == RECOVERY, Payment.amount), else_=ZERO)),
                    func.sum(Payment.withheld),
                )
                .where(Payment.household_id.in_(ids), OWING)
                .group_by(Payment.household_id)
            )
        ).all()
    }
    rows: list[dict[str, Any]] = []
    marks: list[dict[str, Any]] = []
    paid, transferred, withheld, overpaid = 0, ZERO, ZERO, ZERO
    for account in accounts:
        due = _due(account, extensions[account.id], through, ledger[account.id])
        lines = settle(due, ledger[account.id], owed.get(account.id, ZERO))
        settlement = account.settlement + (1 if lines else 0)
        for line in lines:
            rows.append(
                {
                    "household_id": account.id,
                    "period": line.period,
                    "amount": line.amount,
                    "kind": line.kind,
                    "withheld": line.withheld,
                    "division_code": account.division_code,
                    "run_id": run_id,
                    "run_period": through.label,
                    "settlement": settlement,
                }
            )
            transferred += line.transferred
            withheld += line.withheld if line.amount > ZERO else ZERO
            overpaid -= line.amount if line.amount < ZERO else ZERO
        paid += any(line.amount > ZERO for line in lines)
        tally.settled(account.id, account.division_code, lines)
        # Settled through this run's month under the facts as they stand; months after it that an earlier run
        # settled under older facts are looked at again by the next run (everything after ``settled_through``).
        marks.append(
            {"b_id": account.id, "b_settlement": settlement, "b_revision": account.revision, "b_through": through.label}
        )
    if tally.dry_run:
        return _Settled(paid, transferred, withheld, overpaid)
    if rows:
        await insert_many(session, Payment, rows)
        await outbox.stage_many(uow, paid_events(rows))
    await session.execute(
        update(table_of(Household))
        .where(table_of(Household).c.id == bindparam("b_id"))
        .values(
            settlement=bindparam("b_settlement"),
            settled_revision=bindparam("b_revision"),
            settled_through=bindparam("b_through"),
        )
        .execution_options(synchronize_session=False),
        marks,
    )
    return _Settled(paid, transferred, withheld, overpaid)


def paid_events(rows: Sequence[dict[str, Any]], paid_on: date | None = None) -> list[AssistancePaid]:
    """The money a settlement's ledger lines transfer, announced for the office (one-stop view, assessment):
    a line's amount less what it withholds; a recovery transfers nothing. The reference is the line's key."""

    paid_on = paid_on or city_today()
    return [
        grant_ledger.payment_event(
            household_id=row["household_id"],
            division_code=row["division_code"],
            programme=row["kind"],
            period=row["period"],
            amount=row["amount"] - row["withheld"],
            paid_on=paid_on,
            reference=f"{row['household_id']}/{row['period']}/{row['kind']}/{row['settlement']}",
        )
        for row in rows
        if row["amount"] > row["withheld"]
    ]


def _due(
    account: _Account, extension_rows: Sequence[EmploymentExtension], through: Period, ledger: dict[str, Decimal]
) -> dict[str, tuple[Decimal, str]]:
    """What dibao owes the household for each month after it was last settled through ``through``, from the
    facts now known."""

    schedule = schedule_of(account)
    spells = extension_spells(schedule, account.enrolled_on, extension_rows)
    candidates = [spell.last_period for spell in spells] + list(ledger)
    if account.exited_on is not None:
        candidates.append(month_of(account.exited_on - timedelta(days=1)).label)
        last: Period | None = parse_month(max(candidates))
    else:
        last = None
    due: dict[str, tuple[Decimal, str]] = {}
    for month in rules.months_to_settle(account.enrolled_on, through, last, after=account.settled_before):
        owed = dibao_due(
            schedule=schedule,
            enrolled_on=account.enrolled_on,
            exited_on=account.exited_on,
            extensions=spells,
            month=month,
        )
        if owed is not None:
            due[month.label] = (owed.amount, owed.kind)
    return due


async def balance_owed(session: AsyncSession, household_ids: Sequence[str]) -> dict[str, Decimal]:
    rows = (
        await session.execute(
            select(
                Payment.household_id,
                func.sum(case((Payment.kind == RECOVERY, Payment.amount), else_=ZERO)),
                func.sum(Payment.withheld),
            )
            .where(Payment.household_id.in_(list(household_ids)))
            .group_by(Payment.household_id)
        )
    ).all()
    return {household_id: ledger_balance(recoveries or ZERO, kept or ZERO) for household_id, recoveries, kept in rows}


async def payments_of(session: AsyncSession, household_id: str) -> list[Payment]:
    await get_household(session, household_id)
    return list(
        (
            await session.scalars(
                select(Payment).where(Payment.household_id == household_id).order_by(Payment.period, Payment.id)
            )
        ).all()
    )


# ---- the employment extension (延发三个月) -------------------------------------------------------


async def record_employment(uow: UnitOfWork, event: MemberEmployed) -> EmploymentExtension | None:
    """A member found work: the household keeps dibao for the extension's months whatever else happens, and the
    member is recorded as employed (the change events sent from now on carry it)."""

    session = uow.session
    household = await lock_household(session, event.household_id)
    if (
        household is None
        or household.status_on(event.employed_on) != "active"
        or event.employed_on < household.enrolled_on
    ):
        log.info(
            "employment of a member outside an active household ignored", extra={"ctx_household": event.household_id}
        )
        return None
    member = next((m for m in household.members if m.resident_id == event.resident_id), None)
    if member is None:
        log.info("employment of a person not in the household ignored", extra={"ctx_household": household.id})
        return None
    book = await ParameterBook.load(session, [EXTENSION_MONTHS])
    first, last = rules.extension_months(event.employed_on, book.get(EXTENSION_MONTHS, event.employed_on))
    amount = rules.allowance_before(schedule_of(household), household.enrolled_on, event.employed_on)
    inserted = await insert_ignore(
        session,
        EmploymentExtension,
        [
            {
                "household_id": household.id,
                "resident_id": event.resident_id,
                "employed_on": event.employed_on,
                "kind": event.kind,
                "first_period": first.label,
                "last_period": last.label,
                "monthly_amount": amount,
                "created_at": datetime.now(UTC),
            }
        ],
        ["household_id", "resident_id", "employed_on"],
        returning=[EmploymentExtension.id],
    )
    if not inserted:
        return None  # the same job announced again
    await session.execute(
        update(Member).where(Member.id == member.id).values(employment_status="employed", unemployed_since=None)
    )
    household.revision += 1
    household.updated_at = datetime.now(UTC)
    review_from = add_months(last, 1).start
    if household.review_from is None or review_from > household.review_from:
        household.review_from = review_from
        household.review_reason = f"employment extension ends {last.label}: review the household's income"
    await session.flush()
    await session.refresh(household, ["members"])
    extensions = (await _extension_rows(session, [household.id]))[household.id]
    await outbox.stage(uow, changed_event(household, household.members, event.employed_on, ["employment"], extensions))
    await announce_review(uow, household)
    return next(row for row in extensions if row.id == inserted[0][0])


async def reset_event_state(session: AsyncSession) -> dict[str, int]:
    """Before a replay of employment.members: nothing is deleted. An extension is recorded once per person and
    job (its unique key), and it has already changed the member, the ledger and the events sent: replaying
    brings back one that is missing and leaves those known as they are."""

    return {}


# ---- report -------------------------------------------------------------------------------------


async def report(session: AsyncSession, period: Period) -> Report:
    """What Civil Affairs did per division in the period: caseload, enrolments, exits, money paid."""

    active = (
        await session.execute(
            select(Household.division_code, Household.id, Household.enrolled_on, Household.exited_on).where(
                Household.enrolled_on <= period.end,
                (Household.exited_on.is_(None)) | (Household.exited_on > period.start),
            )
        )
    ).all()
    persons = dict(
        (
            await session.execute(
                select(Household.division_code, func.count(func.distinct(Member.resident_id)))
                .join(Member, Member.household_id == Household.id)
                .where(
                    Member.removed.is_(False),
                    Household.enrolled_on <= period.end,
                    (Household.exited_on.is_(None)) | (Household.exited_on > period.start),
                )
                .group_by(Household.division_code)
            )
        )
        .tuples()
        .all()
    )
    months = [month.label for month in period.months()]
    paid = {
        division: (count, amount)
        for division, count, amount in (
            await session.execute(
                select(Payment.division_code, func.count(), func.sum(Payment.amount))
                .where(Payment.period.in_(months))
                .group_by(Payment.division_code)
            )
        ).all()
    }
    households: dict[str, int] = defaultdict(int)
    enrolled: dict[str, int] = defaultdict(int)
    exited: dict[str, int] = defaultdict(int)
    for division, _, enrolled_on, exited_on in active:
        households[division] += 1
        enrolled[division] += period.contains(enrolled_on)
        exited[division] += exited_on is not None and period.contains(exited_on)
    divisions = sorted(set(households) | set(paid))
    items = [
        DivisionReport(
            division_code=code,
            division_name=division_name(code),
            households_active=households.get(code, 0),
            persons_active=persons.get(code, 0),
            enrolled=enrolled.get(code, 0),
            exited=exited.get(code, 0),
            payments=paid.get(code, (0, ZERO))[0],
            amount_paid=to_fen(paid.get(code, (0, ZERO))[1] or ZERO),
        )
        for code in divisions
    ]
    return Report(
        period=period.label, divisions=items, total_amount_paid=to_fen(sum((i.amount_paid for i in items), ZERO))
    )
