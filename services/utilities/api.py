"""Utilities (水价、供暖救助) HTTP API: households, water bills, heating supplement runs, report."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from services.utilities import service
from services.utilities.schemas import (
    HeatingBillIn,
    HeatingBillOut,
    HouseholdOut,
    Report,
    SupplementOut,
    SupplementRunIn,
    SupplementRunOut,
    WaterBillIn,
    WaterBillOut,
)
from shared.api import ReportPeriod
from shared.auth import requires, requires_any
from shared.errors import problem_responses
from shared.unit_of_work import DbSession, Units, Uow
from shared.validators import HouseholdIdPath

router = APIRouter()


@router.get(
    "/households/{household_id}",
    dependencies=[requires("utilities:read")],
    response_model=HouseholdOut,
    tags=["households 救助家庭"],
    responses=problem_responses(404),
)
async def get_household(household_id: HouseholdIdPath, session: DbSession) -> HouseholdOut:
    """A dibao household's water and heating relief: the water discount and its monthly cap, the heating programme (a
    reduction of the central-heating fee, or the +20 % supplement without central heating), and the supplement
    lines paid. Scope `utilities:read`."""

    return await service.household_view(session, household_id)


@router.post(
    "/water/bills",
    dependencies=[requires("utilities:water")],
    response_model=WaterBillOut,
    status_code=201,
    tags=["water 生活用水"],
    responses=problem_responses(404, 409, 422),
    summary="The Water Group posts a month's usage; returns the discount",
)
async def post_water_bill(body: WaterBillIn, uow: Uow) -> WaterBillOut:
    """The Water Group posts a household's usage for a month; the answer is the discount on the preferential volume
    (capped per person). 409 for a month already billed; a month not begun is 422 `period_in_future`; usage is
    text such as "13.50" (422 `invalid_usage`). Scope `utilities:water`."""

    return service.water_bill_out(await service.post_water_bill(uow, body))


@router.post(
    "/heating/supplement-runs",
    dependencies=[requires("utilities:write")],
    response_model=SupplementRunOut,
    tags=["heating 家庭供暖"],
    responses=problem_responses(422),
    summary="Settle the +20% supplement of every month through the period (a second run adds nothing)",
)
async def supplement_run(body: SupplementRunIn, request: Request, units: Units, uow: Uow) -> SupplementRunOut:
    """Settle the heating supplement (+20 % of the dibao paid, for households without central heating) for every
    month up to `period`, against its ledger: shortfalls paid, overpayments recorded and withheld. Running it
    again adds nothing. Scope `utilities:write`."""

    result = await service.run_supplements(
        units, uow, body.period, batch_size=request.app.state.settings.run_batch_size, dry_run=body.dry_run
    )
    if not body.dry_run:
        uow.audit("supplement_runs", body.period, after=result.model_dump(exclude={"left_out", "payees"}))
    return result


@router.post(
    "/heating/bills",
    dependencies=[requires("utilities:write")],
    response_model=HeatingBillOut,
    status_code=201,
    tags=["heating 家庭供暖"],
    responses={
        200: {"model": HeatingBillOut, "description": "the same bill again: the stored result"},
        **problem_responses(404, 409, 422),
    },
    summary="Reduce a centrally heated dibao household's bill for a season (30%)",
    description="201 with the reduction; the same bill again → 200 with the stored result; another fee for "
    "a season already billed → 409 `bill_already_posted`; 422 `not_central_heating`, "
    "`not_in_dibao`, `period_in_future` (a season not begun).",
)
async def post_heating_bill(body: HeatingBillIn, response: Response, uow: Uow) -> HeatingBillOut:
    bill, created = await service.post_heating_bill(uow, body)
    if not created:
        response.status_code = 200
    return service.heating_bill_out(bill)


@router.get(
    "/heating/supplements",
    dependencies=[requires("utilities:read")],
    response_model=list[SupplementOut],
    tags=["heating 家庭供暖"],
)
async def list_supplements(
    session: DbSession, household_id: str | None = Query(default=None, max_length=36)
) -> list[SupplementOut]:
    """The heating-supplement ledger, optionally of one household: what each line settled, withheld and transferred,
    and the allowance and rate it used. Scope `utilities:read`."""

    return [service.supplement_out(row) for row in await service.supplements(session, household_id)]


@router.get(
    "/reports",
    dependencies=[requires_any("utilities:read", "audit:read")],
    response_model=Report,
    tags=["reports 报表"],
)
async def report(period: ReportPeriod, session: DbSession) -> Report:
    """Per division for the period: water relief and discounts, heating reductions and supplements paid and
    recovered. Scope `utilities:read` or `audit:read`."""

    return await service.report(session, period)
