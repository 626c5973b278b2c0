"""Education assistance use cases: pupils from events, school reports, term runs, partner aid, report."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.education import rules
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
from shared.grants import GrantLedger
from shared.money import ZERO, to_fen
from shared.outbox import Outbox
from shared.parameters import ParameterBook
from shared.periods import Period
from shared.projection import (
    DibaoMember,
    HouseholdDelta,
    HouseholdRows,
    memberships,
    prefetch_all,
    prefetch_households,
)
from shared.runs import run_in_batches

ledger = GrantLedger("education", Outbox(producer="education"))
PUPILS = HouseholdRows(Pupil)
DETAILS = {
    rules.FEE_WAIVER: "义务教育阶段免杂费、书本费",
    rules.BOARDING: "寄宿生生活补助",
    rules.DISABILITY: "残疾人家庭子女高中及以上助学金",
    rules.NO_PARENT: "孤儿及困境儿童救助 (flagged for the partner organisations)",
}


# ---- pupils from the registry's events ------------------------------------------------------------


def _in_school(pupil: Pupil, on: date) -> bool:
    return pupil.left_school_on is None or on < pupil.left_school_on


def _programmes(pupil: Pupil, on: date) -> set[str]:
    in_dibao = pupil.enrolled_on <= on and (pupil.exited_on is None or on < pupil.exited_on)
    if not in_dibao:
        return set()
    return rules.programmes_for(pupil.school_stage, pupil.boarding, pupil.household_has_disabled, pupil.relation,
                                pupil.birth_date, on, in_school=_in_school(pupil, on))


async def _sync_grants(session: AsyncSession, pupil: Pupil, on: date) -> set[str]:
    """Grant what the pupil qualifies for now and revoke what they no longer do."""

    wanted = _programmes(pupil, on)
    active = {grant.programme: grant for grant in await ledger.active(session, pupil.household_id,
                                                                      resident_id=pupil.resident_id)}
    for programme in sorted(wanted - set(active)):
        await ledger.grant(session, household_id=pupil.household_id, division_code=pupil.division_code,
                           programme=programme, resident_id=pupil.resident_id, on=max(on, pupil.enrolled_on),
                           detail=DETAILS[programme])
    for programme in sorted(set(active) - wanted):
        reason = "left dibao" if pupil.exited_on and on >= pupil.exited_on else "no longer qualifies"
        await ledger.revoke(session, household_id=pupil.household_id, resident_id=pupil.resident_id,
                            programme=programme, on=on, reason=reason)
    return wanted


async def apply_delta(session: AsyncSession, delta: HouseholdDelta) -> None:
    household = delta.household
    if household is None or delta.kind == "ignored":
        return
    on, now = delta.effective_on, datetime.now(UTC)
    existing = {p.resident_id: p for p in await PUPILS.get(session, household.household_id)}
    for row in delta.removed:
        pupil = existing.get(row.resident_id)
        if pupil is not None:
            pupil.exited_on, pupil.updated_at = row.eligible_until or on, now
            await _sync_grants(session, pupil, pupil.exited_on)
    if delta.kind == "exited":
        return
    has_disabled = any(row.member.disabled for row in delta.current_members)
    for row in delta.current_members:
        member = row.member
        pupil = existing.get(row.resident_id)
        candidate = rules.programmes_for(member.school_stage, member.boarding, has_disabled, member.relation,
                                         member.birth_date, max(on, row.eligible_from))
        if pupil is None and not rules.registers_as_pupil(candidate):
            continue
        if pupil is None:
            pupil = Pupil(resident_id=row.resident_id, household_id=row.household_id, enrolled_on=row.eligible_from,
                          school_stage=member.school_stage, boarding=member.boarding)
            PUPILS.add(session, pupil)
        elif pupil.school_reported_at is None:
            pupil.school_stage, pupil.boarding = member.school_stage, member.boarding
        pupil.division_code, pupil.name, pupil.birth_date, pupil.relation = (
            row.division_code, member.name, member.birth_date, member.relation)
        pupil.household_has_disabled = has_disabled
        pupil.no_parent_in_household = rules.NO_PARENT in candidate
        pupil.updated_at = now
        await _sync_grants(session, pupil, max(on, pupil.enrolled_on))


# ---- schools' reports -----------------------------------------------------------------------------


async def _current_pupil(session: AsyncSession, resident_id: str) -> Pupil:
    pupil = await session.scalar(select(Pupil).where(Pupil.resident_id == resident_id)
                                 .order_by(Pupil.enrolled_on.desc(), Pupil.id.desc()).limit(1))
    if pupil is None:
        raise NotFound("pupil_not_found", "no pupil of a dibao household with that resident ID")
    return pupil


async def report_change(session: AsyncSession, resident_id: str, patch: PupilPatch, today: date | None = None) -> Pupil:
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
    await session.flush()
    await _sync_grants(session, pupil, max(today or date.today(), pupil.enrolled_on))
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


async def run_term(sessions: async_sessionmaker[AsyncSession], label: str, batch_size: int = 2000) -> TermRunOut:
    """Waive fees, pay boarding subsidies and the school year's disability grants (see shared.runs)."""

    async with sessions() as session:
        term = await resolve_term(session, label)

    async def fetch(session: AsyncSession, after: int, limit: int) -> Sequence[Pupil]:
        return (await session.scalars(select(Pupil).where(
            Pupil.id > after, Pupil.enrolled_on <= term.end,
            (Pupil.exited_on.is_(None)) | (Pupil.exited_on > term.start),
        ).order_by(Pupil.id).limit(limit))).all()

    async def build(session: AsyncSession, pupils: Sequence[Pupil], run_id: int) -> list[dict[str, Any]]:
        book = await ParameterBook.load(session, SPECS)
        on = term.start
        misc, textbook = book.get(MISC_FEE, on), book.get(TEXTBOOK_FEE, on)
        per_month, per_year = book.get(BOARDING_PER_MONTH, on), book.get(DISABILITY_GRANT, on)
        rows: list[dict[str, Any]] = []
        for pupil in pupils:
            day = max(on, pupil.enrolled_on)
            programmes = rules.programmes_for(pupil.school_stage, pupil.boarding, pupil.household_has_disabled,
                                              pupil.relation, pupil.birth_date, day, in_school=_in_school(pupil, day))
            base = {"resident_id": pupil.resident_id, "household_id": pupil.household_id,
                    "division_code": pupil.division_code, "term": term.label, "run_id": run_id,
                    "created_at": datetime.now(UTC)}
            if rules.FEE_WAIVER in programmes:
                rows.append({**base, "programme": rules.FEE_WAIVER, "period": term.label, "amount": misc + textbook,
                             "detail": f"杂费 {misc} + 书本费 {textbook}"})
            if rules.BOARDING in programmes:
                rows.append({**base, "programme": rules.BOARDING, "period": term.label,
                             "amount": to_fen(per_month * len(term.months)),
                             "detail": f"{per_month} × {len(term.months)} months"})
            if rules.DISABILITY in programmes:
                rows.append({**base, "programme": rules.DISABILITY, "period": term.school_year, "amount": per_year,
                             "detail": f"school year {term.school_year}"})
        return rows

    async def announce(session: AsyncSession, inserted: Sequence[Any]) -> None:
        await ledger.outbox.stage_many(session, (ledger.payment_event(
            household_id=household_id, division_code=division_code, programme=programme, period=term.label,
            amount=amount, reference=f"term-{row_id}", resident_id=resident_id)
            for amount, row_id, household_id, division_code, programme, resident_id in inserted))

    result = await run_in_batches(
        sessions, run_model=TermRun, payment_model=TermGrant, period=term.label, fetch_batch=fetch,
        key_of=lambda pupil: pupil.id, build_rows=build, conflict_columns=["resident_id", "programme", "period"],
        returning=[TermGrant.amount, TermGrant.id, TermGrant.household_id, TermGrant.division_code,
                   TermGrant.programme, TermGrant.resident_id],
        announce=announce, first_key=0, period_column=TermGrant.term, batch_size=batch_size)
    return TermRunOut(term=term.label, grants_made=result.paid, total_amount=result.total,
                      already_made=result.already_paid)


