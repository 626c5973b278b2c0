"""Tables every service database has: the outbox, the inbox, consumer positions, policy parameters.

They live on their own metadata (``PlatformBase``) and every service's first migration creates them
with :func:`shared.migrations.create_platform_tables`, so the definition exists once.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UtcDateTime, new_metadata


class PlatformBase(DeclarativeBase):
    metadata = new_metadata()


# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class OutboxMessage(PlatformBase):
    """An event written in the same transaction as the change it announces (transactional outbox),
    deleted once Kafka has it: every row here is still to be sent."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    topic: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(100))
    event_type: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    # The W3C trace context of the change that wrote it, sent on as a Kafka header (shared.tracing).
    traceparent: Mapped[str | None] = mapped_column(String(55))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())


class InboxEvent(PlatformBase):
    """An event this service has already handled; written in the handler's own transaction."""

    __tablename__ = "inbox_events"

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100))
    topic: Mapped[str] = mapped_column(String(200))
    partition: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())


class ConsumerPosition(PlatformBase):
    """The next offset to read per topic partition, committed with the effects of the events before it.

    The database, not Kafka, is the source of truth for where to resume: a consumer killed after its
    database commit resumes exactly after what it handled, and an empty database replays from the start.
    """

    __tablename__ = "consumer_positions"

    topic: Mapped[str] = mapped_column(String(200), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_offset: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now(), onupdate=func.now())


class PolicyParameter(PlatformBase):
    """An effective-dated policy value: from ``effective_from`` on, in ``scope`` (a division or ``*``)."""

    __tablename__ = "policy_parameters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(20), default="*")
    value: Mapped[str] = mapped_column(String(200))
    effective_from: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())
    recorded_by: Mapped[str] = mapped_column(String(100), default="seed")
    note: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (UniqueConstraint("name", "scope", "effective_from"),)
