"""The audit trail: who (agency, subject) changed what (action, resource), when, with the values before
and after. Append-only — the database refuses UPDATE and DELETE on it — and readable only with the
``audit:read`` scope (the Audit and Supervision bureaus).

Every change a request's unit of work (shared.unit_of_work) flushes through the ORM is recorded when it
commits, after its last flush; bulk statements that bypass the ORM (enrolment's batched inserts, payment
runs) record themselves with ``UnitOfWork.audit``. Changes made by the event consumer are not audited
here: each is traceable to its event in the inbox. The trail is read through shared.audit_api.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Index, String, inspect
from sqlalchemy.orm import Mapped, Session, mapped_column

from shared.db import UtcDateTime
from shared.platform_models import (
    BigId,
    ConsumerPosition,
    InboxEvent,
    OutboxMessage,
    PlatformBase,
)


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


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes the changes of a unit of work, as the audit trail records them."""

    agency: str
    subject: str
    action: str  # "POST /households"


@dataclass(slots=True)
class Change:
    """One change to audit: a row the ORM flushed (``merged`` with the same row's other changes in the
    transaction: its first "before", its last "after"), or one recorded by hand (a row of its own)."""

    at: datetime
    resource_type: str
    resource_id: str
    before: Any
    after: Any
    merged: bool

    @classmethod
    def record(cls, resource_type: str, resource_id: str, before: Any, after: Any) -> Change:
        return cls(datetime.now(UTC), resource_type, resource_id, _plain(before), _plain(after), merged=False)


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


def _columns(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    return {attr.key: _plain(getattr(obj, attr.key)) for attr in state.mapper.column_attrs}


def _flushed(obj: Any, before: dict[str, Any] | None, after: dict[str, Any] | None) -> Change:
    mapper = inspect(obj).mapper
    # From the columns: a new row has its key once inserted, but its identity only after the flush ends.
    key = mapper.primary_key_from_instance(obj)
    return Change(datetime.now(UTC), mapper.local_table.name, "/".join(str(i) for i in key), before, after, merged=True)


def changes_in_flush(session: Session) -> list[Change]:
    """The rows a flush just wrote, with their values before and after (called after the flush)."""

    changes = []
    for obj in session.new:
        if not isinstance(obj, _NOT_AUDITED):
            changes.append(_flushed(obj, None, _columns(obj)))
    for obj in session.dirty:
        if isinstance(obj, _NOT_AUDITED) or not session.is_modified(obj, include_collections=False):
            continue
        before, after = {}, {}
        state = inspect(obj)
        for attr in state.mapper.column_attrs:
            history = state.attrs[attr.key].history
            if history.has_changes():
                before[attr.key] = _plain(history.deleted[0]) if history.deleted else None
                after[attr.key] = _plain(history.added[0]) if history.added else None
        if after:
            changes.append(_flushed(obj, before, after))
    for obj in session.deleted:
        if not isinstance(obj, _NOT_AUDITED):
            changes.append(_flushed(obj, _columns(obj), None))
    return changes


def audit_rows(actor: Actor, changes: list[Change]) -> list[dict[str, Any]]:
    """The audit rows for a transaction's changes, in the order they were first made: a row the ORM
    flushed several times is one entry, with its first "before" and its last "after"."""

    entries: list[dict[str, Any]] = []
    by_resource: dict[tuple[str, str], dict[str, Any]] = {}
    for change in changes:
        key = (change.resource_type, change.resource_id)
        seen = by_resource.get(key) if change.merged else None
        if seen is None:
            entry = {
                "at": change.at,
                "agency": actor.agency,
                "subject": actor.subject,
                "action": actor.action,
                "resource_type": change.resource_type,
                "resource_id": change.resource_id,
                "before": change.before,
                "after": change.after,
            }
            entries.append(entry)
            if change.merged:
                by_resource[key] = entry
            continue
        if seen["before"] is not None and change.before:
            seen["before"] = {**change.before, **seen["before"]}
        seen["after"] = None if change.after is None else {**(seen["after"] or {}), **change.after}
    return entries
