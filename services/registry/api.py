"""Registry (Civil Affairs, 民政局) HTTP API: households, persons, payments."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import appeals, applications, notices, reviews, service
from services.registry.models import Application, Household
from services.registry.schemas import (
    AppealDecisionIn,
    AppealIn,
    AppealOut,
    AppealPage,
    ApplicationIn,
    ApplicationOut,
    ApplicationPage,
    ApplicationStatus,
    BulkIn,
    BulkOut,
    DecisionIn,
    ExitIn,
    HouseholdIn,
    HouseholdOut,
    HouseholdPage,
    HouseholdPatch,
    InvestigationIn,
    NoticeIn,
    NoticeOut,
    ObjectionDecisionIn,
    ObjectionIn,
    PaymentOut,
    PaymentRunIn,
    PaymentRunOut,
    PersonOut,
    Report,
    ReviewDuePage,
    ReviewIn,
    ReviewOut,
)
from shared.api import Page, ReportPeriod, Size
from shared.auth import requires
from shared.errors import problem_responses
from shared.money import ZERO
from shared.periods import city_today
from shared.read_audit import reads_person
from shared.unit_of_work import DbSession, Units, Uow
from shared.validators import Day, ResidentIdQuery

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
    summary="Report a change; the allowance is recomputed (a changed amount or an exit is notified in writing)",
)
async def change_household(household_id: str, body: HouseholdPatch, uow: Uow) -> HouseholdOut:
    household, _ = await notices.change_with_notice(uow, household_id, body)
    return await _household_out(uow.session, household)


@households.post(
    "/{household_id}/exit",
    dependencies=[requires("registry:write")],
    response_model=HouseholdOut,
    responses=problem_responses(404, 409, 422),
    summary="The household leaves dibao (退出低保), notified in writing",
)
async def exit_household(household_id: str, body: ExitIn, uow: Uow) -> HouseholdOut:
    household, _ = await notices.exit_with_notice(uow, household_id, body)
    return await _household_out(uow.session, household)


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
    dependencies=[requires("registry:read"), reads_person()],
    responses=problem_responses(404, 422),
    summary="Find a person, with the resident ID in the body (keeps it out of URLs and their logs)",
)
async def search_person(body: ResidentIdQuery, session: DbSession) -> PersonOut:
    return await service.find_person(session, body.resident_id)


@persons.get(
    "/{resident_id}",
    dependencies=[requires("registry:read"), reads_person()],
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


# ---- the procedure: applications, reviews, appeals, written notices (docs/procedure.md) -----------------------

procedure = APIRouter(tags=["procedure 申请、复核、申诉、书面通知"])


async def _application_out(session: AsyncSession, application: Application) -> ApplicationOut:
    return applications.to_out(application, await applications.limits(session))


@procedure.post(
    "/applications",
    dependencies=[requires("registry:write")],
    response_model=ApplicationOut,
    status_code=201,
    responses=problem_responses(409, 422),
    summary="A household applies for dibao (低保申请); enrolled only once approved",
)
async def submit_application(body: ApplicationIn, uow: Uow) -> ApplicationOut:
    return await _application_out(uow.session, await applications.submit(uow, body))


@procedure.get(
    "/applications",
    dependencies=[requires("registry:read")],
    response_model=ApplicationPage,
    responses=problem_responses(422),
    summary="List applications; overdue=true: those past a step's time limit, the most overdue first",
)
async def list_applications(
    session: DbSession,
    status: ApplicationStatus | None = None,
    division_code: str | None = Query(default=None, pattern=r"^[0-9]{6}$"),
    overdue: bool = Query(default=False, description="only applications past the time limit of their awaited step"),
    page: Page = 1,
    size: Size = 50,
) -> ApplicationPage:
    book = await applications.limits(session)
    today = city_today()
    rows, total, late = await applications.listing(
        session,
        book,
        status=status,
        division_code=division_code,
        only_overdue=overdue,
        page=page,
        size=size,
        today=today,
    )
    return ApplicationPage(
        items=[applications.to_out(row, book, today) for row in rows], total=total, overdue=late, page=page, size=size
    )


@procedure.get(
    "/applications/{application_id}",
    dependencies=[requires("registry:read")],
    response_model=ApplicationOut,
    responses=problem_responses(404),
    summary="An application, each step with its date, and what it waits for",
)
async def get_application(application_id: str, session: DbSession) -> ApplicationOut:
    return await _application_out(session, await applications.get(session, application_id))


@procedure.post(
    "/applications/{application_id}/investigation",
    dependencies=[requires("registry:write")],
    response_model=ApplicationOut,
    responses=problem_responses(404, 409, 422),
    summary="Record the home visit (入户调查) and the income and area it verified",
)
async def investigate_application(application_id: str, body: InvestigationIn, uow: Uow) -> ApplicationOut:
    return await _application_out(uow.session, await applications.investigate(uow, application_id, body))


@procedure.post(
    "/applications/{application_id}/notice",
    dependencies=[requires("registry:write")],
    response_model=ApplicationOut,
    responses=problem_responses(404, 409, 422),
    summary="Post the list publicly (张榜公示) from a day, for public_notice_days",
)
async def post_application_notice(application_id: str, body: NoticeIn, uow: Uow) -> ApplicationOut:
    return await _application_out(uow.session, await applications.post_notice(uow, application_id, body))


@procedure.post(
    "/applications/{application_id}/objections",
    dependencies=[requires("registry:write")],
    response_model=ApplicationOut,
    status_code=201,
    responses=problem_responses(404, 409, 422),
    summary="Record an objection received while the list is posted (公示异议)",
)
async def record_objection(application_id: str, body: ObjectionIn, uow: Uow) -> ApplicationOut:
    return await _application_out(uow.session, await applications.record_objection(uow, application_id, body))


@procedure.patch(
    "/applications/{application_id}/objections/{number}",
    dependencies=[requires("registry:write")],
    response_model=ApplicationOut,
    responses=problem_responses(404, 409, 422),
    summary="Decide an objection: upheld or dismissed, with the reason",
)
async def decide_objection(
    application_id: str, body: ObjectionDecisionIn, uow: Uow, number: int = Path(ge=1, le=10_000)
) -> ApplicationOut:
    application = await applications.decide_objection(uow, application_id, number, body)
    return await _application_out(uow.session, application)


@procedure.post(
    "/applications/{application_id}/decision",
    dependencies=[requires("registry:write")],
    response_model=ApplicationOut,
    responses=problem_responses(404, 409, 422),
    summary="Approve (enrolled from the day of application) or refuse, in writing; approval only after the notice",
)
async def decide_application(application_id: str, body: DecisionIn, uow: Uow) -> ApplicationOut:
    return await _application_out(uow.session, await applications.decide(uow, application_id, body))


@procedure.get(
    "/reviews/due",
    dependencies=[requires("registry:read")],
    response_model=ReviewDuePage,
    responses=problem_responses(422),
    summary="Households due for their periodic review (定期复核) before a day, the longest due first",
)
async def reviews_due(
    session: DbSession,
    before: Day | None = Query(default=None, description="due before this day (default: due by today)"),
    division_code: str | None = Query(default=None, pattern=r"^[0-9]{6}$"),
    page: Page = 1,
    size: Size = 50,
) -> ReviewDuePage:
    today = city_today()
    items = await reviews.due(session, before or today + timedelta(days=1), division_code, today)
    return ReviewDuePage(
        items=items[(page - 1) * size : page * size],
        total=len(items),
        overdue=sum(item.overdue for item in items),
        page=page,
        size=size,
    )


@households.post(
    "/{household_id}/reviews",
    dependencies=[requires("registry:write")],
    response_model=ReviewOut,
    status_code=201,
    responses=problem_responses(404, 409, 422),
    summary="Record a periodic review; the facts it found apply from their day (the next run settles)",
)
async def record_review(household_id: str, body: ReviewIn, uow: Uow) -> ReviewOut:
    return await reviews.record(uow, household_id, body)


@households.get(
    "/{household_id}/reviews",
    dependencies=[requires("registry:read")],
    response_model=list[ReviewOut],
    responses=problem_responses(404),
    summary="The household's reviews",
)
async def household_reviews(household_id: str, session: DbSession) -> list[ReviewOut]:
    return [reviews.to_out(review) for review in await reviews.reviews_of(session, household_id)]


@procedure.post(
    "/appeals",
    dependencies=[requires("registry:write")],
    response_model=AppealOut,
    status_code=201,
    responses=problem_responses(404, 409, 422),
    summary="A household contests a refusal, its amount or its exit (申诉)",
)
async def lodge_appeal(body: AppealIn, uow: Uow) -> AppealOut:
    return appeals.to_out(await appeals.lodge(uow, body))


@procedure.get(
    "/appeals",
    dependencies=[requires("registry:read")],
    response_model=AppealPage,
    responses=problem_responses(422),
    summary="List appeals; overdue=true: lodged and past the day they had to be decided by",
)
async def list_appeals(
    session: DbSession,
    status: Literal["lodged", "upheld", "dismissed"] | None = None,
    division_code: str | None = Query(default=None, pattern=r"^[0-9]{6}$"),
    overdue: bool = False,
    page: Page = 1,
    size: Size = 50,
) -> AppealPage:
    rows, total = await appeals.listing(
        session, status=status, division_code=division_code, only_overdue=overdue, page=page, size=size
    )
    return AppealPage(items=[appeals.to_out(row) for row in rows], total=total, page=page, size=size)


@procedure.get(
    "/appeals/{appeal_id}",
    dependencies=[requires("registry:read")],
    response_model=AppealOut,
    responses=problem_responses(404),
)
async def get_appeal(appeal_id: str, session: DbSession) -> AppealOut:
    return appeals.to_out(await appeals.get(session, appeal_id))


@procedure.patch(
    "/appeals/{appeal_id}",
    dependencies=[requires("registry:write")],
    response_model=AppealOut,
    responses=problem_responses(404, 409, 422),
    summary="Decide an appeal; an upheld one is applied (an amount settles through the ledger), in writing",
)
async def decide_appeal(appeal_id: str, body: AppealDecisionIn, uow: Uow) -> AppealOut:
    return appeals.to_out(await appeals.decide(uow, appeal_id, body))


@households.get(
    "/{household_id}/notices",
    dependencies=[requires("registry:read")],
    response_model=list[NoticeOut],
    responses=problem_responses(404),
    summary="The written notices issued to a household (or to a refused application's household)",
)
async def household_notices(household_id: str, session: DbSession) -> list[NoticeOut]:
    return [notices.to_out(notice) for notice in await notices.notices_of(session, household_id)]


@procedure.get(
    "/notices/{notice_id}",
    dependencies=[requires("registry:read")],
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "the notice as PDF"}, **problem_responses(404)},
    summary="A written notice as PDF, in Chinese, with the reasons and how to appeal",
)
async def get_notice(notice_id: str, session: DbSession) -> Response:
    notice = await notices.get_notice(session, notice_id)
    pdf = notices.render_pdf(notice.content, notice.addressee, notice.issued_on, notice.id)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="notice-{notice.id}.pdf"'},
    )


ROUTERS = [households, persons, payments, reports, procedure]
