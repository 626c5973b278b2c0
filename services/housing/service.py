"""Housing assistance use cases: eligibility from events, rent subsidy runs, flats, waitlist, allocation."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

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
    PaymentOut,
    Report,
    SubsidyRunOut,
    TenancyOut,
    UnitIn,
    UnitOut,
    WaitlistItem,
)
from shared.allowance import governing_day
from shared.db import insert_ignore
from shared.divisions import division_name
from shared.errors import Conflict, NotFound, Unprocessable
from shared.grants import GrantLedger, prefetch_caseload
from shared.money import ZERO
from shared.outbox import Outbox
from shared.parameters import ParameterBook
from shared.periods import Period, add_months, city_today, month_of, parse_month, refuse_future
from shared.projection import (
    DibaoHousehold,
    DibaoMember,
    HouseholdDelta,
    HouseholdRows,
    facts_on,
    prefetch_all,
)
from shared.runs import RunTally, finish_run, start_run
from shared.unit_of_work import UnitOfWork, UnitsOfWork

CASES = HouseholdRows(HousingCase)
RENT_SUBSIDY = "rent_subsidy"
ALLOCATION = "low_rent_allocation"
ledger = GrantLedger("housing", Outbox(producer="housing"))
log = logging.getLogger("services.housing")


def _qualifies(book: ParameterBook, case: HousingCase, day: date) -> bool:
    return rules.qualifies(case.area_m2, case.members, book.get(DIFFICULTY_AREA, day, case.division_code))


def _subsidy(book: ParameterBook, case: HousingCase, day: date) -> Decimal:
    return rules.monthly_rent_subsidy(
        case.area_m2,
        case.members,
        book.get(STANDARD_AREA, day, case.division_code),
        book.get(SUBSIDY_PER_M2, day, case.division_code),
    )


async def _withdraw_waiting(session: AsyncSession, household_id: str) -> None:
    entry = await session.scalar(
        select(WaitlistEntry).where(WaitlistEntry.household_id == household_id, WaitlistEntry.status == "waiting")
    )
    if entry is not None:
        entry.status, entry.resolved_at = "withdrawn", datetime.now(UTC)


# ---- eligibility from the registry's events --------------------------------------------------


async def apply_delta(uow: UnitOfWork, delta: HouseholdDelta) -> None:
    household = delta.household
    if household is None or delta.kind == "ignored":
        return
    now, on = datetime.now(UTC), delta.effective_on
    cases = await CASES.get(uow, household.household_id)
    case = cases[0] if cases else None
    if delta.kind == "exited":
        if case is None:
            return
        case.in_dibao, case.exited_on, case.updated_at = False, on, now
        if case.eligible:
            case.eligible, case.eligible_until = False, on
        await ledger.revoke(
            uow, household_id=case.household_id, programme=RENT_SUBSIDY, on=on, reason="household left dibao"
        )
        await _withdraw_waiting(uow.session, case.household_id)
        if case.unit_id is not None:
            # The software does not evict: the bureau reviews the tenancy.
            case.tenancy_review, case.review_reason = True, f"left dibao on {on.isoformat()} while a tenant"
        return

    members = len(delta.current_members)
    area = Decimal(str(household.snapshot["housing_area_m2"]))
    if case is None:
        case = HousingCase(
            household_id=household.household_id,
            division_code=household.division_code,
            members=members,
            area_m2=area,
            enrolled_on=household.enrolled_on,
            in_dibao=True,
            eligible=False,
            tenancy_review=False,
            updated_at=now,
        )
        CASES.add(uow, case)
    else:
        case.members, case.area_m2, case.division_code, case.updated_at = members, area, household.division_code, now
    await _decide(uow, case, on)


async def _decide(uow: UnitOfWork, case: HousingCase, on: date) -> None:
    """Re-decide eligibility from ``on``: grant, re-price or revoke the rent subsidy."""

    book = await ParameterBook.of(uow, SPECS)
    qualifies = _qualifies(book, case, on)
    if qualifies and not case.eligible:
        case.eligible, case.eligible_since, case.eligible_until = True, on, None
    elif not qualifies and case.eligible:
        case.eligible, case.eligible_until = False, on
        await ledger.revoke(
            uow,
            household_id=case.household_id,
            programme=RENT_SUBSIDY,
            on=on,
            reason="floor area per person above the difficulty threshold",
        )
        await _withdraw_waiting(uow.session, case.household_id)
    if case.eligible and case.unit_id is None:
        await ledger.grant(
            uow,
            household_id=case.household_id,
            division_code=case.division_code,
            programme=RENT_SUBSIDY,
            on=case.eligible_since or on,
            monthly_amount=_subsidy(book, case, on),
            detail="廉租住房租金补贴",
        )


# ---- the subsidy each month is due, from that month's facts -------------------------------------


class _Parameters:
    """The parameters in force on a day for a division, each (day, division) resolved once per run."""

    def __init__(self, book: ParameterBook) -> None:
        self.book = book
        self.cache: dict[tuple[date, str], tuple[Decimal, Decimal, Decimal]] = {}

    def on(self, day: date, division_code: str) -> tuple[Decimal, Decimal, Decimal]:
        key = (day, division_code)
        if key not in self.cache:
            self.cache[key] = (
                self.book.get(DIFFICULTY_AREA, day, division_code),
                self.book.get(STANDARD_AREA, day, division_code),
                self.book.get(SUBSIDY_PER_M2, day, division_code),
            )
        return self.cache[key]


@dataclass(frozen=True, slots=True)
class _Month:
    division_code: str
    facts: rules.MonthFacts
    due: Decimal


def _month(
    case: HousingCase, household: DibaoHousehold, members: Sequence[DibaoMember], month: Period, parameters: _Parameters
) -> _Month:
    """What ``month`` is due, with the members, area and parameters in force on its governing day."""

    day = governing_day(month, household.enrolled_on)
    facts = facts_on(household, day)
    division_code = str(facts.get("division_code") or household.division_code)
    difficulty, standard, per_m2 = parameters.on(day, division_code)
    month_facts = rules.MonthFacts(
        members=sum(1 for member in members if member.eligible_on(day)),
        area_m2=Decimal(str(facts["housing_area_m2"])),
        difficulty_per_person=difficulty,
        standard_per_person=standard,
        per_m2=per_m2,
    )
    housed = not rules.subsidy_due(month, case.allocated_on, household.enrolled_on)
    return _Month(division_code, month_facts, ZERO if housed else rules.month_due(month_facts))


async def _caseload(
    session: AsyncSession, household_ids: Sequence[str]
) -> tuple[dict[str, DibaoHousehold], dict[str, list[DibaoMember]]]:
    """The households' caseload copy and every member's time in dibao (past spans included)."""

    households = {
        h.household_id: h
        for h in (
            await session.scalars(select(DibaoHousehold).where(DibaoHousehold.household_id.in_(household_ids)))
        ).all()
    }
    members: dict[str, list[DibaoMember]] = defaultdict(list)
    for row in (
        await session.scalars(
            select(DibaoMember).where(DibaoMember.household_id.in_(household_ids)).order_by(DibaoMember.id)
        )
    ).all():
        members[row.household_id].append(row)
    return households, members


# ---- reading ------------------------------------------------------------------------------------


async def get_case(session: AsyncSession, household_id: str) -> HousingCase:
    case = await session.get(HousingCase, household_id)
    if case is None:
        raise NotFound("household_not_found", f"no dibao household {household_id} is known to the Housing Bureau")
    return case


async def household_view(session: AsyncSession, household_id: str, today: date | None = None) -> HousingHouseholdOut:
    month = month_of(today or city_today())
    case = await get_case(session, household_id)
    tenancy = None
    if case.unit_id is not None:
        unit = await session.get(Unit, case.unit_id)
        assert case.allocated_on is not None  # a let flat has its allocation date: the two are set together
        tenancy = TenancyOut(
            unit_id=str(case.unit_id), address=unit.address if unit else "", allocated_on=case.allocated_on
        )
    subsidy = ZERO
    households, members = await _caseload(session, [household_id])
    household = households.get(household_id)
    if household is not None and household.enrolled_on <= month.end:
        parameters = _Parameters(await ParameterBook.load(session, SPECS))
        subsidy = _month(case, household, members[household_id], month, parameters).due
    positions = {item.household_id: item.position for item in await waitlist(session)}
    return HousingHouseholdOut(
        household_id=case.household_id,
        division_code=case.division_code,
        in_dibao=case.in_dibao,
        members=case.members,
        area_m2=case.area_m2,
        area_per_person=rules.area_per_person(case.area_m2, case.members),
        eligible=case.eligible,
        eligible_since=case.eligible_since,
        monthly_rent_subsidy=subsidy,
        tenancy=tenancy,
        waitlist_position=positions.get(case.household_id),
        tenancy_review=case.tenancy_review,
        review_reason=case.review_reason,
        balance_owed=rules.balance_owed(await payments_of(session, household_id)),
    )


async def payments_of(session: AsyncSession, household_id: str) -> list[RentSubsidy]:
    await get_case(session, household_id)
    return list(
        (
            await session.scalars(
                select(RentSubsidy)
                .where(RentSubsidy.household_id == household_id)
                .order_by(RentSubsidy.period, RentSubsidy.id)
            )
        ).all()
    )


def payment_out(line: RentSubsidy) -> PaymentOut:
    return PaymentOut(
        period=line.period,
        amount=line.amount,
        kind=line.kind,
        run_period=line.run_period,
        paid_at=line.created_at,
        withheld=line.withheld,
    )


# ---- rent subsidy runs ----------------------------------------------------------------------------


@dataclass
class _Tally:
    households_paid: int = 0
    transferred: Decimal = ZERO
    overpaid: Decimal = ZERO
    withheld: Decimal = ZERO
    lines: int = 0
    already_settled: int = 0


async def run_subsidies(
    units: UnitsOfWork,
    uow: UnitOfWork,
    period: str,
    batch_size: int = 2000,
    today: date | None = None,
    dry_run: bool = False,
) -> SubsidyRunOut:
    """Settle every month from each household's enrolment through ``period`` against the subsidy ledger.

    Batched like shared.runs: the run's record is committed first, then each batch of households is
    settled and committed on its own. A batch locks its households' cases (FOR UPDATE) before reading
    their ledger, so runs at the same time — for this period or another — settle a household one after
    the other, and the later one finds nothing left to add. The run's record is finished in ``uow`` (the
    request's), which the caller commits.
    """

    month = parse_month(period)
    refuse_future(month.start, f"the rent subsidy for {month.label}", today)
    run_id = 0 if dry_run else await start_run(units, SubsidyRun, month.label)

    tally, last_key, report = _Tally(), "", RunTally(dry_run=dry_run)
    while True:
        async with units.begin() as batch:
            session = batch.session
            cases = (
                await session.scalars(
                    select(HousingCase)
                    .where(HousingCase.household_id > last_key)
                    .order_by(HousingCase.household_id)
                    .limit(batch_size)
                    .with_for_update()
                )
            ).all()
            if not cases:
                break
            last_key = cases[-1].household_id
            rows = await _settle_batch(session, cases, month, run_id, tally, report)
            if dry_run:  # a dry run's batch is rolled back as it ends
                continue
            inserted = await insert_ignore(
                session,
                RentSubsidy,
                rows,
                ["household_id", "period", "kind", "run_id"],
                returning=[
                    RentSubsidy.id,
                    RentSubsidy.household_id,
                    RentSubsidy.division_code,
                    RentSubsidy.period,
                    RentSubsidy.amount,
                ],
            )
            await ledger.outbox.stage_many(
                batch,
                (
                    ledger.payment_event(
                        household_id=household_id,
                        division_code=division_code,
                        programme=RENT_SUBSIDY,
                        period=line_period,
                        amount=amount,
                        reference=f"rent-{row_id}",
                        paid_on=city_today(),
                    )
                    for row_id, household_id, division_code, line_period, amount in inserted
                ),
            )
            await batch.commit()

    if not dry_run:
        await finish_run(uow, SubsidyRun, run_id, tally.households_paid, tally.transferred)
    log.info(
        "subsidy dry run finished" if dry_run else "subsidy run finished",
        extra={
            "ctx_period": month.label,
            "ctx_paid": tally.households_paid,
            "ctx_total": str(tally.transferred),
            "ctx_lines": tally.lines,
        },
    )
    return SubsidyRunOut(
        period=month.label,
        households_paid=tally.households_paid,
        total_amount=tally.transferred,
        already_paid=tally.already_settled,
        lines=tally.lines,
        overpaid=tally.overpaid,
        withheld=tally.withheld,
        **report.report(),
    )


async def _settle_batch(
    session: AsyncSession,
    cases: Sequence[HousingCase],
    through: Period,
    run_id: int,
    tally: _Tally,
    report: RunTally,
) -> list[dict[str, Any]]:
    """The ledger lines that settle the batch's households through ``through`` (their cases locked)."""

    ids = [case.household_id for case in cases]
    households, members = await _caseload(session, ids)
    booked: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    lines: dict[str, list[rules.Line]] = defaultdict(list)
    for household_id, line_period, kind, amount, withheld in (
        await session.execute(
            select(
                RentSubsidy.household_id,
                RentSubsidy.period,
                RentSubsidy.kind,
                func.sum(RentSubsidy.amount),
                func.sum(RentSubsidy.withheld),
            )
            .where(RentSubsidy.household_id.in_(ids))
            .group_by(RentSubsidy.household_id, RentSubsidy.period, RentSubsidy.kind)
        )
    ).all():
        booked[household_id][line_period] += amount
        lines[household_id].append(rules.Line(line_period, kind, amount, withheld))
    parameters = _Parameters(await ParameterBook.load(session, SPECS))
    now, rows = datetime.now(UTC), []
    for case in cases:
        household = households.get(case.household_id)
        if household is None:
            continue
        ledger_months = {label for label in booked[case.household_id] if label <= through.label}
        if through.label in ledger_months:
            tally.already_settled += 1
        months = {
            m.label: m for m in Period(month_of(household.enrolled_on).start, through.end, through.label).months()
        }
        months.update({label: parse_month(label) for label in ledger_months if label not in months})
        settled = {
            label: _month(case, household, members[case.household_id], m, parameters) for label, m in months.items()
        }
        new_lines = rules.settle(
            {label: m.due for label, m in settled.items()},
            {label: booked[case.household_id][label] for label in ledger_months},
            rules.balance_owed(lines[case.household_id]),
        )
        transferred = sum((line.transferred for line in new_lines), ZERO)
        report.settled(case.household_id, household.division_code, new_lines)
        for line in new_lines:
            facts = settled[line.period]
            rows.append(
                {
                    "household_id": case.household_id,
                    "division_code": facts.division_code,
                    "period": line.period,
                    "kind": line.kind,
                    "members": facts.facts.members,
                    "area_m2": facts.facts.area_m2,
                    "amount": line.amount,
                    "withheld": line.withheld,
                    "run_id": run_id,
                    "run_period": through.label,
                    "created_at": now,
                }
            )
            tally.overpaid -= min(line.amount, ZERO)
            tally.withheld += line.withheld
        tally.lines += len(new_lines)
        if transferred > ZERO:
            tally.households_paid += 1
            tally.transferred += transferred
    return rows


