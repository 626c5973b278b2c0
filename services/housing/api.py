"""Housing assistance (住房救助) HTTP API: households, rent subsidy runs, flats, waitlist, allocations."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request

from services.housing import service
from services.housing.schemas import (
    AllocationIn,
    AllocationOut,
    AllocationRequestIn,
    HousingHouseholdOut,
    PaymentOut,
    Report,
    SubsidyRunIn,
    SubsidyRunOut,
    UnitIn,
    UnitOut,
    WaitlistItem,
)
from shared.api import ReportPeriod
from shared.auth import requires, requires_any
from shared.errors import problem_responses
from shared.unit_of_work import DbSession, Units, Uow
from shared.validators import HouseholdIdPath

router = APIRouter()


@router.get(
    "/households/{household_id}",
    dependencies=[requires("housing:read")],
    response_model=HousingHouseholdOut,
    tags=["households 住房困难家庭"],
    responses=problem_responses(404),
)
async def get_household(household_id: HouseholdIdPath, session: DbSession) -> HousingHouseholdOut:
    """A household's housing assistance: whether it is in housing difficulty, the monthly rent subsidy in force, its
    tenancy of a low-rent flat, and what it owes. Scope `housing:read`."""

    return await service.household_view(session, household_id)


@router.get(
    "/households/{household_id}/payments",
    dependencies=[requires("housing:read")],
    response_model=list[PaymentOut],
    tags=["rent subsidy 租金补贴"],
    responses=problem_responses(404),
    summary="The household's subsidy ledger: payments, arrears and recoveries, month by month",
)
async def get_payments(household_id: HouseholdIdPath, session: DbSession) -> list[PaymentOut]:
    """The household's rent-subsidy ledger, month by month: payments, arrears paid as lines of their month,
    recoveries of what was paid over, and what each payment withheld. Scope `housing:read`."""

    return [service.payment_out(line) for line in await service.payments_of(session, household_id)]


@router.post(
    "/subsidy-runs",
    dependencies=[requires("housing:write")],
    response_model=SubsidyRunOut,
    tags=["rent subsidy 租金补贴"],
    responses=problem_responses(422),
    summary="Settle the rent subsidy of every month through the period: arrears paid, overpayments "
    "recorded and withheld; a second run adds nothing",
)
async def subsidy_run(body: SubsidyRunIn, request: Request, units: Units, uow: Uow) -> SubsidyRunOut:
    """Settle the rent subsidy of every month up to `period`, each month computed with that month's members, area and
    parameters; arrears are paid, overpayments recorded and withheld. Running it again adds nothing; a month not
    begun is 422 `period_in_future`; `dry_run: true` writes nothing and answers what a run would pay now. Scope
    `housing:write`."""

    result = await service.run_subsidies(
        units, uow, body.period, batch_size=request.app.state.settings.run_batch_size, dry_run=body.dry_run
    )
    if not body.dry_run:
        uow.audit("subsidy_runs", body.period, after=result.model_dump(exclude={"left_out", "payees"}))
    return result


@router.post(
    "/units",
    dependencies=[requires("housing:write")],
    response_model=UnitOut,
    status_code=201,
    tags=["flats 廉租房"],
    responses=problem_responses(422),
)
async def register_unit(body: UnitIn, session: DbSession) -> UnitOut:
    """Register a low-rent flat (廉租房) the bureau can let: address, division, floor area and rooms. Scope
    `housing:write`."""

    return service.unit_out(await service.register_unit(session, body))


@router.get("/units", dependencies=[requires("housing:read")], response_model=list[UnitOut], tags=["flats 廉租房"])
async def list_units(session: DbSession, status: Literal["vacant", "let"] | None = None) -> list[UnitOut]:
    """The low-rent flats, optionally only the vacant or the let ones. Scope `housing:read`."""

    return [service.unit_out(unit) for unit in await service.list_units(session, status)]


@router.post(
    "/allocation-requests",
    dependencies=[requires("housing:write")],
    response_model=WaitlistItem,
    status_code=201,
    tags=["allocation 实物配租"],
    responses=problem_responses(404, 409, 422),
    summary="An eligible household asks for a flat: joins the waitlist",
)
async def request_allocation(body: AllocationRequestIn, session: DbSession) -> WaitlistItem:
    """A household in housing difficulty asks for a flat (实物配租) and joins the waitlist. 409 `already_waiting` or
    `already_housed`; 422 `not_eligible`. Scope `housing:write`."""

    return await service.request_allocation(session, body.household_id)


@router.get(
    "/waitlist",
    dependencies=[requires("housing:read")],
    response_model=list[WaitlistItem],
    tags=["allocation 实物配租"],
    summary="Ordered by need: least area per person, then earliest enrolment",
)
async def get_waitlist(session: DbSession) -> list[WaitlistItem]:
    """The households waiting for a flat, most in need first: least floor area per person, then the earliest
    enrolment. Scope `housing:read`."""

    return await service.waitlist(session)


@router.post(
    "/allocations",
    dependencies=[requires("housing:write")],
    response_model=AllocationOut,
    status_code=201,
    tags=["allocation 实物配租"],
    responses=problem_responses(404, 409, 422),
    summary="Assign a flat: the rent subsidy stops the month after",
)
async def allocate(body: AllocationIn, uow: Uow) -> AllocationOut:
    """Let a vacant flat to a waiting household from a day: the rent subsidy stops the month after. 409
    `unit_not_vacant` or `already_housed`. Scope `housing:write`."""

    return await service.allocate(uow, body)


@router.get(
    "/reports", dependencies=[requires_any("housing:read", "audit:read")], response_model=Report, tags=["reports 报表"]
)
async def report(period: ReportPeriod, session: DbSession) -> Report:
    """Per division for the period: households with the rent subsidy, the amounts paid, flats let and households
    waiting. Scope `housing:read` or `audit:read`."""

    return await service.report(session, period)
