"""Migrations that change what is already stored, run on the real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from shared.migrations import downgrade, upgrade
from tests.support import PG_HOST, PG_PORT, PG_USER, create_database, drop_database

pytestmark = pytest.mark.integration


async def _columns(connection: asyncpg.Connection, table: str) -> set[str]:
    rows = await connection.fetch("SELECT column_name FROM information_schema.columns WHERE table_name = $1", table)
    return {row["column_name"] for row in rows}


async def test_outbox_migration_keeps_unsent_events_and_drops_sent_ones(postgres):
    url = await create_database("outbox_migration")
    try:
        await asyncio.to_thread(upgrade, "medical", url, "0001")
        connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=url.rsplit("/", 1)[1])
        try:
            sent, unsent = uuid.uuid4(), uuid.uuid4()
            for event_id, published in ((sent, "now()"), (unsent, "NULL")):
                await connection.execute(
                    "INSERT INTO outbox_messages (event_id, topic, key, event_type, body, published_at) "
                    f"VALUES ($1, 'registry.households', 'h', 'HouseholdExited', '{{}}', {published})",
                    event_id,
                )

            await asyncio.to_thread(upgrade, "medical", url)
            assert "published_at" not in await _columns(connection, "outbox_messages")
            assert [row["event_id"] for row in await connection.fetch("SELECT event_id FROM outbox_messages")] == [
                unsent
            ]

            await asyncio.to_thread(downgrade, "medical", url, "0001")
            assert await connection.fetch("SELECT event_id, published_at FROM outbox_messages") == [(unsent, None)]
        finally:
            await connection.close()
    finally:
        await drop_database(url)


async def _tables(connection: asyncpg.Connection) -> set[str]:
    rows = await connection.fetch("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
    return {row["table_name"] for row in rows}


OFFICE_TABLES = {"assistance_records", "assistance_payments", "donations", "pairings"}
OFFICE_PARAMETERS = (
    "SELECT count(*) FROM policy_parameters WHERE name = 'unserved_after_days' OR name LIKE 'assessment_%'"
)


async def test_the_office_leaves_the_registry_but_not_with_its_mutual_aid_records_unmoved(postgres, monkeypatch):
    url = await create_database("office_leaves")
    try:
        await asyncio.to_thread(upgrade, "registry", url, "0004")
        connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=url.rsplit("/", 1)[1])
        try:
            assert await _tables(connection) >= OFFICE_TABLES
            assert await connection.fetchval(OFFICE_PARAMETERS) == 6
            await connection.execute(
                "INSERT INTO donations (division_code, donor_name, donor_kind, amount, given_on, "
                "created_at) VALUES ('230102', '某商会', 'unit', 100, '2026-02-01', now())"
            )
            with pytest.raises(RuntimeError, match="mutual-aid records"):
                await asyncio.to_thread(upgrade, "registry", url)
            assert "donations" in await _tables(connection), "nothing dropped"

            monkeypatch.setenv("REGISTRY_OFFICE_DATA_MOVED", "1")
            await asyncio.to_thread(upgrade, "registry", url)
            assert not OFFICE_TABLES & await _tables(connection)
            assert await connection.fetchval(OFFICE_PARAMETERS) == 0
            assert await connection.fetchval("SELECT count(*) FROM policy_parameters WHERE name = 'dibao_standard'")

            await asyncio.to_thread(downgrade, "registry", url, "0004")
            assert await _tables(connection) >= OFFICE_TABLES
            assert await connection.fetchval(OFFICE_PARAMETERS) == 6
        finally:
            await connection.close()
    finally:
        await drop_database(url)


async def test_the_office_migrates_up_and_down(postgres):
    url = await create_database("office_chain")
    try:
        await asyncio.to_thread(upgrade, "office", url)
        connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=url.rsplit("/", 1)[1])
        try:
            assert OFFICE_TABLES | {"enrolments", "dibao_households", "dibao_members"} <= await _tables(connection)
            assert await connection.fetchval(OFFICE_PARAMETERS) == 6
            await asyncio.to_thread(downgrade, "office", url)
            assert await _tables(connection) == {"alembic_version"}
        finally:
            await connection.close()
    finally:
        await drop_database(url)


async def test_migrations_wait_for_a_database_that_is_not_up_yet_and_say_so_when_it_never_comes():
    from shared.migrations import wait_for_database

    with pytest.raises(SystemExit, match="database not reachable after 0 s"):
        await wait_for_database(f"postgresql+asyncpg://{PG_USER}@127.0.0.1:1/nowhere", 0)


async def test_migrations_go_ahead_once_the_database_answers(postgres):
    url = await create_database("wait_for_it")
    try:
        await wait_for_database_within(url)
    finally:
        await drop_database(url)


async def wait_for_database_within(url: str) -> None:
    from shared.migrations import wait_for_database

    await asyncio.wait_for(wait_for_database(url, 30), timeout=30)
