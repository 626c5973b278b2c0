"""Water and heating relief use cases: grants from events, water bills, supplement runs, report."""

from __future__ import annotations

import functools
import hashlib
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.utilities import rules
from services.utilities.models import (
    HeatingBill,
    HeatingHistory,
    HeatingSupplement,
    SupplementAccount,
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
    HeatingBillIn,
    HeatingBillOut,
    HeatingReliefOut,
    HouseholdOut,
    Report,
    SupplementOut,
    SupplementRunOut,
    WaterBillIn,
    WaterBillOut,
    WaterReliefOut,
)
from shared.allowance import allowance_on, dibao_due, governing_day
from shared.db import insert_ignore
from shared.divisions import division_name
from shared.errors import Conflict, NotFound, Unprocessable
from shared.events import AllowanceStep, ExtensionSpell
from shared.grants import Grant, GrantLedger, prefetch_caseload
from shared.ledger import RECOVERY, LedgerLine, owed_by, settle
from shared.money import ZERO, to_fen
from shared.outbox import Outbox
from shared.parameters import ParameterBook
from shared.periods import Period, add_months, city_today, month_of, parse_month, refuse_future
from shared.projection import (
    DibaoHousehold,
    DibaoMember,
    HouseholdDelta,
    HouseholdRows,
    facts_on,
    open_members,
    prefetch_all,
)
from shared.runs import MONTHS_PER_BATCH, RunTally, finish_run, months_from, start_run, within_budget
from shared.unit_of_work import UnitOfWork, UnitsOfWork

WATER = "water_discount"
SUPPLEMENT = "supplement"  # a ledger line that pays (a "recovery" records an overpayment)
HEATING = HouseholdRows(HeatingHistory)
ledger = GrantLedger("utilities", Outbox(producer="utilities"))


# ---- grants from the registry's events --------------------------------------------------------


async def _heating_grant(uow: UnitOfWork, household: DibaoHousehold, on: date, book: ParameterBook) -> None:
    heating = household.snapshot["heating"]
    if heating == "central":
        rate = book.get(CENTRAL_REDUCTION, on)
        await ledger.grant(
            uow,
            household_id=household.household_id,
            division_code=household.division_code,
            programme="heating_fee_reduction",
            on=on,
            detail=f"集中供热费减免 {rate * 100:.0f}%",
        )
    else:
        rate = book.get(SUPPLEMENT_RATE, on)
        allowance = allowance_on(
            [AllowanceStep.model_validate(s) for s in household.snapshot["allowance_schedule"]], on
        )
        await ledger.grant(
            uow,
            household_id=household.household_id,
            division_code=household.division_code,
            programme="heating_supplement",
            on=on,
            monthly_amount=to_fen(allowance * rate),
            detail=f"非集中供热: 采暖期每月加发低保金 {rate * 100:.0f}%",
        )


async def apply_delta(uow: UnitOfWork, delta: HouseholdDelta) -> None:
    household = delta.household
    if household is None or delta.kind == "ignored":
        return
    if delta.kind == "exited":
        await ledger.revoke(
            uow, household_id=household.household_id, on=delta.effective_on, reason="household left dibao"
        )
        return
    book = await ParameterBook.of(uow, SPECS)
    heating = household.snapshot["heating"]
    if delta.kind == "enrolled":
        await _record_heating(uow, household.household_id, household.enrolled_on, heating)
        await ledger.grant(
            uow,
            household_id=household.household_id,
            division_code=household.division_code,
            programme=WATER,
            on=household.enrolled_on,
            detail="生活用水价格优惠",
        )
        await _heating_grant(uow, household, household.enrolled_on, book)
        return
    if delta.previous.get("heating") != heating:
        await _record_heating(uow, household.household_id, delta.effective_on, heating)
        await ledger.revoke(
            uow,
            household_id=household.household_id,
            on=delta.effective_on,
            programme=rules.heating_relief_programme(delta.previous.get("heating", "")),
            reason=f"heating changed to {heating}",
        )
    # (Re)grant the current relief: a no-op when nothing about it changed, new terms when the allowance did.
    await _heating_grant(uow, household, delta.effective_on, book)


async def _record_heating(uow: UnitOfWork, household_id: str, on: date, heating: str) -> None:
    existing = next((row for row in await HEATING.get(uow, household_id) if row.effective_from == on), None)
    if existing is None:
        HEATING.add(uow, HeatingHistory(household_id=household_id, effective_from=on, heating=heating))
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