# ---- flats, waitlist, allocation ----------------------------------------------------------------


def unit_out(unit: Unit) -> UnitOut:
    return UnitOut(
        id=str(unit.id),
        address=unit.address,
        division_code=unit.division_code,
        area_m2=unit.area_m2,
        rooms=unit.rooms,
        status=unit.status,
        household_id=unit.household_id,
    )


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
        raise Unprocessable(
            "not_eligible",
            f"household {case.household_id} has "
            f"{rules.area_per_person(case.area_m2, case.members)} m² per person, "
            "above the housing-difficulty threshold",
        )
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
    rows = (
        await session.execute(
            select(WaitlistEntry, HousingCase)
            .join(HousingCase, HousingCase.household_id == WaitlistEntry.household_id)
            .where(WaitlistEntry.status == "waiting")
        )
    ).all()
    ordered = sorted(
        rows, key=lambda r: rules.waitlist_key(r[1].area_m2, r[1].members, r[1].enrolled_on, r[0].requested_at)
    )
    return [
        WaitlistItem(
            position=index,
            household_id=case.household_id,
            division_code=case.division_code,
            members=case.members,
            area_per_person=rules.area_per_person(case.area_m2, case.members),
            enrolled_on=case.enrolled_on,
            requested_at=entry.requested_at,
        )
        for index, (entry, case) in enumerate(ordered, start=1)
    ]


