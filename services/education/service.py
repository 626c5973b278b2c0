"""Education assistance use cases: pupils from events, school reports, term runs, partner aid, report."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import case, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.education import rules, schools
from services.education.models import PartnerAid, Pupil, TermGrant, TermRun
from services.education.parameters import (
    AUTUMN_START,
    BOARDING_PER_MONTH,
    DISABILITY_GRANT,
    MISC_FEE,
    SPECS,
    SPRING_START,
    TERM_MONTHS,
    TEXTBOOK_FEE,
)
from services.education.schemas import (
    DivisionReport,
    GrantsOut,
    PartnerAidIn,
    PartnerAidOut,
    PupilOut,
    PupilPatch,
    Report,
    TermGrantOut,
    TermRunOut,
)
from shared.divisions import division_name
from shared.errors import NotFound, Unprocessable
from shared.grants import GrantLedger, prefetch_caseload
from shared.ledger import RECOVERY, LedgerLine
from shared.ledger import balance_owed as ledger_balance
from shared.money import ZERO, to_fen
from shared.outbox import Outbox
from shared.parameters import PLAN_DATE, ParameterBook
from shared.periods import Period, city_today, refuse_future
from shared.projection import (
    DibaoHousehold,
    DibaoMember,
    HouseholdDelta,
    HouseholdRows,
    memberships,
    prefetch_all,
)
from shared.runs import RunTally, finish_run, start_run
from shared.unit_of_work import UnitOfWork, UnitsOfWork

ledger = GrantLedger("education", Outbox(producer="education"))
PUPILS = HouseholdRows(Pupil)
DETAILS = {
    rules.FEE_WAIVER: "义务教育阶段免杂费、书本费",
    rules.BOARDING: "寄宿生生活补助",
    rules.DISABILITY: "残疾人家庭子女高中及以上助学金",
    rules.NO_PARENT: "孤儿及困境儿童救助 (flagged for the partner organisations)",
}


# ---- pupils from the registry's events ------------------------------------------------------------


def school_history(pupil: Pupil) -> list[rules.SchoolFacts]:
    """The pupil's stage, boarding and disabled-member facts by date (the current ones for a pupil registered
    before the history was kept)."""

    if pupil.facts:
        return [rules.SchoolFacts.from_json(entry) for entry in pupil.facts]
    return [rules.SchoolFacts(pupil.enrolled_on, pupil.school_stage, pupil.boarding, pupil.household_has_disabled)]


def _record_facts(pupil: Pupil, on: date, *, fresh: bool = False) -> None:
    """Keep the pupil's current stage, boarding and disabled-member facts in force from ``on``."""

    facts = rules.SchoolFacts(on, pupil.school_stage, pupil.boarding, pupil.household_has_disabled)
    history = [] if fresh else school_history(pupil)
    pupil.facts = [entry.as_json() for entry in rules.record_facts(history, facts)]


def _in_school(pupil: Pupil, on: date) -> bool:
    return pupil.left_school_on is None or on < pupil.left_school_on


def _programmes(pupil: Pupil, on: date) -> set[str]:
    in_dibao = pupil.enrolled_on <= on and (pupil.exited_on is None or on < pupil.exited_on)
    if not in_dibao:
        return set()
    return rules.programmes_for(
        pupil.school_stage,
        pupil.boarding,
        pupil.household_has_disabled,
        pupil.relation,
        pupil.birth_date,
        on,
        in_school=_in_school(pupil, on),
    )


async def _sync_grants(uow: UnitOfWork, pupil: Pupil, on: date) -> set[str]:
    """Grant what the pupil qualifies for now and revoke what they no longer do."""

    wanted = _programmes(pupil, on)
    active = {
        grant.programme: grant for grant in await ledger.active(uow, pupil.household_id, resident_id=pupil.resident_id)
    }
    for programme in sorted(wanted - set(active)):
        await ledger.grant(
            uow,
            household_id=pupil.household_id,
            division_code=pupil.division_code,
            programme=programme,
            resident_id=pupil.resident_id,
            on=max(on, pupil.enrolled_on),
            detail=DETAILS[programme],
        )
    for programme in sorted(set(active) - wanted):
        reason = "left dibao" if pupil.exited_on and on >= pupil.exited_on else "no longer qualifies"
        await ledger.revoke(
            uow,
            household_id=pupil.household_id,
            resident_id=pupil.resident_id,
            programme=programme,
            on=on,
            reason=reason,
        )
    return wanted


