"""The leading-group office's HTTP API: the one-stop view, social mutual aid, the assessment, its report.

The paths are those the registry served when the office lived in it (the public contract)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.office import assessment, assessment_page, service
from services.office.schemas import (
    AssessmentLinkIn,
    AssessmentLinkOut,
    AssessmentOut,
    DonationIn,
    DonationOut,
    OneStopOut,
    PairingIn,
    PairingOut,
    PairingPatch,
    Report,
)
from shared.api import ReportPeriod, csv_response, text_answers, wants_csv, wants_html
from shared.auth import SignedLink, requires, requires_any, sign_link
from shared.errors import Unprocessable, problem_responses
from shared.periods import InvalidPeriod, parse_period
from shared.unit_of_work import DbSession
from shared.validators import HouseholdIdPath, RowId

router = APIRouter()


@router.get(
    "/households/{household_id}/assistance",
    dependencies=[requires("office:read")],
    response_model=OneStopOut,
    tags=["office 领导小组办公室"],
    responses=problem_responses(404),
    summary="One-stop view (一站式): everything every bureau granted",
)
async def one_stop(household_id: HouseholdIdPath, session: DbSession) -> OneStopOut:
    """The one-stop view (一站式): everything every bureau has granted and paid this household, dibao included, as the
    office has heard it on `assistance.grants`, with status and amounts per programme. Scope `office:read`."""

    return await service.one_stop(session, household_id)


@router.get(
    "/reports/assessment",
    dependencies=[requires_any("office:read", "audit:read")],
    response_model=AssessmentOut,
    tags=["office 领导小组办公室"],
    responses={**text_answers("text/html", "text/csv"), **problem_responses(422)},
    summary="The joint meeting's assessment: JSON, CSV (Accept: text/csv) or the page (Accept: text/html)",
)
async def assessment_report(
    period: ReportPeriod,
    session: DbSession,
    format: Literal["json", "csv", "html"] | None = None,
    part: Literal["coverage", "unserved"] = Query(default="coverage", description="which table the CSV holds"),
    accept: str | None = Header(default=None),
) -> AssessmentOut | Response:
    """The joint meeting's assessment for a period: each bureau's coverage of the households the plan entitles, its
    timeliness, and the households not yet served. JSON by default; the page with `Accept: text/html` or
    `format=html`; CSV (`part=coverage` or `unserved`) with `Accept: text/csv` or `format=csv`. Scope
    `office:read` or `audit:read`."""

    result = await assessment.assess(session, period)
    if wants_html(accept, format):
        return HTMLResponse(assessment_page.render(result))
    if wants_csv(accept, format):
        text = assessment.unserved_csv(result) if part == "unserved" else assessment.coverage_csv(result)
        return csv_response(text, f"assessment-{period.label}-{part}.csv")
    return result


@router.post(
    "/reports/assessment/links",
    response_model=AssessmentLinkOut,
    status_code=201,
    tags=["office 领导小组办公室"],
    dependencies=[requires_any("office:read", "audit:read")],
    responses=problem_responses(422),
    summary="A short-lived link to the assessment page, for a browser at the joint meeting",
)
async def assessment_link(body: AssessmentLinkIn, request: Request) -> AssessmentLinkOut:
    """A short-lived signed link (1 to 1440 minutes) to the assessment page, for a browser at the joint meeting that
    holds no token. 422 `links_not_configured` when the service has no secret to sign with. Scope `office:read` or
    `audit:read`."""

    try:
        link = sign_link(request, "assessment", body.ttl_minutes * 60, period=body.period)
    except RuntimeError:
        raise Unprocessable("links_not_configured", "this service has no JWT secret to sign links with") from None
    return AssessmentLinkOut(
        url=f"/reports/assessment/view/{link}", expires_at=datetime.now(UTC) + timedelta(minutes=body.ttl_minutes)
    )


@router.get(
    "/reports/assessment/view/{link}",
    response_class=HTMLResponse,
    tags=["office 领导小组办公室"],
    dependencies=[Depends(SignedLink("assessment"))],
    responses=problem_responses(401, 403),
    summary="The assessment page, opened from a link made by POST /reports/assessment/links",
)
async def assessment_view(
    request: Request,
    session: DbSession,
    link: str = Path(
        max_length=4096, description="the signed link's token", examples=["eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"]
    ),
) -> HTMLResponse:
    """The assessment page opened from a link made by POST /reports/assessment/links: the link is the credential (401
    `link_expired` or `invalid_link`). Answers HTML."""

    try:
        period = parse_period(request.state.link_claims["period"])
    except (KeyError, InvalidPeriod):
        raise Unprocessable("invalid_period", "the link names no valid period") from None
    return HTMLResponse(assessment_page.render(await assessment.assess(session, period)))


@router.post(
    "/mutual-aid/donations",
    dependencies=[requires("office:mutual_aid")],
    response_model=DonationOut,
    status_code=201,
    tags=["mutual aid 社会互助"],
    responses=problem_responses(404, 422),
)
async def record_donation(body: DonationIn, session: DbSession) -> DonationOut:
    """Record a donation to social mutual aid (社会互助) from a unit or a person, in money or in kind, optionally for one
    household. Scope `office:mutual_aid`."""

    return service.donation_out(await service.record_donation(session, body))


@router.get(
    "/mutual-aid/donations",
    dependencies=[requires_any("office:read", "office:mutual_aid")],
    response_model=list[DonationOut],
    tags=["mutual aid 社会互助"],
)
async def list_donations(
    session: DbSession,
    division_code: str | None = Query(default=None, pattern=r"^[0-9]{6}$"),
    household_id: str | None = Query(default=None, max_length=36),
) -> list[DonationOut]:
    """Donations, optionally of one division or household. Scope `office:read` or `office:mutual_aid`."""

    return [service.donation_out(d) for d in await service.list_donations(session, division_code, household_id)]


@router.post(
    "/mutual-aid/pairings",
    dependencies=[requires("office:mutual_aid")],
    response_model=PairingOut,
    status_code=201,
    tags=["mutual aid 社会互助"],
    responses=problem_responses(404, 422),
    summary="一帮一结对子: a unit or person pairs with a household",
)
async def start_pairing(body: PairingIn, session: DbSession) -> PairingOut:
    """A unit or a person pairs with a household to help it (一帮一结对子). 404 `household_not_found`; 422
    `household_not_active` when it has left dibao. Scope `office:mutual_aid`."""

    return service.pairing_out(await service.start_pairing(session, body))


@router.patch(
    "/mutual-aid/pairings/{pairing_id}",
    dependencies=[requires("office:mutual_aid")],
    response_model=PairingOut,
    tags=["mutual aid 社会互助"],
    responses=problem_responses(404, 422),
)
async def end_pairing(pairing_id: RowId, body: PairingPatch, session: DbSession) -> PairingOut:
    """End a pairing on a day. Scope `office:mutual_aid`."""

    return service.pairing_out(await service.end_pairing(session, pairing_id, body))


@router.get(
    "/mutual-aid/pairings",
    dependencies=[requires_any("office:read", "office:mutual_aid")],
    response_model=list[PairingOut],
    tags=["mutual aid 社会互助"],
)
async def list_pairings(
    session: DbSession,
    division_code: str | None = Query(default=None, pattern=r"^[0-9]{6}$"),
    household_id: str | None = Query(default=None, max_length=36),
    active: bool | None = None,
) -> list[PairingOut]:
    """Pairings, optionally of one division or household, or only the active ones. Scope `office:read` or
    `office:mutual_aid`."""

    return [service.pairing_out(p) for p in await service.list_pairings(session, division_code, household_id, active)]


@router.get(
    "/reports",
    dependencies=[requires_any("office:read", "audit:read")],
    response_model=Report,
    responses=problem_responses(422),
    tags=["reports 报表"],
    summary="What the office recorded per division: social mutual aid",
)
async def report(period: ReportPeriod, session: DbSession) -> Report:
    """What the office recorded per division for the period: donations and pairings of social mutual aid. Scope
    `office:read` or `audit:read`."""

    return await assessment.report(session, period)
