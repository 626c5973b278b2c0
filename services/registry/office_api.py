"""The leading-group office's HTTP API: the one-stop view, social mutual aid, the assessment."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import HTMLResponse, Response

from services.registry import assessment, assessment_page, office
from services.registry.schemas import (
    AssessmentOut,
    DonationIn,
    DonationOut,
    OneStopOut,
    PairingIn,
    PairingOut,
    PairingPatch,
)
from shared.api import ReportPeriod, csv_response, wants_csv
from shared.db import DbSession
from shared.errors import problem_responses

router = APIRouter()


@router.get("/households/{household_id}/assistance", response_model=OneStopOut, tags=["office 领导小组办公室"],
            responses=problem_responses(404), summary="One-stop view (一站式): everything every bureau granted")
async def one_stop(household_id: str, session: DbSession) -> OneStopOut:
    return await office.one_stop(session, household_id)


@router.get("/reports/assessment", response_model=AssessmentOut, tags=["office 领导小组办公室"],
            responses={200: {"content": {"text/html": {}, "text/csv": {}}}, **problem_responses(422)},
            summary="The joint meeting's assessment: JSON, CSV (Accept: text/csv) or the page (Accept: text/html)")
async def assessment_report(
    period: ReportPeriod,
    session: DbSession,
    format: Literal["json", "csv", "html"] | None = None,
    part: Literal["coverage", "unserved"] = Query(default="coverage", description="which table the CSV holds"),
    accept: str | None = Header(default=None),
) -> AssessmentOut | Response:
    result = await assessment.assess(session, period)
    if format == "html" or (format is None and accept is not None and "text/html" in accept):
        return HTMLResponse(assessment_page.render(result))
    if wants_csv(accept, format):
        text = assessment.unserved_csv(result) if part == "unserved" else assessment.coverage_csv(result)
        return csv_response(text, f"assessment-{period.label}-{part}.csv")
    return result


@router.post("/mutual-aid/donations", response_model=DonationOut, status_code=201, tags=["mutual aid 社会互助"],
             responses=problem_responses(404, 422))
async def record_donation(body: DonationIn, session: DbSession) -> DonationOut:
    return office.donation_out(await office.record_donation(session, body))


@router.get("/mutual-aid/donations", response_model=list[DonationOut], tags=["mutual aid 社会互助"])
async def list_donations(session: DbSession, division_code: str | None = Query(default=None, pattern=r"^\d{6}$"),
                         household_id: str | None = Query(default=None, max_length=36)) -> list[DonationOut]:
    return [office.donation_out(d) for d in await office.list_donations(session, division_code, household_id)]


@router.post("/mutual-aid/pairings", response_model=PairingOut, status_code=201, tags=["mutual aid 社会互助"],
             responses=problem_responses(404, 422), summary="一帮一结对子: a unit or person pairs with a household")
async def start_pairing(body: PairingIn, session: DbSession) -> PairingOut:
    return office.pairing_out(await office.start_pairing(session, body))


@router.patch("/mutual-aid/pairings/{pairing_id}", response_model=PairingOut, tags=["mutual aid 社会互助"],
              responses=problem_responses(404, 422))
async def end_pairing(pairing_id: int, body: PairingPatch, session: DbSession) -> PairingOut:
    return office.pairing_out(await office.end_pairing(session, pairing_id, body))


@router.get("/mutual-aid/pairings", response_model=list[PairingOut], tags=["mutual aid 社会互助"])
async def list_pairings(session: DbSession, division_code: str | None = Query(default=None, pattern=r"^\d{6}$"),
                        household_id: str | None = Query(default=None, max_length=36),
                        active: bool | None = None) -> list[PairingOut]:
    return [office.pairing_out(p) for p in await office.list_pairings(session, division_code, household_id, active)]