async def apply_delta(uow: UnitOfWork, delta: HouseholdDelta) -> None:
    household = delta.household
    if household is None or delta.kind == "ignored":
        return
    on, now = delta.effective_on, datetime.now(UTC)
    existing = {p.resident_id: p for p in await PUPILS.get(uow, household.household_id)}
    for row in delta.removed:
        pupil = existing.get(row.resident_id)
        if pupil is not None:
            pupil.exited_on, pupil.updated_at = row.eligible_until or on, now
            await _sync_grants(uow, pupil, pupil.exited_on)
    if delta.kind == "exited":
        return
    has_disabled = any(row.member.disabled for row in delta.current_members)
    for row in delta.current_members:
        member = row.member
        pupil = existing.get(row.resident_id)
        candidate = rules.programmes_for(
            member.school_stage,
            member.boarding,
            has_disabled,
            member.relation,
            member.birth_date,
            max(on, row.eligible_from),
        )
        if pupil is None and not rules.registers_as_pupil(candidate):
            continue
        fresh = pupil is None
        if pupil is None:
            pupil = Pupil(
                resident_id=row.resident_id,
                household_id=row.household_id,
                enrolled_on=row.eligible_from,
                school_stage=member.school_stage,
                boarding=member.boarding,
            )
            PUPILS.add(uow, pupil)
        elif pupil.school_reported_at is None:
            pupil.school_stage, pupil.boarding = member.school_stage, member.boarding
        pupil.division_code, pupil.name, pupil.birth_date, pupil.relation = (
            row.division_code,
            member.name,
            member.birth_date,
            member.relation,
        )
        pupil.household_has_disabled = has_disabled
        pupil.no_parent_in_household = rules.NO_PARENT in candidate
        pupil.updated_at = now
        _record_facts(pupil, max(on, row.eligible_from), fresh=fresh)
        await _sync_grants(uow, pupil, max(on, pupil.enrolled_on))


# ---- schools' reports -----------------------------------------------------------------------------


async def _current_pupil(session: AsyncSession, resident_id: str) -> Pupil:
    pupil = await session.scalar(
        select(Pupil)
        .where(Pupil.resident_id == resident_id)
        .order_by(Pupil.enrolled_on.desc(), Pupil.id.desc())
        .limit(1)
    )
    if pupil is None:
        raise NotFound("pupil_not_found", "no pupil of a dibao household with that resident ID")
    return pupil


async def report_change(uow: UnitOfWork, resident_id: str, patch: PupilPatch, today: date | None = None) -> Pupil:
    session = uow.session
    pupil = await _current_pupil(session, resident_id)
    if patch.school_stage is not None:
        pupil.school_stage = patch.school_stage
    if patch.boarding is not None:
        pupil.boarding = patch.boarding
    if patch.left_school_on is not None:
        pupil.left_school_on = patch.left_school_on
    if pupil.boarding and pupil.school_stage not in rules.COMPULSORY | rules.BEYOND_COMPULSORY:
        raise Unprocessable("inconsistent_pupil", "only a pupil in school can be boarding")
    pupil.school_reported_at = pupil.updated_at = datetime.now(UTC)
    # A school reports what holds from today (in the city): terms already begun keep the facts they had.
    today = today or city_today()
    _record_facts(pupil, max(today, pupil.enrolled_on))
    await session.flush()
    await _sync_grants(uow, pupil, max(today, pupil.enrolled_on))
    return pupil


# ---- term runs ----------------------------------------------------------------------------------


async def resolve_term(session: AsyncSession, label: str) -> rules.Term:
    book = await ParameterBook.load(session, [SPRING_START, AUTUMN_START, TERM_MONTHS])
    try:
        year, _ = rules.parse_term(label)
    except rules.InvalidTerm as exc:
        raise Unprocessable("invalid_term", str(exc)) from None
    on = date(year, 1, 1)
    return rules.term(label, book.get(SPRING_START, on), book.get(AUTUMN_START, on), book.get(TERM_MONTHS, on))


class _Rates:
    """The education parameters in force on a day (rules.Rates), read from one ParameterBook."""

    def __init__(self, book: ParameterBook) -> None:
        self.book = book

    def fees(self, day: date, division_code: str) -> tuple[Decimal, Decimal]:
        return self.book.get(MISC_FEE, day, division_code), self.book.get(TEXTBOOK_FEE, day, division_code)

    def boarding(self, day: date, division_code: str) -> Decimal:
        return Decimal(self.book.get(BOARDING_PER_MONTH, day, division_code))

    def disability(self, day: date, division_code: str) -> Decimal:
        return Decimal(self.book.get(DISABILITY_GRANT, day, division_code))


