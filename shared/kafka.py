"""Kafka plumbing: how to connect (and authenticate), the idempotent producer, topic creation with an explicit
retention, and a reachability check.

Every client the services make goes through :class:`KafkaConnection`: PLAINTEXT for a broker on the loopback
interface (local runs and tests), SASL (SCRAM-SHA-512, or PLAIN) over TLS in a deployment — one principal per
service, whose ACLs let it write its own topics and read what it consumes (shared.kafka_security).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context

from shared.services import DEFAULT_PARTITIONS

log = logging.getLogger("shared.kafka")

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


@dataclass(frozen=True)
class KafkaConnection:
    """Where the brokers are and how to authenticate to them (from a service's settings, or made by hand)."""

    bootstrap_servers: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    username: str = ""
    password: str = field(default="", repr=False)
    # TLS: the CA certificate (PEM) that signed the brokers'; empty: the system's trusted CAs.
    ca_file: str = ""

    @property
    def authenticated(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    def options(self) -> dict[str, Any]:
        """The keyword arguments every aiokafka client takes: servers, protocol, TLS context, SASL credentials."""

        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            options["ssl_context"] = create_ssl_context(cafile=self.ca_file or None)
        if self.authenticated:
            options.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.username,
                sasl_plain_password=self.password,
            )
        return options


def connection(kafka: KafkaConnection | str) -> KafkaConnection:
    """A bare ``host:port`` list is a PLAINTEXT connection (a local broker)."""

    return kafka if isinstance(kafka, KafkaConnection) else KafkaConnection(kafka)


# Retention, explicit per kind of topic. The event topics (the caseload, members' employment, grants) are kept
# for as long as the system runs: a bureau with an empty database — a new replica's first start, a restore, a
# fix that needs the derived state rebuilt — rebuilds itself by replaying them from the start (harbin-ops
# replay), and settling money over time needs a household's whole history. What protects the personal data
# they carry is who may read them (SASL and per-service ACLs), TLS on the wire and the broker's encrypted
# disks, not expiry. Dead letters are for ops to inspect and requeue: 90 days, then gone.
EVENTS_RETENTION = {"retention.ms": "-1", "retention.bytes": "-1"}
DEAD_LETTER_RETENTION = {"retention.ms": str(90 * 24 * 3600 * 1000), "retention.bytes": "-1"}


def retention(topic: str) -> dict[str, str]:
    return DEAD_LETTER_RETENTION if topic.endswith(".dlq") else EVENTS_RETENTION


@dataclass(frozen=True, slots=True)
class TopicLayout:
    """How a topic a service creates is laid out: the topics are normally created up front (the topic
    script, compose's kafka-setup step, the chart), but a service creates what is missing (its dead-letter
    topics always), and on a cluster those must be replicated like the rest."""

    partitions: int = DEFAULT_PARTITIONS
    replication_factor: int = 1

    def config(self, topic: str) -> dict[str, str]:
        # A write is acknowledged by all in-sync replicas (acks=all); with three, one may be down.
        return {**retention(topic), "min.insync.replicas": str(max(1, self.replication_factor - 1))}


def new_producer(kafka: KafkaConnection | str, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **connection(kafka).options(),
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

    def __init__(self, kafka: KafkaConnection | str, client_id: str, layout: TopicLayout | None = None) -> None:
        self.kafka = connection(kafka)
        self.client_id = client_id
        self.layout = layout or TopicLayout()  # for the topics this service creates (ensure_laid_out)
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = new_producer(self.kafka, self.client_id)
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
    kafka: KafkaConnection | str,
    names: Iterable[str],
    partitions: int = DEFAULT_PARTITIONS,
    config: dict[str, str] | None = None,
    replication_factor: int = 1,
) -> None:
    """Create the topics that do not exist yet (harmless when they do), each with its kind's retention unless
    ``config`` says otherwise."""

    wanted = list(dict.fromkeys(names))
    admin = AIOKafkaAdminClient(**connection(kafka).options(), request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if not missing:
            return
        topics = [
            NewTopic(name, partitions, replication_factor, topic_configs=dict(config or retention(name)))
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


async def ensure_laid_out(kafka: KafkaConnection | str, names: Iterable[str], layout: TopicLayout) -> None:
    """:func:`ensure_topics` with a service's layout (its settings' partitions and replication), an existing
    topic left as it is."""

    by_config: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for name in dict.fromkeys(names):
        by_config.setdefault(tuple(sorted(layout.config(name).items())), []).append(name)
    for config, group in by_config.items():
        await ensure_topics(kafka, group, layout.partitions, dict(config), layout.replication_factor)


async def kafka_is_reachable(kafka: KafkaConnection | str, timeout: float = 3.0) -> bool:
    """Ask the cluster for its metadata; true when a broker answers (and accepts these credentials) within
    ``timeout``."""

    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(**connection(kafka).options(), request_timeout_ms=int(timeout * 1000))
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


async def read_to_end(kafka: KafkaConnection | str, topics: Iterable[str]) -> list[ConsumerRecord]:
    """Every record now on ``topics``, from the beginning to each partition's current end, with no
    consumer group (nothing committed); ordered by topic, partition and offset."""

    topics = list(topics)
    if not topics:
        return []
    options = connection(kafka).options()
    admin = AIOKafkaAdminClient(**options)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    partitions = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(**options, enable_auto_commit=False)
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
