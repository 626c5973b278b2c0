"""Employment assistance (就业救助) HTTP API: persons, certificate verification, jobs, posts, employment."""

from __future__ import annotations

from fastapi import APIRouter, Path
from sqlalchemy import select

from services.employment import service
from services.employment.models import Post, Vacancy
from services.employment.schemas import (
    AssignmentIn,
    AssignmentOut,
    CandidateOut,
    CertificateRunIn,
    CertificateRunOut,
    EmploymentIn,
    EmploymentOut,
    EmploymentRecordIn,
    PersonOut,
    PostIn,
    PostOut,
    ReferralIn,
    ReferralOut,
    Report,
    VacancyIn,
    VacancyOut,
    VerificationOut,
)
from shared.api import ReportPeriod
from shared.auth import requires, requires_any
from shared.errors import problem_responses
from shared.periods import city_today
from shared.read_audit import reads_person
from shared.unit_of_work import DbSession, Units, Uow
from shared.validators import ResidentIdIn, ResidentIdQuery, RowId

router = APIRouter()


@router.post(
    "/persons/search",
    response_model=PersonOut,
    tags=["persons 人员"],
    dependencies=[requires("employment:read"), reads_person()],
    responses=problem_responses(404, 422),
    summary="A person, with the resident ID in the body (keeps it out of URLs and their logs)",
)
async def search_person(body: ResidentIdQuery, uow: Uow) -> PersonOut:
    """A member of a dibao household as Labour and Social Security knows them, with the resident ID in the body: the
    Re-employment Preferential Certificate, fee waivers, referrals, posts and jobs. Scope `employment:read`."""

    return await service.person_view(uow, body.resident_id)


@router.post(
    "/employment-records",
    response_model=EmploymentOut,
    status_code=201,
    tags=["persons 人员"],
    dependencies=[requires("employment:write")],
    responses=problem_responses(404, 422),
    summary="A member found work, with the resident ID in the body (emits MemberEmployed)",
)
async def record_employment_by_body(body: EmploymentRecordIn, uow: Uow) -> EmploymentOut:
    """A member found work, with the resident ID in the body: recorded with its day and kind, and announced
    (`MemberEmployed`) so that Civil Affairs keeps the household's dibao three more months (延发三个月). Scope
    `employment:write`."""

    employment = EmploymentIn.model_validate(body.model_dump(exclude={"resident_id"}))
    return service.employment_out(await service.record_employment(uow, body.resident_id, employment))


@router.get(
    "/persons/{resident_id}",
    dependencies=[requires("employment:read"), reads_person()],
    response_model=PersonOut,
    tags=["persons 人员"],
    responses=problem_responses(404, 422),
    summary="Certificate, fee waivers, referrals, posts, jobs",
)
async def get_person(resident_id: ResidentIdIn, uow: Uow) -> PersonOut:
    """The same as POST /persons/search with the resident ID in the path; prefer the POST form, which keeps the ID
    out of logs. Scope `employment:read`."""

    return await service.person_view(uow, resident_id)


@router.get(
    "/certificates/{number}",
    dependencies=[requires()],
    response_model=VerificationOut,
    tags=["certificates 再就业优惠证"],
    responses=problem_responses(404),
    summary="Verify a Re-employment Preferential Certificate (any agency)",
)
async def verify_certificate(
    session: DbSession,
    number: str = Path(max_length=40, description="再就业优惠证 number", examples=["ZY2301022026SQHLWXG6FM"]),
) -> VerificationOut:
    """Verify a Re-employment Preferential Certificate (再就业优惠证) by its number, for any agency granting a preference:
    valid or not, the holder (masked) and the end of its validity. 404 for an unknown number. Any valid token."""

    return await service.verify(session, number)


@router.post(
    "/certificate-runs",
    dependencies=[requires("employment:write")],
    response_model=CertificateRunOut,
    tags=["certificates 再就业优惠证"],
    responses=problem_responses(422),
    summary="Issue the certificates that have fallen due (also done by the service every hour)",
)
async def certificate_run(body: CertificateRunIn, units: Units, uow: Uow) -> CertificateRunOut:
    """Issue every certificate that has fallen due on or before a day (default today; the service also does this
    every hour). A day not begun is 422 `period_in_future`. Scope `employment:write`."""

    on = body.on or city_today()
    result = CertificateRunOut(on=on, issued=await service.issue_due_certificates(units, on))
    uow.audit("certificate_runs", on.isoformat(), after=result.model_dump())
    return result


