"""The platform's delivery guarantees on the real broker and PostgreSQL.

Each test gets its own database and its own topic prefix, so tests never see each other's events.
The consumer under test has one handler whose effect is a plain INSERT (not idempotent by itself):
any duplicate delivery that got through would show as a second row.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from shared.consumer import BatchHandler, EventConsumer
from shared.db import create_engine, insert_ignore, session_factory, table_of
from shared.events import (
    HOUSEHOLDS_TOPIC,
    HouseholdExited,
    ReceivedEvent,
    encode,
    envelope_for,
)
from shared.kafka import ProducerHolder, ensure_topics
from shared.outbox import Outbox, OutboxRelay, unpublished_count
from shared.platform_models import (
    ConsumerPosition,
    InboxEvent,
    OutboxMessage,
    PlatformBase,
)
from shared.unit_of_work import UnitOfWork, UnitsOfWork
from tests.support import (
    KAFKA,
    create_database,
    drop_database,
    eventually,
    new_prefix,
    read_topic,
)

pytestmark = pytest.mark.integration

effects_metadata = MetaData()
effects = Table(
    "effects",
    effects_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36)),
    Column("household_id", String(36)),
)
# What an idempotent handler writes: one row per event id, a second time ignored (as the office's upserts).
keyed_effects = Table("keyed_effects", effects_metadata, Column("event_id", String(36), primary_key=True))


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (no offset commit, no clean shutdown)."""


@contextlib.asynccontextmanager
async def platform_database() -> AsyncIterator:
    url = await create_database("platform")
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(PlatformBase.metadata.create_all)
        await connection.run_sync(effects_metadata.create_all)
    try:
        yield engine, session_factory(engine)
    finally:
        await engine.dispose()
        await drop_database(url)


async def record_effect(uow: UnitOfWork, event: ReceivedEvent) -> None:
    await uow.session.execute(
        insert(effects).values(event_id=str(event.event_id), household_id=event.payload.household_id)
    )


async def count(sessions, table_or_model) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table_or_model)))


def exited(household_id: str | None = None) -> HouseholdExited:
    return HouseholdExited(
        household_id=household_id or str(uuid.uuid4()),
        division_code="230102",
        exited_on=date(2026, 5, 1),
        reason="收入超标",
    )


def make_consumer(sessions, prefix: str, handler=record_effect, bootstrap: str = KAFKA, **kwargs) -> EventConsumer:
    return EventConsumer(
        service="probe",
        units=UnitsOfWork(sessions),
        kafka=bootstrap,
        topics=[HOUSEHOLDS_TOPIC],
        handlers={"HouseholdExited": handler},
        producers=ProducerHolder(bootstrap, "probe-dlq"),
        topic_prefix=prefix,
        **kwargs,
    )


async def produce(prefix: str, values: list[bytes], key: bytes = b"k", headers=None) -> None:
    await ensure_topics(KAFKA, [prefix + HOUSEHOLDS_TOPIC])
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(prefix + HOUSEHOLDS_TOPIC, value=value, key=key, headers=headers or [])
    finally:
        await producer.stop()


async def position_total(sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.coalesce(func.sum(ConsumerPosition.next_offset), 0))))


@contextlib.asynccontextmanager
async def consuming(consumer: EventConsumer) -> AsyncIterator[asyncio.Task]:
    task = asyncio.create_task(consumer.run())
    try:
        yield task
    finally:
        consumer.stop()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, 20)
        await consumer.producers.stop()


# ---- the outbox ---------------------------------------------------------------------------------


@pytest.fixture()
def private_broker(tmp_path: Path):
    """A broker of our own on another port, which this test may stop and start at will."""

    port = 19092 + (os.getpid() % 200) * 2
    env = {**os.environ, "KAFKA_PORT": str(port), "KAFKA_RUN_DIR": str(tmp_path / "kafka")}
    script = Path(__file__).resolve().parents[2] / "scripts" / "kafka.sh"

    def control(action: str) -> None:
        subprocess.run([str(script), action], env=env, check=True, capture_output=True, timeout=180)

    yield f"127.0.0.1:{port}", control
    subprocess.run([str(script), "stop"], env=env, capture_output=True, timeout=120)


