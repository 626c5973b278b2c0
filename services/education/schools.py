"""Schools and their pupils: the Education Bureau registers a pupil to a school, and a school's token
(``school_id``, shared.agencies) reads and changes only the pupils registered to it.

A registration is kept by resident ID, not on the pupil's row of a household: a pupil whose household
changes stays at the school. It is entered through the API, so a replay of the caseload keeps it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.education.models import Pupil, PupilSchool
from shared.auth import Principal
from shared.db import upsert
from shared.errors import Forbidden, NotFound
from shared.unit_of_work import UnitOfWork


async def school_of(session: AsyncSession, resident_id: str) -> str | None:
    school: str | None = await session.scalar(
        select(PupilSchool.school_id).where(PupilSchool.resident_id == resident_id)
    )
    return school


async def require_own_pupil(principal: Principal, session: AsyncSession, resident_id: str, bureau_scope: str) -> None:
    """The bureau (``bureau_scope``) reaches every pupil; a school only those registered to it — 403
    ``not_your_pupil`` for any other resident ID, a pupil or not, so a school cannot probe who is in dibao."""

    if bureau_scope in principal.scopes:
        return
    if principal.school_id is None:
        raise Forbidden(
            "not_a_school", "without the bureau's scope, only a school's token (with school_id) reaches a pupil"
        )
    if await school_of(session, resident_id) != principal.school_id:
        raise Forbidden("not_your_pupil", f"this pupil is not registered to school {principal.school_id}")


async def register(uow: UnitOfWork, resident_id: str, school_id: str) -> None:
    """Register a pupil to a school (or move the pupil to another); the bureau's act, audited."""

    session = uow.session
    if await session.scalar(select(Pupil.id).where(Pupil.resident_id == resident_id).limit(1)) is None:
        raise NotFound("pupil_not_found", "no pupil of a dibao household with that resident ID")
    before = await school_of(session, resident_id)
    # One statement whatever runs beside it: two registrations at once leave one school, never an error.
    await upsert(
        session,
        PupilSchool,
        [{"resident_id": resident_id, "school_id": school_id, "registered_at": datetime.now(UTC)}],
        ["resident_id"],
        lambda excluded, _dialect: {"school_id": excluded.school_id, "registered_at": excluded.registered_at},
    )
    uow.audit("pupil_schools", resident_id, before={"school_id": before}, after={"school_id": school_id})
