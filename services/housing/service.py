"""Housing assistance use cases: eligibility from events, rent subsidy runs, flats, waitlist, allocation."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.housing import rules
from services.housing.models import (
    HousingCase,
    RentSubsidy,
    SubsidyRun,
    Unit,
    WaitlistEntry,
)
from services.housing.parameters import (
    DIFFICULTY_AREA,
    SPECS,
    STANDARD_AREA,
    SUBSIDY_PER_M2,
)
from services.housing.schemas import (
    AllocationIn,
    AllocationOut,
    DivisionReport,
    HousingHouseholdOut,
    Report,
    SubsidyRunOut,
    TenancyOut,
    UnitIn,
    UnitOut,
    WaitlistItem,
)
from shared.allowance import governing_day
from shared.divisions import division_name
from shared.errors import Conflict, NotFound, Unprocessable
from shared.grants import GrantLedger
from shared.money import ZERO
from shared.outbox import Outbox
from shared.parameters import ParameterBook
from shared.periods import Period, add_months, month_of, parse_month
from shared.projection import (
    HouseholdDelta,
    HouseholdRows,
    prefetch_all,
    prefetch_households,
)
from shared.runs import run_in_batches

CASES = HouseholdRows(HousingCase)
RENT_SUBSIDY = "rent_subsidy"
ALLOCATION = "low_rent_allocation"
ledger = GrantLedger("housing", Outbox(producer="housing"))


def _qualifies(book: ParameterBook, case: HousingCase, day: date) -> bool:
    return rules.qualifies(case.area_m2, case.members, book.get(DIFFICULTY_AREA, day, case.division_code))


def _subsidy(book: ParameterBook, case: HousingCase, day: date) -> Decimal:
    return rules.monthly_rent_subsidy(case.area_m2, case.members, book.get(STANDARD_AREA, day, case.division_code),
                                      book.get(SUBSIDY_PER_M2, day, case.division_code))


async def _withdraw_waiting(session: AsyncSession, household_id: str) -> None:
    entry = await session.scalar(select(WaitlistEntry).where(WaitlistEntry.household_id == household_id,
                                                             WaitlistEntry.status == "waiting"))
    if entry is not None:
        entry.status, entry.resolved_at = "withdrawn", datetime.now(UTC)


# ---- eligibility from the registry's events --------------------------------------------------


async def apply_delta(session: AsyncSession, delta: HouseholdDelta) -> None:
    household = delta.household
    if household is None or delta.kind == "ignored":
        return
    now, on = datetime.now(UTC), delta.effective_on
    cases = await CASES.get(session, household.household_id)
    case = cases[0] if cases else None
    if delta.kind == "exited":
        if case is None:
            return
        case.in_dibao, case.exited_on, case.updated_at = False, on, now
        if case.eligible:
            case.eligible, case.eligible_until = False, on
        await ledger.revoke(session, household_id=case.household_id, programme=RENT_SUBSIDY, on=on,
                            reason="household left dibao")
        await _withdraw_waiting(session, case.household_id)
        if case.unit_id is not None:
            # The software does not evict: the bureau reviews the tenancy.
            case.tenancy_review, case.review_reason = True, f"left dibao on {on.isoformat()} while a tenant"
        return

    members = len(delta.current_members)
    area = Decimal(str(household.snapshot["housing_area_m2"]))
    if case is None:
        case = HousingCase(household_id=household.household_id, division_code=household.division_code,
                           members=members, area_m2=area, enrolled_on=household.enrolled_on, in_dibao=True,
                           eligible=False, tenancy_review=False, updated_at=now)
        CASES.add(session, case)
    else:
        case.members, case.area_m2, case.division_code, case.updated_at = members, area, household.division_code, now
    await _decide(session, case, on)


async def _decide(session: AsyncSession, case: HousingCase, on: date) -> None:
    """Re-decide eligibility from ``on``: grant, re-price or revoke the rent subsidy."""

    book = await ParameterBook.load(session, SPECS)
    qualifies = _qualifies(book, case, on)
    if qualifies and not case.eligible:
        case.eligible, case.eligible_since, case.eligible_until = True, on, None
    elif not qualifies and case.eligible:
        case.eligible, case.eligible_until = False, on
        await ledger.revoke(session, household_id=case.household_id, programme=RENT_SUBSIDY, on=on,
                            reason="floor area per person above the difficulty threshold")
        await _withdraw_waiting(session, case.household_id)
    if case.eligible and case.unit_id is None:
        await ledger.grant(session, household_id=case.household_id, division_code=case.division_code,
                           programme=RENT_SUBSIDY, on=case.eligible_since or on, monthly_amount=_subsidy(book, case, on),
                           detail="廉租住房租金补贴")


# ---- reading ------------------------------------------------------------------------------------


async def get_case(session: AsyncSession, household_id: str) -> HousingCase:
    case = await session.get(HousingCase, household_id)
    if case is None:
        raise NotFound("household_not_found", f"no dibao household {household_id} is known to the Housing Bureau")
    return case


async def household_view(session: AsyncSession, household_id: str, today: date | None = None) -> HousingHouseholdOut:
    today = today or date.today()
    case = await get_case(session, household_id)
    book = await ParameterBook.load(session, SPECS)
    tenancy = None
    if case.unit_id is not None:
        unit = await session.get(Unit, case.unit_id)
        tenancy = TenancyOut(unit_id=str(case.unit_id), address=unit.address if unit else "",
                             allocated_on=case.allocated_on)  # type: ignore[arg-type]
    subsidy = ZERO
    if case.in_dibao and case.eligible and rules.subsidy_due(month_of(today), case.allocated_on):
        subsidy = _subsidy(book, case, today)
    positions = {item.household_id: item.position for item in await waitlist(session)}
    return HousingHouseholdOut(
        household_id=case.household_id, division_code=case.division_code, in_dibao=case.in_dibao,
        members=case.members, area_m2=case.area_m2, area_per_person=rules.area_per_person(case.area_m2, case.members),
        eligible=case.eligible, eligible_since=case.eligible_since, monthly_rent_subsidy=subsidy, tenancy=tenancy,
        waitlist_position=positions.get(case.household_id), tenancy_review=case.tenancy_review,
        review_reason=case.review_reason)


# ---- rent subsidy runs ----------------------------------------------------------------------------


def _eligible_on(case: HousingCase, day: date) -> bool:
    return (case.eligible_since is not None and case.eligible_since <= day
            and (case.eligible_until is None or day < case.eligible_until))


async def run_subsidies(sessions: async_sessionmaker[AsyncSession], period: str, batch_size: int = 2000) -> SubsidyRunOut:
    month = parse_month(period)

    async def fetch(session: AsyncSession, after: str, limit: int) -> Sequence[HousingCase]:
        return (await session.scalars(select(HousingCase).where(
            HousingCase.household_id > after,
            HousingCase.eligible_since.is_not(None),
            HousingCase.enrolled_on <= month.end,
            (HousingCase.exited_on.is_(None)) | (HousingCase.exited_on > month.start),
            ~exists().where(and_(RentSubsidy.household_id == HousingCase.household_id, RentSubsidy.period == month.label)),
        ).order_by(HousingCase.household_id).limit(limit))).all()

    async def build(session: AsyncSession, cases: Sequence[HousingCase], run_id: int) -> list[dict[str, Any]]:
        book = await ParameterBook.load(session, SPECS)
        rows = []
        for case in cases:
            day = governing_day(month, case.enrolled_on)
            if not _eligible_on(case, day) or not rules.subsidy_due(month, case.allocated_on):
                continue
            amount = _subsidy(book, case, day)
            if amount > ZERO:
                rows.append({"household_id": case.household_id, "division_code": case.division_code,
                             "period": month.label, "members": case.members, "area_m2": case.area_m2,
                             "amount": amount, "run_id": run_id, "created_at": datetime.now(UTC)})
        return rows

    async def announce(session: AsyncSession, inserted: Sequence[Any]) -> None:
        await ledger.outbox.stage_many(session, (ledger.payment_event(
            household_id=household_id, division_code=division_code, programme=RENT_SUBSIDY, period=month.label,
            amount=amount, reference=f"rent-{row_id}") for amount, row_id, household_id, division_code in inserted))

    result = await run_in_batches(
        sessions, run_model=SubsidyRun, payment_model=RentSubsidy, period=month.label, fetch_batch=fetch,
        key_of=lambda case: case.household_id, build_rows=build, conflict_columns=["household_id", "period"],
        returning=[RentSubsidy.amount, RentSubsidy.id, RentSubsidy.household_id, RentSubsidy.division_code],
        announce=announce, batch_size=batch_size)
    return SubsidyRunOut(period=result.period, households_paid=result.paid, total_amount=result.total,
                         already_paid=result.already_paid)


# ---- flats, waitlist, allocation ----------------------------------------------------------------


def unit_out(unit: Unit) -> UnitOut:
    return UnitOut(id=str(unit.id), address=unit.address, division_code=unit.division_code, area_m2=unit.area_m2,
                   rooms=unit.rooms, status=unit.status, household_id=unit.household_id)


async def register_unit(session: AsyncSession, body: UnitIn) -> Unit:
    unit = Unit(**body.model_dump(), status="vacant", created_at=datetime.now(UTC))
    session.add(unit)
    await session.flush()
    return unit


async def list_units(session: AsyncSession, status: str | None) -> list[Unit]:
    query = select(Unit).order_by(Unit.id)
    if status:
        query = query.where(Unit.status == status)
    return list((await session.scalars(query)).all())


def _require_eligible(case: HousingCase) -> None:
    if not case.in_dibao:
        raise Unprocessable("not_eligible", f"household {case.household_id} left dibao on {case.exited_on}")
    if not case.eligible:
        raise Unprocessable("not_eligible", f"household {case.household_id} has "
                                            f"{rules.area_per_person(case.area_m2, case.members)} m² per person, "
                                            "above the housing-difficulty threshold")
    if case.unit_id is not None:
        raise Conflict("already_housed", f"household {case.household_id} already rents flat {case.unit_id}")


async def request_allocation(session: AsyncSession, household_id: str) -> WaitlistItem:
    case = await get_case(session, household_id)
    _require_eligible(case)
    entry = WaitlistEntry(household_id=case.household_id, requested_at=datetime.now(UTC), status="waiting")
    session.add(entry)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("already_waiting", f"household {household_id} is already on the waitlist") from None
    return next(item for item in await waitlist(session) if item.household_id == household_id)


async def waitlist(session: AsyncSession) -> list[WaitlistItem]:
    rows = (await session.execute(select(WaitlistEntry, HousingCase).join(
        HousingCase, HousingCase.household_id == WaitlistEntry.household_id).where(
        WaitlistEntry.status == "waiting"))).all()
    ordered = sorted(rows, key=lambda r: rules.waitlist_key(r[1].area_m2, r[1].members, r[1].enrolled_on,
                                                            r[0].requested_at))
    return [WaitlistItem(position=index, household_id=case.household_id, division_code=case.division_code,
                         members=case.members, area_per_person=rules.area_per_person(case.area_m2, case.members),
                         enrolled_on=case.enrolled_on, requested_at=entry.requested_at)
            for index, (entry, case) in enumerate(ordered, start=1)]


async def allocate(session: AsyncSession, body: AllocationIn, today: date | None = None) -> AllocationOut:
    on = body.on or today or date.today()
    case = await get_case(session, body.household_id)
    _require_eligible(case)
    unit = await session.get(Unit, int(body.unit_id))
    if unit is None:
        raise NotFound("unit_not_found", f"no low-rent flat with id {body.unit_id}")
    if unit.status != "vacant":
        raise Conflict("unit_not_vacant", f"flat {unit.id} is already let")
    unit.status, unit.household_id = "let", case.household_id
    case.unit_id, case.allocated_on, case.updated_at = unit.id, on, datetime.now(UTC)
    entry = await session.scalar(select(WaitlistEntry).where(WaitlistEntry.household_id == case.household_id,
                                                             WaitlistEntry.status == "waiting"))
    if entry is not None:
        entry.status, entry.resolved_at = "allocated", datetime.now(UTC)
    next_month = add_months(month_of(on), 1)
    await ledger.revoke(session, household_id=case.household_id, programme=RENT_SUBSIDY, on=next_month.start,
                        reason=f"low-rent flat {unit.id} allocated on {on.isoformat()}")
    await ledger.grant(session, household_id=case.household_id, division_code=case.division_code,
                       programme=ALLOCATION, on=on, detail=f"实物配租: {unit.address}")
    await session.flush()
    return AllocationOut(household_id=case.household_id, unit_id=str(unit.id), allocated_on=on,
                         rent_subsidy_ends_after=month_of(on).label)


# ---- report -------------------------------------------------------------------------------------


async def report(session: AsyncSession, period: Period) -> Report:
    cases = (await session.scalars(select(HousingCase).where(HousingCase.eligible_since.is_not(None)))).all()
    eligible: Counter[str] = Counter(case.division_code for case in cases
                                     if period.overlaps(case.eligible_since, case.eligible_until))  # type: ignore[arg-type]
    allocated: Counter[str] = Counter(case.division_code for case in cases
                                      if case.allocated_on and period.contains(case.allocated_on))
    months = [m.label for m in period.months()]
    paid: dict[str, tuple[int, Decimal]] = defaultdict(lambda: (0, ZERO))
    for division, count, amount in (await session.execute(
            select(RentSubsidy.division_code, func.count(), func.sum(RentSubsidy.amount))
            .where(RentSubsidy.period.in_(months)).group_by(RentSubsidy.division_code))).all():
        paid[division] = (count, amount or ZERO)
    waiting: Counter[str] = Counter(item.division_code for item in await waitlist(session))
    divisions = sorted(set(eligible) | set(allocated) | set(paid) | set(waiting))
    return Report(period=period.label, divisions=[DivisionReport(
        division_code=code, division_name=division_name(code), eligible_households=eligible.get(code, 0),
        subsidies_paid=paid[code][0], subsidy_amount=paid[code][1], flats_allocated=allocated.get(code, 0),
        waitlist_length=waiting.get(code, 0)) for code in divisions])


# What the consumer reads for a whole batch of household events at once.
prefetch = prefetch_all(prefetch_households, CASES.prefetch)
