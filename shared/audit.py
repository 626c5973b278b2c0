"""The audit trail: who (agency, subject) changed what (action, resource), when, with the values before
and after. Append-only — the database refuses UPDATE and DELETE on it — and readable only with the
``audit:read`` scope (the Audit and Supervision bureaus).

Changes made through the ORM in a request are recorded automatically at flush; bulk statements that
bypass the ORM (enrolment's batched inserts, payment runs) record themselves with :func:`record`.
Changes made by the event consumer are not audited here: each is traceable to its event in the inbox.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import JSON, Index, String, event, func, insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, mapped_column

from shared.db import DbSession, UtcDateTime
from shared.platform_models import (
    BigId,
    ConsumerPosition,
    InboxEvent,
    OutboxMessage,
    PlatformBase,
)

REQUEST = "request"  # session.info key: the request whose principal is making the change


class AuditEntry(PlatformBase):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    agency: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(200))
    resource_type: Mapped[str] = mapped_column(String(60))
    resource_id: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_audit_log_resource", "resource_type", "resource_id"), Index("ix_audit_log_at", "at"))


_NOT_AUDITED = (AuditEntry, OutboxMessage, InboxEvent, ConsumerPosition)


def _plain(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _who(session: Session) -> tuple[str, str, str] | None:
    request = session.info.get(REQUEST)
    if request is None:
        return None
    principal = getattr(request.state, "principal", None)
    route = request.scope.get("route")
    action = f"{request.method} {getattr(route, 'path', request.url.path)}"
    if principal is None:
        return ("anonymous", "anonymous", action)
    return (principal.agency, principal.subject, action)


def _columns(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    return {attr.key: _plain(getattr(obj, attr.key)) for attr in state.mapper.column_attrs}


def _entry(who: tuple[str, str, str], obj: Any, before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    state = inspect(obj)
    identity = state.identity or ()
    return {"at": datetime.now(UTC), "agency": who[0], "subject": who[1], "action": who[2],
            "resource_type": state.mapper.local_table.name, "resource_id": "/".join(str(i) for i in identity),
            "before": before, "after": after}


@event.listens_for(Session, "after_flush")
def _collect_changes(session: Session, _context: Any) -> None:
    """Gather each changed row's first "before" and last "after" across the request's flushes."""

    who = _who(session)
    if who is None:
        return
    pending: dict[tuple[str, str], dict[str, Any]] = session.info.setdefault("audit_pending", {})

    def merge(obj: Any, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
        entry = _entry(who, obj, before, after)
        key = (entry["resource_type"], entry["resource_id"])
        seen = pending.get(key)
        if seen is None:
            pending[key] = entry
            return
        if seen["before"] is not None and before:
            seen["before"] = {**before, **seen["before"]}
        seen["after"] = None if after is None else {**(seen["after"] or {}), **after}

    for obj in session.new:
        if not isinstance(obj, _NOT_AUDITED):
            merge(obj, None, _columns(obj))
    for obj in session.dirty:
        if isinstance(obj, _NOT_AUDITED) or not session.is_modified(obj, include_collections=False):
            continue
        before, after = {}, {}
        for attr in inspect(obj).mapper.column_attrs:
            history = inspect(obj).attrs[attr.key].history
            if history.has_changes():
                before[attr.key] = _plain(history.deleted[0]) if history.deleted else None
                after[attr.key] = _plain(history.added[0]) if history.added else None
        if after:
            merge(obj, before, after)
    for obj in session.deleted:
        if not isinstance(obj, _NOT_AUDITED):
            merge(obj, _columns(obj), None)


@event.listens_for(Session, "before_commit")
def _write_changes(session: Session) -> None:
    pending = session.info.pop("audit_pending", None)
    if pending:
        session.connection().execute(insert(AuditEntry.__table__), list(pending.values()))


@event.listens_for(Session, "after_rollback")
def _forget_changes(session: Session) -> None:
    session.info.pop("audit_pending", None)


async def record(session: AsyncSession, resource_type: str, resource_id: str, *, before: Any = None,
                 after: Any = None) -> None:
    """Audit a change made without the ORM (a bulk insert, a run)."""

    await record_many(session, resource_type, [(resource_id, before, after)])


async def record_many(session: AsyncSession, resource_type: str, changes: list[tuple[str, Any, Any]]) -> None:
    """Audit several changes of one kind, each (resource id, before, after), in one statement."""

    who = _who(session.sync_session)
    if who is None or not changes:
        return
    now = datetime.now(UTC)
    await session.execute(insert(AuditEntry.__table__), [
        {"at": now, "agency": who[0], "subject": who[1], "action": who[2], "resource_type": resource_type,
         "resource_id": resource_id, "before": _plain(before), "after": _plain(after)}
        for resource_id, before, after in changes])


# ---- reading it ------------------------------------------------------------------------------


class AuditEntryOut(BaseModel):
    id: str
    at: datetime
    agency: str
    subject: str
    action: str
    resource_type: str
    resource_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


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
        conditions = []
        if resource_type:
            conditions.append(AuditEntry.resource_type == resource_type)
        if resource_id:
            conditions.append(AuditEntry.resource_id == resource_id)
        if agency:
            conditions.append(AuditEntry.agency == agency)
        total = await session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions))
        rows = (await session.scalars(select(AuditEntry).where(*conditions).order_by(AuditEntry.id)
                                      .offset((page - 1) * size).limit(size))).all()
        return AuditPage(items=[AuditEntryOut(id=str(r.id), at=r.at, agency=r.agency, subject=r.subject,
                                              action=r.action, resource_type=r.resource_type,
                                              resource_id=r.resource_id, before=r.before, after=r.after)
                                for r in rows], total=int(total or 0), page=page, size=size)

    return router
