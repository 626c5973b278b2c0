"""Registry (Civil Affairs, 民政局) HTTP API: households, persons, payments."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request

from services.registry import service
from services.registry.models import Household
from services.registry.schemas import (
    BulkIn,
    BulkOut,
    ExitIn,
    HouseholdIn,
    HouseholdOut,
    HouseholdPage,
    HouseholdPatch,
    PaymentOut,
    PaymentRunIn,
    PaymentRunOut,
    PersonOut,
    Report,
)
from shared.api import ReportPeriod
from shared.auth import requires
from shared.errors import problem_responses
from shared.money import ZERO
from shared.unit_of_work import DbSession, Units, Uow
from shared.validators import ResidentIdQuery

households = APIRouter(prefix="/households", tags=["households 低保家庭"])
persons = APIRouter(prefix="/persons", tags=["persons 人员"])
payments = APIRouter(tags=["payments 低保金发放"])


@households.post(
    "",
    dependencies=[requires("registry:write")],
    response_model=HouseholdOut,
    status_code=201,
    responses=problem_responses(409, 422),
    summary="Enrol a dibao household (纳入低保)",
)
async def enrol_household(body: HouseholdIn, uow: Uow) -> HouseholdOut:
    return await service.enrol(uow, body)


@households.post(
    "/bulk",
    dependencies=[requires("registry:write")],
    response_model=BulkOut,
    responses=problem_responses(422),
    summary="Enrol up to 1,000 households; good rows land, bad rows say why",
)
async def enrol_households_bulk(body: BulkIn, uow: Uow) -> BulkOut:
    results = await service.enrol_bulk(uow, body.households)
    rejected = sum(1 for result in results if result.error is not None)
    already = sum(1 for result in results if result.already_enrolled)
    return BulkOut(
        enrolled=len(results) - rejected - already, already_enrolled=already, rejected=rejected, results=results
    )


@households.get(
    "",
    dependencies=[requires("registry:read")],
    response_model=HouseholdPage,
    summary="List households, filtered and paged",
)
async def list_households(
    session: DbSession,
    division_code: str | None = Query(default=None, pattern=r"^[0-9]{6}$"),
    status: Literal["active", "exited"] | None = None,
    page: int = Query(default=1, ge=1, le=100_000),
    size: int = Query(default=50, ge=1, le=500),
) -> HouseholdPage:
    rows, total = await service.list_households(session, division_code, status, page, size)
    owed = await service.balance_owed(session, [row.id for row in rows])
    return HouseholdPage(
        items=[service.to_out(row, balance_owed=owed.get(row.id, ZERO)) for row in rows],
        total=total,
        page=page,
        size=size,
    )


@households.get(
    "/{household_id}",
    dependencies=[requires("registry:read")],
    response_model=HouseholdOut,
    responses=problem_responses(404),
)
async def get_household(household_id: str, session: DbSession) -> HouseholdOut:
    return await _household_out(session, await service.get_household(session, household_id))


async def _household_out(session: DbSession, household: Household) -> HouseholdOut:
    owed = await service.balance_owed(session, [household.id])
    return service.to_out(household, balance_owed=owed.get(household.id, ZERO))


@households.patch(
    "/{household_id}",
    dependencies=[requires("registry:write")],
    response_model=HouseholdOut,
    responses=problem_responses(404, 409, 422),
    summary="Report a change; the allowance is recomputed",
)
async def change_household(household_id: str, body: HouseholdPatch, uow: Uow) -> HouseholdOut:
    return await _household_out(uow.session, await service.change(uow, household_id, body))


@households.post(
    "/{household_id}/exit",
    dependencies=[requires("registry:write")],
    response_model=HouseholdOut,
    responses=problem_responses(404, 409, 422),
    summary="The household leaves dibao (退出低保)",
)
async def exit_household(household_id: str, body: ExitIn, uow: Uow) -> HouseholdOut:
    return await _household_out(uow.session, await service.exit_household(uow, household_id, body))


@households.get(
    "/{household_id}/payments",
    dependencies=[requires("registry:read")],
    response_model=list[PaymentOut],
    responses=problem_responses(404),
    summary="The household's payments ledger",
)
async def household_payments(household_id: str, session: DbSession) -> list[PaymentOut]:
    return [
        PaymentOut.model_validate(p, from_attributes=True) for p in await service.payments_of(session, household_id)
    ]


@persons.post(
    "/search",
    response_model=PersonOut,
    dependencies=[requires("registry:read")],
    responses=problem_responses(404, 422),
    summary="Find a person, with the resident ID in the body (keeps it out of URLs and their logs)",
)
async def search_person(body: ResidentIdQuery, session: DbSession) -> PersonOut:
    return await service.find_person(session, body.resident_id)


@persons.get(
    "/{resident_id}",
    dependencies=[requires("registry:read")],
    response_model=PersonOut,
    responses=problem_responses(404),
    summary="A person's household and dibao status",
)
async def get_person(resident_id: str, session: DbSession) -> PersonOut:
    return await service.find_person(session, resident_id)


@payments.post(
    "/payment-runs",
    dependencies=[requires("registry:write")],
    response_model=PaymentRunOut,
    responses=problem_responses(422),
    summary="Settle dibao through a month: arrears paid, overpayments recovered; a second run adds nothing",
)
async def payment_run(body: PaymentRunIn, request: Request, units: Units, uow: Uow) -> PaymentRunOut:
    result = await service.run_payments(
        units, uow, body.period, batch_size=request.app.state.settings.run_batch_size, dry_run=body.dry_run
    )
    if not body.dry_run:
        uow.audit("payment_runs", body.period, after=result.model_dump(exclude={"left_out", "payees"}))
    return result


reports = APIRouter(tags=["reports 报表"])


@reports.get(
    "/reports",
    dependencies=[requires("registry:read")],
    response_model=Report,
    responses=problem_responses(422),
    summary="Caseload, enrolments, exits and dibao paid, per division",
)
async def report(period: ReportPeriod, session: DbSession) -> Report:
    return await service.report(session, period)


ROUTERS = [households, persons, payments, reports]