async def allocate(uow: UnitOfWork, body: AllocationIn, today: date | None = None) -> AllocationOut:
    on = body.on or today or city_today()
    session = uow.session
    case = await get_case(session, body.household_id)
    _require_eligible(case)
    unit = await session.get(Unit, int(body.unit_id))
    if unit is None:
        raise NotFound("unit_not_found", f"no low-rent flat with id {body.unit_id}")
    if unit.status != "vacant":
        raise Conflict("unit_not_vacant", f"flat {unit.id} is already let")
    unit.status, unit.household_id = "let", case.household_id
    case.unit_id, case.allocated_on, case.updated_at = unit.id, on, datetime.now(UTC)
    entry = await session.scalar(
        select(WaitlistEntry).where(WaitlistEntry.household_id == case.household_id, WaitlistEntry.status == "waiting")
    )
    if entry is not None:
        entry.status, entry.resolved_at = "allocated", datetime.now(UTC)
    # The month whose governing day finds the household housed is the first without a subsidy.
    last_due = month_of(on) if rules.subsidy_due(month_of(on), on, case.enrolled_on) else add_months(month_of(on), -1)
    await ledger.revoke(
        uow,
        household_id=case.household_id,
        programme=RENT_SUBSIDY,
        on=add_months(last_due, 1).start,
        reason=f"low-rent flat {unit.id} allocated on {on.isoformat()}",
    )
    await ledger.grant(
        uow,
        household_id=case.household_id,
        division_code=case.division_code,
        programme=ALLOCATION,
        on=on,
        detail=f"实物配租: {unit.address}",
    )
    await session.flush()
    return AllocationOut(
        household_id=case.household_id, unit_id=str(unit.id), allocated_on=on, rent_subsidy_ends_after=last_due.label
    )


