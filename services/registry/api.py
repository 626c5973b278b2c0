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
from shared.validators import Day, HouseholdIdPath, RecordIdPath, ResidentIdPath, ResidentIdQuery

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
    summary="Report a change; the allowance is recomputed (a changed amount or an exit is notified in writing)",
)
async def change_household(household_id: HouseholdIdPath, body: HouseholdPatch, uow: Uow) -> HouseholdOut:
    """Report a change (address, heating, area, income, or the complete list of members) in force from `effective_on`
    (default today; a past day is settled by the next run). The allowance is recomputed; income at or above the
    standard ends dibao at the end of that month; a changed amount or an exit is notified in writing. Emits
    `HouseholdChanged`. Scope `registry:write`."""

    household, _ = await notices.change_with_notice(uow, household_id, body)
    return await _household_out(uow.session, household)


@households.post(
    "/{household_id}/exit",
    dependencies=[requires("registry:write")],
    response_model=HouseholdOut,
    responses=problem_responses(404, 409, 422),
    summary="The household leaves dibao (退出低保), notified in writing",
)
async def exit_household(household_id: HouseholdIdPath, body: ExitIn, uow: Uow) -> HouseholdOut:
    """The household leaves dibao (退出低保) on `on`, and is notified in writing. A day ahead keeps it `active` with
    `exit_on` until then; a set exit can be brought forward, not pushed back (409 `exit_already_set`). Emits
    `HouseholdExited`; every bureau stops its help on that day. Scope `registry:write`."""

    household, _ = await notices.exit_with_notice(uow, household_id, body)
    return await _household_out(uow.session, household)


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
    dependencies=[requires("registry:read"), reads_person()],
    responses=problem_responses(404, 422),
    summary="Find a person, with the resident ID in the body (keeps it out of URLs and their logs)",
)
async def search_person(body: ResidentIdQuery, session: DbSession) -> PersonOut:
    """Find a person by resident ID sent in the body (so it stays out of URLs and proxies' logs): their household,
    relation, and whether the household is in dibao. 404 `person_not_found`. Scope `registry:read`."""

    return await service.find_person(session, body.resident_id)


