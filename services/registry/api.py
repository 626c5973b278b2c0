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
from shared.validators import HouseholdIdPath, ResidentIdPath, ResidentIdQuery

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
    """Enrol a household in dibao (纳入低保) from `enrolled_on` (default today in Harbin; a past day is settled by the
    next payment run). The allowance is the top-up to the standard (补差) for the household's size. Refused: 422
    `income_above_standard`, `invalid_resident_id`, `unknown_division`, `invalid_household_head`; 409
    `person_in_active_household` when a member is in another active household. Emits `HouseholdEnrolled`; every
    bureau grants from it. Scope `registry:write`."""

    return await service.enrol(uow, body)


@households.post(
    "/bulk",
    dependencies=[requires("registry:write")],
    response_model=BulkOut,
    responses=problem_responses(422),
    summary="Enrol up to 1,000 households; good rows land, bad rows say why",
)
async def enrol_households_bulk(body: BulkIn, uow: Uow) -> BulkOut:
    """Enrol up to 1,000 households in one call and one transaction: each row is validated and enrolled alone, so
    good rows land and each bad row comes back with its index and the problem `code` that a single enrolment would
    have given. Always 200 when the body is well formed; read `rejected` and each result's `error`. Scope
    `registry:write`."""

    results = await service.enrol_bulk(uow, body.households)
    rejected = sum(1 for result in results if result.error is not None)
    return BulkOut(enrolled=len(results) - rejected, rejected=rejected, results=results)


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
    """Households, newest first, optionally of one division and status, a page at a time (`page` from 1, `size` up to
    500), with `total`. Scope `registry:read`."""

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
async def get_household(household_id: HouseholdIdPath, session: DbSession) -> HouseholdOut:
    """A household as Civil Affairs knows it today: members (sex and birth date read from their resident IDs), the
    allowance in force and its schedule, an exit set ahead (`exit_on`), and `balance_owed` (overpaid dibao still
    to be withheld). Scope `registry:read`."""

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
async def change_household(household_id: HouseholdIdPath, body: HouseholdPatch, uow: Uow) -> HouseholdOut:
    """Report a change (address, heating, area, income, or the complete list of members) in force from `effective_on`
    (default today; a past day is settled by the next run). The allowance is recomputed; income at or above the
    standard ends dibao at the end of that month. Emits `HouseholdChanged`. Scope `registry:write`."""

    return await _household_out(uow.session, await service.change(uow, household_id, body))


@households.post(
    "/{household_id}/exit",
    dependencies=[requires("registry:write")],
    response_model=HouseholdOut,
    responses=problem_responses(404, 409, 422),
    summary="The household leaves dibao (退出低保)",
)
async def exit_household(household_id: HouseholdIdPath, body: ExitIn, uow: Uow) -> HouseholdOut:
    """The household leaves dibao (退出低保) on `on`. A day ahead keeps it `active` with `exit_on` until then; a set exit
    can be brought forward, not pushed back (409 `exit_already_set`). Emits `HouseholdExited`; every bureau stops
    its help on that day. Scope `registry:write`."""

    return await _household_out(uow.session, await service.exit_household(uow, household_id, body))


@households.get(
    "/{household_id}/payments",
    dependencies=[requires("registry:read")],
    response_model=list[PaymentOut],
    responses=problem_responses(404),
    summary="The household's payments ledger",
)
async def household_payments(household_id: HouseholdIdPath, session: DbSession) -> list[PaymentOut]:
    """The household's dibao ledger, month by month: payments (`dibao`, `extension`), arrears paid as lines of their
    own month, and `recovery` lines (negative) for what was paid over, with what each payment withheld and the run
    that wrote it. Scope `registry:read`."""

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
    """Find a person by resident ID sent in the body (so it stays out of URLs and proxies' logs): their household,
    relation, and whether the household is in dibao. 404 `person_not_found`. Scope `registry:read`."""

    return await service.find_person(session, body.resident_id)


@persons.get(
    "/{resident_id}",
    dependencies=[requires("registry:read")],
    response_model=PersonOut,
    responses=problem_responses(404),
    summary="A person's household and dibao status",
)
async def get_person(resident_id: ResidentIdPath, session: DbSession) -> PersonOut:
    """The same as POST /persons/search with the resident ID in the path; prefer the POST form, which keeps the ID
    out of logs. An ID that is not valid is simply not found (404). Scope `registry:read`."""

    return await service.find_person(session, resident_id)


@payments.post(
    "/payment-runs",
    dependencies=[requires("registry:write")],
    response_model=PaymentRunOut,
    responses=problem_responses(422),
    summary="Settle dibao through a month: arrears paid, overpayments recovered; a second run adds nothing",
)
async def payment_run(body: PaymentRunIn, request: Request, units: Units, uow: Uow) -> PaymentRunOut:
    """Settle dibao for every month up to `period`: what is due under the facts known now, minus the ledger, is paid
    (arrears as lines of their month) or recorded as owed (`recovery`), and owed money is withheld from later
    payments first. Running it again adds nothing; two runs at once cannot both pay. A month not begun in Harbin
    is 422 `period_in_future`. Emits `AssistancePaid` per line. Scope `registry:write`."""

    result = await service.run_payments(units, uow, body.period, batch_size=request.app.state.settings.run_batch_size)
    uow.audit("payment_runs", body.period, after=result.model_dump())
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
    """Per division for the period (YYYY-MM, YYYY-H1, YYYY-H2 or YYYY): households and persons in dibao, enrolments,
    exits, payments and the amount paid. Scope `registry:read`."""

    return await service.report(session, period)


ROUTERS = [households, persons, payments, reports]
