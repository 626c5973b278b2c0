"""Who may do what on Kafka: one principal per service, and ACLs that let each write its own topics and read
what it consumes — nothing else. ``setup`` creates the topics (with their retention, shared.kafka) and the
ACLs, as the broker's admin; the compose deployment runs it once before the services start, and the test of
the secured broker runs it too::

    python -m shared.kafka_security setup     # HARBIN_KAFKA, HARBIN_KAFKA_USERNAME=admin, … (ops.cli's variables)
    python -m shared.kafka_security acls      # what setup grants, one ACL a line
    python -m shared.kafka_security tls --dir D --host kafka   # a CA and the broker's key and certificate (PEM)

A service's principal is its name (``User:medical``). It may: create, write, read and describe the topics that
begin with its name and a dot — the topic it announces (``registry.households``, ``employment.members``) and
its own dead-letter topics (``medical.registry.households.dlq``); write ``assistance.grants`` if it announces
grants; read the topics it consumes (its ``consumers.TOPICS``) in its own consumer group. ``ops`` (harbin-ops:
dead letters, requeue) reads every topic and writes the consumed ones. The broker's ``admin`` is a super user.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import import_module
from pathlib import Path
from typing import cast

from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.admin import CreateAclsRequest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shared.events import dlq_topic
from shared.kafka import KafkaConnection, SaslMechanism, SecurityProtocol, TopicLayout, ensure_laid_out
from shared.services import (
    DEFAULT_PARTITIONS,
    EMPLOYMENT_TOPIC,
    GRANTS_TOPIC,
    HOUSEHOLDS_TOPIC,
    NAMES,
    SERVICES,
    TOPICS,
)
from shared.services import partitions as kafka_partitions

# Kafka's wire codes (org.apache.kafka.common.acl / resource).
TOPIC, GROUP = 2, 3
LITERAL, PREFIXED = 3, 4
READ, WRITE, CREATE, DESCRIBE = 3, 4, 5, 8
ALLOW = 3

OPS_PRINCIPAL = "ops"
# The topics a service announces besides assistance.grants (they begin with its name: its prefix covers them).
_ANNOUNCES = {"registry": HOUSEHOLDS_TOPIC, "employment": EMPLOYMENT_TOPIC}


@dataclass(frozen=True, slots=True)
class Acl:
    principal: str
    resource_type: int
    name: str
    pattern: int
    operation: int

    def describe(self) -> str:
        kinds = {TOPIC: "topic", GROUP: "group"}
        ops = {READ: "Read", WRITE: "Write", CREATE: "Create", DESCRIBE: "Describe"}
        prefix = "*" if self.pattern == PREFIXED else ""
        return f"User:{self.principal} {ops[self.operation]} {kinds[self.resource_type]} {self.name}{prefix}"


def consumed(service: str) -> list[str]:
    topics: list[str] = getattr(import_module(f"services.{service}.consumers"), "TOPICS", [])
    return topics


def acls(prefix: str = "") -> list[Acl]:
    """Every ACL of the deployment; ``prefix`` is the topic prefix (a test's, or none)."""

    wanted: list[Acl] = []
    for service in SERVICES:
        name = service.name
        own = f"{prefix}{name}."
        assert name not in _ANNOUNCES or _ANNOUNCES[name].startswith(f"{name}."), (
            "an announced topic starts with its service"
        )
        wanted += [Acl(name, TOPIC, own, PREFIXED, op) for op in (CREATE, WRITE, READ, DESCRIBE)]
        if service.bureau:
            wanted.append(Acl(name, TOPIC, prefix + GRANTS_TOPIC, LITERAL, WRITE))
        topics = consumed(name)
        wanted += [Acl(name, TOPIC, prefix + topic, LITERAL, READ) for topic in topics]
        if topics:
            wanted.append(Acl(name, GROUP, prefix + name, LITERAL, READ))
    # harbin-ops: read every topic (dead letters; "*" is Kafka's wildcard), requeue onto the event topics.
    everything = (prefix, PREFIXED) if prefix else ("*", LITERAL)
    wanted.append(Acl(OPS_PRINCIPAL, TOPIC, everything[0], everything[1], READ))
    wanted += [Acl(OPS_PRINCIPAL, TOPIC, prefix + topic, LITERAL, WRITE) for topic in TOPICS]
    return wanted


def dead_letter_topics(prefix: str = "") -> list[str]:
    return [prefix + dlq_topic(name, topic) for name in NAMES for topic in consumed(name)]


async def create_acls(kafka: KafkaConnection, wanted: list[Acl]) -> None:
    """Create the ACLs (as the broker's admin); creating one that exists is harmless."""

    client = AIOKafkaClient(**kafka.options(), request_timeout_ms=10_000)
    await client.bootstrap()
    try:
        node = client.get_random_node()
        for acl in wanted:
            request = CreateAclsRequest(
                acl.resource_type, acl.name, acl.pattern, f"User:{acl.principal}", "*", acl.operation, ALLOW
            )
            response = await client.send(node, request)
            for error_code, message in response.creation_responses:
                if error_code:
                    raise RuntimeError(f"{acl.describe()}: refused by the broker ({error_code}: {message})")
    finally:
        await client.close()


async def setup(
    kafka: KafkaConnection, prefix: str = "", partitions: int = DEFAULT_PARTITIONS, replication_factor: int = 1
) -> None:
    layout = TopicLayout(partitions, replication_factor)
    await ensure_laid_out(kafka, [*(prefix + topic for topic in TOPICS), *dead_letter_topics(prefix)], layout)
    await create_acls(kafka, acls(prefix))


def make_tls(directory: Path, hosts: list[str], days: int = 825) -> None:
    """A CA of the deployment's own (``ca.pem``: what clients trust) and the broker's key and certificate for
    ``hosts`` signed by it (``broker.pem``: key then chain, the broker's PEM keystore; mode 600). Kept when
    present: a broker restarted keeps its certificate."""

    if (directory / "broker.pem").exists():
        return
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("harbin-assistance kafka CA"))
        .issuer_name(name("harbin-assistance kafka CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    alternative: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alternative.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alternative.append(x509.DNSName(host))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name(hosts[0]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    keystore = directory / "broker.pem"
    descriptor = os.open(keystore, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        file.write(certificate.public_bytes(pem) + ca.public_bytes(pem))
    # The CA's key is not kept: a new broker certificate means a new CA (clients get the new ca.pem).


def from_environment() -> KafkaConnection:
    return KafkaConnection(
        os.environ.get("HARBIN_KAFKA", "127.0.0.1:9092"),
        security_protocol=cast(SecurityProtocol, os.environ.get("HARBIN_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")),
        sasl_mechanism=cast(SaslMechanism, os.environ.get("HARBIN_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")),
        username=os.environ.get("HARBIN_KAFKA_USERNAME", ""),
        password=os.environ.get("HARBIN_KAFKA_PASSWORD", ""),
        ca_file=os.environ.get("HARBIN_KAFKA_CA_FILE", ""),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Kafka principals, topics and ACLs")
    parser.add_argument("command", choices=["setup", "acls", "principals", "tls"])
    parser.add_argument("--dir", type=Path, help="tls: where to write ca.pem and broker.pem")
    parser.add_argument("--host", action="append", help="tls: the broker's host names or addresses")
    parser.add_argument("--partitions", type=int, default=kafka_partitions(), help="KAFKA_PARTITIONS, else the default")
    parser.add_argument(
        "--replication-factor",
        type=int,
        default=int(os.environ.get("KAFKA_REPLICATION_FACTOR", "1")),
        help="replicas of each topic (KAFKA_REPLICATION_FACTOR; 3 on a cluster of three brokers)",
    )
    parser.add_argument("--prefix", default=os.environ.get("HARBIN_TOPIC_PREFIX", ""))
    args = parser.parse_args(argv)
    if args.command == "principals":
        print("\n".join([*NAMES, OPS_PRINCIPAL]))
    elif args.command == "tls":
        if not args.dir or not args.host:
            parser.error("tls needs --dir and at least one --host")
        make_tls(args.dir, args.host)
        print(f"kafka: TLS in {args.dir} (clients trust ca.pem)")
    elif args.command == "acls":
        print("\n".join(acl.describe() for acl in acls(args.prefix)))
    else:
        asyncio.run(setup(from_environment(), args.prefix, args.partitions, args.replication_factor))
        print(f"kafka: topics and {len(acls(args.prefix))} ACLs in place")


if __name__ == "__main__":
    main()
