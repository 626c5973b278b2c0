"""The registry on a SQLite file (the zero-setup default) under concurrent writers.

SQLite's Python drivers begin a transaction only at the first INSERT/UPDATE/DELETE and never for a
SAVEPOINT, so a savepoint taken first committed for real, and a later "database is locked" left half a
unit of work behind. shared.db now emits ``BEGIN IMMEDIATE`` itself: writers queue at the start of
their transaction, and a savepoint is part of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from services.registry.models import Household, Member
from shared.migrations import upgrade
from shared.platform_models import OutboxMessage
from tests.support import AppClient, household_body, member, new_prefix, running, service_app

pytestmark = pytest.mark.integration

CONCURRENT = 100


@pytest.fixture()
async def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}"
    await asyncio.to_thread(upgrade, "registry", url)
    return url


def registry_on(url: str, **overrides: object):
    # No relay: every event written stays in the outbox to be counted.
    return service_app("registry", url, new_prefix(), outbox_relay_enabled=False, consumer_enabled=False, **overrides)


async def counts(client: AppClient) -> tuple[int, int, int]:
    async with client.app.state.platform.sessions() as session:
        households = await session.scalar(select(func.count()).select_from(Household))
        members = await session.scalar(select(func.count()).select_from(Member))
        enrolled = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.event_type == "HouseholdEnrolled")
        )
    return households or 0, members or 0, enrolled or 0


@contextlib.asynccontextmanager
async def running_on(url: str, **overrides: object) -> AsyncIterator[AppClient]:
    async with running(registry_on(url, **overrides)) as client:
        yield client


async def test_concurrent_identical_enrolments_on_sqlite_enrol_once_with_exactly_one_event(kafka, sqlite_url):
    body = household_body(members=[member("head"), member("spouse", male=False)])
    async with running_on(sqlite_url) as registry:
        responses = await asyncio.gather(*(registry.post("/households", json=body) for _ in range(CONCURRENT)))
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [201] + [409] * (CONCURRENT - 1), {s: statuses.count(s) for s in set(statuses)}
        assert {r.json()["code"] for r in responses if r.status_code == 409} == {"person_in_active_household"}
        assert await counts(registry) == (1, 2, 1)


async def test_a_request_failing_after_its_savepoint_leaves_nothing_on_sqlite(kafka, sqlite_url):
    path = sqlite_url.split("///", 1)[1]
    async with running_on(sqlite_url) as registry:
        # The enrolment's savepoint (household, members, revision, audit) holds; the outbox insert after it
        # fails. The savepoint must go with the transaction: no household without its event.
        with contextlib.closing(sqlite3.connect(path)) as admin, admin:
            admin.execute(
                "CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox_messages "
                "BEGIN SELECT RAISE(ABORT, 'outbox refused'); END"
            )
        transport = httpx.ASGITransport(app=registry.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=registry.headers) as client:
            failed = await client.post("/households", json=household_body())
        assert failed.status_code == 500, failed.text
        assert await counts(registry) == (0, 0, 0)
        with contextlib.closing(sqlite3.connect(path)) as admin, admin:
            admin.execute("DROP TRIGGER refuse_outbox")
        assert (await registry.post("/households", json=household_body())).status_code == 201
        assert await counts(registry) == (1, 1, 1)


async def test_a_clash_inside_the_savepoint_leaves_the_other_rows_of_a_bulk_request_on_sqlite(kafka, sqlite_url):
    head = member("head")
    async with running_on(sqlite_url) as registry:
        assert (await registry.post("/households", json=household_body(members=[head]))).status_code == 201
        clash = await registry.post(
            "/households", json=household_body(members=[member("head"), {**head, "relation": "spouse"}])
        )
        assert clash.status_code == 409, clash.text
        assert await counts(registry) == (1, 1, 1)
        # The batch savepoint fails on the taken head; row by row, the good row lands with its event.
        bulk = await registry.post(
            "/households/bulk", json={"households": [household_body(), household_body(members=[head])]}
        )
        assert bulk.status_code == 200, bulk.text
        assert [row["error"] is None for row in bulk.json()["results"]] == [True, False]
        assert await counts(registry) == (2, 2, 2)


async def test_a_locked_sqlite_database_answers_503_service_busy_and_nothing_is_written(kafka, sqlite_url):
    path = sqlite_url.split("///", 1)[1]
    async with running_on(sqlite_url, database_busy_timeout_seconds=0.2) as registry:
        # The service has been running (its first connection switched the file to WAL) when another
        # process takes the write lock (a long batch, a backup).
        assert (await registry.get("/households")).status_code == 200
        holder = sqlite3.connect(path, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            started = asyncio.get_running_loop().time()
            response = await registry.post("/households", json=household_body())
            waited = asyncio.get_running_loop().time() - started
            # Reading does not wait for the writer (WAL).
            assert (await registry.get("/households")).status_code == 200
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "service_busy"
        assert 0.15 < waited < 5, "a writer waits for the lock up to the busy timeout, then gives up"
        assert int(response.headers["Retry-After"]) >= 1
        assert await counts(registry) == (0, 0, 0)
        # Once the lock is gone the same request goes through.
        assert (await registry.post("/households", json=household_body())).status_code == 201
