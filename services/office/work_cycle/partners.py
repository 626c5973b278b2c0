"""The partner organisations' activities as the API shows them, for the work cycle's routes and the one-stop
view (kept apart from :mod:`.service`, which reads the office's caseload through services.office.service)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.office.work_cycle.models import PartnerActivity
from services.office.work_cycle.schemas import PartnerActivityOut
from services.office.work_cycle.units import unit_name


def partner_activity_out(activity: PartnerActivity) -> PartnerActivityOut:
    return PartnerActivityOut(
        id=str(activity.id),
        organisation=activity.organisation,  # type: ignore[arg-type]  # stored from PartnerOrganisation
        organisation_name=unit_name(activity.organisation),
        kind=activity.kind,  # type: ignore[arg-type]  # stored from ActivityKind
        date=activity.held_on,
        household_id=activity.household_id,
        resident_id=activity.resident_id,
        division_code=activity.division_code,
        description=activity.description,
    )


async def activities_of_household(session: AsyncSession, household_id: str) -> list[PartnerActivityOut]:
    """Everything the partner organisations did for this household or its members, oldest first."""

    found = await session.scalars(
        select(PartnerActivity)
        .where(PartnerActivity.household_id == household_id)
        .order_by(PartnerActivity.held_on, PartnerActivity.id)
    )
    return [partner_activity_out(activity) for activity in found]