async def test_outbox_event_written_while_broker_down_is_published_after_it_returns(kafka, postgres, private_broker):
    bootstrap, control = private_broker
    prefix = new_prefix()
    async with platform_database() as (_, sessions):
        event = exited()
        async with UnitsOfWork(sessions).begin() as uow:
            await Outbox("probe").stage(uow, event)
            await uow.commit()

        relay = OutboxRelay(sessions, ProducerHolder(bootstrap, "probe"), prefix, poll_seconds=0.2)
        task = asyncio.create_task(relay.run())
        try:
            # The broker is not running: the relay fails, keeps the row, and keeps trying.
            await eventually(lambda: asyncio.sleep(0, relay.last_error), timeout=30)
            async with sessions() as session:
                assert await unpublished_count(session) == 1

            control("start")
            await eventually(lambda: _unpublished_is_zero(sessions), timeout=60)
        finally:
            relay.stop()
            await asyncio.wait_for(task, 20)

        consumer = await _consume_all(bootstrap, prefix + HOUSEHOLDS_TOPIC, expected=1)
        assert [record.key.decode() for record in consumer] == [event.household_id]
        assert dict(consumer[0].headers)["type"] == b"HouseholdExited"


async def test_relay_sends_each_outbox_row_once_and_removes_it(kafka, postgres):
    prefix = new_prefix()
    async with platform_database() as (_, sessions):
        events = [exited() for _ in range(5)]
        async with UnitsOfWork(sessions).begin() as uow:
            for event in events:
                await Outbox("probe").stage(uow, event)
            await uow.commit()

        relay = OutboxRelay(sessions, ProducerHolder(KAFKA, "probe"), prefix)
        try:
            assert await relay.publish_pending() == 5
            # What Kafka has is no longer in the outbox, so a second pass finds nothing to send.
            assert await relay.publish_pending() == 0
        finally:
            await relay.producers.stop()
        assert await count(sessions, OutboxMessage) == 0

    records = await read_topic(prefix + HOUSEHOLDS_TOPIC, until=lambda got: len(got) >= 5)
    assert sorted(record.key.decode() for record in records) == sorted(event.household_id for event in events)


async def test_commits_made_while_the_relay_lingers_are_published_together_after_it(kafka, postgres):
    prefix = new_prefix()
    async with platform_database() as (_, sessions):
        relay = OutboxRelay(sessions, ProducerHolder(KAFKA, "probe"), prefix, poll_seconds=30, linger_seconds=0.6)
        units = UnitsOfWork(sessions, on_commit=relay.notify)
        running = asyncio.create_task(relay.run())
        try:
            await eventually(lambda: _unpublished_is_zero(sessions))  # the relay's first pass, on an empty outbox
            await asyncio.sleep(0.2)  # the relay is waiting to be woken
            events = [exited() for _ in range(5)]
            async with units.begin() as uow:
                await Outbox("probe").stage(uow, events[0])
                await uow.commit()  # wakes the relay, which lingers
            await asyncio.sleep(0.1)
            assert await count(sessions, OutboxMessage) == 1, "published before the linger was over"
            for event in events[1:]:
                async with units.begin() as uow:
                    await Outbox("probe").stage(uow, event)
                    await uow.commit()
            await asyncio.sleep(0.1)
            assert await count(sessions, OutboxMessage) == 5
            await eventually(lambda: _unpublished_is_zero(sessions))
        finally:
            relay.stop()
            await running
            await relay.producers.stop()
    records = await read_topic(prefix + HOUSEHOLDS_TOPIC, until=lambda got: len(got) >= 5)
    assert sorted(record.key.decode() for record in records) == sorted(event.household_id for event in events)


async def _unpublished_is_zero(sessions) -> bool:
    async with sessions() as session:
        return await unpublished_count(session) == 0


