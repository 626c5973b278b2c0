"""Employment assistance use cases: certificates, verification, vacancies, referrals, posts, employment found."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql import ColumnElement

from services.employment import rules
from services.employment.models import (
    Certificate,
    EmploymentRecord,
    Post,
    PostAssignment,
    Referral,
    Vacancy,
    Worker,
)
from services.employment.parameters import (
    CERTIFICATE_VALID_YEARS,
    SPECS,
    UNEMPLOYED_YEARS,
    WORKING_AGE_END_FEMALE,
    WORKING_AGE_END_MALE,
    WORKING_AGE_MIN,
)
from services.employment.schemas import (
    AssignmentOut,
    CandidateOut,
    CertificateOut,
    DivisionReport,
    EmploymentIn,
    EmploymentOut,
    PersonOut,
    PostIn,
    PostOut,
    ReferralOut,
    Report,
    VacancyIn,
    VacancyOut,
    VerificationOut,
)
from shared.divisions import division_name
from shared.errors import Conflict, NotFound, Unprocessable
from shared.events import CertificateIssued, MemberEmployed
from shared.grants import GrantLedger, prefetch_caseload
from shared.outbox import Outbox
from shared.parameters import ParameterBook
from shared.periods import Period, city_today, refuse_future
from shared.projection import (
    HouseholdDelta,
    HouseholdRows,
    prefetch_all,
)
from shared.resident_id import mask_resident_id
from shared.unit_of_work import UnitOfWork, UnitsOfWork

WORKERS = HouseholdRows(Worker)
OPEN_CERTIFICATES = HouseholdRows(Certificate, Certificate.benefits_end_on.is_(None))
CERTIFICATE = "reemployment_certificate"
WAIVERS = ("job_agency_fee_waiver", "training_fee_waiver")
POST = "public_welfare_post"
outbox = Outbox(producer="employment")
ledger = GrantLedger("employment", outbox)


def _working_age(book: ParameterBook, on: date) -> rules.WorkingAge:
    return rules.WorkingAge(
        book.get(WORKING_AGE_MIN, on), book.get(WORKING_AGE_END_MALE, on), book.get(WORKING_AGE_END_FEMALE, on)
    )


def _due_on(book: ParameterBook, worker: Worker, on: date) -> date | None:
    return rules.certificate_due_on(
        birth_date=worker.birth_date,
        sex=worker.sex,
        able_to_work=worker.able_to_work,
        employment_status=worker.employment_status,
        unemployed_since=worker.unemployed_since,
        in_dibao_from=worker.in_dibao_from,
        working_age=_working_age(book, on),
        unemployed_years=book.get(UNEMPLOYED_YEARS, on),
    )


def _in_dibao(worker: Worker, day: date) -> bool:
    return worker.in_dibao_from <= day and (worker.in_dibao_until is None or day < worker.in_dibao_until)


# ---- from the registry's events -------------------------------------------------------------------


async def apply_delta(uow: UnitOfWork, delta: HouseholdDelta, today: date | None = None) -> None:
    household = delta.household
    if household is None or delta.kind == "ignored":
        return
    now = datetime.now(UTC)
    workers = {w.resident_id: w for w in await WORKERS.get(uow, household.household_id)}
    open_certificates = await OPEN_CERTIFICATES.get(uow, household.household_id)
    for row in delta.removed:
        worker = workers.get(row.resident_id)
        if worker is None:
            continue
        worker.in_dibao_until, worker.certificate_due_on, worker.updated_at = row.eligible_until, None, now
        ends = row.eligible_until or delta.effective_on
        for certificate in [c for c in open_certificates if c.resident_id == worker.resident_id]:
            certificate.benefits_end_on = ends
            open_certificates.remove(certificate)
        await ledger.revoke(
            uow,
            household_id=worker.household_id,
            resident_id=worker.resident_id,
            on=ends,
            reason="left dibao: the certificate's benefits end",
        )
    if delta.kind == "exited":
        return

    book = await ParameterBook.of(uow, SPECS)
    for row in delta.current_members:
        member = row.member
        worker = workers.get(row.resident_id)
        if worker is None:
            worker = Worker(resident_id=row.resident_id, household_id=row.household_id, in_dibao_from=row.eligible_from)
            WORKERS.add(uow, worker)
        worker.division_code, worker.name, worker.sex, worker.birth_date = (
            row.division_code,
            member.name,
            member.sex,
            member.birth_date,
        )
        worker.able_to_work, worker.employment_status, worker.unemployed_since = (
            member.able_to_work,
            member.employment_status,
            member.unemployed_since,
        )
        worker.updated_at = now
        has_certificate = await _current_certificate(uow, worker) is not None
        worker.certificate_due_on = None if has_certificate else _due_on(book, worker, delta.effective_on)
        if worker.certificate_due_on is not None and worker.certificate_due_on <= (today or city_today()):
            await _issue(uow, worker, book)


async def _current_certificate(uow: UnitOfWork, worker: Worker) -> Certificate | None:
    """The member's certificate whose benefits still run (from the batch's prefetched rows)."""

    mine = [c for c in await OPEN_CERTIFICATES.get(uow, worker.household_id) if c.resident_id == worker.resident_id]
    return mine[-1] if mine else None


async def _issue(uow: UnitOfWork, worker: Worker, book: ParameterBook) -> Certificate:
    """Issue on the day it fell due (not the day the job ran), so a replay issues the same certificate."""

    issued_on = worker.certificate_due_on or city_today()
    valid_from, valid_until = rules.certificate_validity(issued_on, book.get(CERTIFICATE_VALID_YEARS, issued_on))
    certificate = Certificate(
        resident_id=worker.resident_id,
        household_id=worker.household_id,
        division_code=worker.division_code,
        holder_name=worker.name,
        issued_on=issued_on,
        valid_from=valid_from,
        valid_until=valid_until,
        created_at=datetime.now(UTC),
    )
    certificate.number = rules.certificate_number(
        worker.division_code, issued_on, worker.household_id, worker.resident_id
    )
    OPEN_CERTIFICATES.add(uow, certificate)
    worker.certificate_due_on = None
    await outbox.stage(
        uow,
        CertificateIssued(
            household_id=worker.household_id,
            resident_id=worker.resident_id,
            number=certificate.number,
            valid_from=valid_from,
            valid_until=valid_until,
        ),
    )
    await ledger.grant(
        uow,
        household_id=worker.household_id,
        division_code=worker.division_code,
        programme=CERTIFICATE,
        resident_id=worker.resident_id,
        on=issued_on,
        detail=f"再就业优惠证 {certificate.number}, valid until {valid_until}",
    )
    for waiver, label in zip(WAIVERS, ("免收职业介绍费", "免收职业培训费"), strict=True):
        await ledger.grant(
            uow,
            household_id=worker.household_id,
            division_code=worker.division_code,
            programme=waiver,
            resident_id=worker.resident_id,
            on=issued_on,
            detail=label,
        )
    return certificate


async def issue_due_certificates(units: UnitsOfWork, on: date | None = None, today: date | None = None) -> int:
    """Issue every certificate that has fallen due (the year of unemployment is up), without anyone asking.

    ``on`` defaults to today in the city; a day that has not begun is refused (PeriodInFuture)."""

    today = today or city_today()
    on = on or today
    refuse_future(on, f"the certificate run for {on.isoformat()}", today)
    issued = 0
    while True:
        async with units.begin() as batch:
            book = await ParameterBook.of(batch, SPECS)
            due = (
                await batch.session.scalars(
                    select(Worker)
                    .where(Worker.certificate_due_on.is_not(None), Worker.certificate_due_on <= on)
                    .order_by(Worker.id)
                    .limit(200)
                )
            ).all()
            if not due:
                return issued
            for worker in due:
                # certificate_due_on is never None here: the query asked for it
                if worker.certificate_due_on is not None and _in_dibao(worker, worker.certificate_due_on):
                    await _issue(batch, worker, book)
                    issued += 1
                else:
                    worker.certificate_due_on = None
            await batch.commit()


# ---- verification and reading ------------------------------------------------------------------


def certificate_out(certificate: Certificate) -> CertificateOut:
    return CertificateOut(
        number=certificate.number or "",
        resident_id=certificate.resident_id,
        holder_name=certificate.holder_name,
        issued_on=certificate.issued_on,
        valid_from=certificate.valid_from,
        valid_until=certificate.valid_until,
        benefits_end_on=certificate.benefits_end_on,
    )


async def verify(session: AsyncSession, number: str, today: date | None = None) -> VerificationOut:
    today = today or city_today()
    certificate = await session.scalar(select(Certificate).where(Certificate.number == number))
    if certificate is None:
        raise NotFound("certificate_not_found", f"no Re-employment Preferential Certificate numbered {number}")
    valid = certificate.valid_from <= today <= certificate.valid_until
    return VerificationOut(
        number=number,
        valid=valid,
        holder_name=certificate.holder_name,
        holder_resident_id=mask_resident_id(certificate.resident_id),
        valid_from=certificate.valid_from,
        valid_until=certificate.valid_until,
        benefits_active=valid and (certificate.benefits_end_on is None or today < certificate.benefits_end_on),
    )


async def _worker(session: AsyncSession, resident_id: str) -> Worker:
    worker = await session.scalar(
        select(Worker)
        .where(Worker.resident_id == resident_id)
        .order_by(Worker.in_dibao_from.desc(), Worker.id.desc())
        .limit(1)
    )
    if worker is None:
        raise NotFound("person_not_found", "no member of a dibao household with that resident ID")
    return worker


def _require_in_dibao(worker: Worker, day: date) -> None:
    if not _in_dibao(worker, day):
        raise Unprocessable("not_in_dibao", f"not a member of a dibao household on {day.isoformat()}")


async def person_view(uow: UnitOfWork, resident_id: str, today: date | None = None) -> PersonOut:
    today = today or city_today()
    session = uow.session
    worker = await _worker(session, resident_id)
    certificate = await session.scalar(
        select(Certificate).where(Certificate.resident_id == resident_id).order_by(Certificate.id.desc()).limit(1)
    )
    waivers = [
        g.programme
        for g in await ledger.active(uow, worker.household_id, resident_id=resident_id)
        if g.programme in WAIVERS
    ]
    referrals = (await session.scalars(select(Referral).where(Referral.resident_id == resident_id))).all()
    posts = (await session.scalars(select(PostAssignment).where(PostAssignment.resident_id == resident_id))).all()
    jobs = (await session.scalars(select(EmploymentRecord).where(EmploymentRecord.resident_id == resident_id))).all()
    return PersonOut(
        resident_id=resident_id,
        name=worker.name,
        household_id=worker.household_id,
        division_code=worker.division_code,
        in_dibao=_in_dibao(worker, today),
        able_to_work=worker.able_to_work,
        employment_status=worker.employment_status,
        unemployed_since=worker.unemployed_since,
        certificate=certificate_out(certificate) if certificate else None,
        certificate_due_on=worker.certificate_due_on,
        waivers=sorted(waivers),
        referrals=[referral_out(r) for r in referrals],
        posts=[assignment_out(p) for p in posts],
        employment=[employment_out(j) for j in jobs],
    )


# ---- jobs -------------------------------------------------------------------------------------


async def add_vacancy(session: AsyncSession, body: VacancyIn) -> Vacancy:
    vacancy = Vacancy(**body.model_dump(), created_at=datetime.now(UTC))
    session.add(vacancy)
    await session.flush()
    return vacancy


async def vacancy_out(session: AsyncSession, vacancy: Vacancy) -> VacancyOut:
    referrals = await session.scalar(
        select(func.count()).select_from(Referral).where(Referral.vacancy_id == vacancy.id)
    )
    return VacancyOut(
        id=str(vacancy.id),
        employer=vacancy.employer,
        title=vacancy.title,
        division_code=vacancy.division_code,
        positions=vacancy.positions,
        referrals=int(referrals or 0),
    )


async def get_vacancy(session: AsyncSession, vacancy_id: str | int) -> Vacancy:
    vacancy = await session.get(Vacancy, int(vacancy_id))
    if vacancy is None:
        raise NotFound("vacancy_not_found", f"no vacancy with id {vacancy_id}")
    return vacancy


async def candidates(session: AsyncSession, vacancy_id: str | int, today: date | None = None) -> list[CandidateOut]:
    """Unemployed dibao members able to work, certificate holders first (then longest unemployed)."""

    today = today or city_today()
    vacancy = await get_vacancy(session, vacancy_id)
    book = await ParameterBook.load(session, SPECS)
    age = _working_age(book, today)
    workers = (
        await session.scalars(
            select(Worker).where(
                Worker.able_to_work.is_(True),
                Worker.employment_status == "unemployed",
                Worker.division_code == vacancy.division_code,
            )
        )
    ).all()
    numbers = {
        (c.household_id, c.resident_id): c.number
        for c in (
            await session.scalars(
                select(Certificate).where(Certificate.benefits_end_on.is_(None), Certificate.valid_until >= today)
            )
        ).all()
    }
    eligible = [w for w in workers if _in_dibao(w, today) and age.contains(w.birth_date, w.sex, today)]
    eligible.sort(key=lambda w: ((w.household_id, w.resident_id) not in numbers, w.unemployed_since or today, w.id))
    return [
        CandidateOut(
            resident_id=w.resident_id,
            name=w.name,
            division_code=w.division_code,
            certificate_number=numbers.get((w.household_id, w.resident_id)),
            unemployed_since=w.unemployed_since,
        )
        for w in eligible
    ]


def referral_out(referral: Referral) -> ReferralOut:
    return ReferralOut(
        id=str(referral.id),
        vacancy_id=str(referral.vacancy_id),
        resident_id=referral.resident_id,
        certificate_number=referral.certificate_number,
        fee_waived=referral.fee_waived,
        referred_on=referral.referred_on,
    )


async def refer(uow: UnitOfWork, vacancy_id: str, resident_id: str, today: date | None = None) -> Referral:
    today = today or city_today()
    session = uow.session
    vacancy = await get_vacancy(session, vacancy_id)
    worker = await _worker(session, resident_id)
    _require_in_dibao(worker, today)
    certificate = await _current_certificate(uow, worker)
    held = (
        certificate if certificate is not None and certificate.valid_from <= today <= certificate.valid_until else None
    )
    referral = Referral(
        vacancy_id=vacancy.id,
        resident_id=resident_id,
        household_id=worker.household_id,
        division_code=worker.division_code,
        certificate_number=held.number if held else None,
        fee_waived=held is not None,
        referred_on=today,
        created_at=datetime.now(UTC),
    )
    session.add(referral)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("already_referred", "this person was already referred to this vacancy") from None
    return referral


# ---- public-welfare posts ---------------------------------------------------------------------


async def add_post(session: AsyncSession, body: PostIn) -> Post:
    post = Post(**body.model_dump(), created_at=datetime.now(UTC))
    session.add(post)
    await session.flush()
    return post


async def _filled(session: AsyncSession, post_id: int) -> int:
    return int(
        await session.scalar(select(func.count()).select_from(PostAssignment).where(PostAssignment.post_id == post_id))
        or 0
    )


async def post_out(session: AsyncSession, post: Post) -> PostOut:
    return PostOut(
        id=str(post.id),
        name=post.name,
        employer=post.employer,
        division_code=post.division_code,
        capacity=post.capacity,
        filled=await _filled(session, post.id),
        monthly_wage=post.monthly_wage,
    )


def assignment_out(assignment: PostAssignment) -> AssignmentOut:
    return AssignmentOut(
        post_id=str(assignment.post_id), resident_id=assignment.resident_id, assigned_on=assignment.assigned_on
    )


async def assign_post(uow: UnitOfWork, post_id: int, resident_id: str, on: date | None = None) -> PostAssignment:
    on = on or city_today()
    session = uow.session
    post = await session.get(Post, post_id, with_for_update=True)
    if post is None:
        raise NotFound("post_not_found", f"no public-welfare post with id {post_id}")
    worker = await _worker(session, resident_id)
    _require_in_dibao(worker, on)
    if await _filled(session, post.id) >= post.capacity:
        raise Conflict("post_full", f"post {post.id} has all its {post.capacity} places filled")
    assignment = PostAssignment(
        post_id=post.id,
        resident_id=resident_id,
        household_id=worker.household_id,
        division_code=worker.division_code,
        assigned_on=on,
        created_at=datetime.now(UTC),
    )
    session.add(assignment)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("already_assigned", "this person already holds this post") from None
    await ledger.grant(
        uow,
        household_id=worker.household_id,
        division_code=worker.division_code,
        programme=POST,
        resident_id=resident_id,
        on=on,
        detail=f"公益性岗位: {post.name}",
    )
    await _record_employment(uow, worker, EmploymentIn(on=on, kind="public_welfare_post", employer=post.employer))
    return assignment


# ---- employment found ---------------------------------------------------------------------------


def employment_out(record: EmploymentRecord) -> EmploymentOut:
    return EmploymentOut(
        resident_id=record.resident_id,
        household_id=record.household_id,
        employed_on=record.employed_on,
        kind=record.kind,
        employer=record.employer,
    )


async def record_employment(uow: UnitOfWork, resident_id: str, body: EmploymentIn) -> EmploymentRecord:
    worker = await _worker(uow.session, resident_id)
    _require_in_dibao(worker, body.on)
    return await _record_employment(uow, worker, body)


async def _record_employment(uow: UnitOfWork, worker: Worker, body: EmploymentIn) -> EmploymentRecord:
    """Record the job and tell Civil Affairs (MemberEmployed): the household keeps dibao three more months."""

    record = EmploymentRecord(
        resident_id=worker.resident_id,
        household_id=worker.household_id,
        division_code=worker.division_code,
        employed_on=body.on,
        kind=body.kind,
        employer=body.employer,
        created_at=datetime.now(UTC),
    )
    uow.session.add(record)
    worker.employment_status, worker.certificate_due_on = "employed", None
    await uow.flush()
    await outbox.stage(
        uow,
        MemberEmployed(
            household_id=worker.household_id,
            resident_id=worker.resident_id,
            employed_on=body.on,
            kind=body.kind,
            employer=body.employer,
        ),
    )
    return record


# ---- report -------------------------------------------------------------------------------------


async def report(session: AsyncSession, period: Period) -> Report:
    def within(column: InstrumentedAttribute[date]) -> ColumnElement[bool]:
        return (column >= period.start) & (column <= period.end)

    certificates = Counter(
        (await session.scalars(select(Certificate.division_code).where(within(Certificate.issued_on)))).all()
    )
    referrals = Counter(
        (await session.scalars(select(Referral.division_code).where(within(Referral.referred_on)))).all()
    )
    posts = Counter(
        (await session.scalars(select(PostAssignment.division_code).where(within(PostAssignment.assigned_on)))).all()
    )
    found = {
        division: count
        for division, count in (
            await session.execute(
                select(EmploymentRecord.division_code, func.count(func.distinct(EmploymentRecord.resident_id)))
                .where(within(EmploymentRecord.employed_on))
                .group_by(EmploymentRecord.division_code)
            )
        ).all()
    }
    divisions = sorted(set(certificates) | set(referrals) | set(posts) | set(found))
    return Report(
        period=period.label,
        divisions=[
            DivisionReport(
                division_code=code,
                division_name=division_name(code),
                certificates_issued=certificates.get(code, 0),
                referrals=referrals.get(code, 0),
                posts_filled=posts.get(code, 0),
                members_found_work=found.get(code, 0),
            )
            for code in divisions
        ],
    )


# What the consumer reads for a whole batch of household events at once.
prefetch = prefetch_all(prefetch_caseload, WORKERS.prefetch, OPEN_CERTIFICATES.prefetch)
