"""Legal aid (法律救助) HTTP API: eligibility, lawyers, cases, report."""

from __future__ import annotations

from fastapi import APIRouter, Query

from services.legal import service
from services.legal.rules import CaseKind, CaseStatus
from services.legal.schemas import (
    CaseIn,
    CaseOut,
    CasePatch,
    EligibilityOut,
    LawyerIn,
    LawyerOut,
    LawyerPatch,
    Report,
)
from shared.api import ReportPeriod
from shared.auth import requires, requires_any
from shared.errors import problem_responses
from shared.periods import city_today
from shared.read_audit import reads_person
from shared.unit_of_work import DbSession
from shared.validators import PlanDay, ResidentIdIn, ResidentIdQuery, RowId

router = APIRouter()


@router.post(
    "/eligibility/search",
    response_model=EligibilityOut,
    tags=["eligibility 援助资格"],
    dependencies=[requires("legal:read"), reads_person()],
    responses=problem_responses(422),
    summary="Eligibility, with the resident ID in the body (keeps it out of URLs and their logs)",
)
async def search_eligibility(body: ResidentIdQuery, session: DbSession) -> EligibilityOut:
    """Whether a person may have free legal aid on a day (default today), with the resident ID in the body: in dibao
    on that day, and since when. Scope `legal:read`."""

    return await service.eligibility(session, body.resident_id, body.on or city_today())


@router.get(
    "/eligibility/{resident_id}",
    dependencies=[requires("legal:read"), reads_person()],
    response_model=EligibilityOut,
    tags=["eligibility 援助资格"],
    responses=problem_responses(422),
)
async def get_eligibility(
    resident_id: ResidentIdIn,
    session: DbSession,
    on: PlanDay | None = Query(default=None, description="default today; from 2004, the plan's first year"),
) -> EligibilityOut:
    """The same as POST /eligibility/search with the resident ID in the path; prefer the POST form, which keeps the
    ID out of logs. Scope `legal:read`."""

    return await service.eligibility(session, resident_id, on or city_today())


@router.post(
    "/lawyers",
    dependencies=[requires("legal:write")],
    response_model=LawyerOut,
    status_code=201,
    tags=["lawyers 律师与援助机构"],
    responses=problem_responses(422),
)
async def register_lawyer(body: LawyerIn, session: DbSession) -> LawyerOut:
    """Register a lawyer or legal-aid office that takes dibao cases, with its division. Scope `legal:write`."""

    return service.lawyer_out(await service.register_lawyer(session, body))


@router.get(
    "/lawyers", dependencies=[requires("legal:read")], response_model=list[LawyerOut], tags=["lawyers 律师与援助机构"]
)
async def list_lawyers(
    session: DbSession,
    division_code: str | None = Query(default=None, pattern=r"^[0-9]{6}$"),
    active: bool | None = None,
) -> list[LawyerOut]:
    """Lawyers and legal-aid offices, optionally of one division or only the active ones. Scope `legal:read`."""

    return [service.lawyer_out(lawyer) for lawyer in await service.list_lawyers(session, division_code, active)]


@router.patch(
    "/lawyers/{lawyer_id}",
    dependencies=[requires("legal:write")],
    response_model=LawyerOut,
    tags=["lawyers 律师与援助机构"],
    responses=problem_responses(404, 422),
)
async def change_lawyer(lawyer_id: RowId, body: LawyerPatch, session: DbSession) -> LawyerOut:
    """Take a lawyer off the list of those assigned cases, or put them back. Scope `legal:write`."""

    lawyer = await service.get_lawyer(session, lawyer_id)
    lawyer.active = body.active
    await session.flush()
    return service.lawyer_out(lawyer)


@router.post(
    "/cases",
    dependencies=[requires("legal:write")],
    response_model=CaseOut,
    status_code=201,
    tags=["cases 案件"],
    responses=problem_responses(422),
    summary="Intake: refused with not_eligible outside dibao",
)
async def open_case(body: CaseIn, session: DbSession) -> CaseOut:
    """Open a free legal-aid case for a member of a dibao household: consultation, drafting, defence or
    representation. 422 `not_eligible` for a person not in dibao today. Scope `legal:write`."""

    return await service.case_out(session, await service.open_case(session, body))


@router.get("/cases", dependencies=[requires("legal:read")], response_model=list[CaseOut], tags=["cases 案件"])
async def list_cases(
    session: DbSession,
    status: CaseStatus | None = None,
    kind: CaseKind | None = None,
    resident_id: ResidentIdIn | None = None,
    lawyer_id: str | None = Query(default=None, pattern=r"^[0-9]{1,12}$"),
) -> list[CaseOut]:
    """Cases, optionally by status, kind, person or lawyer. Scope `legal:read`."""

    cases = await service.list_cases(session, status=status, kind=kind, resident_id=resident_id, lawyer_id=lawyer_id)
    return [await service.case_out(session, case) for case in cases]


@router.get(
    "/cases/{case_id}",
    dependencies=[requires("legal:read")],
    response_model=CaseOut,
    tags=["cases 案件"],
    responses=problem_responses(404),
)
async def get_case(case_id: RowId, session: DbSession) -> CaseOut:
    """One case with its history: received, assigned to a lawyer, in progress, closed with an outcome. Scope
    `legal:read`."""

    return await service.case_out(session, await service.get_case(session, case_id))


@router.patch(
    "/cases/{case_id}",
    dependencies=[requires("legal:write")],
    response_model=CaseOut,
    tags=["cases 案件"],
    responses=problem_responses(404, 409, 422),
    summary="Assign, start or close a case",
)
async def move_case(case_id: RowId, body: CasePatch, session: DbSession) -> CaseOut:
    """Move a case on: assign it (with `lawyer_id`), start it, or close it (with `outcome`). A move its state does
    not allow is 409 `invalid_transition`. Scope `legal:write`."""

    return await service.case_out(session, await service.move_case(session, case_id, body))


@router.get(
    "/reports", dependencies=[requires_any("legal:read", "audit:read")], response_model=Report, tags=["reports 报表"]
)
async def report(period: ReportPeriod, session: DbSession) -> Report:
    """Per division for the period: cases opened and closed by kind. Scope `legal:read` or `audit:read`."""

    return await service.report(session, period)