async def _serialise_runs(session: AsyncSession, school_year: str) -> None:
    """One batch at a time per school year, across runs and processes: a run reads the ledger only after the
    run before it committed what it paid, so two runs at once pay once. The lock is the transaction's."""

    if session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"education.term-runs.{school_year}"}
        )


def _spells(members: Sequence[DibaoMember], households: dict[str, DibaoHousehold]) -> list[rules.Spell]:
    """The pupil's time in dibao, household by household; an exit set ahead ends it on its day."""

    spells = []
    for row in members:
        end = row.eligible_until
        household = households.get(row.household_id)
        exit_on = (household.snapshot or {}).get("exit_on") if household is not None else None
        if exit_on:
            ahead = max(date.fromisoformat(exit_on), row.eligible_from)
            end = ahead if end is None else min(end, ahead)
        spells.append(rules.Spell(row.household_id, row.eligible_from, end))
    return sorted(spells, key=lambda spell: spell.start)


def _record(pupil: Pupil) -> rules.PupilRecord:
    return rules.PupilRecord(
        household_id=pupil.household_id,
        division_code=pupil.division_code,
        relation=pupil.relation,
        birth_date=pupil.birth_date,
        history=tuple(school_history(pupil)),
        left_school_on=pupil.left_school_on,
    )


async def run_term(
    units: UnitsOfWork,
    uow: UnitOfWork,
    label: str,
    batch_size: int = 2000,
    today: date | None = None,
    dry_run: bool = False,
) -> TermRunOut:
    """Settle a term: for every pupil, what the facts now known make due for the term (fee waiver, boarding
    subsidy) and its school year (disability grant), against the ledger. A term not begun is refused.

    What was paid over is a recovery line the household owes; its later payments are withheld against it
    first (:func:`rules.settle_household`), so no transfer is negative. Pupils are settled in batches, each
    committed on its own (an interrupted run keeps what it did; the next one does the rest); see
    :func:`_serialise_runs` and :func:`_lock_households` for runs at the same time. The run's record is
    finished in ``uow`` (the request's), which the caller commits.
    """

    today = today or city_today()
    async with units.sessions() as session:
        term = await resolve_term(session, label)
        refuse_future(term.start, f"term {term.label}", today)
        # A school year's terms from the 2004 plan on: 2004-spring's year began in 2003, before the scheme.
        year_terms = [
            await resolve_term(session, name)
            for name in rules.school_year_terms(term.label)
            if rules.parse_term(name)[0] >= PLAN_DATE.year
        ]
        year_starts = [t.start for t in year_terms if t.start <= today]
    run_id = 0 if dry_run else await start_run(units, TermRun, term.label)

    tally, last, report = _Tally(), "", RunTally(dry_run=dry_run)
    while True:
        async with units.begin() as batch:
            session = batch.session
            await _serialise_runs(session, term.school_year)
            residents = list(
                (
                    await session.scalars(
                        select(Pupil.resident_id)
                        .where(Pupil.resident_id > last)
                        .distinct()
                        .order_by(Pupil.resident_id)
                        .limit(batch_size)
                    )
                ).all()
            )
            if not residents:
                break
            last = residents[-1]
            await _settle_batch(batch, residents, term, year_starts, run_id, today, tally, report)
            if not dry_run:  # a dry run's batch is rolled back as it ends
                await batch.commit()

    if not dry_run:
        await finish_run(uow, TermRun, run_id, tally.paid, tally.total)
    already = await uow.session.scalar(
        select(func.count())
        .select_from(TermGrant)
        .where(
            TermGrant.term == term.label,
            TermGrant.kind == rules.PAYMENT,
            (TermGrant.run_id != run_id) | TermGrant.run_id.is_(None),
        )
    )
    return TermRunOut(
        term=term.label,
        grants_made=tally.paid,
        total_amount=to_fen(tally.total),
        already_made=int(already or 0),
        recoveries=tally.recoveries,
        recovered_amount=to_fen(tally.recovered),
        withheld_amount=to_fen(tally.withheld),
        transferred_amount=to_fen(tally.total - tally.withheld),
        **report.report(),
    )


@dataclass
class _Tally:
    paid: int = 0  # payment lines
    total: Decimal = ZERO  # their amounts
    withheld: Decimal = ZERO  # kept back from them against what households owe
    recoveries: int = 0
    recovered: Decimal = ZERO  # the recovery lines' sum (negative)