async def post_water_bill(uow: UnitOfWork, body: WaterBillIn) -> WaterBill:
    session = uow.session
    month = parse_month(body.period)
    refuse_future(month.start, f"the water bill for {month.label}")
    household = await _household(session, body.household_id)
    if not month.overlaps(household.enrolled_on, _exit_day(household)):
        raise Unprocessable("not_in_dibao", f"household {household.household_id} was not in dibao in {month.label}")
    book = await ParameterBook.load(session, [WATER_CAP_PER_PERSON, WATER_DISCOUNT_PER_M3])
    day = governing_day(month, household.enrolled_on)
    members = await _members_in_month(session, household.household_id, month)
    discount = rules.water_discount(
        body.usage_m3, members, book.get(WATER_CAP_PER_PERSON, day), book.get(WATER_DISCOUNT_PER_M3, day)
    )
    bill = WaterBill(
        household_id=household.household_id,
        division_code=household.division_code,
        period=month.label,
        members=members,
        usage_m3=body.usage_m3,
        discounted_m3=discount.discounted_m3,
        discount=discount.discount,
        created_at=datetime.now(UTC),
    )
    try:
        async with session.begin_nested():  # it flushes what is pending first: add the bill inside it
            session.add(bill)
            await session.flush()
    except IntegrityError:
        raise Conflict("bill_already_posted", f"{month.label} was already posted for this household") from None
    if bill.discount > ZERO:
        await ledger.paid(
            uow,
            household_id=bill.household_id,
            division_code=bill.division_code,
            programme=WATER,
            period=bill.period,
            amount=bill.discount,
            reference=f"water-{bill.id}",
            paid_on=city_today(),
        )
    return bill


def water_bill_out(bill: WaterBill) -> WaterBillOut:
    return WaterBillOut(
        household_id=bill.household_id,
        period=bill.period,
        members=bill.members,
        usage_m3=bill.usage_m3,
        discounted_m3=bill.discounted_m3,
        discount=bill.discount,
        created_at=bill.created_at,
    )


# ---- the +20% heating supplement ----------------------------------------------------------------


def _exit_day(household: DibaoHousehold) -> date | None:
    """The first day out of dibao: the exit that happened, else one set ahead (``exit_on``)."""

    if household.exited_on is not None:
        return household.exited_on
    exit_on = household.snapshot.get("exit_on")
    return date.fromisoformat(exit_on) if exit_on else None


class _Parameters:
    """The season and rate in force on a day, and each month's season days, read once for a whole batch."""

    SUPPLEMENT_SPECS = (HEATING_SEASON_START, HEATING_SEASON_END, SUPPLEMENT_RATE)

    def __init__(self, book: ParameterBook) -> None:
        self.book = book
        self.cache: dict[date, tuple[rules.MonthDay, rules.MonthDay, Decimal]] = {}
        self.days: dict[tuple[str, rules.MonthDay, rules.MonthDay], int] = {}
        rows = sorted(
            (row.name, row.scope, row.value, row.effective_from.isoformat())
            for spec in self.SUPPLEMENT_SPECS
            for row in book.rows.get(spec.name, ())
        )
        # What the supplement's parameters are, all dates included: a change to any of them re-settles every month.
        self.fingerprint = hashlib.sha256(repr(rows).encode()).hexdigest()[:16]

    def on(self, day: date) -> tuple[rules.MonthDay, rules.MonthDay, Decimal]:
        if day not in self.cache:
            self.cache[day] = (
                self.book.get(HEATING_SEASON_START, day),
                self.book.get(HEATING_SEASON_END, day),
                self.book.get(SUPPLEMENT_RATE, day),
            )
        return self.cache[day]

    def season_days(self, month: Period, start: rules.MonthDay, end: rules.MonthDay) -> int:
        key = (month.label, start, end)
        if key not in self.days:
            self.days[key] = rules.season_days(month, start, end)
        return self.days[key]


@functools.lru_cache(maxsize=4096)
def _month(label: str) -> Period:
    return parse_month(label)


@functools.lru_cache(maxsize=4096)
def _months(first: str, last: str) -> tuple[Period, ...]:
    """The months from ``first`` through ``last``, built once for every household that needs them."""

    months, month = [], _month(first)
    while month.label <= last:
        months.append(month)
        month = add_months(month, 1)
    return tuple(months)


