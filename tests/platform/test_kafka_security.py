"""Kafka with authentication and ACLs, on a broker of its own (the shared test broker stays PLAINTEXT on the
loopback interface): SASL SCRAM-SHA-512 over TLS, one principal per service. An unauthenticated client is
refused; each service writes only its own topics and reads only what it consumes; the services run on it."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError

from shared.kafka import KafkaConnection, kafka_is_reachable
from shared.kafka_security import OPS_PRINCIPAL, setup
from shared.services import EMPLOYMENT_TOPIC, GRANTS_TOPIC, HOUSEHOLDS_TOPIC, NAMES, NOTICES_TOPIC
from tests.support import all_found, enrol, eventually, household_body, member, new_prefix, system

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {name: f"{name}-password-for-this-test" for name in ("admin", *NAMES, OPS_PRINCIPAL)}


def free_port_pair() -> int:
    """A port whose next port is free too (the broker's controller listens there)."""

    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port < 65000:
            with socket.socket() as other:
                try:
                    other.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free pair of ports")


class SecureBroker:
    def __init__(self, run_dir: Path) -> None:
        self.port = free_port_pair()
        self.env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",  # the virtualenv's python3 (tls)
            "KAFKA_PORT": str(self.port),
            "KAFKA_RUN_DIR": str(run_dir),
            "KAFKA_SECURITY": "sasl_ssl",
            "KAFKA_SCRAM_USERS": " ".join(f"{name}:{password}" for name, password in PASSWORDS.items()),
        }
        self.ca_file = str(run_dir / "tls" / "ca.pem")

    def script(self, command: str) -> None:
        subprocess.run([str(ROOT / "scripts" / "kafka.sh"), command], env=self.env, check=True, timeout=300)

    def as_(self, principal: str, password: str | None = None) -> KafkaConnection:
        return KafkaConnection(
            f"127.0.0.1:{self.port}",
            "SASL_SSL",
            "SCRAM-SHA-512",
            principal,
            password or PASSWORDS[principal],
            self.ca_file,
        )


@pytest.fixture(scope="module")
async def broker(tmp_path_factory) -> AsyncIterator[SecureBroker]:
    secured = SecureBroker(tmp_path_factory.mktemp("kafka-sasl"))
    await asyncio.to_thread(secured.script, "start")
    try:
        await setup(secured.as_("admin"), partitions=2)
        yield secured
    finally:
        await asyncio.to_thread(secured.script, "stop")


async def test_an_unauthenticated_client_or_a_wrong_password_is_refused(broker):
    assert not await kafka_is_reachable(f"127.0.0.1:{broker.port}", timeout=5), "PLAINTEXT is refused"
    assert not await kafka_is_reachable(
        KafkaConnection(f"127.0.0.1:{broker.port}", "SSL", ca_file=broker.ca_file), timeout=5
    ), "TLS without SASL is refused"
    assert not await kafka_is_reachable(broker.as_("medical", "not-the-password"), timeout=5)
    untrusted = KafkaConnection(
        f"127.0.0.1:{broker.port}", "SASL_SSL", "SCRAM-SHA-512", "medical", PASSWORDS["medical"]
    )
    assert not await kafka_is_reachable(untrusted, timeout=5), "a broker whose certificate is not trusted is not used"
    assert await kafka_is_reachable(broker.as_("medical"), timeout=10)


async def _write(kafka: KafkaConnection, topic: str) -> str:
    producer = AIOKafkaProducer(**kafka.options(), enable_idempotence=True, acks="all", request_timeout_ms=10_000)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{}", key=b"probe")
        return "written"
    except TopicAuthorizationFailedError:
        return "refused"
    finally:
        await producer.stop()


async def _read(kafka: KafkaConnection, topic: str, group: str) -> str:
    consumer = AIOKafkaConsumer(topic, **kafka.options(), group_id=group, auto_offset_reset="earliest")
    try:
        await consumer.start()
        await consumer.getmany(timeout_ms=3000)
        await consumer.getmany(timeout_ms=1000)
        return "read"
    except (TopicAuthorizationFailedError, GroupAuthorizationFailedError):
        return "refused"
    finally:
        await consumer.stop()


