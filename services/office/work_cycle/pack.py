"""The joint meeting's pack (联席会议材料, 四、(一)): for the meeting that reviews a period, the period's assessment,
every member unit's and district's score, and the inspections' findings still open — one answer, one page."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.office import assessment
from services.office.schemas import MeetingPackOut
from services.office.work_cycle import rules, scores
from services.office.work_cycle.figures import open_findings
from services.office.work_cycle.schemas import OpenFinding
from services.office.work_cycle.units import unit_name
from shared.divisions import division_name
from shared.periods import Period, city_today


async def meeting_pack(session: AsyncSession, period: Period, today: date | None = None) -> MeetingPackOut:
    today = today or city_today()
    result = await assessment.assess(session, period)
    scored = await scores.compute(session, period, today, result)
    findings = [
        OpenFinding(
            inspection_id=str(finding.inspection_id),
            inspected_on=inspected_on,
            n=finding.n,
            division_code=finding.division_code,
            division_name=division_name(finding.division_code),
            unit=finding.unit,  # type: ignore[arg-type]  # stored from MemberUnit
            unit_name=unit_name(finding.unit),
            description=finding.description,
            due_on=finding.due_on,
            overdue=rules.overdue(finding.status, finding.due_on, today),
            days_overdue=max(0, (today - finding.due_on).days),
        )
        for finding, inspected_on in await open_findings(session)
    ]
    findings.sort(key=lambda f: (-f.days_overdue, f.due_on, f.division_code))
    return MeetingPackOut(
        period=period.label, prepared_on=today, assessment=result, scores=scored, open_findings=findings
    )