@dataclass(frozen=True, slots=True)
class MonthSupplement:
    period: str
    division_code: str
    allowance: Decimal  # what dibao pays for the month, extension included
    rate: Decimal
    season_days: int
    days_in_month: int
    amount: Decimal


def supplements_due(
    household: DibaoHousehold,
    through: Period,
    parameters: _Parameters,
    known_months: Collection[str] = (),
    after: str | None = None,
) -> dict[str, MonthSupplement]:
    """The supplement due for every month from enrolment (or the month after ``after``) through
    ``through`` that is in the season or already has ledger lines, from the facts in force in each month."""

    first = month_of(household.enrolled_on).label
    if after is not None and after >= first:
        first = add_months(_month(after), 1).label
    months = _months(first, through.label)
    if not months:
        return {}
    schedule = [AllowanceStep.model_validate(step) for step in household.snapshot["allowance_schedule"]]
    extensions = [ExtensionSpell.model_validate(spell) for spell in household.snapshot.get("extensions") or ()]
    exited_on = _exit_day(household)
    due: dict[str, MonthSupplement] = {}
    for month in months:
        day = governing_day(month, household.enrolled_on)
        start, end, rate = parameters.on(day)
        days = parameters.season_days(month, start, end)
        if not days and month.label not in known_months:
            continue
        facts = facts_on(household, day)
        paid = dibao_due(
            schedule=schedule,
            enrolled_on=household.enrolled_on,
            exited_on=exited_on,
            extensions=extensions,
            month=month,
        )
        allowance = paid.amount if paid is not None else ZERO
        amount = (
            ZERO
            if facts["heating"] == "central"
            else rules.heating_supplement(allowance, rate, days, month.days).amount
        )
        due[month.label] = MonthSupplement(
            month.label,
            facts.get("division_code") or household.division_code,
            allowance,
            rate,
            days,
            month.days,
            amount,
        )
    return due


def _ledger_line(row: Any) -> LedgerLine:
    return LedgerLine(period=row.period, kind=row.kind, amount=row.amount, withheld=row.withheld)


async def _lock_accounts(session: AsyncSession, household_ids: list[str]) -> dict[str, SupplementAccount]:
    """Lock the households' supplement accounts (creating the missing ones) in key order: a second run,
    of this period or another, waits here until this batch is committed, then sees its lines."""

    def locking(ids: list[str]) -> Any:
        return (
            select(SupplementAccount)
            .where(SupplementAccount.household_id.in_(ids))
            .order_by(SupplementAccount.household_id)
            .with_for_update()
        )

    accounts = {account.household_id: account for account in (await session.scalars(locking(household_ids))).all()}
    missing = sorted(set(household_ids) - set(accounts))
    if missing:
        now = datetime.now(UTC)
        await insert_ignore(
            session,
            SupplementAccount,
            [
                {"household_id": household_id, "owed": ZERO, "settlement": 0, "created_at": now}
                for household_id in missing
            ],
            ["household_id"],
        )
        accounts.update({account.household_id: account for account in (await session.scalars(locking(missing))).all()})
    return accounts


LEDGER_COLUMNS = (
    HeatingSupplement.household_id,
    HeatingSupplement.period,
    HeatingSupplement.kind,
    HeatingSupplement.amount,
    HeatingSupplement.withheld,
)


async def _ledgers(session: AsyncSession, whole: list[str], after: dict[str, str]) -> dict[str, list[LedgerLine]]:
    """The ledger lines of ``whole`` households, and of the others only those of months after ``after``."""

    lines: dict[str, list[LedgerLine]] = defaultdict(list)
    if whole:
        for row in (
            await session.execute(select(*LEDGER_COLUMNS).where(HeatingSupplement.household_id.in_(whole)))
        ).all():
            lines[row.household_id].append(_ledger_line(row))
    if after:
        for row in (
            await session.execute(
                select(*LEDGER_COLUMNS).where(
                    HeatingSupplement.household_id.in_(list(after)), HeatingSupplement.period > min(after.values())
                )
            )
        ).all():
            if row.period > after[row.household_id]:
                lines[row.household_id].append(_ledger_line(row))
    return lines


