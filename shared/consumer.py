"""The idempotent consumer: at-least-once in, exactly-once effect, poison messages to a dead-letter topic.

For everything one fetch returns (a batch from each of one or more partitions), in **one database
transaction**: skip event ids already in the inbox, run each handler, record the handled ids in the
inbox and each partition's next offset in ``consumer_positions``; commit; only then commit the offsets
to Kafka (auto-commit is off). A batch that fails is retried partition by partition, then event by event.

* A consumer killed after its database commit resumes from the stored position: one effect.
* The same event delivered twice (a re-sent outbox row, an injected duplicate) is in the inbox: one effect.
* An empty database has no stored positions, so the consumer reads its topics from the beginning
  and rebuilds the same state (replay).
* A message that cannot be decoded, fails validation, has an unknown version, or whose handler keeps
  failing goes to ``<group>.<topic>.dlq`` with its origin in the headers; the consumer moves on.
* A database outage is not the event's fault: the batch is retried, without limit, until it is back.
* The database says where to resume, whatever the consumer's own position: a batch that starts past the
  stored position (past the partition's beginning where none is stored) is out of step — a replay on
  another replica deleted the positions, or the fetcher resumed from Kafka's committed offset rather than
  from the seek made on assignment (the two race in aiokafka) — so nothing of it is handled and the
  consumer seeks to the database's position. Records before the stored position were handled already
  (another replica's batch, a rebalance) and are skipped. On PostgreSQL every batch locks
  ``consumer_positions`` in ROW EXCLUSIVE mode and a replay's reset in EXCLUSIVE mode, so a batch commits
  wholly before a reset (which then deletes its effects) or reads the positions after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import insert_many, is_transient, one_of, rows_matched
from shared.events import (
    EventEnvelope,
    PoisonMessage,
    ReceivedEvent,
    decode_envelope,
    dlq_topic,
    parse_payload,
)
from shared.kafka import KafkaConnection, ProducerHolder, connection, ensure_laid_out
from shared.metrics import DEAD_LETTERED
from shared.platform_models import ConsumerPosition, InboxEvent
from shared.tracing import Headers, consuming, consuming_batch
from shared.unit_of_work import UnitOfWork, UnitsOfWork

log = logging.getLogger("shared.consumer")
_T = TypeVar("_T")


class BatchHandler:
    """A handler that takes a run of consecutive events of its type at once (a bulk upsert, say).

    Order is kept: the run ends at the first event of another type, which is handled after it.

    ``idempotent``: handling an event again changes nothing (an upsert or an insert-or-ignore by a business
    key), so the event needs no inbox row: a duplicate is absorbed by the effect itself. A duplicate is a
    re-sent run of the outbox, published again in its order, so the state it passes through is one it
    had already reached and the last event leaves it where it was.
    """

    def __init__(
        self, handle: Callable[[UnitOfWork, list[ReceivedEvent]], Awaitable[None]], *, idempotent: bool = False
    ) -> None:
        self.handle = handle
        self.idempotent = idempotent


Handler = Callable[[UnitOfWork, ReceivedEvent], Awaitable[None]] | BatchHandler
# Reads, in a few queries, the state a batch of events will need (by their keys) into the unit of work's caches.
Prefetch = Callable[[UnitOfWork, list[str]], Awaitable[None]]


class HandlerFailed(Exception):
    pass


@dataclass(slots=True)
class _Item:
    record: ConsumerRecord
    envelope: EventEnvelope | None = None
    payload: object | None = None
    poison: str | None = None

    @property
    def handled(self) -> EventEnvelope | None:
        """The envelope of an event this consumer handles (its payload parsed); None for any other."""

        return self.envelope if self.payload is not None else None


class EventConsumer:
    def __init__(
        self,
        *,
        service: str,
        units: UnitsOfWork,
        kafka: KafkaConnection | str,
        topics: list[str],
        handlers: Mapping[str, Handler],
        producers: ProducerHolder,
        topic_prefix: str = "",
        batch_size: int = 500,
        max_attempts: int = 3,
        prefetch: Prefetch | None = None,
    ) -> None:
        self.service = service
        # A batch's unit of work tells the outbox relay when it committed events (the units' on_commit).
        self.units = units
        self.kafka = connection(kafka)
        self.topics = topics
        self.handlers = dict(handlers)
        self.producers = producers
        self.topic_prefix = topic_prefix
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.prefetch = prefetch
        self.group_id = f"{topic_prefix}{service}"
        self._consumer: AIOKafkaConsumer | None = None
        self._stopping = False
        # The partitions found out of step in the last fetch, with where the database says to resume
        # (None: the beginning); each partition's first offset, once asked.
        self._out_of_step: dict[TopicPartition, int | None] = {}
        self._beginnings: dict[TopicPartition, int] = {}
        self._reseeks: dict[TopicPartition, tuple[int | None, int]] = {}  # (position, times sought to it)
        self.handled_total = 0
        self.dead_lettered_total = 0
        self.running = False

    def fresh(self) -> EventConsumer:
        """A new consumer with the same configuration (the old one cannot be restarted once stopped)."""

        return EventConsumer(
            service=self.service,
            units=self.units,
            kafka=self.kafka,
            topics=self.topics,
            handlers=self.handlers,
            producers=self.producers,
            topic_prefix=self.topic_prefix,
            batch_size=self.batch_size,
            max_attempts=self.max_attempts,
            prefetch=self.prefetch,
        )

    # ---- lifecycle ------------------------------------------------------------------------------

    def stop(self) -> None:
        self._stopping = True

    async def run(self) -> None:
        backoff = 0.5
        while not self._stopping:
            try:
                await self._start()
                backoff = 0.5
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer: %s, restarting", type(exc).__name__, extra={"ctx_error": str(exc)[:300]})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                await self._close()

    async def _start(self) -> None:
        physical = [self.topic_prefix + topic for topic in self.topics]
        await ensure_laid_out(
            self.kafka, [*physical, *(self._dlq(topic) for topic in self.topics)], self.producers.layout
        )
        consumer = AIOKafkaConsumer(
            **self.kafka.options(),
            group_id=self.group_id,
            client_id=f"{self.service}-consumer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.batch_size,
            isolation_level="read_committed",
        )
        await consumer.start()
        self._consumer = consumer
        consumer.subscribe(physical, listener=_SeekToStoredPositions(self, consumer))
        self.running = True

    async def _close(self) -> None:
        self.running = False
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                await asyncio.wait_for(consumer.stop(), timeout=10)
            except Exception:  # pragma: no cover - best effort
                log.debug("consumer stop failed", exc_info=True)

    async def _consume(self) -> None:
        assert self._consumer is not None
        while not self._stopping:
            fetched = await self._consumer.getmany(timeout_ms=500, max_records=self.batch_size)
            batches = {tp: records for tp, records in fetched.items() if records}
            if not batches or self._stopping:
                continue
            await self._process_fetched(batches)
            out_of_step, self._out_of_step = self._out_of_step, {}
            for tp, position in out_of_step.items():
                await self._seek(self._consumer, tp, position)
                log.warning(
                    "consumer out of step with the database (another replica or a replay moved it): sought",
                    extra={"ctx_topic": tp.topic, "ctx_partition": tp.partition, "ctx_offset": position},
                )
            committed = {tp: records[-1].offset + 1 for tp, records in batches.items() if tp not in out_of_step}
            try:
                if committed:
                    await self._consumer.commit(committed)
            except KafkaError as exc:
                # The database already holds the positions; Kafka's copy is only for lag monitoring.
                log.info("offset commit skipped: %s", type(exc).__name__)

    def _logical(self, physical_topic: str) -> str:
        return (
            physical_topic[len(self.topic_prefix) :] if physical_topic.startswith(self.topic_prefix) else physical_topic
        )

    async def end_offsets(self) -> dict[tuple[str, int], int]:
        """The end of each partition this consumer is assigned, by (logical topic, partition); empty when it
        is not running or holds no partition."""

        consumer = self._consumer
        if consumer is None or not consumer.assignment():
            return {}
        ends = await consumer.end_offsets(list(consumer.assignment()))
        return {(self._logical(tp.topic), tp.partition): int(offset) for tp, offset in ends.items()}

    def partitions_held(self) -> tuple[int, int] | None:
        """(partitions this consumer is assigned, partitions its topics have); None when it is not running."""

        consumer = self._consumer
        if consumer is None:
            return None
        total = sum(len(consumer.partitions_for_topic(self.topic_prefix + topic) or ()) for topic in self.topics)
        return len(consumer.assignment()), total

    def _dlq(self, logical_topic: str) -> str:
        return self.topic_prefix + dlq_topic(self.service, logical_topic)

    # ---- positions --------------------------------------------------------------------------------

    async def stored_positions(self) -> dict[tuple[str, int], int]:
        async with self.units.sessions() as session:
            return await _positions(session)

    async def _seek_to_stored_positions(self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> None:
        positions = await self._with_db_retries(self.stored_positions)
        for tp in assigned:
            await self._seek(consumer, tp, positions.get((self._logical(tp.topic), tp.partition)))

    @staticmethod
    async def _seek(consumer: AIOKafkaConsumer, tp: TopicPartition, position: int | None) -> None:
        if tp not in consumer.assignment():
            return  # given up in a rebalance: its new owner seeks for itself
        if position is None:
            await consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, position)

    async def _in_step(self, tp: TopicPartition, first: int, stored: dict[tuple[str, int], int]) -> bool:
        """Whether records from offset ``first`` on follow what the database has handled of ``tp``; if
        not, ``tp`` is marked to seek to the database's position, and nothing of it is handled."""

        position = stored.get((self._logical(tp.topic), tp.partition))
        if tp in self._out_of_step:
            return False
        if first <= (position if position is not None else await self._beginning(tp)):
            self._reseeks.pop(tp, None)
            return True
        # Sought there three times and the log still starts later: nothing is stored in between (a gap
        # our topics do not have, but a compacted or transactional one would), so go on from here.
        times = self._reseeks[tp][1] + 1 if tp in self._reseeks and self._reseeks[tp][0] == position else 1
        if times > 3:
            log.error("records missing between the stored position and the log", extra={"ctx_offset": position})
            self._reseeks.pop(tp, None)
            return True
        self._reseeks[tp] = (position, times)
        self._out_of_step[tp] = position
        return False

    async def _beginning(self, tp: TopicPartition) -> int:
        """The partition's first offset (0 while nothing was ever deleted: the topics keep every event)."""

        if tp not in self._beginnings and self._consumer is not None:
            self._beginnings.update(await self._consumer.beginning_offsets([tp]))
        return self._beginnings.get(tp, 0)

    @staticmethod
    async def _store_position(session: AsyncSession, topic: str, partition: int, next_offset: int) -> None:
        matched = await rows_matched(
            session,
            update(ConsumerPosition)
            .where(ConsumerPosition.topic == topic, ConsumerPosition.partition == partition)
            .values(next_offset=next_offset, updated_at=datetime.now(UTC)),
        )
        if matched == 0:
            await session.execute(
                insert(ConsumerPosition).values(topic=topic, partition=partition, next_offset=next_offset)
            )

    # ---- processing ---------------------------------------------------------------------------------

    def _decode(self, record: ConsumerRecord) -> _Item:
        item = _Item(record)
        try:
            item.envelope = decode_envelope(record.value)
            if item.envelope.type in self.handlers:
                item.payload = parse_payload(item.envelope)
        except PoisonMessage as exc:
            item.poison = str(exc)
        return item

    async def _stored_position(self, tp: TopicPartition) -> int:
        return (await self.stored_positions()).get((self._logical(tp.topic), tp.partition), 0)

    async def _process_fetched(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Everything one fetch returned, from every partition, in one transaction: under light load a
        fetch holds an event or two per partition, and a transaction each would cost more than the events."""

        decoded = {tp: [self._decode(record) for record in records] for tp, records in batches.items()}
        whole = not any(item.poison for items in decoded.values() for item in items)
        if whole:
            try:
                await self._with_db_retries(lambda: self._apply(list(decoded.items())))
                return
            except Exception as exc:
                log.warning("batch failed (%s); handling it partition by partition", type(exc).__name__)
        for tp, items in decoded.items():
            # A single partition that just failed as a whole goes straight to one event at a time.
            await self._process(tp, items, try_whole=not (whole and len(decoded) == 1))

    async def _process(self, tp: TopicPartition, items: list[_Item], try_whole: bool = True) -> None:
        if tp in self._out_of_step:
            return
        if try_whole and not any(item.poison for item in items):
            try:
                await self._with_db_retries(lambda: self._apply([(tp, items)]))
                return
            except Exception as exc:
                log.warning("batch failed (%s); handling its events one by one", type(exc).__name__)
        # A rebalance may have seeked back while the last batch was being handled: what the database
        # says is done (handled or dead-lettered) is not done again.
        done = await self._with_db_retries(lambda: self._stored_position(tp))
        for item in [item for item in items if item.record.offset >= done]:
            if tp in self._out_of_step:
                return
            if item.poison is None:
                try:
                    await self._apply_with_attempts(tp, item)
                    continue
                except HandlerFailed as exc:
                    item.poison = str(exc)
            await self._dead_letter(tp, item)

    async def _apply(self, groups: list[tuple[TopicPartition, list[_Item]]]) -> None:
        """Handle runs of events of one or more partitions in one transaction, with their positions."""

        async with self.units.begin(source="event", write_behind=True) as uow:
            session = uow.session
            await lock_positions(session, "ROW EXCLUSIVE")
            stored = await _positions(session)
            # Records below the stored position were already handled (a rebalance seeked back): skip them.
            pending = [
                (tp, self._logical(tp.topic), kept)
                for tp, items in groups
                if await self._in_step(tp, items[0].record.offset, stored)
                and (
                    kept := [
                        item
                        for item in items
                        if item.record.offset >= stored.get((self._logical(tp.topic), tp.partition), 0)
                    ]
                )
            ]
            if not pending:
                return
            every = [item for _, _, items in pending for item in items]
            handled = [envelope for item in every if (envelope := item.handled) is not None]
            ids = [envelope.event_id for envelope in handled if not self._idempotent(envelope)]
            seen = (
                set(await session.scalars(select(InboxEvent.event_id).where(one_of(session, InboxEvent.event_id, ids))))
                if ids
                else set()
            )
            if self.prefetch is not None and ids:
                # For the handlers that read state by key; an idempotent batch handler reads none.
                await self.prefetch(uow, list({e.key for e in handled if not self._idempotent(e)}))
            inbox_rows = []
            count = 0
            keys_handled: set[str] = set()
            run: list[ReceivedEvent] = []
            run_headers: list[Headers] = []
            run_handler: BatchHandler | None = None
            for tp, topic, item in ((tp, topic, item) for tp, topic, items in pending for item in items):
                envelope = item.handled
                if envelope is None or envelope.event_id in seen:
                    continue
                seen.add(envelope.event_id)
                count += 1
                event = ReceivedEvent(envelope, item.payload, topic, tp.partition, item.record.offset)
                handler = self.handlers[envelope.type]
                if run_handler is not None and handler is not run_handler:
                    await self._handle_run(run_handler, uow, run, run_headers)
                    run, run_handler, run_headers = [], None, []
                if isinstance(handler, BatchHandler):
                    run_handler = handler
                    run.append(event)
                    run_headers.append(item.record.headers)
                else:
                    if envelope.key in keys_handled:
                        # An earlier event of the batch touched the same household: its rows must be
                        # visible to this one's queries. Otherwise everything flushes once, at commit.
                        await uow.flush()
                    keys_handled.add(envelope.key)
                    with consuming(self.service, envelope.type, item.record.headers):
                        await handler(uow, event)
                if self._idempotent(envelope):
                    continue
                inbox_rows.append(
                    {
                        "event_id": envelope.event_id,
                        "event_type": envelope.type,
                        "topic": topic,
                        "partition": tp.partition,
                        "offset": item.record.offset,
                    }
                )
            if run_handler is not None:
                await self._handle_run(run_handler, uow, run, run_headers)
            if inbox_rows:
                await insert_many(session, InboxEvent, inbox_rows)
            for tp, topic, items in pending:
                await self._store_position(session, topic, tp.partition, items[-1].record.offset + 1)
            await uow.commit()
        self.handled_total += count

    def _idempotent(self, envelope: EventEnvelope) -> bool:
        handler = self.handlers[envelope.type]
        return isinstance(handler, BatchHandler) and handler.idempotent

    async def _handle_run(
        self, handler: BatchHandler, uow: UnitOfWork, run: list[ReceivedEvent], headers: list[Headers]
    ) -> None:
        with consuming_batch(self.service, run[0].envelope.type, headers):
            await handler.handle(uow, run)

    async def _apply_with_attempts(self, tp: TopicPartition, item: _Item) -> None:
        last: Exception | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                await self._with_db_retries(lambda: self._apply([(tp, [item])]))
                return
            except Exception as exc:
                last = exc
                log.warning(
                    "handler failed (attempt %d of %d): %s",
                    attempt,
                    self.max_attempts,
                    type(exc).__name__,
                    extra={"ctx_event_type": item.envelope.type if item.envelope else None},
                )
                await asyncio.sleep(min(0.2 * attempt, 1.0))
        raise HandlerFailed(f"handler failed {self.max_attempts} times: {type(last).__name__}: {str(last)[:500]}")

    async def _dead_letter(self, tp: TopicPartition, item: _Item) -> None:
        record, topic = item.record, self._logical(tp.topic)
        headers = [(k, v) for k, v in (record.headers or ()) if not k.startswith("dlq.")]
        headers += [
            ("dlq.origin_topic", topic.encode()),
            ("dlq.origin_partition", str(tp.partition).encode()),
            ("dlq.origin_offset", str(record.offset).encode()),
            ("dlq.consumer_group", self.service.encode()),
            ("dlq.error", (item.poison or "unknown")[:1000].encode()),
            ("dlq.failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        backoff = 0.5
        while True:
            try:
                producer = await self.producers.get()
                await producer.send_and_wait(self._dlq(topic), value=record.value, key=record.key, headers=headers)
                break
            except Exception as exc:
                if self._stopping:
                    raise
                log.warning("dead-letter publish failed (%s), retrying", type(exc).__name__)
                await self.producers.reset()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        DEAD_LETTERED.labels(self.service, topic).inc()
        log.error(
            "message dead-lettered",
            extra={
                "ctx_topic": topic,
                "ctx_partition": tp.partition,
                "ctx_offset": record.offset,
                "ctx_error": item.poison,
            },
        )
        self.dead_lettered_total += 1

        async def _advance() -> None:
            # Only the position moves on: the event id stays out of the inbox, so a fixed version
            # re-queued from the dead-letter topic (often with the same id) is handled.
            async with self.units.sessions() as session:
                await lock_positions(session, "ROW EXCLUSIVE")
                stored = await _positions(session)
                handled = stored.get((topic, tp.partition))
                if (handled is not None and record.offset < handled) or not await self._in_step(
                    tp, record.offset, stored
                ):
                    return  # already past it (another replica's batch), or out of step: seek first
                await self._store_position(session, topic, tp.partition, record.offset + 1)
                await session.commit()

        await self._with_db_retries(_advance)

    async def _with_db_retries(self, operation: Callable[[], Awaitable[_T]]) -> _T:
        backoff = 0.2
        while True:
            try:
                return await operation()
            except Exception as exc:
                if not is_transient(exc) or self._stopping:
                    raise
                log.warning("database unavailable (%s), retrying", type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)


async def lock_positions(session: AsyncSession, mode: str) -> None:
    """On PostgreSQL, lock ``consumer_positions`` in ``mode`` until the transaction ends: ROW EXCLUSIVE for
    a batch (batches of several replicas go on side by side), EXCLUSIVE for a replay's reset (it waits for
    the batches under way, and the next ones wait for it). SQLite has one writer at a time anyway."""

    if session.bind.dialect.name == "postgresql":
        await session.execute(text(f"LOCK TABLE {ConsumerPosition.__tablename__} IN {mode} MODE"))


async def _positions(session: AsyncSession) -> dict[tuple[str, int], int]:
    """Next offset to handle per (logical topic, partition), as committed with the effects."""

    rows = (
        await session.execute(select(ConsumerPosition.topic, ConsumerPosition.partition, ConsumerPosition.next_offset))
    ).all()
    return {(topic, partition): offset for topic, partition, offset in rows}


class _SeekToStoredPositions(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka ships no types: its base is Any
    def __init__(self, owner: EventConsumer, consumer: AIOKafkaConsumer) -> None:
        self.owner = owner
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # Nothing to flush: every batch is committed to the database before the next one is read.
        return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.owner._seek_to_stored_positions(self.consumer, assigned)