async def _consume_all(bootstrap: str, topic: str, expected: int) -> list:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    records: list = []
    try:
        async with asyncio.timeout(30):
            while len(records) < expected:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def test_outbox_rows_rolled_back_with_the_business_change_are_never_published(kafka, postgres):
    async with platform_database() as (_, sessions):
        async with UnitsOfWork(sessions).begin() as uow:
            await Outbox("probe").stage(uow, exited())
            await uow.rollback()
            await uow.commit()  # the unit of work goes on after the rollback: nothing staged before it remains
        assert await count(sessions, OutboxMessage) == 0


# ---- the idempotent consumer ------------------------------------------------------------------


async def test_same_event_delivered_twice_has_one_effect(kafka, postgres):
    prefix = new_prefix()
    body = encode(envelope_for(exited(), "registry"))
    await produce(prefix, [body, body, encode(envelope_for(exited(), "registry"))])
    async with platform_database() as (_, sessions):
        consumer = make_consumer(sessions, prefix)
        async with consuming(consumer):
            await eventually(lambda: _position_reaches(sessions, 3))
        assert await count(sessions, effects) == 2
        assert await count(sessions, InboxEvent) == 2
        # The duplicate was absorbed as already handled, not rejected as a failure.
        assert consumer.dead_lettered_total == 0


async def record_keyed_effects(uow: UnitOfWork, events: list[ReceivedEvent]) -> None:
    await insert_ignore(uow.session, keyed_effects, [{"event_id": str(e.event_id)} for e in events], ["event_id"])


async def test_idempotent_handler_absorbs_a_duplicate_itself_and_writes_no_inbox_row(kafka, postgres):
    prefix = new_prefix()
    body = encode(envelope_for(exited(), "registry"))
    await produce(prefix, [body, encode(envelope_for(exited(), "registry")), body])
    async with platform_database() as (_, sessions):
        consumer = make_consumer(sessions, prefix, handler=BatchHandler(record_keyed_effects, idempotent=True))
        async with consuming(consumer):
            await eventually(lambda: _position_reaches(sessions, 3))
        assert await count(sessions, keyed_effects) == 2
        assert await count(sessions, InboxEvent) == 0
        assert consumer.dead_lettered_total == 0


async def _position_reaches(sessions, total: int) -> bool:
    return await position_total(sessions) >= total


async def test_consumer_killed_after_db_commit_before_offset_commit_has_one_effect(kafka, postgres):
    prefix = new_prefix()
    await produce(prefix, [encode(envelope_for(exited(), "registry"))])
    async with platform_database() as (_, sessions):
        first = make_consumer(sessions, prefix)
        original = first._process_fetched

        async def process_then_die(batches):
            await original(batches)  # the database commit happens in here
            raise Killed()  # ...and the process dies before the offset commit

        first._process_fetched = process_then_die  # type: ignore[method-assign]  # the fault: dies after the commit
        with pytest.raises(Killed):
            await asyncio.wait_for(first.run(), 60)
        assert await count(sessions, effects) == 1

        admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
        await admin.start()
        try:
            committed = await admin.list_consumer_group_offsets(first.group_id)
        finally:
            await admin.close()
        assert all(meta.offset <= 0 for meta in committed.values()), "Kafka must not have the offset yet"

        # The restarted consumer resumes from the position stored with the effect.
        async with consuming(make_consumer(sessions, prefix)) as task:
            await asyncio.sleep(3)
            assert not task.done()
        assert await count(sessions, effects) == 1

        # Even with the stored position gone, the redelivered event is in the inbox: still one effect.
        async with sessions() as session:
            await session.execute(table_of(ConsumerPosition).delete())
            await session.commit()
        again = make_consumer(sessions, prefix)
        async with consuming(again):
            await eventually(lambda: _position_reaches(sessions, 1))
        assert await count(sessions, effects) == 1
        assert again.dead_lettered_total == 0


