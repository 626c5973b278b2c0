"""Medical assistance use cases: eligibility from events, hospitals, claims, audit, report."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.medical import rules
from services.medical.models import Claim, Hospital, RefusedClaim, YearlyCapUse
from services.medical.parameters import (
    CLAIMS_PER_MONTH,
    NEAR_CAP_SHARE,
    SHARE,
    YEARLY_CAP,
)
from services.medical.schemas import (
    AuditFlag,
    ClaimIn,
    ClaimOut,
    DivisionReport,
    EligibilityOut,
    HospitalIn,
    HospitalOut,
    HospitalPatch,
    Report,
)
from shared.db import insert_ignore
from shared.divisions import division_name
from shared.errors import Conflict, NotFound, Unprocessable
from shared.grants import GrantLedger, grant_to_every_member
from shared.money import ZERO, to_fen
from shared.outbox import Outbox
from shared.parameters import ParameterBook
from shared.periods import Period, city_today, month_of
from shared.projection import (
    DibaoMember,
    HouseholdDelta,
    ineligibility_reason,
    member_on,
    memberships,
)
from shared.unit_of_work import UnitOfWork

PROGRAMME = "medical_assistance"
ledger = GrantLedger("medical", Outbox(producer="medical"))


# ---- eligibility from the registry's events --------------------------------------------------


async def apply_delta(uow: UnitOfWork, delta: HouseholdDelta) -> None:
    """Every member of a dibao household is covered from enrolment (or joining) until exit (or leaving)."""

    await grant_to_every_member(
        uow, ledger, delta, PROGRAMME, "医疗救助: share of out-of-pocket costs at designated hospitals"
    )


async def paid_in_year(session: AsyncSession, resident_id: str, year: int) -> Decimal:
    used = await session.scalar(
        select(YearlyCapUse.used).where(YearlyCapUse.resident_id == resident_id, YearlyCapUse.year == year)
    )
    return to_fen(used or ZERO)


async def lock_year(session: AsyncSession, resident_id: str, year: int) -> YearlyCapUse:
    """The person's cap row for the year, created if need be and locked until the transaction ends.

    The insert comes first: on SQLite it is the statement that takes the database's write lock, so the
    read below already sees every claim committed before; on PostgreSQL ``FOR UPDATE`` makes a second
    claim for the person wait here until the first commits, then read what it left.
    """

    await insert_ignore(
        session, YearlyCapUse, [{"resident_id": resident_id, "year": year, "used": ZERO}], ["resident_id", "year"]
    )
    row = await session.scalar(
        select(YearlyCapUse)
        .where(YearlyCapUse.resident_id == resident_id, YearlyCapUse.year == year)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None  # inserted above, or already there
    return row


async def eligibility(session: AsyncSession, resident_id: str, on: date) -> EligibilityOut:
    book = await ParameterBook.load(session, [YEARLY_CAP])
    cap = book.get(YEARLY_CAP, on)
    paid = await paid_in_year(session, resident_id, on.year)
    rows = await memberships(session, resident_id)
    if not rows:
        raise NotFound("person_not_found", "this person has never been in a dibao household")
    current = next((row for row in rows if row.eligible_on(on)), None)
    base = dict(
        resident_id=resident_id,
        on=on,
        year=on.year,
        yearly_cap=cap,
        paid_this_year=paid,
        remaining_cap=rules.remaining_cap(cap, paid),
    )
    if current is None:
        return EligibilityOut(eligible=False, reason=ineligibility_reason(rows, on), **base)
    return EligibilityOut(
        eligible=True,
        household_id=current.household_id,
        since=current.eligible_from,
        until=current.eligible_until,
        **base,
    )


# ---- hospitals ----------------------------------------------------------------------------------


def hospital_out(hospital: Hospital, today: date | None = None) -> HospitalOut:
    return HospitalOut(
        id=str(hospital.id),
        name=hospital.name,
        level=hospital.level,
        division_code=hospital.division_code,
        designated_from=hospital.designated_from,
        designated_until=hospital.designated_until,
        designated_today=rules.designated_on(
            hospital.designated_from, hospital.designated_until, today or city_today()
        ),
    )


async def register_hospital(session: AsyncSession, body: HospitalIn) -> Hospital:
    hospital = Hospital(**body.model_dump(), created_at=datetime.now(UTC))
    session.add(hospital)
    await session.flush()
    return hospital


async def change_designation(session: AsyncSession, hospital_id: str | int, body: HospitalPatch) -> Hospital:
    """End (or reopen) a designation; its end is never before its start, as on registration."""

    hospital = await get_hospital(session, hospital_id)
    if problem := rules.designation_period_problem(hospital.designated_from, body.designated_until):
        raise Unprocessable("invalid_period", problem)
    hospital.designated_until = body.designated_until
    await session.flush()
    return hospital


async def get_hospital(session: AsyncSession, hospital_id: str | int) -> Hospital:
    hospital = await session.get(Hospital, int(hospital_id))
    if hospital is None:
        raise NotFound("hospital_not_found", f"no designated hospital with id {hospital_id}")
    return hospital


async def list_hospitals(session: AsyncSession) -> list[Hospital]:
    return list((await session.scalars(select(Hospital).order_by(Hospital.id))).all())


# ---- claims -------------------------------------------------------------------------------------


def claim_out(claim: Claim) -> ClaimOut:
    return ClaimOut(
        id=str(claim.id),
        hospital_id=str(claim.hospital_id),
        invoice_no=claim.invoice_no,
        resident_id=claim.resident_id,
        household_id=claim.household_id,
        division_code=claim.division_code,
        visit_date=claim.visit_date,
        kind=claim.kind,
        total_cost=claim.total_cost,
        insurance_paid=claim.insurance_paid,
        out_of_pocket=claim.out_of_pocket,
        assistance_amount=claim.assistance_amount,
        capped=claim.capped,
        created_at=claim.created_at,
    )


class ClaimRefused(Unprocessable):
    """Refused because the person was not covered on the visit day (recorded for the auditors)."""


async def submit_claim(uow: UnitOfWork, body: ClaimIn) -> Claim:
    session = uow.session
    hospital = await session.get(Hospital, int(body.hospital_id))
    if hospital is None:
        raise Unprocessable("hospital_not_found", f"no designated hospital with id {body.hospital_id}")
    if not rules.designated_on(hospital.designated_from, hospital.designated_until, body.visit_date):
        raise Unprocessable(
            "hospital_not_designated",
            f"hospital {hospital.id} was not a designated hospital (定点医院) on {body.visit_date}",
        )
    duplicate = await session.scalar(
        select(Claim.id).where(Claim.hospital_id == hospital.id, Claim.invoice_no == body.invoice_no)
    )
    if duplicate is not None:
        raise Conflict(
            "duplicate_invoice", f"invoice {body.invoice_no} from this hospital was already claimed (claim {duplicate})"
        )
    membership = await member_on(session, body.resident_id, body.visit_date)
    if membership is None:
        reason = ineligibility_reason(await memberships(session, body.resident_id), body.visit_date)
        raise ClaimRefused("not_eligible", f"not covered on {body.visit_date}: {reason}")

    # The cap is the person's for the visit's calendar year, whenever the claim is sent: lock that year's
    # row, then read what is left of it; the row is updated in this same transaction.
    cap_use = await lock_year(session, body.resident_id, body.visit_date.year)
    book = await ParameterBook.of(uow, [SHARE, YEARLY_CAP])
    assessment = rules.assess_claim(
        body.total_cost,
        body.insurance_paid,
        book.get(SHARE, body.visit_date),
        book.get(YEARLY_CAP, body.visit_date),
        cap_use.used,
    )
    claim = Claim(
        hospital_id=hospital.id,
        invoice_no=body.invoice_no,
        resident_id=body.resident_id,
        household_id=membership.household_id,
        division_code=membership.division_code,
        visit_date=body.visit_date,
        year=body.visit_date.year,
        kind=body.kind,
        total_cost=body.total_cost,
        insurance_paid=body.insurance_paid,
        out_of_pocket=assessment.out_of_pocket,
        assistance_amount=assessment.amount,
        capped=assessment.capped,
        created_at=datetime.now(UTC),
    )
    session.add(claim)
    cap_use.used = to_fen(cap_use.used + assessment.amount)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(
            "duplicate_invoice", f"invoice {body.invoice_no} from this hospital was already claimed"
        ) from None
    if claim.assistance_amount > ZERO:
        await ledger.paid(
            uow,
            household_id=claim.household_id,
            division_code=claim.division_code,
            programme=PROGRAMME,
            resident_id=claim.resident_id,
            period=month_of(claim.visit_date).label,
            amount=claim.assistance_amount,
            reference=f"claim-{claim.id}",
            paid_on=city_today(),
        )
    return claim


async def record_refusal(uow: UnitOfWork, body: ClaimIn, error: ClaimRefused) -> None:
    """Auditors must see refusals: the refused claim's own changes are rolled back, the refusal is committed."""

    await uow.rollback()
    uow.add(
        RefusedClaim(
            hospital_id=int(body.hospital_id),
            invoice_no=body.invoice_no,
            resident_id=body.resident_id,
            visit_date=body.visit_date,
            total_cost=body.total_cost,
            code=error.code,
            reason=error.detail,
            created_at=datetime.now(UTC),
        )
    )
    await uow.commit()


