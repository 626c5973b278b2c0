"""Settings common to every service, read from the environment.

Each service subclasses :class:`ServiceSettings` with its own env prefix (``REGISTRY_``,
``MEDICAL_``…), so one host or one docker-compose file can configure them all without clashes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.kafka import KafkaConnection, SaslMechanism, SecurityProtocol
from shared.services import DEFAULT_PARTITIONS

RUN_DIR = Path(".run")


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    # Subclasses set this; it names the service in events, logs, consumer groups and files.
    service_name: str = "service"

    environment: Literal["development", "test", "production"] = "development"
    # Empty means: a SQLite file under .run/db (the zero-setup default for running locally).
    database_url: str = ""
    database_pool_size: int = 10
    # How long a request waits for a free pooled connection before it is refused with 503 service_busy.
    database_pool_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # SQLite: how long a writer waits for the file's write lock before it is refused with 503 service_busy.
    database_busy_timeout_seconds: float = Field(default=30.0, gt=0, le=600)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # For the topics this service creates when missing (its dead-letter topics; any topic not created
    # up front): partitions and replicas as the cluster's other topics have them.
    kafka_partitions: int = Field(default=DEFAULT_PARTITIONS, ge=1, le=1000)
    kafka_replication_factor: int = Field(default=1, ge=1, le=7)
    # PLAINTEXT only for a broker on the loopback interface; a deployment authenticates each service as its own
    # principal (SASL SCRAM-SHA-512) over TLS, its CA in kafka_ca_file (shared.kafka, docs/security.md).
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    kafka_username: str = ""
    kafka_password: str = Field(default="", repr=False)
    kafka_ca_file: str = ""
    # Lets tests and side-by-side deployments use their own topics on one broker.
    topic_prefix: str = ""
    consumer_enabled: bool = True
    consumer_batch_size: int = Field(default=500, ge=1, le=10_000)
    # How often a failing (non-transient) event is retried before it goes to the dead-letter topic.
    consumer_max_attempts: int = Field(default=3, ge=1, le=20)
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    # How long the relay waits after a commit wakes it, so that the commits of that moment share one read,
    # one Kafka batch and one delete (Kafka's own linger.ms, one level up); 0 publishes each commit at once.
    outbox_linger_seconds: float = Field(default=0.02, ge=0, le=1)
    # Off for an instance that must not publish (a read replica; a fault-injection test).
    outbox_relay_enabled: bool = True
    # Rows paid per committed batch in monthly and term runs.
    run_batch_size: int = Field(default=2000, ge=1, le=50_000)
    outbox_batch_size: int = Field(default=500, ge=1, le=10_000)

    log_level: str = "INFO"
    log_json: bool = True
    # Where to send traces (OTLP over HTTP, e.g. http://collector:4318/v1/traces); empty: not exported.
    otlp_endpoint: str = ""

    # Bearer tokens (shared.auth, docs/security.md): RS256 verified with the issuer's public keys, a JWKS file or
    # https URL (production), or HS256 with a shared secret (local use; in production it says so loudly).
    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwt_secret: str = Field(default="", repr=False)
    jwt_jwks: str = ""
    # How often the JWKS is reread (a rotation's new key is published at least this long before it signs).
    jwt_jwks_refresh_seconds: float = Field(default=300.0, ge=5, le=86_400)
    jwt_audience: str | None = None
    # Keys the hash that stands for a resident ID in the audit trail of reads (shared.read_audit); the same on
    # every service, at least 32 random characters in production.
    audit_key: str = Field(default="", repr=False)
    # Fernet keys of the facts the registry seals for the office (shared.sealing), comma-separated, the newest
    # first; only the registry and the office hold them.
    seal_keys: str = Field(default="", repr=False)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        path = RUN_DIR / "db" / f"{self.service_name}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{path}"

    def kafka(self) -> KafkaConnection:
        return KafkaConnection(
            self.kafka_bootstrap_servers,
            self.kafka_security_protocol,
            self.kafka_sasl_mechanism,
            self.kafka_username,
            self.kafka_password,
            self.kafka_ca_file,
        )

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"


def load_settings(service: str, **overrides: Any) -> ServiceSettings:
    """Settings for ``service`` from its own env prefix (``MEDICAL_DATABASE_URL``…), then ``overrides``."""

    class _Settings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix=f"{service.upper()}_", extra="ignore", frozen=True)

    return _Settings(service_name=service, **overrides)  # pydantic checks each override against its field