async def _lock_households(session: AsyncSession, household_ids: set[str]) -> None:
    """Hold the households' ledgers until the transaction ends: what a household owes spans school years, so
    runs of different years (each under its own year's lock) take its balance one after the other, and
    withhold it once. Taken in one order (by key), so two batches cannot wait on each other."""

    if session.bind.dialect.name == "postgresql" and household_ids:
        await session.execute(
            text(
                "SELECT pg_advisory_xact_lock(hashtext('education.household-ledger'), k) FROM "
                "(SELECT DISTINCT hashtext(h) AS k FROM unnest(CAST(:ids AS text[])) AS h) AS keys ORDER BY k"
            ),
            {"ids": sorted(household_ids)},
        )


async def balance_owed(session: AsyncSession, household_ids: Collection[str]) -> dict[str, Decimal]:
    """What each household owes in education: its recoveries less what was withheld, in one query."""

    if not household_ids:
        return {}
    rows = (
        await session.execute(
            select(
                TermGrant.household_id,
                func.sum(case((TermGrant.kind == RECOVERY, TermGrant.amount), else_=ZERO)),
                func.sum(TermGrant.withheld),
            )
            .where(
                TermGrant.household_id.in_(list(household_ids)),
                (TermGrant.kind == RECOVERY) | (TermGrant.withheld > ZERO),
            )
            .group_by(TermGrant.household_id)
        )
    ).all()
    return {household_id: ledger_balance(recoveries or ZERO, kept or ZERO) for household_id, recoveries, kept in rows}


async def _settle_batch(
    batch: UnitOfWork,
    residents: Sequence[str],
    term: rules.Term,
    year_starts: Sequence[date],
    run_id: int,
    today: date,
    tally: _Tally,
    report: RunTally,
) -> None:
    """Settle the pupils ``residents`` for the term and its school year, under the school year's lock."""

    session = batch.session
    periods = (term.label, term.school_year)
    pupils = (await session.scalars(select(Pupil).where(Pupil.resident_id.in_(residents)).order_by(Pupil.id))).all()
    members = (
        await session.scalars(
            select(DibaoMember).where(DibaoMember.resident_id.in_(residents)).order_by(DibaoMember.id)
        )
    ).all()
    households = {
        h.household_id: h
        for h in (
            await session.scalars(
                select(DibaoHousehold).where(DibaoHousehold.household_id.in_({m.household_id for m in members}))
            )
        ).all()
    }
    lines = (
        await session.scalars(
            select(TermGrant)
            .where(TermGrant.resident_id.in_(residents), TermGrant.period.in_(periods))
            .order_by(TermGrant.id)
        )
    ).all()
    rates = _Rates(await ParameterBook.of(batch, SPECS))

    records: dict[str, dict[str, rules.PupilRecord]] = defaultdict(dict)
    for pupil in pupils:
        records[pupil.resident_id][pupil.household_id] = _record(pupil)
    spells: dict[str, list[DibaoMember]] = defaultdict(list)
    for row in members:
        spells[row.resident_id].append(row)
    booked: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: ZERO)
    last_line: dict[tuple[str, str, str], TermGrant] = {}
    for line in lines:
        key = (line.resident_id, line.programme, line.period)
        booked[key] += line.amount
        last_line[key] = line

    # What each household's pupils are due, against their lines; a line goes to the household the money is
    # due in, or (nothing due) to the one its earlier lines went to.
    entries: dict[str, list[rules.Entry]] = defaultdict(list)
    division: dict[tuple[str, str, str], str] = {}
    for resident in residents:
        for due in rules.term_dues(term, _spells(spells[resident], households), records[resident], rates, year_starts):
            key = (resident, due.programme, due.period)
            if to_fen(due.amount - booked[key]) == ZERO:
                continue
            previous = last_line.get(key)
            household_id = due.household_id or (previous.household_id if previous else None)
            division_code = due.division_code or (previous.division_code if previous else None)
            # A line is due money (its household known) or corrects lines already written.
            assert household_id is not None and division_code is not None
            entries[household_id].append(rules.Entry(resident, due, booked[key]))
            division[key] = division_code
    if not entries:
        return

    # What a household owes is read under its lock, so two runs cannot both withhold it.
    await _lock_households(session, set(entries))
    owed = await balance_owed(session, list(entries))
    now = datetime.now(UTC)
    new_lines: list[TermGrant] = []
    for household_id in sorted(entries):
        household_lines = rules.settle_household(entries[household_id], owed.get(household_id, ZERO))
        if household_lines:
            first = household_lines[0][0]
            report.settled(
                household_id,
                division[(first.resident_id, first.due.programme, first.due.period)],
                [settled for _, settled in household_lines],
            )
        for entry, settled in household_lines:
            due, key = entry.due, (entry.resident_id, entry.due.programme, entry.due.period)
            detail = (
                due.detail
                if settled.kind != RECOVERY
                else f"recovery: due {to_fen(due.amount)}, paid {to_fen(entry.booked)} ({due.detail})"
            )
            new_lines.append(
                TermGrant(
                    resident_id=entry.resident_id,
                    household_id=household_id,
                    division_code=division[key],
                    programme=due.programme,
                    period=due.period,
                    kind=settled.kind,
                    term=term.label,
                    amount=settled.amount,
                    withheld=settled.withheld,
                    detail=detail[:200],
                    run_id=run_id,
                    created_at=now,
                )
            )
    if report.dry_run:
        _count(tally, new_lines)
        return
    session.add_all(new_lines)
    await session.flush()
    # What the household receives is announced: a payment's transfer (nothing when all of it was withheld);
    # a recovery is owed back, never a negative transfer.
    await ledger.outbox.stage_many(
        batch,
        (
            ledger.payment_event(
                household_id=line.household_id,
                division_code=line.division_code,
                programme=line.programme,
                period=term.label,
                amount=line.amount - line.withheld,
                reference=f"term-{line.id}",
                paid_on=today,
                resident_id=line.resident_id,
            )
            for line in new_lines
            if line.kind != RECOVERY and line.amount > line.withheld
        ),
    )
    _count(tally, new_lines)


