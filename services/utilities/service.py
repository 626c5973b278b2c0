"""Water and heating relief use cases: grants from events, water bills, supplement runs, report."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.utilities import rules
from services.utilities.models import (
    HeatingHistory,
    HeatingSupplement,
    SupplementRun,
    WaterBill,
)
from services.utilities.parameters import (
    CENTRAL_REDUCTION,
    HEATING_SEASON_END,
    HEATING_SEASON_START,
    SPECS,
    SUPPLEMENT_RATE,
    WATER_CAP_PER_PERSON,
    WATER_DISCOUNT_PER_M3,
)
from services.utilities.schemas import (
    DivisionReport,
    HeatingReliefOut,
    HouseholdOut,
    Report,
    SupplementOut,
    SupplementRunOut,
    WaterBillIn,
    WaterBillOut,
    WaterReliefOut,
)
from shared.allowance import allowance_for_month, allowance_on, governing_day
from shared.divisions import division_name
from shared.errors import Conflict, NotFound, Unprocessable
from shared.events import AllowanceStep
from shared.grants import Grant, GrantLedger
from shared.money import ZERO, to_fen
from shared.outbox import Outbox
from shared.parameters import ParameterBook
from shared.periods import Period, parse_month
from shared.projection import (
    DibaoHousehold,
    DibaoMember,
    HouseholdDelta,
    HouseholdRows,
    open_members,
    prefetch_all,
    prefetch_households,
)
from shared.runs import run_in_batches

WATER = "water_discount"
HEATING = HouseholdRows(HeatingHistory)
ledger = GrantLedger("utilities", Outbox(producer="utilities"))


# ---- grants from the registry's events --------------------------------------------------------


async def _heating_grant(session: AsyncSession, household: DibaoHousehold, on: date, book: ParameterBook) -> None:
    heating = household.snapshot["heating"]
    if heating == "central":
        rate = book.get(CENTRAL_REDUCTION, on)
        await ledger.grant(session, household_id=household.household_id, division_code=household.division_code,
                           programme="heating_fee_reduction", on=on, detail=f"集中供热费减免 {rate * 100:.0f}%")
    else:
        rate = book.get(SUPPLEMENT_RATE, on)
        allowance = allowance_on([AllowanceStep.model_validate(s) for s in household.snapshot["allowance_schedule"]], on)
        await ledger.grant(session, household_id=household.household_id, division_code=household.division_code,
                           programme="heating_supplement", on=on, monthly_amount=to_fen(allowance * rate),
                           detail=f"非集中供热: 采暖期每月加发低保金 {rate * 100:.0f}%")


async def apply_delta(session: AsyncSession, delta: HouseholdDelta) -> None:
    household = delta.household
    if household is None or delta.kind == "ignored":
        return
    if delta.kind == "exited":
        await ledger.revoke(session, household_id=household.household_id, on=delta.effective_on,
                            reason="household left dibao")
        return
    book = await ParameterBook.load(session, SPECS)
    heating = household.snapshot["heating"]
    if delta.kind == "enrolled":
        await _record_heating(session, household.household_id, household.enrolled_on, heating)
        await ledger.grant(session, household_id=household.household_id, division_code=household.division_code,
                           programme=WATER, on=household.enrolled_on, detail="生活用水价格优惠")
        await _heating_grant(session, household, household.enrolled_on, book)
        return
    if delta.previous.get("heating") != heating:
        await _record_heating(session, household.household_id, delta.effective_on, heating)
        await ledger.revoke(session, household_id=household.household_id, on=delta.effective_on,
                            programme=rules.heating_relief_programme(delta.previous.get("heating", "")),
                            reason=f"heating changed to {heating}")
    # (Re)grant the current relief: a no-op when nothing about it changed, new terms when the allowance did.
    await _heating_grant(session, household, delta.effective_on, book)


async def _record_heating(session: AsyncSession, household_id: str, on: date, heating: str) -> None:
    existing = next((row for row in await HEATING.get(session, household_id) if row.effective_from == on), None)
    if existing is None:
        HEATING.add(session, HeatingHistory(household_id=household_id, effective_from=on, heating=heating))
    else:
        existing.heating = heating


# ---- water --------------------------------------------------------------------------------------


async def _household(session: AsyncSession, household_id: str) -> DibaoHousehold:
    household = await session.get(DibaoHousehold, household_id)
    if household is None:
        raise NotFound("household_not_found", f"no dibao household {household_id} is known here")
    return household


async def _members_in_month(session: AsyncSession, household_id: str, month: Period) -> int:
    """Members who were in the household (in dibao) at some time in the month."""

    rows = (await session.scalars(select(DibaoMember).where(DibaoMember.household_id == household_id))).all()
    return sum(1 for row in rows if month.overlaps(row.eligible_from, row.eligible_until))


async def post_water_bill(session: AsyncSession, body: WaterBillIn) -> WaterBill:
    month = parse_month(body.period)
    household = await _household(session, body.household_id)
    if not month.overlaps(household.enrolled_on, household.exited_on):
        raise Unprocessable("not_in_dibao", f"household {household.household_id} was not in dibao in {month.label}")
    book = await ParameterBook.load(session, [WATER_CAP_PER_PERSON, WATER_DISCOUNT_PER_M3])
    day = governing_day(month, household.enrolled_on)
    members = await _members_in_month(session, household.household_id, month)
    discount = rules.water_discount(body.usage_m3, members, book.get(WATER_CAP_PER_PERSON, day),
                                    book.get(WATER_DISCOUNT_PER_M3, day))
    bill = WaterBill(household_id=household.household_id, division_code=household.division_code, period=month.label,
                     members=members, usage_m3=body.usage_m3, discounted_m3=discount.discounted_m3,
                     discount=discount.discount, created_at=datetime.now(UTC))
    session.add(bill)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("bill_already_posted", f"{month.label} was already posted for this household") from None
    if bill.discount > ZERO:
        await ledger.paid(session, household_id=bill.household_id, division_code=bill.division_code,
                          programme=WATER, period=bill.period, amount=bill.discount, reference=f"water-{bill.id}")
    return bill


def water_bill_out(bill: WaterBill) -> WaterBillOut:
    return WaterBillOut(household_id=bill.household_id, period=bill.period, members=bill.members,
                        usage_m3=bill.usage_m3, discounted_m3=bill.discounted_m3, discount=bill.discount,
                        created_at=bill.created_at)


# ---- the +20% heating supplement ----------------------------------------------------------------


async def _heating_on(session: AsyncSession, household_ids: list[str], day: date) -> dict[str, str]:
    rows = (await session.scalars(select(HeatingHistory).where(HeatingHistory.household_id.in_(household_ids),
                                                               HeatingHistory.effective_from <= day)
                                  .order_by(HeatingHistory.effective_from))).all()
    return {row.household_id: row.heating for row in rows}  # the latest wins


async def run_supplements(sessions: async_sessionmaker[AsyncSession], period: str, batch_size: int = 2000) -> SupplementRunOut:
    """Pay +20% of the month's allowance to each household without central heating (see shared.runs)."""

    month = parse_month(period)

    async def fetch(session: AsyncSession, after: str, limit: int) -> Sequence[Any]:
        return (await session.scalars(
            select(DibaoHousehold).where(
                DibaoHousehold.household_id > after,
                DibaoHousehold.enrolled_on <= month.end,
                (DibaoHousehold.exited_on.is_(None)) | (DibaoHousehold.exited_on > month.start),
                ~exists().where(and_(HeatingSupplement.household_id == DibaoHousehold.household_id,
                                     HeatingSupplement.period == month.label)),
            ).order_by(DibaoHousehold.household_id).limit(limit))).all()

    async def build(session: AsyncSession, households: Sequence[DibaoHousehold], run_id: int) -> list[dict[str, Any]]:
        book = await ParameterBook.load(session, SPECS)
        rows = []
        heating_by_id = await _heating_on(session, [h.household_id for h in households], month.end)
        for household in households:
            day = governing_day(month, household.enrolled_on)
            if heating_by_id.get(household.household_id, household.snapshot["heating"]) == "central":
                continue
            days = rules.covered_days(month, book.get(HEATING_SEASON_START, day), book.get(HEATING_SEASON_END, day),
                                      household.enrolled_on, household.exited_on)
            schedule = [AllowanceStep.model_validate(s) for s in household.snapshot["allowance_schedule"]]
            rate = book.get(SUPPLEMENT_RATE, day)
            supplement = rules.heating_supplement(allowance_for_month(schedule, month, household.enrolled_on), rate,
                                                  days, month.days)
            if supplement.amount > ZERO:
                rows.append({"household_id": household.household_id, "division_code": household.division_code,
                             "period": month.label, "allowance": supplement.allowance, "rate": str(rate),
                             "season_days": days, "days_in_month": month.days, "amount": supplement.amount,
                             "run_id": run_id, "created_at": datetime.now(UTC)})
        return rows

    async def announce(session: AsyncSession, inserted: Sequence[Any]) -> None:
        await ledger.outbox.stage_many(session, (ledger.payment_event(
            household_id=household_id, division_code=division_code, programme="heating_supplement",
            period=month.label, amount=amount, reference=f"heating-{row_id}")
            for amount, row_id, household_id, division_code in inserted))

    result = await run_in_batches(
        sessions, run_model=SupplementRun, payment_model=HeatingSupplement, period=month.label, fetch_batch=fetch,
        key_of=lambda household: household.household_id, build_rows=build,
        conflict_columns=["household_id", "period"],
        returning=[HeatingSupplement.amount, HeatingSupplement.id, HeatingSupplement.household_id,
                   HeatingSupplement.division_code],
        announce=announce, batch_size=batch_size)
    return SupplementRunOut(period=result.period, households_paid=result.paid, total_amount=result.total,
                            already_paid=result.already_paid)


