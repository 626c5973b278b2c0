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
                    f"VALUES ($1, 'registry.households', 'h', 'HouseholdExited', '{{}}', {published})", event_id)

            await asyncio.to_thread(upgrade, "medical", url)
            assert "published_at" not in await _columns(connection, "outbox_messages")
            assert [row["event_id"] for row in await connection.fetch("SELECT event_id FROM outbox_messages")] == [unsent]

            await asyncio.to_thread(downgrade, "medical", url, "0001")
            assert await connection.fetch("SELECT event_id, published_at FROM outbox_messages") == [(unsent, None)]
        finally:
            await connection.close()
    finally:
        await drop_database(url)
