"""shared.db.insert_many: COPY on PostgreSQL, INSERT on SQLite, the same rows and the same errors either way."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import JSON, Column, Date, Integer, MetaData, String, Table, Uuid, select
from sqlalchemy.exc import IntegrityError

from shared.db import COPY_FROM, Money, UtcDateTime, create_engine, insert_many, session_factory
from tests.support import create_database, drop_database

pytestmark = pytest.mark.integration

metadata = MetaData()
LINES = Table(
    "lines",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(20), nullable=False, unique=True),
    Column("amount", Money(), nullable=False),
    Column("on", Date, nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("ref", Uuid, nullable=False),
    Column("body", JSON, nullable=False),
)


def _rows(count: int, prefix: str = "k") -> list[dict]:
    return [
        {
            "key": f"{prefix}{i}",
            "amount": Decimal("123.45") + i,
            "on": date(2026, 12, 1),
            "at": datetime(2026, 12, 1, 8, 30, tzinfo=UTC),
            "ref": uuid.UUID(int=i),
            "body": {"period": "2026-12", "lines": [i, "¥"]},
        }
        for i in range(count)
    ]


@pytest.fixture(params=["postgres", "sqlite"])
async def sessions(request, tmp_path: Path, postgres):
    if request.param == "postgres":
        url = await create_database("insert_many")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'insert_many.db'}"
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()
        if request.param == "postgres":
            await drop_database(url)


async def test_many_rows_land_as_written_in_their_order_with_their_types(sessions):
    rows = _rows(COPY_FROM + 50)  # enough for COPY on PostgreSQL
    async with sessions() as session:
        await insert_many(session, LINES, rows)
        await session.commit()
    async with sessions() as session:
        found = (await session.execute(select(LINES).order_by(LINES.c.id))).mappings().all()
    assert [{k: v for k, v in row.items() if k != "id"} for row in found] == rows
    assert [row["id"] for row in found] == sorted(row["id"] for row in found)
    assert [row["key"] for row in found] == [row["key"] for row in rows]


async def test_a_violated_key_raises_integrity_error_and_writes_nothing(sessions):
    async with sessions() as session:
        await insert_many(session, LINES, _rows(3))
        await session.commit()
    async with sessions() as session:
        with pytest.raises(IntegrityError):
            await insert_many(session, LINES, _rows(COPY_FROM + 10, prefix="n") + _rows(1))
        await session.rollback()
    async with sessions() as session:
        assert len((await session.execute(select(LINES.c.id))).all()) == 3


async def test_a_database_error_shows_the_statement_but_never_the_values_bound_to_it(sessions):
    address = "哈尔滨市道里区保密街7号"
    async with sessions() as session:
        await insert_many(session, LINES, _rows(1))
        await session.commit()
    async with sessions() as session:
        row = _rows(1)[0] | {"body": {"address": address}}
        with pytest.raises(IntegrityError) as refused:
            await session.execute(LINES.insert(), [row])  # the same key again: the database refuses it
        await session.rollback()
    assert "INSERT INTO lines" in str(refused.value)
    assert address not in str(refused.value) and "123.45" not in str(refused.value)
