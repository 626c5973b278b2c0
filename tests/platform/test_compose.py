"""docker-compose.yml, checked for the properties ops rely on (no Docker engine runs on our machines)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shared.services import NAMES as SERVICES
from shared.services import PORTS, TOPICS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_kafka_is_the_official_apache_image_in_kraft_mode_with_a_healthcheck(compose):
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:4.")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert kafka["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "healthcheck" in kafka


def test_topics_are_created_up_front_once_kafka_is_healthy(compose):
    topics = compose["services"]["kafka-topics"]
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    script = topics["command"][0]
    for topic in TOPICS:
        assert topic in script
    assert "retention.ms=-1" in script


def test_postgres_creates_one_database_per_service(compose):
    postgres = compose["services"]["postgres"]
    assert "healthcheck" in postgres
    mount = next(v for v in postgres["volumes"] if "docker-entrypoint-initdb.d" in v)
    script = (ROOT / mount.split(":")[0]).read_text()
    for service in SERVICES:
        assert f"CREATE DATABASE {service};" in script


def test_migrations_run_before_the_services_for_every_database(compose):
    migrate = compose["services"]["migrate"]
    assert migrate["command"] == ["python", "-m", "shared.migrations", "all"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for service in SERVICES:
        assert migrate["environment"][f"{service.upper()}_DATABASE_URL"].endswith(f"@postgres:5432/{service}")


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_runs_from_the_one_image_on_its_own_database_after_its_dependencies(compose, service):
    spec = compose["services"][service]
    env = spec["environment"]
    assert spec["build"] == "." and env["SERVICE"] == service
    assert env[f"{service.upper()}_DATABASE_URL"].endswith(f"@postgres:5432/{service}")
    assert env[f"{service.upper()}_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env[f"{service.upper()}_ENVIRONMENT"] == "production"
    assert spec["ports"] == [f"{PORTS[service]}:8000"]
    assert spec["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
        "kafka-topics": {"condition": "service_completed_successfully"},
        "kafka": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }
    assert "/ready" in " ".join(spec["healthcheck"]["test"])


def test_the_dockerfile_serves_the_service_named_by_the_environment():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "services.${SERVICE}.main:create_app" in dockerfile
    assert "USER app" in dockerfile