@persons.get(
    "/{resident_id}",
    dependencies=[requires("registry:read"), reads_person()],
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
    is 422 `period_in_future`; `dry_run: true` writes nothing and answers what a run would pay now. Emits `AssistancePaid` per line. Scope `registry:write`."""

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
    """Per division for the period (YYYY-MM, YYYY-H1, YYYY-H2 or YYYY): households and persons in dibao, enrolments,
    exits, payments and the amount paid. Scope `registry:read`."""

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
    """A household applies for dibao (低保申请): the household's facts as for enrolment and the day it applied. It is not
    in dibao yet: it goes through the home visit, the public notice and the decision, each within its time limit,
    and is enrolled from `applied_on` once approved. 409 when a member is in an active household. Scope
    `registry:write`."""

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
    """Applications, newest first, by status and division, a page at a time; `overdue=true` gives only those past the
    time limit of the step they wait for, the most overdue first. Scope `registry:read`."""

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
async def get_application(application_id: RecordIdPath, session: DbSession) -> ApplicationOut:
    """An application with each step and its day (submitted, visited, posted, objections, decided), what it waits for
    next and by when. 404 `application_not_found`. Scope `registry:read`."""

    return await _application_out(session, await applications.get(session, application_id))


@procedure.post(
    "/applications/{application_id}/investigation",
    dependencies=[requires("registry:write")],
    response_model=ApplicationOut,
    responses=problem_responses(404, 409, 422),
    summary="Record the home visit (入户调查) and the income and area it verified",
)
async def investigate_application(application_id: RecordIdPath, body: InvestigationIn, uow: Uow) -> ApplicationOut:
    """Record the street office's home visit (入户调查): the day, the income and floor area it verified, and its notes.
    The decision uses the verified facts. Scope `registry:write`."""

    return await _application_out(uow.session, await applications.investigate(uow, application_id, body))


@procedure.post(
    "/applications/{application_id}/notice",
    dependencies=[requires("registry:write")],
    response_model=ApplicationOut,
    responses=problem_responses(404, 409, 422),
    summary="Post the list publicly (张榜公示) from a day, for public_notice_days",
)
async def post_application_notice(application_id: RecordIdPath, body: NoticeIn, uow: Uow) -> ApplicationOut:
    """Post the applicant on the public list (张榜公示) from a day, for the days the parameter `public_notice_days` gives
    (7 by default); objections are received while it is posted. The body's field is `from`. Scope
    `registry:write`."""

    return await _application_out(uow.session, await applications.post_notice(uow, application_id, body))


@procedure.post(
    "/applications/{application_id}/objections",
    dependencies=[requires("registry:write")],
    response_model=ApplicationOut,
    status_code=201,
    responses=problem_responses(404, 409, 422),
    summary="Record an objection received while the list is posted (公示异议)",
)
async def record_objection(application_id: RecordIdPath, body: ObjectionIn, uow: Uow) -> ApplicationOut:
    """Record an objection to the posted list (公示异议), received while the list is up; it must be decided before the
    application can be approved. Scope `registry:write`."""

    return await _application_out(uow.session, await applications.record_objection(uow, application_id, body))


@procedure.patch(
    "/applications/{application_id}/objections/{number}",
    dependencies=[requires("registry:write")],
    response_model=ApplicationOut,
    responses=problem_responses(404, 409, 422),
    summary="Decide an objection: upheld or dismissed, with the reason",
)
async def decide_objection(
    application_id: RecordIdPath,
    body: ObjectionDecisionIn,
    uow: Uow,
    number: int = Path(ge=1, le=10_000, description="the objection's number, from 1", examples=[1]),
) -> ApplicationOut:
    """Decide an objection, numbered from 1 on its application: `upheld` (异议成立, the application cannot be approved)
    or `dismissed`, with the reason. Scope `registry:write`."""

    application = await applications.decide_objection(uow, application_id, number, body)
    return await _application_out(uow.session, application)


@procedure.post(
    "/applications/{application_id}/decision",
    dependencies=[requires("registry:write")],
    response_model=ApplicationOut,
    responses=problem_responses(404, 409, 422),
    summary="Approve (enrolled from the day of application) or refuse, in writing; approval only after the notice",
)
async def decide_application(application_id: RecordIdPath, body: DecisionIn, uow: Uow) -> ApplicationOut:
    """Approve or refuse the application (审批), with the reason written into the notice. Approval only after the
    notice has ended with no objection pending or upheld (409 otherwise); the household is enrolled from the day
    it applied and the next run pays the months since. Scope `registry:write`."""

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
    """Households due for their periodic review (定期复核) before a day (default: due by today), the longest due first,
    with how many are overdue, a page at a time. Scope `registry:read`."""

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
async def record_review(household_id: HouseholdIdPath, body: ReviewIn, uow: Uow) -> ReviewOut:
    """Record a periodic review of a household: what was found, and either the facts that changed (applied from
    `effective_on`, the allowance recomputed and the next run settling the difference) or an exit. Scope
    `registry:write`."""

    return await reviews.record(uow, household_id, body)


@households.get(
    "/{household_id}/reviews",
    dependencies=[requires("registry:read")],
    response_model=list[ReviewOut],
    responses=problem_responses(404),
    summary="The household's reviews",
)
async def household_reviews(household_id: HouseholdIdPath, session: DbSession) -> list[ReviewOut]:
    """The household's periodic reviews, with what each found and changed. Scope `registry:read`."""

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
    """A household contests a refusal (naming the application), its amount or its exit (naming the household) (申诉);
    it is to be decided by a deadline. 409 when there is nothing of the kind to contest. Scope `registry:write`."""

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
    """Appeals, newest first, by status and division, a page at a time; `overdue=true` gives those still lodged past
    the day they had to be decided by. Scope `registry:read`."""

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
async def get_appeal(appeal_id: RecordIdPath, session: DbSession) -> AppealOut:
    """An appeal with its subject, grounds, deadline and decision. 404 `appeal_not_found`. Scope `registry:read`."""

    return appeals.to_out(await appeals.get(session, appeal_id))


@procedure.patch(
    "/appeals/{appeal_id}",
    dependencies=[requires("registry:write")],
    response_model=AppealOut,
    responses=problem_responses(404, 409, 422),
    summary="Decide an appeal; an upheld one is applied (an amount settles through the ledger), in writing",
)
async def decide_appeal(appeal_id: RecordIdPath, body: AppealDecisionIn, uow: Uow) -> AppealOut:
    """Decide an appeal, in writing. Upheld: a refused application is approved and enrolled from its date; a
    corrected amount applies from `effective_on` and the next run settles it; an exit is undone. 409
    `appeal_decided` for one already decided. Scope `registry:write`."""

    return appeals.to_out(await appeals.decide(uow, appeal_id, body))


@households.get(
    "/{household_id}/notices",
    dependencies=[requires("registry:read")],
    response_model=list[NoticeOut],
    responses=problem_responses(404),
    summary="The written notices issued to a household (or to a refused application's household)",
)
async def household_notices(household_id: HouseholdIdPath, session: DbSession) -> list[NoticeOut]:
    """The written notices (书面通知) issued to a household, or to a refused application's household: approvals,
    refusals, changes of amount, exits, appeal decisions. Scope `registry:read`."""

    return [notices.to_out(notice) for notice in await notices.notices_of(session, household_id)]


@procedure.get(
    "/notices/{notice_id}",
    dependencies=[requires("registry:read")],
    response_class=Response,
    responses={
        200: {
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            "description": "the notice as PDF",
        },
        **problem_responses(404),
    },
    summary="A written notice as PDF, in Chinese, with the reasons and how to appeal",
)
async def get_notice(notice_id: RecordIdPath, session: DbSession) -> Response:
    """A written notice as the PDF the household receives, in Chinese, with the decision, its reasons and how to
    appeal. Scope `registry:read`."""

    notice = await notices.get_notice(session, notice_id)
    pdf = notices.render_pdf(notice.content, notice.addressee, notice.issued_on, notice.id)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="notice-{notice.id}.pdf"'},
    )


ROUTERS = [households, persons, payments, reports, procedure]