# ---- report -------------------------------------------------------------------------------------


async def report(session: AsyncSession, period: Period) -> Report:
    cases = (await session.scalars(select(HousingCase).where(HousingCase.eligible_since.is_not(None)))).all()
    eligible: Counter[str] = Counter(
        case.division_code
        for case in cases
        if case.eligible_since is not None  # always: the query asked for it
        and period.overlaps(case.eligible_since, case.eligible_until)
    )
    allocated: Counter[str] = Counter(
        case.division_code for case in cases if case.allocated_on and period.contains(case.allocated_on)
    )
    months = [m.label for m in period.months()]
    # A household's month counts once, for what its lines come to (payments, arrears and recoveries).
    paid: dict[str, tuple[int, Decimal]] = defaultdict(lambda: (0, ZERO))
    for division, amount in (
        await session.execute(
            select(RentSubsidy.division_code, func.sum(RentSubsidy.amount))
            .where(RentSubsidy.period.in_(months))
            .group_by(RentSubsidy.division_code, RentSubsidy.household_id, RentSubsidy.period)
        )
    ).all():
        if amount and amount > ZERO:
            count, total = paid[division]
            paid[division] = (count + 1, total + amount)
    waiting: Counter[str] = Counter(item.division_code for item in await waitlist(session))
    divisions = sorted(set(eligible) | set(allocated) | set(paid) | set(waiting))
    return Report(
        period=period.label,
        divisions=[
            DivisionReport(
                division_code=code,
                division_name=division_name(code),
                eligible_households=eligible.get(code, 0),
                subsidies_paid=paid[code][0],
                subsidy_amount=paid[code][1],
                flats_allocated=allocated.get(code, 0),
                waitlist_length=waiting.get(code, 0),
            )
            for code in divisions
        ],
    )


# What the consumer reads for a whole batch of household events at once.
prefetch = prefetch_all(prefetch_caseload, CASES.prefetch)
