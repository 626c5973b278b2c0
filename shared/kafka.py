"""Kafka plumbing: the idempotent producer, topic creation and a reachability check."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.services import DEFAULT_PARTITIONS

log = logging.getLogger("shared.kafka")

# Topics keep their events forever: a bureau with an empty database rebuilds itself by replaying them.
KEEP_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}


@dataclass(frozen=True, slots=True)
class TopicLayout:
    """How a topic a service creates is laid out: the topics are normally created up front (the topic
    script, compose's kafka-topics step, the chart), but a service creates what is missing (its
    dead-letter topics always), and on a cluster those must be replicated like the rest."""

    partitions: int = DEFAULT_PARTITIONS
    replication_factor: int = 1

    @property
    def config(self) -> dict[str, str]:
        # A write is acknowledged by all in-sync replicas (acks=all); with three, one may be down.
        return {**KEEP_FOREVER, "min.insync.replicas": str(max(1, self.replication_factor - 1))}


def new_producer(bootstrap_servers: str, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        # Fail fast while the broker is down; the outbox keeps the event and the relay retries.
        request_timeout_ms=10_000,
        retry_backoff_ms=200,
    )


class ProducerHolder:
    """Starts the producer on first use and replaces it after a failure.

    The service must come up (and report not-ready) while Kafka is down, so nothing at start-up
    waits for the broker.
    """

    def __init__(self, bootstrap_servers: str, client_id: str, layout: TopicLayout | None = None) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.layout = layout or TopicLayout()  # for the topics this service creates (shared.kafka.ensure_topics)
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = new_producer(self.bootstrap_servers, self.client_id)
                try:
                    await producer.start()
                except BaseException:
                    await _quiet_stop(producer)
                    raise
                self._producer = producer
            return self._producer

    async def reset(self) -> None:
        """Drop a producer that failed; the next :meth:`get` starts a fresh one."""

        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            await _quiet_stop(producer)

    @property
    def started(self) -> AIOKafkaProducer | None:
        return self._producer

    async def stop(self) -> None:
        await self.reset()


async def _quiet_stop(producer: AIOKafkaProducer) -> None:
    try:
        await asyncio.wait_for(producer.stop(), timeout=5)
    except Exception:  # pragma: no cover - best effort on a broken connection
        log.debug("producer stop failed", exc_info=True)


async def ensure_topics(
    bootstrap_servers: str,
    names: Iterable[str],
    partitions: int = DEFAULT_PARTITIONS,
    config: dict[str, str] | None = None,
    replication_factor: int = 1,
) -> None:
    """Create the topics that do not exist yet (harmless when they do); an existing topic is left as it is."""

    wanted = list(dict.fromkeys(names))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if not missing:
            return
        topics = [
            NewTopic(name, partitions, replication_factor, topic_configs=dict(config or KEEP_FOREVER))
            for name in missing
        ]
        try:
            await admin.create_topics(topics)
        except TopicAlreadyExistsError:
            pass
        # Metadata for a new topic takes a moment to reach every listener.
        for _ in range(50):
            if set(missing) <= set(await admin.list_topics()):
                break
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


async def ensure_laid_out(bootstrap_servers: str, names: Iterable[str], layout: TopicLayout) -> None:
    """:func:`ensure_topics` with a service's layout (its settings' partitions and replication)."""

    await ensure_topics(bootstrap_servers, names, layout.partitions, layout.config, layout.replication_factor)


async def kafka_is_reachable(bootstrap_servers: str, timeout: float = 3.0) -> bool:
    """Ask the cluster for its metadata; true when a broker answers within ``timeout``."""

    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000))
    try:
        async with asyncio.timeout(timeout):
            await client.bootstrap()
            return bool(client.cluster.brokers())
    except Exception:
        return False
    finally:
        try:
            await client.close()
        except Exception:  # pragma: no cover
            pass


async def read_to_end(bootstrap_servers: str, topics: Iterable[str]) -> list[ConsumerRecord]:
    """Every record now on ``topics``, from the beginning to each partition's current end, with no
    consumer group (nothing committed); ordered by topic, partition and offset."""

    topics = list(topics)
    if not topics:
        return []
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    partitions = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while True:
            behind = [tp for tp, end in ends.items() if await consumer.position(tp) < end]
            if not behind:
                break
            for batch in (await consumer.getmany(*behind, timeout_ms=1000)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return sorted(records, key=lambda r: (r.topic, r.partition, r.offset))
