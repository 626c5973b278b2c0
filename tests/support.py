"""Helpers for tests that run against the real broker and PostgreSQL (never mocks of them)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI

from shared.auth import ALL_SCOPES, mint
from shared.events import EventEnvelope, decode_envelope
from shared.migrations import upgrade
from shared.resident_id import make_resident_id
from shared.settings import load_settings

KAFKA = os.environ.get("TEST_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
PG_HOST = os.environ.get("TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("TEST_PG_USER", "postgres")


def pg_url(database: str) -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


async def create_database(label: str) -> str:
    """A new, empty PostgreSQL database for one test; returns its SQLAlchemy URL."""

    name = f"t_{label}_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return pg_url(name)


async def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


_templates: dict[str, str] = {}
_template_lock = asyncio.Lock()


async def migrated_database(service: str) -> str:
    """A fresh database at the service's latest migration, cloned from a template migrated once per run."""

    async with _template_lock:
        if service not in _templates:
            url = await create_database(f"tmpl_{service}")
            await asyncio.to_thread(upgrade, service, url)
            _templates[service] = url.rsplit("/", 1)[1]
    name = f"t_{service}_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        await connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_templates[service]}"')
    finally:
        await connection.close()
    return pg_url(name)


PREFIXES: list[str] = []


def new_prefix() -> str:
    """A topic prefix of this test's own; its topics are deleted when the test session ends."""

    prefix = f"t{uuid.uuid4().hex[:8]}."
    PREFIXES.append(prefix)
    return prefix


async def delete_topics(prefixes: list[str]) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if any(t.startswith(p) for p in prefixes)]
        for start in range(0, len(topics), 100):
            await admin.delete_topics(topics[start : start + 100])
    finally:
        await admin.close()


def service_app(service: str, database_url: str, prefix: str, **overrides: Any) -> FastAPI:
    from importlib import import_module

    options = {
        "kafka_bootstrap_servers": KAFKA,
        "environment": "test",
        "log_json": False,
        "outbox_poll_seconds": 0.2,
        **overrides,
    }
    settings = load_settings(service, database_url=database_url, topic_prefix=prefix, **options)
    return import_module(f"services.{service}.main").create_app(settings)


def token(
    *scopes: str,
    hospital_id: str | None = None,
    school_id: str | None = None,
    agency: str = "local",
    ttl: int = 3600,
) -> str:
    """A bearer token (the development secret the test apps verify with); every scope when none named. The
    default agency, ``local``, may hold any scope (shared.agencies; refused in production)."""

    return mint(
        subject="pytest",
        agency=agency,
        scopes=scopes or ALL_SCOPES,
        hospital_id=hospital_id,
        school_id=school_id,
        ttl_seconds=ttl,
    )


def bearer(*scopes: str, **kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(*scopes, **kwargs)}"}


class AppClient(httpx.AsyncClient):
    """A client of one app in this process, which it keeps (``client.app``) for the tests that look inside."""

    def __init__(self, app: FastAPI, **options: Any) -> None:
        super().__init__(transport=httpx.ASGITransport(app=app), **options)
        self.app = app

    @property
    def topic_prefix(self) -> str:
        """The prefix of the topics the app reads and writes (each test system has its own)."""

        prefix: str = self.app.state.settings.topic_prefix
        return prefix


@contextlib.asynccontextmanager
async def running(app: FastAPI, *, authorised: bool = True) -> AsyncIterator[AppClient]:
    """The app with its lifespan (consumer, outbox relay) running, and a client to call it
    (with a token holding every scope, unless ``authorised`` is false)."""

    async with app.router.lifespan_context(app):
        headers = bearer() if authorised else {}
        async with AppClient(app, base_url="http://test", timeout=60, headers=headers) as client:
            yield client


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 30.0, interval: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy (events take a moment to flow)."""

    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while True:
        try:
            last = await check()
            if last:
                return last
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {last!r})")
        await asyncio.sleep(interval)


async def read_topic(topic: str, *, until: Callable[[list[Any]], bool], timeout: float = 30.0) -> list[Any]:
    """Read a topic from the beginning (no group) until ``until(records)`` holds."""

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=KAFKA, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not until(records):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{topic}: only {len(records)} records after {timeout} s")
            batch = await consumer.getmany(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


def envelopes(records: list[Any]) -> list[EventEnvelope]:
    return [decode_envelope(record.value) for record in records]


_sequence = iter(range(1, 10_000_000))


def person_id(born: date = date(1980, 1, 1), male: bool = True) -> str:
    """A valid resident ID with the given birth date and sex, unique within the test run."""

    n = next(_sequence)
    block, index = divmod(n, 500)
    region = f"{230100 + block % 9899:06d}"
    return make_resident_id(region, born, index * 2 + (1 if male else 0))


def household_body(
    *,
    division: str = "230102",
    income: str = "100.00",
    heating: str = "central",
    area: str = "40.00",
    enrolled_on: date | None = None,
    members: list[dict] | None = None,
) -> dict:
    members = members or [member("head")]
    body = {
        "division_code": division,
        "address": "哈尔滨市道里区测试街1号",
        "heating": heating,
        "housing_area_m2": area,
        "monthly_income": income,
        "members": members,
    }
    if enrolled_on:
        body["enrolled_on"] = enrolled_on.isoformat()
    return body


def member(relation: str = "head", *, born: date = date(1975, 3, 15), male: bool = True, **fields: Any) -> dict:
    return {
        "resident_id": person_id(born, male),
        "name": fields.pop("name", "测试成员"),
        "relation": relation,
        **fields,
    }


@contextlib.asynccontextmanager
async def system(*services: str, prefix: str | None = None, **overrides: Any) -> AsyncIterator[dict[str, AppClient]]:
    """Several services in this process, each on its own fresh PostgreSQL database, sharing topics."""

    prefix = prefix or new_prefix()
    urls = {service: await migrated_database(service) for service in services}
    try:
        async with contextlib.AsyncExitStack() as stack:
            clients = {}
            for service in services:
                app = service_app(service, urls[service], prefix, **overrides.get(service, {}))
                clients[service] = await stack.enter_async_context(running(app))
            yield clients
    finally:
        for url in urls.values():
            await drop_database(url)


async def enrol(registry: httpx.AsyncClient, body: dict) -> dict:
    response = await registry.post("/households", json=body)
    assert response.status_code == 201, response.text
    return response.json()


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """The app behind a real HTTP server on a free local port (for a browser or a subprocess)."""

    import socket

    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # log_config=None: the app's own logging (JSON, masked) stays in charge, as under `uvicorn --factory`.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


async def all_found(client: httpx.AsyncClient, *paths: str) -> bool:
    """Every path answers 200 (the service has heard of everything asked about)."""

    for path in paths:
        if (await client.get(path)).status_code != 200:
            return False
    return True