def _months_to_settle(household: DibaoHousehold, account: SupplementAccount, stamp: str, month: Period) -> int:
    """How many months a run through ``month`` settles for the household: all since enrolment when its facts or
    the parameters changed since its account was settled, else those after the account's last."""

    if account.stamp != stamp or account.settled_through is None:
        return months_from(household.enrolled_on, month.start, inclusive=True)
    if account.settled_through < month.label:
        return months_from(parse_month(account.settled_through).start, month.start, inclusive=False)
    return 0


def _cost_in(months: dict[str, int]) -> Callable[[DibaoHousehold], int]:
    return lambda household: months[household.household_id]


async def run_supplements(
    units: UnitsOfWork,
    uow: UnitOfWork,
    period: str,
    batch_size: int = 2000,
    today: date | None = None,
    dry_run: bool = False,
    months_per_batch: int = MONTHS_PER_BATCH,
) -> SupplementRunOut:
    """Settle every household's supplement for each month from its enrolment through ``period``.

    Like shared.runs: households are read in batches by key, each batch is settled and committed on its
    own (an interrupted run keeps what it paid; the next one settles the rest). Within a batch the
    households' accounts are locked first, so the ledger read is the one the new lines are added to, and
    each settlement that writes lines counts on its account: the lines carry that count, and the ledger's
    key (household, month, kind, settlement) refuses a second run's lines written from the same reading.
    Every month through ``period`` is settled, however often that period was run before (shared.ledger).
    A household whose snapshot and supplement parameters have not changed since its account was last
    settled is settled only for the months after that; any change re-settles all its months. The run's
    record is finished in ``uow`` (the request's), which the caller commits. A dry run settles the same
    batches and writes nothing (shared.runs).
    """

    month = parse_month(period)
    refuse_future(month.start, f"the heating supplement for {month.label}", today)
    run_id = 0 if dry_run else await start_run(units, SupplementRun, month.label)
    tally = RunTally(dry_run=dry_run)

    paid_households: set[str] = set()
    total = withheld = recovered = ZERO
    recoveries, last_key = 0, ""
    paid_on = city_today()
    while True:
        async with units.begin() as batch:
            session = batch.session
            households = (
                await session.scalars(
                    select(DibaoHousehold)
                    .where(DibaoHousehold.household_id > last_key, DibaoHousehold.enrolled_on <= month.end)
                    .order_by(DibaoHousehold.household_id)
                    .limit(batch_size)
                )
            ).all()
            if not households:
                break
            accounts = await _lock_accounts(session, [household.household_id for household in households])
            parameters = _Parameters(await ParameterBook.of(batch, SPECS))
            stamps = {
                household.household_id: f"{household.updated_at.isoformat()}|{parameters.fingerprint}"
                for household in households
            }
            # The rest of what was read (and locked) is read again by the next batch.
            to_settle = {
                household.household_id: _months_to_settle(
                    household, accounts[household.household_id], stamps[household.household_id], month
                )
                for household in households
            }
            households = within_budget(households, _cost_in(to_settle), months_per_batch)
            last_key = households[-1].household_id
            whole: list[str] = []
            after: dict[str, str] = {}
            for household in households:
                account = accounts[household.household_id]
                if account.stamp != stamps[household.household_id] or account.settled_through is None:
                    whole.append(household.household_id)
                elif account.settled_through < month.label:
                    after[household.household_id] = account.settled_through
            ledgers = await _ledgers(session, whole, after)
            now = datetime.now(UTC)
            rows, settled_accounts = [], []
            for household in households:
                household_id = household.household_id
                if household_id not in after and household_id not in whole:
                    continue  # settled through this period already, under the same facts
                account, lines = accounts[household_id], ledgers.get(household_id, [])
                due = supplements_due(
                    household, month, parameters, {line.period for line in lines}, after=after.get(household_id)
                )
                # Months after the run's own are another run's business (an earlier period may run after a
                # later one); what the household owes is its whole ledger's, or the balance its account carries.
                sums: dict[str, Decimal] = {}
                for line in lines:
                    if line.period <= month.label:
                        sums[line.period] = sums.get(line.period, ZERO) + line.amount
                owed = account.owed if household_id in after else owed_by(lines)
                settled = settle({label: (d.amount, SUPPLEMENT) for label, d in due.items()}, sums, owed)
                settlement = account.settlement + (1 if settled else 0)
                tally.settled(household_id, household.division_code, settled)
                for line in settled:
                    facts = due.get(line.period)
                    rows.append(
                        {
                            "household_id": household_id,
                            "division_code": facts.division_code if facts else household.division_code,
                            "period": line.period,
                            "kind": line.kind,
                            "amount": line.amount,
                            "withheld": line.withheld,
                            "allowance": facts.allowance if facts else ZERO,
                            "rate": str(facts.rate) if facts else "0",
                            "season_days": facts.season_days if facts else 0,
                            "days_in_month": facts.days_in_month if facts else _month(line.period).days,
                            "run_period": month.label,
                            "settlement": settlement,
                            "run_id": run_id,
                            "created_at": now,
                        }
                    )
                # A full settle through an earlier period vouches only for the months through it.
                through = month.label if household_id in whole else max(month.label, account.settled_through or "")
                settled_accounts.append(
                    {
                        "household_id": household_id,
                        "settlement": settlement,
                        "settled_through": through,
                        "stamp": stamps[household_id],
                        "owed": to_fen(
                            owed
                            - sum((line.amount for line in settled if line.kind == RECOVERY), ZERO)
                            - sum((line.withheld for line in settled), ZERO)
                        ),
                    }
                )
            inserted: Sequence[Any] = (
                [(0, r["household_id"], r["division_code"], r["period"], r["amount"], r["withheld"]) for r in rows]
                if dry_run
                else await insert_ignore(
                    session,
                    HeatingSupplement,
                    rows,
                    ["household_id", "period", "kind", "settlement"],
                    returning=[
                        HeatingSupplement.id,
                        HeatingSupplement.household_id,
                        HeatingSupplement.division_code,
                        HeatingSupplement.period,
                        HeatingSupplement.amount,
                        HeatingSupplement.withheld,
                    ],
                )
            )
            if len(inserted) != len(rows):  # another run settled these households at once: never pay on a guess
                raise RuntimeError(
                    f"supplement run {month.label}: {len(rows) - len(inserted)} lines collided with "
                    "another settlement's"
                )
            if settled_accounts and not dry_run:
                await session.execute(update(SupplementAccount), settled_accounts)
            events = []
            for row_id, household_id, division_code, line_period, amount, kept in inserted:
                if amount < ZERO:
                    recoveries += 1
                    recovered -= amount
                    continue
                paid_households.add(household_id)
                total += amount
                withheld += kept
                if amount > kept:
                    events.append(
                        ledger.payment_event(
                            household_id=household_id,
                            division_code=division_code,
                            programme="heating_supplement",
                            period=line_period,
                            amount=amount - kept,
                            reference=f"heating-{row_id}",
                            paid_on=paid_on,
                        )
                    )
            if not dry_run:  # a dry run's batch is rolled back as it ends
                await ledger.outbox.stage_many(batch, events)
                await batch.commit()

    if not dry_run:
        await finish_run(uow, SupplementRun, run_id, len(paid_households), total)
    already = await uow.session.scalar(
        select(func.count(func.distinct(HeatingSupplement.household_id))).where(
            HeatingSupplement.period == month.label,
            HeatingSupplement.kind == "supplement",
            HeatingSupplement.run_id != run_id,
        )
    )
    return SupplementRunOut(
        period=month.label,
        households_paid=len(paid_households),
        total_amount=to_fen(total),
        withheld_amount=to_fen(withheld),
        recoveries=recoveries,
        recovered_amount=to_fen(recovered),
        already_paid=int(already or 0),
        **tally.report(),
    )


