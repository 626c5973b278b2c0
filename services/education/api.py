"""Education assistance (就学救助) HTTP API: pupils, school reports, term runs, grants, partner aid, report."""

from __future__ import annotations

import re

from fastapi import APIRouter, Query, Request

from services.education import schools, service
from services.education.schemas import (
    GrantsOut,
    PartnerAidIn,
    PartnerAidOut,
    PupilChangeIn,
    PupilOut,
    PupilPatch,
    Report,
    SchoolRegistrationIn,
    TermRunIn,
    TermRunOut,
)
from shared.auth import requires, requires_any
from shared.errors import Unprocessable, problem_responses
from shared.periods import InvalidPeriod, Period, parse_period
from shared.read_audit import reads_person
from shared.unit_of_work import DbSession, Units, Uow
from shared.validators import (
    LAST_YEAR,
    PERIOD_OR_TERM_PATTERN,
    PERIOD_PATTERN,
    PLAN_YEAR,
    TERM_PATTERN,
    ResidentIdIn,
    ResidentIdQuery,
)

router = APIRouter()


@router.post(
    "/pupils/search",
    response_model=PupilOut,
    tags=["pupils 学生"],
    dependencies=[requires_any("education:read", "education:schools"), reads_person()],
    responses=problem_responses(404, 422),
    summary="A pupil, with the resident ID in the body (keeps it out of URLs and their logs)",
)
async def search_pupil(body: ResidentIdQuery, request: Request, uow: Uow) -> PupilOut:
    """A pupil of a dibao household, with the resident ID in the body: school stage, boarding, the waivers and grants
    due and paid. A school's token reads only its own pupils. Scope `education:read` or `education:schools`."""

    await schools.require_own_pupil(request.state.principal, uow.session, body.resident_id, "education:read")
    return await service.pupil_view(uow, body.resident_id)


@router.post(
    "/pupils/changes",
    response_model=PupilOut,
    tags=["pupils 学生"],
    dependencies=[requires_any("education:schools", "education:write")],
    responses=problem_responses(404, 422),
    summary="A school reports a change, with the resident ID in the body",
)
async def report_change_by_body(body: PupilChangeIn, request: Request, uow: Uow) -> PupilOut:
    """A school reports a change (stage, boarding, or leaving school), with the resident ID in the body; the next
    term run settles it. Scope `education:schools` or `education:write`."""

    await schools.require_own_pupil(request.state.principal, uow.session, body.resident_id, "education:write")
    await service.report_change(
        uow, body.resident_id, PupilPatch.model_validate(body.model_dump(exclude={"resident_id"}))
    )
    return await service.pupil_view(uow, body.resident_id)


@router.get(
    "/pupils/{resident_id}",
    dependencies=[requires_any("education:read", "education:schools"), reads_person()],
    response_model=PupilOut,
    tags=["pupils 学生"],
    responses=problem_responses(404, 422),
)
async def get_pupil(resident_id: ResidentIdIn, request: Request, uow: Uow) -> PupilOut:
    """The same as POST /pupils/search with the resident ID in the path; prefer the POST form, which keeps the ID out
    of logs. Scope `education:read` or `education:schools`."""

    await schools.require_own_pupil(request.state.principal, uow.session, resident_id, "education:read")
    return await service.pupil_view(uow, resident_id)


@router.patch(
    "/pupils/{resident_id}",
    dependencies=[requires_any("education:schools", "education:write")],
    response_model=PupilOut,
    tags=["pupils 学生"],
    responses=problem_responses(404, 422),
    summary="A school reports a change of stage, boarding, or leaving",
)
async def report_change(resident_id: ResidentIdIn, body: PupilPatch, request: Request, uow: Uow) -> PupilOut:
    """The same as POST /pupils/changes with the resident ID in the path. Scope `education:schools` or
    `education:write`."""

    await schools.require_own_pupil(request.state.principal, uow.session, resident_id, "education:write")
    await service.report_change(uow, resident_id, body)
    return await service.pupil_view(uow, resident_id)


@router.post(
    "/pupils/school",
    dependencies=[requires("education:write")],
    response_model=PupilOut,
    tags=["pupils 学生"],
    responses=problem_responses(404, 422),
    summary="The Education Bureau registers a pupil to a school (which then reads and reports only its own pupils)",
)
async def register_school(body: SchoolRegistrationIn, uow: Uow) -> PupilOut:
    """The Education Bureau registers a pupil to a school (its number, the school_id of the school's token): from then
    on that school reads and reports this pupil, and only its own pupils. 404 when the pupil is not known. Scope
    `education:write`."""

    await schools.register(uow, body.resident_id, body.school_id)
    return await service.pupil_view(uow, body.resident_id)