# ---- partner organisations ------------------------------------------------------------------------


async def record_partner_aid(session: AsyncSession, body: PartnerAidIn) -> PartnerAid:
    rows: list[DibaoMember] = await memberships(session, body.resident_id)
    if not rows:
        raise NotFound("person_not_found", "no member of a dibao household with that resident ID")
    row = rows[0]
    aid = PartnerAid(resident_id=body.resident_id, household_id=row.household_id, division_code=row.division_code,
                     organisation=body.organisation, kind=body.kind, amount=body.amount, given_on=body.given_on,
                     description=body.description, created_at=datetime.now(UTC))
    session.add(aid)
    await session.flush()
    await ledger.paid(session, household_id=aid.household_id, division_code=aid.division_code,
                      programme=f"partner_aid:{aid.organisation}", resident_id=aid.resident_id,
                      period=aid.given_on.strftime("%Y-%m"), amount=aid.amount, paid_on=aid.given_on,
                      reference=f"partner-{aid.id}")
    return aid


# ---- reading ------------------------------------------------------------------------------------


def grant_out(grant: TermGrant) -> TermGrantOut:
    return TermGrantOut(resident_id=grant.resident_id, household_id=grant.household_id, programme=grant.programme,
                        term=grant.term, period=grant.period, amount=grant.amount, detail=grant.detail)


