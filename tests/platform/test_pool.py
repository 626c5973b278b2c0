"""Pooled PostgreSQL connections: one that died while idle is replaced before a caller gets it."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text

from shared import db
from tests.support import PG_HOST, PG_PORT, PG_USER, create_database, drop_database

pytestmark = pytest.mark.integration


async def test_connection_killed_while_idle_in_the_pool_is_replaced_before_use(postgres, monkeypatch):
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.05)
    url = await create_database("pool")
    engine = db.create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            first = await connection.scalar(text("SELECT pg_backend_pid()"))
        admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", first)
        finally:
            await admin.close()
        await asyncio.sleep(0.3)
        async with engine.connect() as connection:
            second = await connection.scalar(text("SELECT pg_backend_pid()"))
        assert second != first
    finally:
        await engine.dispose()
        await drop_database(url)