@router.post(
    "/term-runs",
    dependencies=[requires("education:write")],
    response_model=TermRunOut,
    tags=["terms 学期发放"],
    responses=problem_responses(422),
    summary="Settle a term: waivers, boarding subsidies and disability grants against the ledger",
)
async def term_run(body: TermRunIn, request: Request, units: Units, uow: Uow) -> TermRunOut:
    """Pays, for the term, what is due under the facts now known minus what the ledger holds (arrears), and records
    what was paid over as recovery lines the household owes; its later payments are withheld against them first
    (``withheld_amount``), so no transfer is ever negative. A second run adds nothing. A term that has not begun
    (1 March, 1 September, in Harbin) is refused: 422 ``period_in_future``."""

    result = await service.run_term(
        units, uow, body.term, batch_size=request.app.state.settings.run_batch_size, dry_run=body.dry_run
    )
    if not body.dry_run:
        uow.audit("term_runs", body.term, after=result.model_dump(exclude={"left_out", "payees"}))
    return result


@router.get(
    "/grants",
    dependencies=[requires("education:read")],
    response_model=GrantsOut,
    tags=["terms 学期发放"],
    summary="A household's ledger lines (withheld, transferred) and what it owes (balance_owed)",
)
async def household_grants(
    session: DbSession,
    household_id: str = Query(min_length=1, max_length=36, examples=["5f0c3b1e-8d7a-4e0b-9a51-2f1d3c4b5a69"]),
) -> GrantsOut:
    """A household's education ledger: each pupil's fee waivers, boarding subsidies and disability grants per term,
    what was withheld and transferred, and what the household owes (`balance_owed`). Scope `education:read`."""

    return await service.household_grants(session, household_id)


@router.post(
    "/activities",
    dependencies=[requires("education:partners")],
    response_model=PartnerAidOut,
    status_code=201,
    tags=["partners 社会助学"],
    responses=problem_responses(404, 422),
    summary="A partner organisation records its aid to a pupil (工会, 共青团希望工程, 妇联, 残联)",
)
async def record_activity(body: PartnerAidIn, uow: Uow) -> PartnerAidOut:
    """A partner organisation (trade union, youth league's Hope Project, women's federation, disabled persons'
    federation) records its aid to a pupil of a dibao household, in money or in kind. 404 when the pupil is not
    known. Scope `education:partners`."""

    return service.aid_out(await service.record_partner_aid(uow, body))


async def _period_or_term(
    session: DbSession,
    period: str = Query(
        description="YYYY-MM, YYYY-H1, YYYY-H2, YYYY, or a term YYYY-spring / YYYY-autumn",
        examples=["2026-autumn"],
        json_schema_extra={"pattern": PERIOD_OR_TERM_PATTERN},
    ),
) -> Period:
    # Checked against the plan's years first: a term before 2004 has no term dates in force (it answered 500).
    is_term = period.endswith(("-spring", "-autumn"))
    if not re.fullmatch(TERM_PATTERN if is_term else PERIOD_PATTERN, period, re.ASCII):
        raise Unprocessable(
            "invalid_period", f"{period[:20]!r} is not a period or a term from {PLAN_YEAR} to {LAST_YEAR}"
        )
    if is_term:
        return (await service.resolve_term(session, period)).period
    try:
        return parse_period(period)
    except InvalidPeriod as exc:
        raise Unprocessable("invalid_period", str(exc)) from None


@router.get(
    "/reports",
    dependencies=[requires_any("education:read", "audit:read")],
    response_model=Report,
    tags=["reports 报表"],
)
async def report(
    session: DbSession,
    period: str = Query(
        description="YYYY-MM, YYYY-H1, YYYY-H2, YYYY, or a term YYYY-spring / YYYY-autumn",
        examples=["2026-autumn"],
        json_schema_extra={"pattern": PERIOD_OR_TERM_PATTERN},
    ),
) -> Report:
    """Per division for a period or a school term (YYYY-spring, YYYY-autumn): pupils helped and the amounts by
    programme. Scope `education:read` or `audit:read`."""

    return await service.report(session, await _period_or_term(session, period))