async def list_claims(
    session: AsyncSession,
    *,
    hospital_id: str | None = None,
    resident_id: str | None = None,
    division_code: str | None = None,
    visit_from: date | None = None,
    visit_to: date | None = None,
    page: int = 1,
    size: int = 100,
) -> tuple[list[Claim], int]:
    conditions = []
    if hospital_id:
        conditions.append(Claim.hospital_id == int(hospital_id))
    if resident_id:
        conditions.append(Claim.resident_id == resident_id)
    if division_code:
        conditions.append(Claim.division_code == division_code)
    if visit_from:
        conditions.append(Claim.visit_date >= visit_from)
    if visit_to:
        conditions.append(Claim.visit_date <= visit_to)
    total = await session.scalar(select(func.count()).select_from(Claim).where(*conditions))
    rows = (
        await session.scalars(
            select(Claim).where(*conditions).order_by(Claim.visit_date, Claim.id).offset((page - 1) * size).limit(size)
        )
    ).all()
    return list(rows), int(total or 0)


CSV_COLUMNS = [
    "id",
    "hospital_id",
    "invoice_no",
    "resident_id",
    "household_id",
    "division_code",
    "visit_date",
    "kind",
    "total_cost",
    "insurance_paid",
    "out_of_pocket",
    "assistance_amount",
    "capped",
    "created_at",
]


