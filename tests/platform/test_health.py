"""Every service answers /health and /ready; /ready fails when its database or Kafka is unreachable."""

from __future__ import annotations

import pytest

from shared.migrations import SERVICES
from tests.support import (
    drop_database,
    migrated_database,
    new_prefix,
    running,
    service_app,
)

pytestmark = pytest.mark.integration

NOWHERE_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"
NOWHERE_KAFKA = "127.0.0.1:1"


@pytest.mark.parametrize("service", SERVICES)
async def test_service_is_healthy_and_ready_with_database_and_kafka(kafka, postgres, service):
    url = await migrated_database(service)
    try:
        async with running(service_app(service, url, new_prefix())) as client:
            assert (await client.get("/health")).json() == {"status": "ok", "service": service}
            ready = await client.get("/ready")
            assert ready.status_code == 200, ready.text
            assert (ready.json()["database"], ready.json()["kafka"]) == ("ok", "ok")
            docs = await client.get("/openapi.json")
            assert docs.status_code == 200 and "/reports" in docs.json()["paths"]
    finally:
        await drop_database(url)


@pytest.mark.parametrize("service", SERVICES)
async def test_ready_fails_when_the_database_is_down(kafka, service):
    async with running(service_app(service, NOWHERE_DATABASE, new_prefix())) as client:
        assert (await client.get("/health")).status_code == 200
        ready = await client.get("/ready")
        assert ready.status_code == 503
        assert (ready.json()["database"], ready.json()["kafka"]) == ("unreachable", "ok")


@pytest.mark.parametrize("service", SERVICES)
async def test_ready_fails_when_kafka_is_down(postgres, service):
    url = await migrated_database(service)
    try:
        app = service_app(service, url, new_prefix(), kafka_bootstrap_servers=NOWHERE_KAFKA)
        async with running(app) as client:
            ready = await client.get("/ready")
            assert ready.status_code == 503
            assert (ready.json()["database"], ready.json()["kafka"]) == ("ok", "unreachable")
    finally:
        await drop_database(url)
