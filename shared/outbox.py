"""The transactional outbox: events are rows written with the change; a relay publishes them.

No dual write: a service never talks to Kafka inside a request. :meth:`Outbox.stage` adds the event to
the unit of work, so it commits or rolls back with the business change. :class:`OutboxRelay` publishes
unsent rows in order, deletes the rows Kafka has acknowledged (the outbox holds only what is still to
send; the topics keep every event), and keeps retrying through a broker outage. A crash between
publishing and deleting re-sends, which idempotent consumers absorb (at-least-once delivery).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable

from sqlalchemy import (
    delete,
    func,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import one_of, table_of
from shared.events import IntegrationEvent, encode_event
from shared.kafka import ProducerHolder, ensure_laid_out
from shared.platform_models import OutboxMessage
from shared.tracing import HEADER as TRACE_HEADER
from shared.tracing import current_traceparent
from shared.unit_of_work import OutboxRow, UnitOfWork

log = logging.getLogger("shared.outbox")

# Any fixed number works: it only has to be the same for every replica of one service.
_RELAY_LOCK_KEY = 73_012_004


class Outbox:
    """Stages a service's events in the caller's transaction."""

    def __init__(self, producer: str) -> None:
        self.producer = producer

    def rows(self, events: Iterable[IntegrationEvent]) -> list[OutboxRow]:
        rows = []
        traceparent = current_traceparent()  # the request's or the consumed event's span, if any
        for integration_event in events:
            event_id = uuid.uuid4()
            rows.append(
                {
                    "event_id": event_id,
                    "topic": integration_event.TOPIC,
                    "key": integration_event.key,
                    "event_type": integration_event.TYPE,
                    "body": encode_event(integration_event, self.producer, event_id),
                    "traceparent": traceparent,
                }
            )
        return rows

    def amend(self, row: OutboxRow, event: IntegrationEvent) -> None:
        """Rewrite a row staged in this unit of work and not yet written (see ``UnitOfWork.staged_last``)
        with a fuller version of its event."""

        traceparent = row["traceparent"]
        row.update(self.rows([event])[0], traceparent=traceparent)

    async def stage(self, uow: UnitOfWork, *events: IntegrationEvent) -> None:
        await self.stage_many(uow, events)

    async def stage_many(self, uow: UnitOfWork, events: Iterable[IntegrationEvent]) -> int:
        """Add the events to the unit of work; they are written, in order, when it commits."""

        rows = self.rows(events)
        uow.stage_outbox(rows)
        return len(rows)


_outbox = table_of(OutboxMessage)


class OutboxRelay:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        producers: ProducerHolder,
        topic_prefix: str = "",
        batch_size: int = 500,
        poll_seconds: float = 0.5,
        linger_seconds: float = 0.0,
    ) -> None:
        self.sessions = sessions
        self.producers = producers
        self.topic_prefix = topic_prefix
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.linger_seconds = linger_seconds
        self._wake = asyncio.Event()
        self._topics_ready: set[str] = set()
        self._stopping = False
        self.last_error: str | None = None

    def notify(self) -> None:
        """Something was just committed to the outbox: publish now rather than at the next poll."""

        self._wake.set()

    async def run(self) -> None:
        backoff = self.poll_seconds
        while not self._stopping:
            # Cleared before reading the outbox, so a commit notified while this batch is published
            # is not missed; a batch shorter than the limit means the outbox is drained, and another
            # read now would find nothing (it used to double the relay's transactions under load).
            self._wake.clear()
            try:
                sent = await self.publish_pending()
                self.last_error = None
                backoff = self.poll_seconds
                if sent >= self.batch_size:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Broker down, database down: the rows stay unsent; try again, more slowly.
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("outbox relay: publishing failed, will retry", extra={"ctx_error": self.last_error})
                await self.producers.reset()
                backoff = min(backoff * 2, 5.0)
                self._wake.clear()  # commits during the failed attempt do not cut the backoff short
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            except TimeoutError:
                continue
            if self.linger_seconds:
                # Single requests commit one event each: read them a few at a time, not one relay
                # transaction and one Kafka round trip per request.
                await asyncio.sleep(self.linger_seconds)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch of unsent rows, oldest first; returns how many were sent."""

        async with self.sessions() as session:
            if session.bind.dialect.name == "postgresql":
                # One relay at a time per service keeps per-key order across replicas.
                locked = await session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _RELAY_LOCK_KEY})
                if not locked:
                    return 0
            # Plain rows and one array parameter: the relay handles every event a service emits, and
            # ORM objects or an IN list of a different length each time cost more than the publishing.
            rows = (
                await session.execute(
                    select(
                        _outbox.c.id,
                        _outbox.c.event_id,
                        _outbox.c.topic,
                        _outbox.c.key,
                        _outbox.c.event_type,
                        _outbox.c.body,
                        _outbox.c.traceparent,
                    )
                    .order_by(_outbox.c.id)
                    .limit(self.batch_size)
                )
            ).all()
            if not rows:
                return 0
            topics = {self.topic_prefix + row.topic for row in rows} - self._topics_ready
            if topics:
                # Created explicitly (partitions, retention), never by the broker's auto-create defaults.
                await ensure_laid_out(self.producers.kafka, topics, self.producers.layout)
                self._topics_ready |= topics
            producer = await self.producers.get()
            pending = []
            for row in rows:
                headers = [("event_id", str(row.event_id).encode()), ("type", row.event_type.encode())]
                if row.traceparent:
                    headers.append((TRACE_HEADER, row.traceparent.encode()))
                pending.append(
                    await producer.send(
                        self.topic_prefix + row.topic, value=row.body.encode(), key=row.key.encode(), headers=headers
                    )
                )
            await asyncio.gather(*pending)
            ids = [row.id for row in rows]
            published = one_of(session, _outbox.c.id, ids)
            # Deleted, not marked: marking wrote a second version of every row and its index entries, a
            # fifth of the fan-out's WAL; a deleted row is only flagged dead.
            await session.execute(delete(_outbox).where(published))
            await session.commit()
            return len(rows)


async def unpublished_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)