def claims_csv(claims: list[Claim]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for claim in claims:
        row = claim_out(claim).model_dump(mode="json")
        writer.writerow([row[column] for column in CSV_COLUMNS])
    return buffer.getvalue()


# ---- audit and report -----------------------------------------------------------------------------


async def audit_flags(session: AsyncSession, year: int) -> list[AuditFlag]:
    """What an auditor should look at first, for one calendar year."""

    on = date(year, 12, 31)
    book = await ParameterBook.load(session, [YEARLY_CAP, NEAR_CAP_SHARE, CLAIMS_PER_MONTH])
    cap, near_share, per_month = book.get(YEARLY_CAP, on), book.get(NEAR_CAP_SHARE, on), book.get(CLAIMS_PER_MONTH, on)
    claims = (await session.scalars(select(Claim).where(Claim.year == year).order_by(Claim.id))).all()
    flags: list[AuditFlag] = []
    by_person: dict[str, list[Claim]] = defaultdict(list)
    by_person_month: dict[tuple[str, str], list[Claim]] = defaultdict(list)
    for claim in claims:
        by_person[claim.resident_id].append(claim)
        by_person_month[(claim.resident_id, month_of(claim.visit_date).label)].append(claim)
        if claim.capped:
            flags.append(
                AuditFlag(
                    kind="capped_claim",
                    resident_id=claim.resident_id,
                    period=str(year),
                    claim_ids=[str(claim.id)],
                    amount=claim.assistance_amount,
                    detail="the yearly cap reduced this claim's assistance",
                )
            )
    for resident_id, person_claims in by_person.items():
        paid = to_fen(sum((c.assistance_amount for c in person_claims), ZERO))
        if rules.near_cap(paid, cap, near_share):
            flags.append(
                AuditFlag(
                    kind="near_or_over_cap",
                    resident_id=resident_id,
                    period=str(year),
                    claim_ids=[str(c.id) for c in person_claims],
                    amount=paid,
                    detail=f"paid {paid} of a {cap} yearly cap",
                )
            )
    for (resident_id, month), month_claims in by_person_month.items():
        if len(month_claims) >= per_month:
            flags.append(
                AuditFlag(
                    kind="frequent_claims",
                    resident_id=resident_id,
                    period=month,
                    claim_ids=[str(c.id) for c in month_claims],
                    amount=to_fen(sum((c.assistance_amount for c in month_claims), ZERO)),
                    detail=f"{len(month_claims)} claims in one month",
                )
            )
    refused = (
        await session.scalars(
            select(RefusedClaim)
            .where(RefusedClaim.visit_date >= date(year, 1, 1), RefusedClaim.visit_date <= on)
            .order_by(RefusedClaim.id)
        )
    ).all()
    for refusal in refused:
        flags.append(
            AuditFlag(
                kind="refused_outside_dibao",
                resident_id=refusal.resident_id,
                period=month_of(refusal.visit_date).label,
                claim_ids=[],
                amount=refusal.total_cost,
                detail=f"hospital {refusal.hospital_id} invoice {refusal.invoice_no}: {refusal.reason}",
            )
        )
    return flags


async def report(session: AsyncSession, period: Period) -> Report:
    members = (
        await session.scalars(
            select(DibaoMember)
            .where(DibaoMember.eligible_from <= period.end)
            .where((DibaoMember.eligible_until.is_(None)) | (DibaoMember.eligible_until > period.start))
        )
    ).all()
    eligible: dict[str, set[str]] = defaultdict(set)
    for row in members:
        eligible[row.division_code].add(row.resident_id)
    paid = (
        await session.execute(
            select(Claim.division_code, func.count(), func.sum(Claim.assistance_amount))
            .where(Claim.visit_date >= period.start, Claim.visit_date <= period.end)
            .group_by(Claim.division_code)
        )
    ).all()
    paid_by = {division: (count, to_fen(amount or ZERO)) for division, count, amount in paid}
    refused = (
        (
            await session.execute(
                select(RefusedClaim.resident_id).where(
                    RefusedClaim.visit_date >= period.start, RefusedClaim.visit_date <= period.end
                )
            )
        )
        .scalars()
        .all()
    )
    refused_by: dict[str, int] = defaultdict(int)
    for resident_id in refused:
        rows = await memberships(session, resident_id)
        refused_by[rows[0].division_code if rows else "unknown"] += 1
    divisions = sorted(set(eligible) | set(paid_by) | set(refused_by))
    items = [
        DivisionReport(
            division_code=code,
            division_name=division_name(code),
            eligible_persons=len(eligible.get(code, ())),
            claims_paid=paid_by.get(code, (0, ZERO))[0],
            claims_refused=refused_by.get(code, 0),
            amount_paid=paid_by.get(code, (0, ZERO))[1],
        )
        for code in divisions
    ]
    return Report(
        period=period.label, divisions=items, total_amount_paid=to_fen(sum((item.amount_paid for item in items), ZERO))
    )