def _count(tally: _Tally, new_lines: Sequence[TermGrant]) -> None:
    for line in new_lines:
        if line.kind == RECOVERY:
            tally.recoveries, tally.recovered = tally.recoveries + 1, tally.recovered + line.amount
        else:
            tally.paid, tally.total, tally.withheld = (
                tally.paid + 1,
                tally.total + line.amount,
                tally.withheld + line.withheld,
            )


# ---- partner organisations ------------------------------------------------------------------------


async def record_partner_aid(uow: UnitOfWork, body: PartnerAidIn) -> PartnerAid:
    session = uow.session
    rows: list[DibaoMember] = await memberships(session, body.resident_id)
    if not rows:
        raise NotFound("person_not_found", "no member of a dibao household with that resident ID")
    row = rows[0]
    aid = PartnerAid(
        resident_id=body.resident_id,
        household_id=row.household_id,
        division_code=row.division_code,
        organisation=body.organisation,
        kind=body.kind,
        amount=body.amount,
        given_on=body.given_on,
        description=body.description,
        created_at=datetime.now(UTC),
    )
    session.add(aid)
    await session.flush()
    await ledger.paid(
        uow,
        household_id=aid.household_id,
        division_code=aid.division_code,
        programme=f"partner_aid:{aid.organisation}",
        resident_id=aid.resident_id,
        period=aid.given_on.strftime("%Y-%m"),
        amount=aid.amount,
        paid_on=aid.given_on,
        reference=f"partner-{aid.id}",
    )
    return aid


# ---- reading ------------------------------------------------------------------------------------


def grant_out(grant: TermGrant) -> TermGrantOut:
    line = LedgerLine(grant.period, grant.kind, grant.amount, grant.withheld)
    return TermGrantOut(
        resident_id=grant.resident_id,
        household_id=grant.household_id,
        programme=grant.programme,
        term=grant.term,
        period=grant.period,
        kind=grant.kind,
        amount=grant.amount,
        withheld=line.withheld,
        transferred=line.transferred,
        detail=grant.detail,
        paid_at=grant.created_at,
    )


def aid_out(aid: PartnerAid) -> PartnerAidOut:
    return PartnerAidOut(
        id=str(aid.id),
        resident_id=aid.resident_id,
        household_id=aid.household_id,
        organisation=aid.organisation,
        kind=aid.kind,
        amount=aid.amount,
        given_on=aid.given_on,
        description=aid.description,
    )


