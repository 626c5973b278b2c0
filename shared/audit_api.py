"""Reading the audit trail (shared.audit): ``GET /audit``, and who looked at a person (``POST /audit/reads``),
with the ``audit:read`` scope."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.audit import AuditEntry
from shared.read_audit import RESOURCE_TYPE, reads_person, resident_key
from shared.unit_of_work import DbSession
from shared.validators import ResidentIdIn


class AuditEntryOut(BaseModel):
    id: str
    at: datetime
    agency: str
    subject: str
    action: str
    resource_type: str
    resource_id: str
    # The state before and after, as the change recorded it: an object, or a list (a household's members).
    before: dict[str, Any] | list[Any] | None
    after: dict[str, Any] | list[Any] | None


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    total: int
    page: int
    size: int


class ReadsQuery(BaseModel):
    """Whose reads to list: the resident ID in the body, out of URLs and their logs."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"resident_id": "230102198001010110", "page": 1, "size": 100}]}
    )

    resident_id: ResidentIdIn
    page: int = Field(default=1, ge=1, le=100_000)
    size: int = Field(default=100, ge=1, le=1000)


async def _page(session: AsyncSession, conditions: list[ColumnElement[bool]], page: int, size: int) -> AuditPage:
    total = await session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions))
    rows = (
        await session.scalars(
            select(AuditEntry).where(*conditions).order_by(AuditEntry.id).offset((page - 1) * size).limit(size)
        )
    ).all()
    return AuditPage(
        items=[
            AuditEntryOut(
                id=str(r.id),
                at=r.at,
                agency=r.agency,
                subject=r.subject,
                action=r.action,
                resource_type=r.resource_type,
                resource_id=r.resource_id,
                before=r.before,
                after=r.after,
            )
            for r in rows
        ],
        total=int(total or 0),
        page=page,
        size=size,
    )


def audit_router(dependencies: list[Any]) -> APIRouter:
    router = APIRouter(tags=["audit trail 审计记录"], dependencies=dependencies)

    @router.get(
        "/audit",
        response_model=AuditPage,
        summary="Who changed what, when, before and after; who read whose data (read-only)",
    )
    async def read_audit(
        session: DbSession,
        resource_type: str | None = Query(default=None, max_length=60),
        resource_id: str | None = Query(default=None, max_length=200),
        agency: str | None = Query(default=None, max_length=100),
        page: int = Query(default=1, ge=1, le=100_000),
        size: int = Query(default=100, ge=1, le=1000),
    ) -> AuditPage:
        """The service's append-only audit trail, newest first: who (agency and subject) changed what (resource type
        and id), when, with the state before and after. Filter by resource or agency. Scope `audit:read`."""

        conditions = []
        if resource_type:
            conditions.append(AuditEntry.resource_type == resource_type)
        if resource_id:
            conditions.append(AuditEntry.resource_id == resource_id)
        if agency:
            conditions.append(AuditEntry.agency == agency)
        return await _page(session, conditions, page, size)

    @router.post(
        "/audit/reads",
        response_model=AuditPage,
        dependencies=[reads_person()],
        summary="Who looked at a person: every read of the person's data here (agency, subject, route, when)",
    )
    async def reads_of_person(body: ReadsQuery, request: Request, session: DbSession) -> AuditPage:
        """Every read of one person's data in this service, oldest first: which agency and subject, by which route,
        when; the resident ID goes in the body, and the trail keys it so that the ID itself is not stored. Scope
        `audit:read`."""

        key = resident_key(request.app.state.audit_key, body.resident_id)
        conditions = [AuditEntry.resource_type == RESOURCE_TYPE, AuditEntry.resource_id == key]
        return await _page(session, conditions, body.page, body.size)

    return router