def aid_out(aid: PartnerAid) -> PartnerAidOut:
    return PartnerAidOut(id=str(aid.id), resident_id=aid.resident_id, household_id=aid.household_id,
                         organisation=aid.organisation, kind=aid.kind, amount=aid.amount,  # type: ignore[arg-type]
                         given_on=aid.given_on, description=aid.description)


async def pupil_view(session: AsyncSession, resident_id: str, today: date | None = None) -> PupilOut:
    today = today or date.today()
    pupil = await _current_pupil(session, resident_id)
    grants = (await session.scalars(select(TermGrant).where(TermGrant.resident_id == resident_id)
                                    .order_by(TermGrant.id))).all()
    aid = (await session.scalars(select(PartnerAid).where(PartnerAid.resident_id == resident_id)
                                 .order_by(PartnerAid.id))).all()
    active = await ledger.active(session, pupil.household_id, resident_id=resident_id)
    return PupilOut(resident_id=pupil.resident_id, household_id=pupil.household_id,
                    division_code=pupil.division_code, name=pupil.name, birth_date=pupil.birth_date,
                    school_stage=pupil.school_stage, boarding=pupil.boarding,  # type: ignore[arg-type]
                    in_school=_in_school(pupil, today), household_has_disabled=pupil.household_has_disabled,
                    no_parent_in_household=pupil.no_parent_in_household,
                    in_dibao=pupil.exited_on is None or today < pupil.exited_on,
                    programmes=sorted(g.programme for g in active), grants=[grant_out(g) for g in grants],
                    partner_aid=[aid_out(a) for a in aid], school_reported_at=pupil.school_reported_at)


async def household_grants(session: AsyncSession, household_id: str) -> GrantsOut:
    grants = (await session.scalars(select(TermGrant).where(TermGrant.household_id == household_id)
                                    .order_by(TermGrant.id))).all()
    aid = (await session.scalars(select(PartnerAid).where(PartnerAid.household_id == household_id)
                                 .order_by(PartnerAid.id))).all()
    return GrantsOut(household_id=household_id, grants=[grant_out(g) for g in grants], partner_aid=[aid_out(a) for a in aid])


async def report(session: AsyncSession, period: Period) -> Report:
    pupils = (await session.scalars(select(Pupil).where(Pupil.enrolled_on <= period.end).where(
        (Pupil.exited_on.is_(None)) | (Pupil.exited_on > period.start)))).all()
    counted: dict[str, set[str]] = defaultdict(set)
    for pupil in pupils:
        counted[pupil.division_code].add(pupil.resident_id)
    sums: dict[tuple[str, str], tuple[int, Decimal]] = {}
    grants = (await session.scalars(select(TermGrant))).all()
    terms = {label: await resolve_term(session, label) for label in {grant.term for grant in grants}}
    for grant in grants:
        if not period.contains(terms[grant.term].start):
            continue
        count, amount = sums.get((grant.division_code, grant.programme), (0, ZERO))
        sums[(grant.division_code, grant.programme)] = (count + 1, amount + grant.amount)
    aid = (await session.execute(select(PartnerAid.division_code, func.count(), func.sum(PartnerAid.amount)).where(
        PartnerAid.given_on >= period.start, PartnerAid.given_on <= period.end).group_by(PartnerAid.division_code))).all()
    aid_by = {division: (count, to_fen(amount or ZERO)) for division, count, amount in aid}
    divisions = sorted(set(counted) | {d for d, _ in sums} | set(aid_by))

    def pick(code: str, programme: str) -> tuple[int, Decimal]:
        return sums.get((code, programme), (0, ZERO))

    return Report(period=period.label, divisions=[DivisionReport(
        division_code=code, division_name=division_name(code), pupils=len(counted.get(code, ())),
        fee_waivers=pick(code, rules.FEE_WAIVER)[0], fee_waiver_amount=pick(code, rules.FEE_WAIVER)[1],
        boarding_subsidies=pick(code, rules.BOARDING)[0], boarding_amount=pick(code, rules.BOARDING)[1],
        disability_grants=pick(code, rules.DISABILITY)[0], disability_amount=pick(code, rules.DISABILITY)[1],
        partner_aid=aid_by.get(code, (0, ZERO))[0], partner_aid_amount=aid_by.get(code, (0, ZERO))[1],
    ) for code in divisions])


# What the consumer reads for a whole batch of household events at once.
prefetch = prefetch_all(prefetch_households, PUPILS.prefetch)