async def pupil_view(uow: UnitOfWork, resident_id: str, today: date | None = None) -> PupilOut:
    today = today or city_today()
    session = uow.session
    pupil = await _current_pupil(session, resident_id)
    grants = (
        await session.scalars(select(TermGrant).where(TermGrant.resident_id == resident_id).order_by(TermGrant.id))
    ).all()
    aid = (
        await session.scalars(select(PartnerAid).where(PartnerAid.resident_id == resident_id).order_by(PartnerAid.id))
    ).all()
    active = await ledger.active(uow, pupil.household_id, resident_id=resident_id)
    return PupilOut(
        resident_id=pupil.resident_id,
        household_id=pupil.household_id,
        division_code=pupil.division_code,
        name=pupil.name,
        birth_date=pupil.birth_date,
        school_stage=pupil.school_stage,
        boarding=pupil.boarding,
        in_school=_in_school(pupil, today),
        household_has_disabled=pupil.household_has_disabled,
        no_parent_in_household=pupil.no_parent_in_household,
        in_dibao=pupil.exited_on is None or today < pupil.exited_on,
        programmes=sorted(g.programme for g in active),
        grants=[grant_out(g) for g in grants],
        partner_aid=[aid_out(a) for a in aid],
        school_reported_at=pupil.school_reported_at,
        school_id=await schools.school_of(session, resident_id),
    )


async def household_grants(session: AsyncSession, household_id: str) -> GrantsOut:
    grants = (
        await session.scalars(select(TermGrant).where(TermGrant.household_id == household_id).order_by(TermGrant.id))
    ).all()
    aid = (
        await session.scalars(select(PartnerAid).where(PartnerAid.household_id == household_id).order_by(PartnerAid.id))
    ).all()
    owed = (await balance_owed(session, [household_id])).get(household_id, ZERO)
    return GrantsOut(
        household_id=household_id,
        balance_owed=owed,
        grants=[grant_out(g) for g in grants],
        partner_aid=[aid_out(a) for a in aid],
    )


async def report(session: AsyncSession, period: Period) -> Report:
    pupils = (
        await session.scalars(
            select(Pupil)
            .where(Pupil.enrolled_on <= period.end)
            .where((Pupil.exited_on.is_(None)) | (Pupil.exited_on > period.start))
        )
    ).all()
    counted: dict[str, set[str]] = defaultdict(set)
    for pupil in pupils:
        counted[pupil.division_code].add(pupil.resident_id)
    sums: dict[tuple[str, str], tuple[int, Decimal]] = {}
    grants = (await session.scalars(select(TermGrant))).all()
    terms = {label: await resolve_term(session, label) for label in {grant.term for grant in grants}}
    # Net per pupil and period: a recovery line takes back what an earlier line paid.
    net: dict[tuple[str, str, str, str], Decimal] = defaultdict(lambda: ZERO)
    for grant in grants:
        if period.contains(terms[grant.term].start):
            net[(grant.division_code, grant.programme, grant.resident_id, grant.period)] += grant.amount
    for (division_code, programme, _, _), amount in net.items():
        count, total = sums.get((division_code, programme), (0, ZERO))
        sums[(division_code, programme)] = (count + (1 if amount > ZERO else 0), total + amount)
    aid = (
        await session.execute(
            select(PartnerAid.division_code, func.count(), func.sum(PartnerAid.amount))
            .where(PartnerAid.given_on >= period.start, PartnerAid.given_on <= period.end)
            .group_by(PartnerAid.division_code)
        )
    ).all()
    aid_by = {division: (count, to_fen(amount or ZERO)) for division, count, amount in aid}
    divisions = sorted(set(counted) | {d for d, _ in sums} | set(aid_by))

    def pick(code: str, programme: str) -> tuple[int, Decimal]:
        return sums.get((code, programme), (0, ZERO))

    return Report(
        period=period.label,
        divisions=[
            DivisionReport(
                division_code=code,
                division_name=division_name(code),
                pupils=len(counted.get(code, ())),
                fee_waivers=pick(code, rules.FEE_WAIVER)[0],
                fee_waiver_amount=pick(code, rules.FEE_WAIVER)[1],
                boarding_subsidies=pick(code, rules.BOARDING)[0],
                boarding_amount=pick(code, rules.BOARDING)[1],
                disability_grants=pick(code, rules.DISABILITY)[0],
                disability_amount=pick(code, rules.DISABILITY)[1],
                partner_aid=aid_by.get(code, (0, ZERO))[0],
                partner_aid_amount=aid_by.get(code, (0, ZERO))[1],
            )
            for code in divisions
        ],
    )


# What the consumer reads for a whole batch of household events at once.
prefetch = prefetch_all(prefetch_caseload, PUPILS.prefetch)
