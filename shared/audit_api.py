"""Reading the audit trail (shared.audit): ``GET /audit``, with the ``audit:read`` scope."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import func, select

from shared.audit import AuditEntry
from shared.unit_of_work import DbSession


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


def audit_router(dependencies: list[Any]) -> APIRouter:
    router = APIRouter(tags=["audit trail 审计记录"], dependencies=dependencies)

    @router.get("/audit", response_model=AuditPage, summary="Who changed what, when, before and after (read-only)")
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

    return router