def supplement_out(row: HeatingSupplement) -> SupplementOut:
    transferred = row.amount - row.withheld if row.amount > ZERO else ZERO
    return SupplementOut(
        household_id=row.household_id,
        period=row.period,
        kind=row.kind,
        amount=row.amount,
        withheld=row.withheld,
        transferred=transferred,
        run_period=row.run_period,
        paid_at=row.created_at,
        allowance=row.allowance,
        rate=row.rate,
        season_days=row.season_days,
        days_in_month=row.days_in_month,
    )


async def supplements(session: AsyncSession, household_id: str | None) -> list[HeatingSupplement]:
    query = select(HeatingSupplement).order_by(
        HeatingSupplement.household_id, HeatingSupplement.period, HeatingSupplement.id
    )
    if household_id:
        query = query.where(HeatingSupplement.household_id == household_id)
    return list((await session.scalars(query.limit(5000))).all())


# ---- the central-heating reduction ----------------------------------------------------------------


async def post_heating_bill(
    uow: UnitOfWork, body: HeatingBillIn, today: date | None = None
) -> tuple[HeatingBill, bool]:
    """Reduce a centrally heated dibao household's bill for a season; (bill, created).

    Idempotent per household and season: the same bill again returns the stored result; a different
    fee for a season already billed is a conflict (409 ``bill_already_posted``).
    """

    session = uow.session
    household = await _household(session, body.household_id)
    existing = await session.scalar(
        select(HeatingBill).where(HeatingBill.household_id == household.household_id, HeatingBill.season == body.season)
    )
    if existing is not None:
        return _same_bill(existing, body), False
    book = await ParameterBook.load(session, SPECS)
    # The season as defined in its first winter (a change decided before or early in it counts).
    midwinter = date(int(body.season[:4]), 12, 31)
    season_start, season_end = rules.season_dates(
        body.season, book.get(HEATING_SEASON_START, midwinter), book.get(HEATING_SEASON_END, midwinter)
    )
    refuse_future(season_start, f"the {body.season} heating season", today)
    if not Period(season_start, season_end, body.season).overlaps(household.enrolled_on, _exit_day(household)):
        raise Unprocessable(
            "not_in_dibao",
            f"household {household.household_id} was not in dibao during the {body.season} heating season",
        )
    day = max(season_start, household.enrolled_on)
    facts = facts_on(household, day)
    if facts["heating"] != "central":
        raise Unprocessable(
            "not_central_heating",
            f"household {household.household_id} had no central heating on "
            f"{day.isoformat()}: it gets the +20% supplement instead",
        )
    rate = book.get(CENTRAL_REDUCTION, season_start)
    bill = HeatingBill(
        household_id=household.household_id,
        division_code=facts.get("division_code") or household.division_code,
        season=body.season,
        period=month_of(season_start).label,
        fee=body.fee,
        rate=str(rate),
        reduction=rules.central_reduction(body.fee, rate),
        created_at=datetime.now(UTC),
    )
    try:
        async with session.begin_nested():  # it flushes what is pending first: add the bill inside it
            session.add(bill)
            await session.flush()
    except IntegrityError:  # the same bill posted at the same moment: the first one stands
        existing = await session.scalar(
            select(HeatingBill).where(
                HeatingBill.household_id == household.household_id, HeatingBill.season == body.season
            )
        )
        assert existing is not None
        return _same_bill(existing, body), False
    if bill.reduction > ZERO:
        await ledger.paid(
            uow,
            household_id=bill.household_id,
            division_code=bill.division_code,
            programme="heating_fee_reduction",
            period=bill.period,
            amount=bill.reduction,
            reference=f"heating-bill-{bill.id}",
            paid_on=city_today(),
        )
    return bill, True


