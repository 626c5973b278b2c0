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
from shared.api import Page, ReportPeriod, Size, csv_response, text_answers, wants_csv
from shared.auth import requires, requires_any
from shared.errors import Forbidden, problem_responses
from shared.periods import city_today
from shared.read_audit import reads_person
from shared.unit_of_work import DbSession, Uow
from shared.validators import Day, PlanDay, ResidentIdIn, ResidentIdQuery, RowId

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
    """Whether a person is covered by medical assistance on a day (default today), with the resident ID in the body:
    the household, since when, and what is left of the yearly cap. Scope `medical:read` or `medical:claims`."""

    return await service.eligibility(session, body.resident_id, body.on or city_today())


@router.get(
    "/eligibility/{resident_id}",
    dependencies=[requires_any("medical:read", "medical:claims"), reads_person()],
    response_model=EligibilityOut,
    tags=["eligibility 救助资格"],
    responses=problem_responses(404, 422),
)
async def get_eligibility(
    resident_id: ResidentIdIn,
    session: DbSession,
    on: PlanDay | None = Query(default=None, description="default today; from 2004, the plan's first year"),
) -> EligibilityOut:
    """The same as POST /eligibility/search with the resident ID in the path; prefer the POST form, which keeps the
    ID out of logs. Scope `medical:read` or `medical:claims`."""

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
    """Designate a hospital for medical assistance (定点医院) from a day, optionally until a day. 422 `invalid_period`
    when the designation ends before it begins. Scope `medical:write`."""

    return service.hospital_out(await service.register_hospital(session, body))


@router.get("/hospitals", dependencies=[requires()], response_model=list[HospitalOut], tags=["hospitals 定点医院"])
async def list_hospitals(session: DbSession) -> list[HospitalOut]:
    """Every designated hospital, with its designation's dates and whether it is designated today. Any valid token."""

    return [service.hospital_out(h) for h in await service.list_hospitals(session)]


@router.patch(
    "/hospitals/{hospital_id}",
    dependencies=[requires("medical:write")],
    response_model=HospitalOut,
    tags=["hospitals 定点医院"],
    responses=problem_responses(404, 422),
)
async def change_designation(hospital_id: RowId, body: HospitalPatch, session: DbSession) -> HospitalOut:
    """End a hospital's designation on a day, or reopen it with `null`. Claims for visits outside the designation are
    refused. Scope `medical:write`."""

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
    """A designated hospital bills one visit of a dibao member: the assistance is a share of what the patient paid
    out of pocket, within the yearly cap (claims at the same time never pass it). The token must be the hospital's
    own (`hospital_id`). 409 `duplicate_invoice` for an invoice already claimed; 422 `not_eligible` outside dibao
    (recorded for audit). Scope `medical:claims`."""

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
    responses=text_answers("text/csv"),
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
    """Claims for supervision and audit, filtered by hospital, person, division and visit dates, a page at a time;
    the whole selection as CSV with `format=csv` or `Accept: text/csv`. Scope `medical:read` or `audit:read`."""

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
    """What the auditors look at first for a year: persons near or over the cap, claims the cap reduced, frequent
    claims, and claims refused for people outside dibao. Scope `audit:read` or `medical:read`."""

    return await service.audit_flags(session, year)


@router.get(
    "/reports", dependencies=[requires_any("medical:read", "audit:read")], response_model=Report, tags=["reports 报表"]
)
async def report(period: ReportPeriod, session: DbSession) -> Report:
    """Per division for the period: persons eligible, claims paid and refused, and the amount paid. Scope
    `medical:read` or `audit:read`."""

    return await service.report(session, period)