def supplement_out(row: HeatingSupplement) -> SupplementOut:
    return SupplementOut(household_id=row.household_id, period=row.period, allowance=row.allowance, rate=row.rate,
                         season_days=row.season_days, days_in_month=row.days_in_month, amount=row.amount)


async def supplements(session: AsyncSession, household_id: str | None) -> list[HeatingSupplement]:
    query = select(HeatingSupplement).order_by(HeatingSupplement.period, HeatingSupplement.household_id)
    if household_id:
        query = query.where(HeatingSupplement.household_id == household_id)
    return list((await session.scalars(query.limit(5000))).all())


# ---- reading ------------------------------------------------------------------------------------


async def household_view(session: AsyncSession, household_id: str, today: date | None = None) -> HouseholdOut:
    today = today or date.today()
    household = await _household(session, household_id)
    book = await ParameterBook.load(session, SPECS)
    members = len(await open_members(session, household_id)) or len(
        (await session.scalars(select(DibaoMember).where(DibaoMember.household_id == household_id))).all())
    heating = household.snapshot["heating"]
    start, end = book.get(HEATING_SEASON_START, today), book.get(HEATING_SEASON_END, today)
    cap = book.get(WATER_CAP_PER_PERSON, today)
    return HouseholdOut(
        household_id=household.household_id, division_code=household.division_code, status=household.status,
        enrolled_on=household.enrolled_on, exited_on=household.exited_on, members=members,
        water=WaterReliefOut(discount_per_m3=book.get(WATER_DISCOUNT_PER_M3, today), cap_m3_per_person=to_fen(cap),
                             monthly_cap_m3=to_fen(cap * members)),
        heating=HeatingReliefOut(
            heating=heating, programme=rules.heating_relief_programme(heating),
            reduction_rate=str(book.get(CENTRAL_REDUCTION, today)) if heating == "central" else None,
            supplement_rate=str(book.get(SUPPLEMENT_RATE, today)) if heating != "central" else None,
            in_season_today=rules.in_heating_season(today, start, end),
            season=f"{start[0]:02d}-{start[1]:02d} – {end[0]:02d}-{end[1]:02d}"),
        supplements_paid=[supplement_out(row) for row in await supplements(session, household_id)],
    )