def _same_bill(existing: HeatingBill, body: HeatingBillIn) -> HeatingBill:
    if existing.fee != body.fee:
        raise Conflict(
            "bill_already_posted",
            f"the {body.season} bill was already posted for this household with a fee of {existing.fee:.2f}",
        )
    return existing


def heating_bill_out(bill: HeatingBill) -> HeatingBillOut:
    return HeatingBillOut(
        household_id=bill.household_id,
        division_code=bill.division_code,
        season=bill.season,
        fee=bill.fee,
        rate=bill.rate,
        reduction=bill.reduction,
        payable=bill.fee - bill.reduction,
        created_at=bill.created_at,
    )


# ---- reading ------------------------------------------------------------------------------------


async def household_view(session: AsyncSession, household_id: str, today: date | None = None) -> HouseholdOut:
    today = today or city_today()
    household = await _household(session, household_id)
    book = await ParameterBook.load(session, SPECS)
    members = len(await open_members(session, household_id)) or len(
        (await session.scalars(select(DibaoMember).where(DibaoMember.household_id == household_id))).all()
    )
    heating = household.snapshot["heating"]
    lines = await supplements(session, household_id)
    start, end = book.get(HEATING_SEASON_START, today), book.get(HEATING_SEASON_END, today)
    cap = book.get(WATER_CAP_PER_PERSON, today)
    return HouseholdOut(
        household_id=household.household_id,
        division_code=household.division_code,
        status=household.status,
        enrolled_on=household.enrolled_on,
        exited_on=household.exited_on,
        members=members,
        water=WaterReliefOut(
            discount_per_m3=book.get(WATER_DISCOUNT_PER_M3, today),
            cap_m3_per_person=to_fen(cap),
            monthly_cap_m3=to_fen(cap * members),
        ),
        heating=HeatingReliefOut(
            heating=heating,
            programme=rules.heating_relief_programme(heating),
            reduction_rate=str(book.get(CENTRAL_REDUCTION, today)) if heating == "central" else None,
            supplement_rate=str(book.get(SUPPLEMENT_RATE, today)) if heating != "central" else None,
            in_season_today=rules.in_heating_season(today, start, end),
            season=f"{start[0]:02d}-{start[1]:02d} – {end[0]:02d}-{end[1]:02d}",
        ),
        supplements_paid=[supplement_out(row) for row in lines],
        supplement_balance_owed=owed_by(_ledger_line(row) for row in lines),
    )


