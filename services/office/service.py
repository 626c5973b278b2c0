"""The leading-group office (领导小组办公室): the one-stop view built from every bureau's
``assistance.grants`` events and the caseload copy kept from ``registry.households``, and social
mutual aid. The assessment is in :mod:`services.office.assessment`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.office import procedure
from services.office.models import (
    CASELOAD_FIELDS,
    AssistancePayment,
    AssistanceRecord,
    Donation,
    Enrolment,
    Pairing,
)
from services.office.schemas import (
    DibaoOut,
    DonationIn,
    DonationOut,
    GrantStatus,
    OneStopOut,
    PairingIn,
    PairingOut,
    PairingPatch,
    ProgrammeOut,
)
from services.office.work_cycle.partners import activities_of_household
from shared.allowance import allowance_on
from shared.db import Excluded, insert_ignore, new_row, one_of, rows_matched, table_of, upsert
from shared.divisions import division_name
from shared.errors import NotFound, Unprocessable
from shared.events import (
    AllowanceStep,
    AssistanceGranted,
    AssistanceGrantedLines,
    AssistancePaid,
    HouseholdStatus,
    MemberSnapshot,
    ReceivedEvent,
)
from shared.money import ZERO, to_fen
from shared.periods import city_today
from shared.programmes import programme_name
from shared.projection import DibaoHousehold, DibaoMember, apply_household_event, reset_caseload
from shared.services import BUREAU_NAMES, BY_NAME
from shared.unit_of_work import UnitOfWork

# The bureau Civil Affairs announces its dibao payments as: the one-stop view shows them as dibao.
CIVIL_AFFAIRS = BY_NAME["registry"].bureau


# ---- from registry.households ---------------------------------------------------------------------
# The caseload copy is the shared projection's; the office adds when each household was first recorded.


async def on_household_event(uow: UnitOfWork, event: ReceivedEvent) -> None:
    delta = await apply_household_event(uow, event, CASELOAD_FIELDS)
    if delta.kind == "enrolled" and not delta.previous:  # a household new to the copy: new to the office too
        uow.add(new_row(Enrolment, household_id=event.payload.household_id, recorded_at=event.occurred_at))


# ---- from assistance.grants -----------------------------------------------------------------------
# Bureaus announce a household's grants one change at a time (version 2: every line of the change in one
# event; version 1: one event per line) and a replay announces them again: the office keeps one record
# per grant *content* (household, bureau, programme, person, date), upserted a whole run at a time.


async def on_granted(uow: UnitOfWork, events: list[ReceivedEvent]) -> None:
    now = datetime.now(UTC)
    rows: dict[tuple[str, str, str, str, date], dict[str, Any]] = {}
    for event in events:
        granted: AssistanceGranted | AssistanceGrantedLines = event.payload
        for grant in granted.lines:
            key = (granted.household_id, granted.bureau, grant.programme, grant.resident_id or "", grant.granted_on)
            earlier = rows.get(key)
            rows[key] = {
                "household_id": granted.household_id,
                "division_code": granted.division_code,
                "bureau": granted.bureau,
                "programme": grant.programme,
                "resident_id": grant.resident_id or "",
                "status": "active",
                "granted_on": grant.granted_on,
                "revoked_on": None,
                "revoke_reason": None,
                "monthly_amount": grant.monthly_amount,
                "detail": grant.detail,
                "updated_at": now,
                "first_granted_at": min(event.occurred_at, earlier["first_granted_at"])
                if earlier
                else event.occurred_at,
            }

    def updates(excluded: Excluded, dialect: str) -> dict[str, Any]:
        earliest = func.least if dialect == "postgresql" else func.min
        table = AssistanceRecord.__table__.c
        return {
            "status": "active",
            "revoked_on": None,
            "revoke_reason": None,
            "monthly_amount": excluded.monthly_amount,
            "detail": excluded.detail,
            "updated_at": excluded.updated_at,
            "first_granted_at": earliest(table.first_granted_at, excluded.first_granted_at),
        }

    await upsert(
        uow.session,
        AssistanceRecord,
        list(rows.values()),
        ["household_id", "bureau", "programme", "resident_id", "granted_on"],
        updates,
    )


async def on_revoked(uow: UnitOfWork, events: list[ReceivedEvent]) -> None:
    table = table_of(AssistanceRecord)
    statement = (
        update(table)
        .where(
            table.c.household_id == bindparam("b_household"),
            table.c.bureau == bindparam("b_bureau"),
            table.c.programme == bindparam("b_programme"),
            table.c.resident_id == bindparam("b_resident"),
            table.c.status == "active",
        )
        .values(
            status="revoked",
            revoked_on=bindparam("b_revoked_on"),
            revoke_reason=bindparam("b_reason"),
            updated_at=bindparam("b_now"),
        )
    )
    now = datetime.now(UTC)
    await uow.session.execute(
        statement,
        [
            {
                "b_household": e.payload.household_id,
                "b_bureau": e.payload.bureau,
                "b_programme": line.programme,
                "b_resident": line.resident_id or "",
                "b_revoked_on": line.revoked_on,
                "b_reason": line.reason,
                "b_now": now,
            }
            for e in events
            for line in e.payload.lines
        ],
    )


async def on_paid(uow: UnitOfWork, events: list[ReceivedEvent]) -> None:
    rows = {}
    for event in events:
        paid: AssistancePaid = event.payload
        rows[(paid.bureau, paid.reference)] = {
            "household_id": paid.household_id,
            "division_code": paid.division_code,
            "bureau": paid.bureau,
            "programme": paid.programme,
            "resident_id": paid.resident_id or "",
            "period": paid.period,
            "amount": paid.amount,
            "paid_on": paid.paid_on,
            "reference": paid.reference,
        }
    await insert_ignore(uow.session, AssistancePayment, list(rows.values()), ["bureau", "reference"])


async def reset_event_state(session: AsyncSession) -> dict[str, int]:
    """Before a replay: forget what came from events (the caseload copy, the bureaus' grants and payments, the
    procedure's states)."""

    return {
        **await reset_caseload(session),
        **await procedure.reset(session),
        "enrolments": await rows_matched(session, delete(Enrolment)),
        "assistance_records": await rows_matched(session, delete(AssistanceRecord)),
        "assistance_payments": await rows_matched(session, delete(AssistancePayment)),
    }


# ---- the caseload as the office knows it -----------------------------------------------------------


async def get_household(session: AsyncSession, household_id: str) -> DibaoHousehold:
    household = await session.get(DibaoHousehold, household_id)
    if household is None:
        raise NotFound("household_not_found", f"no dibao household {household_id} is known to the office")
    return household


def status_on(household: DibaoHousehold, day: date) -> HouseholdStatus:
    """In dibao (``active``) until its exit takes effect, as the registry says it."""

    return "exited" if household.exited_on is not None and household.exited_on <= day else "active"


def schedule_of(household: DibaoHousehold) -> list[AllowanceStep]:
    return [AllowanceStep.model_validate(step) for step in household.snapshot.get("allowance_schedule", ())]


def last_members(household: DibaoHousehold, rows: Sequence[DibaoMember]) -> list[MemberSnapshot]:
    """The household's members as last announced: those still in it, or, once it has left dibao, those
    who were in it when it left (not those a change had removed before)."""

    if household.status == "exited" and household.exited_on is not None:
        exited_on = household.exited_on
        kept = [row for row in rows if row.eligible_until is not None and row.eligible_until >= exited_on]
    else:
        kept = [row for row in rows if row.eligible_until is None]
    latest: dict[str, DibaoMember] = {}
    for row in sorted(kept, key=lambda row: row.id):
        latest[row.resident_id] = row
    return [row.member for row in latest.values()]


async def members_of(session: AsyncSession, household_ids: Sequence[str]) -> dict[str, list[DibaoMember]]:
    rows: dict[str, list[DibaoMember]] = defaultdict(list)
    for row in (
        await session.scalars(
            select(DibaoMember).where(one_of(session, DibaoMember.household_id, household_ids)).order_by(DibaoMember.id)
        )
    ).all():
        rows[row.household_id].append(row)
    return rows


# ---- social mutual aid (社会互助) ------------------------------------------------------------------


def donation_out(donation: Donation) -> DonationOut:
    return DonationOut(
        id=str(donation.id),
        division_code=donation.division_code,
        donor_name=donation.donor_name,
        donor_kind=donation.donor_kind,
        amount=donation.amount,
        in_kind=donation.in_kind,
        given_on=donation.given_on,
        household_id=donation.household_id,
        purpose=donation.purpose,
    )


def pairing_out(pairing: Pairing) -> PairingOut:
    return PairingOut(
        id=str(pairing.id),
        household_id=pairing.household_id,
        division_code=pairing.division_code,
        donor_name=pairing.donor_name,
        donor_kind=pairing.donor_kind,
        started_on=pairing.started_on,
        ended_on=pairing.ended_on,
        note=pairing.note,
    )


async def record_donation(session: AsyncSession, body: DonationIn) -> Donation:
    if body.household_id is not None:
        household = await get_household(session, body.household_id)
        if household.division_code != body.division_code:
            raise Unprocessable(
                "division_mismatch",
                f"household {household.household_id} is in {household.division_code}, not {body.division_code}",
            )
    if body.amount == ZERO and not body.in_kind:
        raise Unprocessable("empty_donation", "give an amount or describe the gift in kind")
    donation = Donation(**body.model_dump(), created_at=datetime.now(UTC))
    session.add(donation)
    await session.flush()
    return donation


async def list_donations(session: AsyncSession, division_code: str | None, household_id: str | None) -> list[Donation]:
    query = select(Donation).order_by(Donation.given_on, Donation.id)
    if division_code:
        query = query.where(Donation.division_code == division_code)
    if household_id:
        query = query.where(Donation.household_id == household_id)
    return list((await session.scalars(query.limit(5000))).all())


async def start_pairing(session: AsyncSession, body: PairingIn) -> Pairing:
    household = await get_household(session, body.household_id)
    if status_on(household, city_today()) != "active":
        raise Unprocessable("household_not_active", f"household {household.household_id} is no longer in dibao")
    pairing = Pairing(
        household_id=household.household_id,
        division_code=household.division_code,
        donor_name=body.donor_name,
        donor_kind=body.donor_kind,
        started_on=body.started_on,
        note=body.note,
        created_at=datetime.now(UTC),
    )
    session.add(pairing)
    await session.flush()
    return pairing


async def end_pairing(session: AsyncSession, pairing_id: int, body: PairingPatch) -> Pairing:
    pairing = await session.get(Pairing, pairing_id)
    if pairing is None:
        raise NotFound("pairing_not_found", f"no pairing with id {pairing_id}")
    if body.ended_on < pairing.started_on:
        raise Unprocessable("ended_before_start", "a pairing cannot end before it started")
    pairing.ended_on = body.ended_on
    await session.flush()
    return pairing


async def list_pairings(
    session: AsyncSession, division_code: str | None, household_id: str | None, active: bool | None
) -> list[Pairing]:
    query = select(Pairing).order_by(Pairing.started_on, Pairing.id)
    if division_code:
        query = query.where(Pairing.division_code == division_code)
    if household_id:
        query = query.where(Pairing.household_id == household_id)
    if active is not None:
        query = query.where(Pairing.ended_on.is_(None) if active else Pairing.ended_on.is_not(None))
    return list((await session.scalars(query.limit(5000))).all())


# ---- the one-stop view (一站式) --------------------------------------------------------------------


async def one_stop(session: AsyncSession, household_id: str, today: date | None = None) -> OneStopOut:
    today = today or city_today()
    household = await get_household(session, household_id)
    names = {row.resident_id: row.member.name for row in (await members_of(session, [household_id]))[household_id]}
    records = (
        await session.scalars(
            select(AssistanceRecord)
            .where(AssistanceRecord.household_id == household_id)
            .order_by(
                AssistanceRecord.bureau,
                AssistanceRecord.programme,
                AssistanceRecord.resident_id,
                AssistanceRecord.granted_on,
            )
        )
    ).all()
    paid = (
        await session.scalars(
            select(AssistancePayment)
            .where(AssistancePayment.household_id == household_id)
            .order_by(AssistancePayment.period, AssistancePayment.id)
        )
    ).all()
    dibao = [payment for payment in paid if payment.bureau == CIVIL_AFFAIRS]
    paid_by: dict[tuple[str, str, str], list[AssistancePayment]] = defaultdict(list)
    for payment in paid:
        if payment.bureau != CIVIL_AFFAIRS:
            paid_by[(payment.bureau, payment.programme, payment.resident_id)].append(payment)
    programmes = []
    for record in records:
        payments = paid_by.pop((record.bureau, record.programme, record.resident_id), [])
        programmes.append(
            _programme(
                record.bureau,
                record.programme,
                record.resident_id,
                names,
                payments,
                status=record.status,
                granted_on=record.granted_on,
                revoked_on=record.revoked_on,
                monthly_amount=record.monthly_amount,
                detail=record.detail,
            )
        )
    # Payments with no grant record (a partner organisation's aid, say) are still shown.
    for (bureau, programme, resident_id), payments in sorted(paid_by.items()):
        programmes.append(
            _programme(
                bureau,
                programme,
                resident_id,
                names,
                payments,
                status="active",
                granted_on=min(p.paid_on for p in payments),
                revoked_on=None,
                monthly_amount=None,
                detail=None,
            )
        )
    dibao_total = to_fen(sum((p.amount for p in dibao), ZERO))
    donations = await list_donations(session, None, household_id)
    pairings = await list_pairings(session, None, household_id, None)
    total = dibao_total + sum((p.amount_paid for p in programmes), ZERO) + sum((d.amount for d in donations), ZERO)
    return OneStopOut(
        household_id=household.household_id,
        status=status_on(household, today),
        division_code=household.division_code,
        division_name=division_name(household.division_code),
        enrolled_on=household.enrolled_on,
        exited_on=household.exited_on,
        dibao=DibaoOut(
            monthly_allowance=allowance_on(schedule_of(household), max(today, household.enrolled_on)),
            payments=len(dibao),
            amount_paid=dibao_total,
            last_period=max((p.period for p in dibao), default=None),
        ),
        programmes=programmes,
        donations=[donation_out(d) for d in donations],
        pairings=[pairing_out(p) for p in pairings],
        partner_activities=await activities_of_household(session, household_id),
        amount_paid=to_fen(total),
    )


def _programme(
    bureau: str,
    programme: str,
    resident_id: str,
    names: dict[str, str],
    payments: list[AssistancePayment],
    *,
    status: GrantStatus,
    granted_on: date,
    revoked_on: date | None,
    monthly_amount: Decimal | None,
    detail: str | None,
) -> ProgrammeOut:
    return ProgrammeOut(
        bureau=bureau,
        bureau_name=BUREAU_NAMES.get(bureau, bureau),
        programme=programme,
        programme_name=programme_name(programme),
        resident_id=resident_id or None,
        member_name=names.get(resident_id),
        payments=len(payments),
        amount_paid=to_fen(sum((p.amount for p in payments), ZERO)),
        status=status,
        granted_on=granted_on,
        revoked_on=revoked_on,
        monthly_amount=monthly_amount,
        detail=detail,
    )