async def test_a_service_writes_only_its_own_topics_and_reads_only_what_it_consumes(broker):
    writes = {
        ("registry", HOUSEHOLDS_TOPIC): "written",
        ("medical", HOUSEHOLDS_TOPIC): "refused",  # forging the caseload
        ("medical", GRANTS_TOPIC): "written",
        ("office", GRANTS_TOPIC): "refused",  # the office announces nothing
        ("medical", EMPLOYMENT_TOPIC): "refused",
        ("employment", EMPLOYMENT_TOPIC): "written",
        ("medical", "medical.registry.households.dlq"): "written",  # its own dead letters
        ("medical", "legal.registry.households.dlq"): "refused",
        ("ops", HOUSEHOLDS_TOPIC): "written",  # a dead letter requeued where it came from
        ("ops", "medical.registry.households.dlq"): "refused",
    }
    for (principal, topic), expected in writes.items():
        assert await _write(broker.as_(principal), topic) == expected, f"{principal} writing {topic}"
    reads = {
        ("medical", HOUSEHOLDS_TOPIC, "medical"): "read",
        ("medical", EMPLOYMENT_TOPIC, "medical"): "refused",  # not what it consumes
        ("medical", HOUSEHOLDS_TOPIC, "education"): "refused",  # another service's consumer group
        ("registry", EMPLOYMENT_TOPIC, "registry"): "read",
        ("legal", GRANTS_TOPIC, "legal"): "refused",
        ("office", GRANTS_TOPIC, "office"): "read",
        ("medical", NOTICES_TOPIC, "medical"): "refused",  # a notice's addressee and address are for the post
        ("office", NOTICES_TOPIC, "office"): "refused",
    }
    for (principal, topic, group), expected in reads.items():
        assert await _read(broker.as_(principal), topic, group) == expected, f"{principal} reading {topic} as {group}"


async def test_the_services_run_on_the_secured_broker_each_as_its_own_principal(broker, postgres):
    prefix = new_prefix()
    await setup(broker.as_("admin"), prefix, partitions=2)

    def settings(service: str) -> dict[str, str]:
        return {
            "kafka_bootstrap_servers": f"127.0.0.1:{broker.port}",
            "kafka_security_protocol": "SASL_SSL",
            "kafka_username": service,
            "kafka_password": PASSWORDS[service],
            "kafka_ca_file": broker.ca_file,
        }

    async with system(
        "registry", "medical", prefix=prefix, registry=settings("registry"), medical=settings("medical")
    ) as s:
        head = member("head", born=date(1970, 4, 4))
        await enrol(s["registry"], household_body(enrolled_on=date(2026, 1, 10), members=[head]))
        await eventually(lambda: all_found(s["medical"], f"/eligibility/{head['resident_id']}"), timeout=60)
        for service in ("registry", "medical"):
            ready = await s[service].get("/ready")
            assert (ready.status_code, ready.json()["kafka"]) == (200, "ok"), ready.text


def test_production_on_an_unauthenticated_broker_is_announced_loudly():
    import io
    import logging

    from tests.support import service_app

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    logger = logging.getLogger("shared.app")
    logger.addHandler(handler)
    production = {"environment": "production", "jwt_secret": "x" * 48, "audit_key": "k" * 40}
    try:
        service_app("legal", "sqlite+aiosqlite:///:memory:", new_prefix(), **production)
        plaintext = buffer.getvalue()
        buffer.truncate(0)
        service_app(
            "legal", "sqlite+aiosqlite:///:memory:", new_prefix(), **production,
            kafka_security_protocol="SASL_SSL", kafka_username="legal", kafka_password="p",
        )  # fmt: skip
    finally:
        logger.removeHandler(handler)
    assert "KAFKA WITHOUT AUTHENTICATION IN PRODUCTION" in plaintext
    assert "KAFKA WITHOUT AUTHENTICATION" not in buffer.getvalue()
