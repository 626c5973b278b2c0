"""The work cycle's routes: joint meetings, inspections, scores, commendations, partner organisations.

Scopes: ``office:work_cycle`` (the leading-group office records meetings, inspections and commendations and
follows up their tasks), ``office:partners`` (the partner organisations record their activities); reading
takes ``office:read`` or the writing scope (the scores and commendations also ``audit:read``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import HTMLResponse, Response

from services.office import assessment
from services.office.schemas import MeetingPackOut
from services.office.work_cycle import pack, page, scores, service
from services.office.work_cycle.partners import partner_activity_out
from services.office.work_cycle.rules import MeetingKind
from services.office.work_cycle.schemas import (
    CommendationIn,
    CommendationOut,
    DecisionOut,
    DecisionPatch,
    FindingOut,
    FindingPatch,
    InspectionIn,
    InspectionOut,
    MeetingDetailOut,
    MeetingFigures,
    MeetingIn,
    MeetingOut,
    PartnerActivityIn,
    PartnerActivityOut,
    ScoresOut,
)
from services.office.work_cycle.units import MemberUnit, PartnerOrganisation
from shared.api import OptionalReportPeriod, ReportPeriod, text_answers, wants_html
from shared.auth import requires_any
from shared.errors import problem_responses
from shared.periods import city_today, parse_period
from shared.unit_of_work import DbSession
from shared.validators import PERIOD_PATTERN, RowId

router = APIRouter()
TAG = "work cycle 联席会议·督导·考核"
WRITE = "office:work_cycle"
PARTNERS = "office:partners"
ItemNumber = Annotated[int, Path(ge=1, le=1000, description="its number, from 1", examples=[1])]
DivisionQuery = Annotated[str | None, Query(pattern=r"^[0-9]{6}$")]
READERS = ("office:read", WRITE)
# The answers that are also a page: JSON, or the page with format=html or a browser's Accept: text/html.
PageFormat = Annotated[Literal["json", "html"] | None, Query(description="html: the page")]
AcceptHeader = Annotated[str | None, Header()]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def _route(
    method: Literal["GET", "POST", "PATCH"],
    path: str,
    model: Any,
    *,
    scopes: tuple[str, ...],
    problems: tuple[int, ...],
    summary: str,
    created: bool = False,
    answers: dict[int | str, dict[str, Any]] | None = None,
) -> Callable[[Endpoint], Endpoint]:
    """A work-cycle route: guarded by any of ``scopes``, answering ``model`` (201 when ``created``) or a problem."""

    return router.api_route(
        path,
        methods=[method],
        dependencies=[requires_any(*scopes)],
        response_model=model,
        status_code=201 if created else 200,
        tags=[TAG],
        responses={**(answers or {}), **problem_responses(*problems)},
        summary=summary,
    )


# ---- joint meetings -----------------------------------------------------------------------------------


@_route(
    "POST",
    "/meetings",
    MeetingOut,
    scopes=(WRITE,),
    problems=(422,),
    created=True,
    summary="Record a joint meeting of the member units (联席会议): who was present, what was decided",
)
async def record_meeting(body: MeetingIn, session: DbSession) -> MeetingOut:
    """Record a joint meeting of the member units (联席会议): its day and kind (half-year, year-end or ad hoc), the units
    present, the period it reviewed, and its decisions, each a task for a unit due by a day. Scope
    `office:work_cycle`."""

    return service.meeting_out(*await service.record_meeting(session, body))


@_route(
    "GET",
    "/meetings",
    list[MeetingOut],
    scopes=READERS,
    problems=(422,),
    summary="Joint meetings, the latest first (by kind, the period they were held in, a unit tasked)",
)
async def list_meetings(
    session: DbSession,
    held_in: OptionalReportPeriod,
    kind: MeetingKind | None = None,
    unit: MemberUnit | None = Query(default=None, description="meetings that gave this unit a task"),
) -> list[MeetingOut]:
    """Joint meetings, the latest first, optionally by kind, by the period they were held in, or by a unit tasked.
    Scope `office:read` or `office:work_cycle`."""

    today = city_today()
    return [service.meeting_out(m, d, today) for m, d in await service.list_meetings(session, kind, held_in, unit)]


@_route(
    "GET",
    "/meetings/pack",
    MeetingPackOut,
    scopes=(*READERS, "audit:read"),
    problems=(422,),
    answers=text_answers("text/html"),
    summary="The joint meeting's pack for a period: assessment, scores, open findings (text/html: one page)",
)
async def meeting_pack(
    period: ReportPeriod,
    session: DbSession,
    format: PageFormat = None,
    accept: AcceptHeader = None,
) -> MeetingPackOut | Response:
    """What the joint meeting reviewing `period` reads (联席会议材料): the period's assessment, every member unit's
    and district's score with the figures behind it, and the inspections' findings still open, the overdue flagged.
    JSON, or one self-contained page (no script, no external asset: it opens offline) with `Accept: text/html` or
    `format=html`. Scope `office:read`, `audit:read` or `office:work_cycle`."""

    result = await pack.meeting_pack(session, period)
    if wants_html(accept, format):
        return HTMLResponse(page.render_pack(result))
    return result


@_route(
    "GET",
    "/meetings/{meeting_id}",
    MeetingDetailOut,
    scopes=READERS,
    problems=(404,),
    answers=text_answers("text/html"),
    summary="A joint meeting with its decisions beside the assessment and scores of its period (text/html: the page)",
)
async def get_meeting(
    meeting_id: RowId,
    session: DbSession,
    format: PageFormat = None,
    accept: AcceptHeader = None,
) -> MeetingDetailOut | Response:
    """A joint meeting with its decisions and their follow-up, beside the assessment and scores of the period it
    reviewed; the page with `Accept: text/html` or `format=html`. 404 `meeting_not_found`. Scope `office:read` or
    `office:work_cycle`."""

    meeting, decisions = await service.get_meeting(session, meeting_id)
    today = city_today()
    period = parse_period(meeting.period)
    result = await assessment.assess(session, period)
    scored = await scores.compute(session, period, today, result)
    detail = MeetingDetailOut(
        **service.meeting_out(meeting, decisions, today).model_dump(),
        figures=MeetingFigures(
            period=result.period,
            as_of=scored.as_of,
            households=result.households,
            persons=result.persons,
            dibao_paid=result.dibao_paid,
            unserved_households=len(result.unserved),
            findings_open=result.work_cycle.findings_open,
            findings_overdue=result.work_cycle.findings_overdue,
            units=scored.units,
        ),
    )
    if wants_html(accept, format):
        return HTMLResponse(page.render(detail))
    return detail


@_route(
    "PATCH",
    "/meetings/{meeting_id}/decisions/{n}",
    DecisionOut,
    scopes=(WRITE,),
    problems=(
        404,
        422,
    ),
    summary="Follow up a decision: done (with the day), reopened, a new due day, a note",
)
async def update_decision(meeting_id: RowId, n: ItemNumber, body: DecisionPatch, session: DbSession) -> DecisionOut:
    """Follow up a meeting's decision (numbered from 1): done with its day, reopened, a new due day, or a note. 404
    `decision_not_found`. Scope `office:work_cycle`."""

    return service.decision_out(await service.update_decision(session, meeting_id, n, body), city_today())


# ---- inspections ----------------------------------------------------------------------------------------


@_route(
    "POST",
    "/inspections",
    InspectionOut,
    scopes=(WRITE,),
    problems=(422,),
    created=True,
    summary="Record an inspection of a district (督导检查) with its findings, each assigned to a unit and due by a day",
)
async def record_inspection(body: InspectionIn, session: DbSession) -> InspectionOut:
    """Record an inspection of a district (督导检查): its day, the period, and its findings, each assigned to a unit and
    due by a day. Scope `office:work_cycle`."""

    return service.inspection_out(*await service.record_inspection(session, body))


@_route(
    "GET",
    "/inspections",
    list[InspectionOut],
    scopes=READERS,
    problems=(422,),
    summary="Inspections, the latest first (by district, period, a unit's findings, overdue findings)",
)
async def list_inspections(
    session: DbSession,
    held_in: OptionalReportPeriod,
    division_code: DivisionQuery = None,
    unit: MemberUnit | None = Query(default=None, description="inspections with a finding for this unit"),
    overdue: bool = Query(default=False, description="only inspections with a finding open past its due day"),
) -> list[InspectionOut]:
    """Inspections, the latest first, optionally by district, period, a unit's findings, or only those with overdue
    findings. Scope `office:read` or `office:work_cycle`."""

    today = city_today()
    found = await service.list_inspections(session, division_code, unit, overdue, held_in, today)
    return [service.inspection_out(i, f, today) for i, f in found]


@_route(
    "GET",
    "/inspections/{inspection_id}",
    InspectionOut,
    scopes=READERS,
    problems=(404,),
    summary="An inspection and its findings",
)
async def get_inspection(inspection_id: RowId, session: DbSession) -> InspectionOut:
    """An inspection with its findings and their follow-up. 404 `inspection_not_found`. Scope `office:read` or
    `office:work_cycle`."""

    return service.inspection_out(*await service.get_inspection(session, inspection_id))


@_route(
    "PATCH",
    "/inspections/{inspection_id}/findings/{n}",
    FindingOut,
    scopes=(WRITE,),
    problems=(
        404,
        422,
    ),
    summary="Follow up a finding: resolved (with the day and how), reopened, a new due day",
)
async def update_finding(inspection_id: RowId, n: ItemNumber, body: FindingPatch, session: DbSession) -> FindingOut:
    """Follow up an inspection's finding (numbered from 1): resolved with its day and how, reopened, or a new due
    day. 404 `finding_not_found`. Scope `office:work_cycle`."""

    return service.finding_out(await service.update_finding(session, inspection_id, n, body), city_today())


# ---- scores and commendations -------------------------------------------------------------------------


@_route(
    "GET",
    "/reports/scores",
    ScoresOut,
    scopes=(*READERS, "audit:read"),
    problems=(422,),
    summary="考核: every member unit and district scored on the published criteria, with the figures behind each",
)
async def unit_scores(period: ReportPeriod, session: DbSession) -> ScoresOut:
    """The assessment's scores (考核) for a period: every member unit and district scored on the published criteria,
    with the figures behind each score. Scope `office:read`, `audit:read` or `office:work_cycle`."""

    return await scores.compute(session, period)


@_route(
    "POST",
    "/commendations",
    CommendationOut,
    scopes=(WRITE,),
    problems=(
        409,
        422,
    ),
    created=True,
    summary="表彰: commend a unit or a district for a half-year or year, with the score it earned",
)
async def commend(body: CommendationIn, session: DbSession) -> CommendationOut:
    """Commend a unit or a district (表彰) for a half-year or a year that has ended, with the score it earned; a score
    below the threshold is refused, and one commendation per subject and period (409 `already_commended`). Scope
    `office:work_cycle`."""

    return service.commendation_out(await service.commend(session, body))


@_route(
    "GET",
    "/commendations",
    list[CommendationOut],
    scopes=(*READERS, "audit:read"),
    problems=(422,),
    summary="Commendations, for the city government: the latest period first, the best score first",
)
async def list_commendations(
    session: DbSession,
    period: str | None = Query(default=None, pattern=PERIOD_PATTERN, description="YYYY-H1, YYYY-H2 or YYYY"),
    unit: MemberUnit | None = None,
    division_code: DivisionQuery = None,
) -> list[CommendationOut]:
    """Commendations, for the city government: the latest period first, the best score first. Scope `office:read`,
    `audit:read` or `office:work_cycle`."""

    found = await service.list_commendations(session, period, unit, division_code)
    return [service.commendation_out(c) for c in found]


# ---- partner organisations --------------------------------------------------------------------------


@_route(
    "POST",
    "/partner-activities",
    PartnerActivityOut,
    scopes=(PARTNERS,),
    problems=(
        404,
        422,
    ),
    created=True,
    summary="A partner organisation's activity for a dibao household or member (工会, 共青团, 妇联, 残联)",
)
async def record_partner_activity(body: PartnerActivityIn, session: DbSession) -> PartnerActivityOut:
    """A partner organisation (trade union, youth league, women's federation, disabled persons' federation) records
    an activity for a dibao household or member; it shows in the one-stop view. 422 `not_in_dibao` when they were
    not in dibao that day. Scope `office:partners`."""

    return partner_activity_out(await service.record_partner_activity(session, body))


@_route(
    "GET",
    "/partner-activities",
    list[PartnerActivityOut],
    scopes=("office:read", PARTNERS),
    problems=(422,),
    summary="Partner organisations' activities, the latest first",
)
async def list_partner_activities(
    session: DbSession,
    held_in: OptionalReportPeriod,
    organisation: PartnerOrganisation | None = None,
    division_code: DivisionQuery = None,
    household_id: str | None = Query(default=None, max_length=36),
) -> list[PartnerActivityOut]:
    """Partner organisations' activities, the latest first, optionally by organisation, household or division. Scope
    `office:read` or `office:partners`."""

    found = await service.list_partner_activities(session, organisation, division_code, household_id, held_in)
    return [partner_activity_out(a) for a in found]