async def test_poison_messages_go_to_the_dlq_with_their_origin_and_the_consumer_goes_on(kafka, postgres):
    prefix = new_prefix()
    unknown_version = envelope_for(exited(), "registry").model_copy(update={"version": 99})
    good = exited()
    await produce(prefix, [b"\x00not json", encode(unknown_version), encode(envelope_for(good, "registry"))])
    async with platform_database() as (_, sessions):
        async with consuming(make_consumer(sessions, prefix)) as _task:
            await eventually(lambda: _position_reaches(sessions, 3))
        async with sessions() as session:
            assert list(await session.scalars(select(effects.c.household_id))) == [good.household_id]

    originals = await read_topic(prefix + HOUSEHOLDS_TOPIC, until=lambda records: len(records) >= 3)
    dlq = await read_topic(f"{prefix}probe.{HOUSEHOLDS_TOPIC}.dlq", until=lambda records: len(records) >= 2)
    assert len(dlq) == 2
    by_offset = {int(dict(r.headers)["dlq.origin_offset"]): r for r in dlq}
    assert set(by_offset) == {0, 1}
    assert by_offset[0].value == b"\x00not json"
    assert by_offset[1].key == b"k"
    headers = dict(by_offset[1].headers)
    assert headers["dlq.origin_topic"] == HOUSEHOLDS_TOPIC.encode()
    assert int(headers["dlq.origin_partition"]) == originals[1].partition
    assert b"version 99" in headers["dlq.error"]
    assert headers["dlq.consumer_group"] == b"probe"


async def test_handler_that_keeps_failing_is_dead_lettered_after_bounded_retries(kafka, postgres):
    prefix = new_prefix()
    attempts = 0

    async def broken(uow: UnitOfWork, event: ReceivedEvent) -> None:
        nonlocal attempts
        attempts += 1
        raise ValueError("a bug in the handler")

    await produce(prefix, [encode(envelope_for(exited(), "registry"))])
    async with platform_database() as (_, sessions):
        async with consuming(make_consumer(sessions, prefix, handler=broken, max_attempts=3)):
            await eventually(lambda: _position_reaches(sessions, 1))
        # Not in the inbox: a fixed version re-queued with the same event id must still be handled.
        assert await count(sessions, InboxEvent) == 0
    # one try in the batch, then three attempts on its own
    assert attempts == 4
    dlq = await read_topic(f"{prefix}probe.{HOUSEHOLDS_TOPIC}.dlq", until=lambda records: len(records) >= 1)
    assert b"ValueError" in dict(dlq[0].headers)["dlq.error"]


async def test_consumer_with_empty_database_replays_its_topic_and_reaches_the_same_state(kafka, postgres):
    prefix = new_prefix()
    households = [str(uuid.uuid4()) for _ in range(40)]
    await produce(prefix, [encode(envelope_for(exited(h), "registry")) for h in households])

    async def state(sessions) -> list[str]:
        async with sessions() as session:
            return sorted(await session.scalars(select(effects.c.household_id)))

    async with platform_database() as (_, first_db):
        async with consuming(make_consumer(first_db, prefix)):
            await eventually(lambda: _position_reaches(first_db, 40))
        before = await state(first_db)

    # Same consumer group (Kafka has its committed offsets), but the database is new and empty.
    async with platform_database() as (_, second_db):
        async with consuming(make_consumer(second_db, prefix)):
            await eventually(lambda: _position_reaches(second_db, 40))
        after = await state(second_db)

    assert before == sorted(households)
    assert after == before


async def test_database_outage_is_retried_not_dead_lettered(kafka, postgres):
    prefix = new_prefix()
    calls = 0

    async def flaky(uow: UnitOfWork, event: ReceivedEvent) -> None:
        nonlocal calls
        calls += 1
        if calls <= 5:
            from sqlalchemy.exc import OperationalError

            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("database restarting"))
        await record_effect(uow, event)

    await produce(prefix, [encode(envelope_for(exited(), "registry"))])
    async with platform_database() as (_, sessions):
        async with consuming(make_consumer(sessions, prefix, handler=flaky, max_attempts=2)):
            await eventually(lambda: _position_reaches(sessions, 1))
        assert await count(sessions, effects) == 1
        assert await count(sessions, InboxEvent) == 1
    assert calls == 6