@router.post(
    "/vacancies",
    dependencies=[requires("employment:write")],
    response_model=VacancyOut,
    status_code=201,
    tags=["jobs 职业介绍"],
    responses=problem_responses(422),
)
async def add_vacancy(body: VacancyIn, session: DbSession) -> VacancyOut:
    """Record an employer's vacancy for job placement (职业介绍). Scope `employment:write`."""

    return await service.vacancy_out(session, await service.add_vacancy(session, body))


@router.get(
    "/vacancies", dependencies=[requires("employment:read")], response_model=list[VacancyOut], tags=["jobs 职业介绍"]
)
async def list_vacancies(session: DbSession) -> list[VacancyOut]:
    """Every vacancy, with the positions left. Scope `employment:read`."""

    return [
        await service.vacancy_out(session, v)
        for v in (await session.scalars(select(Vacancy).order_by(Vacancy.id))).all()
    ]


@router.get(
    "/vacancies/{vacancy_id}/candidates",
    dependencies=[requires("employment:read")],
    response_model=list[CandidateOut],
    tags=["jobs 职业介绍"],
    responses=problem_responses(404),
    summary="Who to refer: certificate holders first",
)
async def vacancy_candidates(vacancy_id: RowId, session: DbSession) -> list[CandidateOut]:
    """Who to refer to a vacancy: unemployed members able to work in its division, certificate holders first. Scope
    `employment:read`."""

    return await service.candidates(session, vacancy_id)


@router.post(
    "/referrals",
    dependencies=[requires("employment:write")],
    response_model=ReferralOut,
    status_code=201,
    tags=["jobs 职业介绍"],
    responses=problem_responses(404, 409, 422),
)
async def refer(body: ReferralIn, uow: Uow) -> ReferralOut:
    """Refer a member to a vacancy. 409 `already_referred` when the member was already referred to it. Scope
    `employment:write`."""

    return service.referral_out(await service.refer(uow, body.vacancy_id, body.resident_id))


@router.post(
    "/posts",
    dependencies=[requires("employment:write")],
    response_model=PostOut,
    status_code=201,
    tags=["posts 公益性岗位"],
    responses=problem_responses(422),
)
async def add_post(body: PostIn, session: DbSession) -> PostOut:
    """Create public-welfare posts (公益性岗位) with their capacity and monthly wage. Scope `employment:write`."""

    return await service.post_out(session, await service.add_post(session, body))


@router.get(
    "/posts", dependencies=[requires("employment:read")], response_model=list[PostOut], tags=["posts 公益性岗位"]
)
async def list_posts(session: DbSession) -> list[PostOut]:
    """Every public-welfare post, with its places taken. Scope `employment:read`."""

    return [await service.post_out(session, p) for p in (await session.scalars(select(Post).order_by(Post.id))).all()]


@router.post(
    "/posts/{post_id}/assignments",
    dependencies=[requires("employment:write")],
    response_model=AssignmentOut,
    status_code=201,
    tags=["posts 公益性岗位"],
    responses=problem_responses(404, 409, 422),
    summary="Place a member in a post (emits MemberEmployed)",
)
async def assign_post(post_id: RowId, body: AssignmentIn, uow: Uow) -> AssignmentOut:
    """Place a member in a public-welfare post from a day (default today); recorded as employment and announced
    (`MemberEmployed`). 409 `post_full` or `already_assigned`. Scope `employment:write`."""

    return service.assignment_out(await service.assign_post(uow, post_id, body.resident_id, body.on))


@router.post(
    "/persons/{resident_id}/employment",
    dependencies=[requires("employment:write")],
    response_model=EmploymentOut,
    status_code=201,
    tags=["persons 人员"],
    responses=problem_responses(404, 422),
    summary="A member found work (emits MemberEmployed: the household keeps dibao three more months)",
)
async def record_employment(resident_id: ResidentIdIn, body: EmploymentIn, uow: Uow) -> EmploymentOut:
    """The same as POST /employment-records with the resident ID in the path. Scope `employment:write`."""

    return service.employment_out(await service.record_employment(uow, resident_id, body))


@router.get(
    "/reports",
    dependencies=[requires_any("employment:read", "audit:read")],
    response_model=Report,
    tags=["reports 报表"],
)
async def report(period: ReportPeriod, session: DbSession) -> Report:
    """Per division for the period: certificates issued, referrals, placements in posts and members who found work.
    Scope `employment:read` or `audit:read`."""

    return await service.report(session, period)
