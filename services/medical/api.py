"""Medical assistance (医疗救助) HTTP API: eligibility, designated hospitals, claims, audit, report."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response

from services.medical import service
from services.medical.schemas import (
    AuditFlag,
    ClaimIn,
    ClaimOut,
    ClaimPage,
    EligibilityOut,
    HospitalIn,
    HospitalOut,
    HospitalPatch,
    Report,
)
from shared.api import Page, ReportPeriod, Size, csv_response, wants_csv
from shared.auth import requires, requires_any
from shared.errors import Forbidden, problem_responses
from shared.periods import city_today
from shared.read_audit import reads_person
from shared.unit_of_work import DbSession, Uow
from shared.validators import Day, ResidentIdIn, ResidentIdQuery, RowId

router = APIRouter()


@router.post(
    "/eligibility/search",
    response_model=EligibilityOut,
    tags=["eligibility 救助资格"],
    dependencies=[requires_any("medical:read", "medical:claims"), reads_person()],
    responses=problem_responses(404, 422),
    summary="Eligibility, with the resident ID in the body (keeps it out of URLs and their logs)",
)
async def search_eligibility(body: ResidentIdQuery, session: DbSession) -> EligibilityOut:
    return await service.eligibility(session, body.resident_id, body.on or city_today())


@router.get(
    "/eligibility/{resident_id}",
    dependencies=[requires_any("medical:read", "medical:claims"), reads_person()],
    response_model=EligibilityOut,
    tags=["eligibility 救助资格"],
    responses=problem_responses(404, 422),
)
async def get_eligibility(
    resident_id: ResidentIdIn, session: DbSession, on: Day | None = Query(default=None, description="default today")
) -> EligibilityOut:
    return await service.eligibility(session, resident_id, on or city_today())


@router.post(
    "/hospitals",
    dependencies=[requires("medical:write")],
    response_model=HospitalOut,
    status_code=201,
    tags=["hospitals 定点医院"],
    responses=problem_responses(422),
)
async def register_hospital(body: HospitalIn, session: DbSession) -> HospitalOut:
    return service.hospital_out(await service.register_hospital(session, body))


@router.get("/hospitals", dependencies=[requires()], response_model=list[HospitalOut], tags=["hospitals 定点医院"])
async def list_hospitals(session: DbSession) -> list[HospitalOut]:
    return [service.hospital_out(h) for h in await service.list_hospitals(session)]


@router.patch(
    "/hospitals/{hospital_id}",
    dependencies=[requires("medical:write")],
    response_model=HospitalOut,
    tags=["hospitals 定点医院"],
    responses=problem_responses(404, 422),
)
async def change_designation(hospital_id: RowId, body: HospitalPatch, session: DbSession) -> HospitalOut:
    return service.hospital_out(await service.change_designation(session, hospital_id, body))


@router.post(
    "/claims",
    dependencies=[requires("medical:claims")],
    response_model=ClaimOut,
    status_code=201,
    tags=["claims 医疗救助申请"],
    responses=problem_responses(409, 422),
)
async def submit_claim(body: ClaimIn, uow: Uow, request: Request) -> ClaimOut:
    hospital = request.state.principal.hospital_id
    if hospital is None:
        raise Forbidden("not_a_hospital", "only a designated hospital's token (with hospital_id) submits claims")
    if hospital != body.hospital_id:
        raise Forbidden(
            "wrong_hospital", f"this token is hospital {hospital}'s; it cannot claim for hospital {body.hospital_id}"
        )
    try:
        return service.claim_out(await service.submit_claim(uow, body))
    except service.ClaimRefused as refused:
        await service.record_refusal(uow, body, refused)
        raise


@router.get(
    "/claims",
    dependencies=[requires_any("medical:read", "audit:read")],
    response_model=ClaimPage,
    tags=["claims 医疗救助申请"],
    responses={200: {"content": {"text/csv": {}}}},
    summary="Claims for supervision and audit; CSV with Accept: text/csv or format=csv",
)
async def list_claims(
    session: DbSession,
    hospital_id: str | None = Query(default=None, pattern=r"^[0-9]{1,12}$"),
    resident_id: ResidentIdIn | None = None,
    division_code: str | None = Query(default=None, pattern=r"^[0-9]{6}$"),
    visit_from: Day | None = None,
    visit_to: Day | None = None,
    page: Page = 1,
    size: Size = 100,
    format: Literal["json", "csv"] | None = None,
    accept: str | None = Header(default=None),
) -> ClaimPage | Response:
    csv = wants_csv(accept, format)
    claims, total = await service.list_claims(
        session,
        hospital_id=hospital_id,
        resident_id=resident_id,
        division_code=division_code,
        visit_from=visit_from,
        visit_to=visit_to,
        page=1 if csv else page,
        size=1_000_000 if csv else size,
    )
    if csv:
        return csv_response(service.claims_csv(claims), "medical-claims.csv")
    return ClaimPage(items=[service.claim_out(c) for c in claims], total=total, page=page, size=size)


@router.get(
    "/audit/flags",
    dependencies=[requires_any("audit:read", "medical:read")],
    response_model=list[AuditFlag],
    tags=["audit 审计监督"],
    summary="What auditors look at first: near the cap, frequent claims, refusals outside dibao",
)
async def audit_flags(
    session: DbSession, year: int = Query(default_factory=lambda: city_today().year, ge=2004, le=2100)
) -> list[AuditFlag]:
    return await service.audit_flags(session, year)


@router.get(
    "/reports", dependencies=[requires_any("medical:read", "audit:read")], response_model=Report, tags=["reports 报表"]
)
async def report(period: ReportPeriod, session: DbSession) -> Report:
    return await service.report(session, period)