async def report(session: AsyncSession, period: Period) -> Report:
    grants = (
        await session.scalars(
            select(Grant)
            .where(Grant.granted_on <= period.end)
            .where((Grant.revoked_on.is_(None)) | (Grant.revoked_on > period.start))
        )
    ).all()
    water: dict[str, set[str]] = defaultdict(set)
    central: dict[str, set[str]] = defaultdict(set)
    non_central: dict[str, set[str]] = defaultdict(set)
    for grant in grants:
        target = {WATER: water, "heating_fee_reduction": central, "heating_supplement": non_central}.get(
            grant.programme
        )
        if target is not None:
            target[grant.division_code].add(grant.household_id)
    months = [m.label for m in period.months()]
    bills = dict(
        (
            (d, (n, a))
            for d, n, a in (
                await session.execute(
                    select(WaterBill.division_code, func.count(), func.sum(WaterBill.discount))
                    .where(WaterBill.period.in_(months))
                    .group_by(WaterBill.division_code)
                )
            ).all()
        )
    )
    paid: dict[str, tuple[int, Decimal, Decimal]] = {}
    for code, kind, count, amount in (
        await session.execute(
            select(
                HeatingSupplement.division_code,
                HeatingSupplement.kind,
                func.count(),
                func.sum(HeatingSupplement.amount),
            )
            .where(HeatingSupplement.period.in_(months))
            .group_by(HeatingSupplement.division_code, HeatingSupplement.kind)
        )
    ).all():
        lines, net, recovered = paid.get(code, (0, ZERO, ZERO))
        if kind == "recovery":
            paid[code] = (lines, net + amount, recovered - amount)
        else:
            paid[code] = (lines + count, net + amount, recovered)
    heating_bills = dict(
        (
            (d, (n, a))
            for d, n, a in (
                await session.execute(
                    select(HeatingBill.division_code, func.count(), func.sum(HeatingBill.reduction))
                    .where(HeatingBill.period.in_(months))
                    .group_by(HeatingBill.division_code)
                )
            ).all()
        )
    )
    divisions = sorted(set(water) | set(central) | set(non_central) | set(bills) | set(paid) | set(heating_bills))
    return Report(
        period=period.label,
        divisions=[
            DivisionReport(
                division_code=code,
                division_name=division_name(code),
                households_with_water_relief=len(water.get(code, ())),
                water_bills=bills.get(code, (0, ZERO))[0],
                water_discount=to_fen(bills.get(code, (0, ZERO))[1] or ZERO),
                central_households_with_reduction=len(central.get(code, ())),
                non_central_households=len(non_central.get(code, ())),
                supplements_paid=paid.get(code, (0, ZERO, ZERO))[0],
                supplement_amount=to_fen(paid.get(code, (0, ZERO, ZERO))[1]),
                supplement_recovered=to_fen(paid.get(code, (0, ZERO, ZERO))[2]),
                heating_bills=heating_bills.get(code, (0, ZERO))[0],
                heating_fee_reduction=to_fen(heating_bills.get(code, (0, ZERO))[1] or ZERO),
            )
            for code in divisions
        ],
    )


# What the consumer reads for a whole batch of household events at once.
prefetch = prefetch_all(prefetch_caseload, HEATING.prefetch)