async def report(session: AsyncSession, period: Period) -> Report:
    grants = (await session.scalars(select(Grant).where(Grant.granted_on <= period.end).where(
        (Grant.revoked_on.is_(None)) | (Grant.revoked_on > period.start)))).all()
    water: dict[str, set[str]] = defaultdict(set)
    central: dict[str, set[str]] = defaultdict(set)
    non_central: dict[str, set[str]] = defaultdict(set)
    for grant in grants:
        target = {WATER: water, "heating_fee_reduction": central, "heating_supplement": non_central}.get(grant.programme)
        if target is not None:
            target[grant.division_code].add(grant.household_id)
    months = [m.label for m in period.months()]
    bills = dict(((d, (n, a)) for d, n, a in (await session.execute(
        select(WaterBill.division_code, func.count(), func.sum(WaterBill.discount))
        .where(WaterBill.period.in_(months)).group_by(WaterBill.division_code))).all()))
    paid = dict(((d, (n, a)) for d, n, a in (await session.execute(
        select(HeatingSupplement.division_code, func.count(), func.sum(HeatingSupplement.amount))
        .where(HeatingSupplement.period.in_(months)).group_by(HeatingSupplement.division_code))).all()))
    divisions = sorted(set(water) | set(central) | set(non_central) | set(bills) | set(paid))
    return Report(period=period.label, divisions=[DivisionReport(
        division_code=code, division_name=division_name(code),
        households_with_water_relief=len(water.get(code, ())), water_bills=bills.get(code, (0, ZERO))[0],
        water_discount=to_fen(bills.get(code, (0, ZERO))[1] or ZERO),
        central_households_with_reduction=len(central.get(code, ())),
        non_central_households=len(non_central.get(code, ())),
        supplements_paid=paid.get(code, (0, ZERO))[0], supplement_amount=to_fen(paid.get(code, (0, ZERO))[1] or ZERO),
    ) for code in divisions])


# What the consumer reads for a whole batch of household events at once.
prefetch = prefetch_all(prefetch_households, HEATING.prefetch)
