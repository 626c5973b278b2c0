"""Every service answers /health and /ready; /ready fails when its database or Kafka is unreachable."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from shared.migrations import SERVICES
from tests.support import (
    AppClient,
    drop_database,
    eventually,
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


async def test_ready_fails_once_the_consumer_or_the_outbox_relay_has_stopped(kafka, postgres):
    url = await migrated_database("medical")
    try:
        async with running(service_app("medical", url, new_prefix())) as client:
            platform = client.app.state.platform
            ready = await eventually(lambda: _ready_with(client, consumer="running"))
            assert ready.json()["relay"] == "running"

            consumer = next(task for task in platform.tasks if task.get_name() == "medical-consumer")
            platform.consumer.stop()  # as if it had died: its task ends, nothing more is consumed
            await asyncio.wait_for(consumer, timeout=30)
            ready = await client.get("/ready")
            assert ready.status_code == 503 and ready.json()["consumer"] == "stopped", ready.text
            assert (ready.json()["database"], ready.json()["kafka"]) == ("ok", "ok")

            relay = next(task for task in platform.tasks if task.get_name() == "medical-outbox-relay")
            relay.cancel()
            await asyncio.gather(relay, return_exceptions=True)
            assert (await client.get("/ready")).json()["relay"] == "stopped"
    finally:
        await drop_database(url)


async def _ready_with(client: AppClient, **states: str) -> httpx.Response | None:
    response = await client.get("/ready")
    return response if all(response.json()[key] == value for key, value in states.items()) else None


async def test_every_response_carries_the_request_id_and_a_problem_body_quotes_it(kafka, postgres):
    url = await migrated_database("legal")
    try:
        async with running(service_app("legal", url, new_prefix())) as client:
            made = await client.get("/no-such-path")
            assert made.status_code == 404
            assert len(made.headers["x-request-id"]) == 32
            assert made.json()["request_id"] == made.headers["x-request-id"]

            sent = await client.get("/no-such-path", headers={"X-Request-ID": "agency-7:req.42"})
            assert sent.headers["x-request-id"] == "agency-7:req.42" and sent.json()["request_id"] == "agency-7:req.42"

            # Not something to put in a log line as it is: a fresh one instead.
            odd = await client.get("/health", headers={"X-Request-ID": "a b\tc"})
            assert odd.status_code == 200 and odd.headers["x-request-id"] != "a b\tc"

            # Refused before routing (an oversized body) and still traceable.
            big = await client.post("/cases", content=b"x" * (2 * 1024 * 1024), headers={"X-Request-ID": "big-1"})
            assert big.status_code == 413 and big.json()["request_id"] == "big-1"
    finally:
        await drop_database(url)
