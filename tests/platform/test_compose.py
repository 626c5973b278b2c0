"""docker-compose.yml, checked for the properties ops rely on (no Docker engine runs on our machines)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from jsonschema_rs import validator_for
from prometheus_client import REGISTRY

from shared.services import DEFAULT_PARTITIONS, PORTS
from shared.services import NAMES as SERVICES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_file_is_valid_against_the_compose_specification(compose):
    schema = json.loads((ROOT / "tests/data/compose-spec.json").read_text())
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator_for(schema).iter_errors(compose)]
    assert errors == []


BROKER = (ROOT / "docker" / "kafka-broker.sh").read_text()


def _properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if re.match(r"^[a-z][a-z0-9._-]*=", line))


def test_kafka_is_the_official_apache_image_in_kraft_mode_with_a_healthcheck(compose):
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:4.")
    assert kafka["command"] == ["/bin/bash", "/etc/harbin/kafka-broker.sh"]
    assert "./docker/kafka-broker.sh:/etc/harbin/kafka-broker.sh:ro" in kafka["volumes"]
    settings = _properties(BROKER)
    assert settings["process.roles"] == "broker,controller"
    assert settings["auto.create.topics.enable"] == "false"
    assert "--bootstrap-server kafka:9092 --command-config" in kafka["healthcheck"]["test"][1]


def test_kafka_takes_only_authenticated_clients_over_tls_and_enforces_acls(compose):
    settings = _properties(BROKER)
    # Clients: SASL_SSL only; the controller (and its ANONYMOUS super user) on the loopback interface alone.
    assert settings["listeners"] == "SASL_SSL://0.0.0.0:9092,CONTROLLER://127.0.0.1:9093"
    assert settings["listener.security.protocol.map"] == "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT"
    assert settings["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert settings["authorizer.class.name"].endswith("StandardAuthorizer")
    assert settings["allow.everyone.if.no.acl.found"] == "false"
    assert settings["super.users"] == "User:admin;User:ANONYMOUS"
    found = re.search(r"PRINCIPALS=\(([^)]*)\)", BROKER)
    assert found, "the broker script names its principals"
    principals = found.group(1).split()
    assert sorted(principals) == sorted(["admin", "ops", *SERVICES])
    for principal in principals:
        assert compose["services"]["kafka"]["environment"][f"HARBIN_KAFKA_{principal.upper()}_PASSWORD"]


def test_topics_and_acls_are_created_up_front_once_kafka_is_healthy_by_its_admin(compose):
    setup = compose["services"]["kafka-setup"]
    assert setup["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert setup["command"] == ["python", "-m", "shared.kafka_security", "setup"]
    env = setup["environment"]
    assert (env["HARBIN_KAFKA_SECURITY_PROTOCOL"], env["HARBIN_KAFKA_USERNAME"]) == ("SASL_SSL", "admin")
    assert compose["services"]["kafka"]["depends_on"]["kafka-tls"]["condition"] == "service_completed_successfully"


def test_topics_take_their_partitions_from_the_one_setting_with_its_one_default(compose):
    setup = compose["services"]["kafka-setup"]
    assert setup["environment"]["KAFKA_PARTITIONS"] == f"${{KAFKA_PARTITIONS:-{DEFAULT_PARTITIONS}}}"
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and line[0] != "#"
    )
    assert example["KAFKA_PARTITIONS"] == str(DEFAULT_PARTITIONS)
    assert "PARTITIONS=$(python3 -m shared.services --partitions)" in (ROOT / "scripts/kafka.sh").read_text()


def test_kafka_keeps_its_log_on_the_volume_so_topics_outlive_the_container(compose):
    kafka = compose["services"]["kafka"]
    log_dir = _properties(BROKER)["log.dirs"].replace("$DATA", "/var/lib/kafka/data")
    assert log_dir == "/var/lib/kafka/data"
    assert any(volume.split(":")[1] == log_dir for volume in kafka["volumes"] if not volume.startswith("/"))


def test_postgres_creates_one_database_and_one_role_per_service(compose):
    postgres = compose["services"]["postgres"]
    mount = next(v for v in postgres["volumes"] if "docker-entrypoint-initdb.d" in v)
    script = (ROOT / mount.split(":")[0]).read_text()
    loop = next(line for line in script.splitlines() if line.startswith("for service in "))
    assert loop.removeprefix("for service in ").removesuffix("; do").split() == list(SERVICES)
    assert 'CREATE DATABASE :"role" OWNER :"role"' in script and "REVOKE ALL ON DATABASE" in script
    for service in SERVICES:
        assert postgres["environment"][f"{service.upper()}_DB_PASSWORD"].startswith(
            f"${{{service.upper()}_DB_PASSWORD:?"
        )


def test_postgres_is_healthy_only_once_it_listens_on_tcp_after_initialisation(compose):
    # During first-time initialisation the server listens on its socket only: a socket check passes too early.
    assert "-h 127.0.0.1" in " ".join(compose["services"]["postgres"]["healthcheck"]["test"])


def test_migrations_wait_for_the_database_and_run_before_the_services_for_every_database(compose):
    migrate = compose["services"]["migrate"]
    assert migrate["command"][:4] == ["python", "-m", "shared.migrations", "all"] and "--wait" in migrate["command"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate["restart"].startswith("on-failure")
    for service in SERVICES:
        url = migrate["environment"][f"{service.upper()}_DATABASE_URL"]
        assert url.startswith(f"postgresql+asyncpg://{service}:") and url.endswith(f"@postgres:5432/{service}")


def test_every_long_running_container_restarts_and_rotates_its_logs(compose):
    for name, spec in compose["services"].items():
        assert spec["logging"]["options"]["max-size"], name
        if name not in ("migrate", "kafka-tls", "kafka-setup"):
            assert spec["restart"] == "unless-stopped", name
            assert spec["deploy"]["resources"]["limits"]["memory"], name


def test_only_the_gateway_publishes_ports_so_a_service_can_scale(compose):
    published = {
        name: spec["ports"]
        for name, spec in compose["services"].items()
        if "ports" in spec and "monitoring" not in spec.get("profiles", [])
    }
    assert published == {"gateway": [f"{port}:{port}" for port in PORTS.values()]}
    caddyfile = (ROOT / "docker/Caddyfile").read_text()
    for service, port in PORTS.items():
        assert f":{port} {{" in caddyfile and f"dynamic a {service} 8000" in caddyfile


def test_the_monitoring_profile_scrapes_every_replica_and_charts_only_metrics_the_services_expose(compose):
    for name in ("prometheus", "grafana"):
        assert compose["services"][name]["profiles"] == ["monitoring"]
    prometheus = yaml.safe_load((ROOT / "docker/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert set(jobs) == set(SERVICES)
    for service, job in jobs.items():
        # Every container of the service (Docker's DNS answers with all of them), not one through the gateway.
        assert job["dns_sd_configs"] == [{"names": [service], "type": "A", "port": 8000}]
        assert job["authorization"]["credentials_file"] == "/etc/prometheus/monitoring.token"

    import shared.metrics  # noqa: F401  # registers the services' metrics

    exposed = {family.name for family in REGISTRY.collect()}
    dashboard = json.loads((ROOT / "docker/grafana-dashboard.json").read_text())
    charted = {
        re.sub(r"_(total|bucket|sum|count)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b(?:harbin|process)_[a-z_]+", target["expr"])
    }
    assert charted and charted <= exposed, charted - exposed
    assert {"harbin_consumer_lag", "harbin_outbox_backlog", "harbin_dead_lettered"} <= charted


def test_env_example_names_every_secret_the_compose_file_requires(compose):
    required = set(re.findall(r"\$\{(\w+):\?", (ROOT / "docker-compose.yml").read_text()))
    example = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert required and required <= example


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_runs_from_the_one_image_on_its_own_database_after_its_dependencies(compose, service):
    spec = compose["services"][service]
    env = spec["environment"]
    assert spec["build"] == "." and env["SERVICE"] == service
    assert env[f"{service.upper()}_DATABASE_URL"].startswith(f"postgresql+asyncpg://{service}:")
    assert env[f"{service.upper()}_DATABASE_URL"].endswith(f"@postgres:5432/{service}")
    assert env[f"{service.upper()}_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    # Its own principal, over TLS, the broker's certificate checked against the deployment's CA.
    assert env[f"{service.upper()}_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env[f"{service.upper()}_KAFKA_USERNAME"] == service
    assert (
        env[f"{service.upper()}_KAFKA_PASSWORD"]
        == f"${{KAFKA_{service.upper()}_PASSWORD:?set KAFKA_{service.upper()}_PASSWORD in .env}}"
    )
    assert env[f"{service.upper()}_KAFKA_CA_FILE"] == "/etc/kafka/tls/ca.pem"
    # The keys of the address sealed for the office: only the registry (which seals) and the office (which opens).
    seal_keys = env.get(f"{service.upper()}_SEAL_KEYS")
    assert seal_keys == ("${SEAL_KEYS:?set SEAL_KEYS in .env}" if service in ("registry", "office") else None)
    assert "kafka-tls:/etc/kafka/tls:ro" in spec["volumes"]
    assert env[f"{service.upper()}_ENVIRONMENT"] == "production"
    assert "ports" not in spec
    assert spec["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
        "kafka-setup": {"condition": "service_completed_successfully"},
        "kafka": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }
    assert "/ready" in " ".join(spec["healthcheck"]["test"])


def test_the_dockerfile_serves_the_service_named_by_the_environment_and_carries_the_ops_cli():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY ops ./ops" in dockerfile
    assert "services.${SERVICE}.main:create_app" in dockerfile
    assert "USER app" in dockerfile
