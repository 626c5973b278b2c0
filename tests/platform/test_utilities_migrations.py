"""The utilities supplement-ledger migrations on the real PostgreSQL (and SQLite): lines paid before 0003
keep their month and become lines of that month's run; from 0004 the ledger is keyed by settlement."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import asyncpg
import pytest

from shared.migrations import downgrade, upgrade
from tests.support import PG_HOST, PG_PORT, PG_USER, create_database, drop_database

pytestmark = pytest.mark.integration

INSERT_LINE = (
    "INSERT INTO heating_supplements (household_id, division_code, period, allowance, rate, season_days, "
    "days_in_month, amount, created_at{extra}) VALUES ('h1', '230102', $1, 300, '0.20', 31, 31, $2, now(){values})"
)


async def test_supplement_ledger_migration_keeps_paid_months_and_then_allows_a_recovery_line(postgres):
    url = await create_database("utilities_ledger_migration")
    try:
        await asyncio.to_thread(upgrade, "utilities", url, "0002")
        connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=url.rsplit("/", 1)[1])
        try:
            await connection.execute(INSERT_LINE.format(extra="", values=""), "2026-01", 60)

            await asyncio.to_thread(upgrade, "utilities", url, "0003")
            assert [
                tuple(row)
                for row in await connection.fetch(
                    "SELECT period, kind, amount, withheld, run_period FROM heating_supplements"
                )
            ] == [("2026-01", "supplement", 60, 0, "2026-01")]
            # A later run records January's overpayment as a line of its own; the same line twice is refused.
            recovery = INSERT_LINE.format(extra=", kind, run_period", values=", 'recovery', '2026-02'")
            await connection.execute(recovery, "2026-01", -20)
            with pytest.raises(asyncpg.UniqueViolationError):
                await connection.execute(recovery, "2026-01", -20)
            assert await connection.fetchval("SELECT count(*) FROM heating_bills") == 0

            await asyncio.to_thread(downgrade, "utilities", url, "0002")
            assert [tuple(row) for row in await connection.fetch("SELECT period, amount FROM heating_supplements")] == [
                ("2026-01", 60)
            ]
            with pytest.raises(asyncpg.UniqueViolationError):
                await connection.execute(INSERT_LINE.format(extra="", values=""), "2026-01", 10)
        finally:
            await connection.close()
    finally:
        await drop_database(url)


ACCOUNT = "INSERT INTO supplement_accounts (household_id, owed, settled_through, stamp, created_at) VALUES ($1, 0, '2026-02', 's', now())"
LINE = INSERT_LINE.format(extra=", kind, withheld, run_period", values=", $3, $4, $5")


async def test_settlement_migration_makes_old_lines_the_first_settlement_and_lets_a_rerun_settle_again(postgres):
    url = await create_database("utilities_settlement_migration")
    try:
        await asyncio.to_thread(upgrade, "utilities", url, "0003")
        connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=url.rsplit("/", 1)[1])
        try:
            await connection.execute(ACCOUNT, "h1")
            await connection.execute(ACCOUNT, "h2")  # settled, but never owed anything
            await connection.execute(LINE, "2026-01", 60, "supplement", 0, "2026-01")
            await connection.execute(LINE, "2026-01", -20, "recovery", 0, "2026-02")

            await asyncio.to_thread(upgrade, "utilities", url)
            assert [
                tuple(row)
                for row in await connection.fetch(
                    "SELECT household_id, settlement FROM supplement_accounts ORDER BY household_id"
                )
            ] == [("h1", 1), ("h2", 0)]
            assert [
                tuple(row)
                for row in await connection.fetch(
                    "SELECT kind, amount, run_period, settlement FROM heating_supplements ORDER BY id"
                )
            ] == [("supplement", 60, "2026-01", 1), ("recovery", -20, "2026-02", 1)]
            # February run again after a change: a second settlement by the same run period fits, twice it does not.
            second = LINE.replace(", $5)", ", $5, 2)").replace("run_period)", "run_period, settlement)")
            await connection.execute(second, "2026-01", -10, "recovery", 0, "2026-02")
            with pytest.raises(asyncpg.UniqueViolationError):
                await connection.execute(second, "2026-01", -10, "recovery", 0, "2026-02")
            with pytest.raises(asyncpg.NotNullViolationError):  # every new line says which settlement wrote it
                await connection.execute(LINE, "2026-02", 60, "supplement", 0, "2026-02")

            await asyncio.to_thread(downgrade, "utilities", url, "0003")
            # One line per month, kind and run period again: February's two recoveries of January are one.
            assert [
                tuple(row)
                for row in await connection.fetch(
                    "SELECT kind, amount, run_period FROM heating_supplements ORDER BY id"
                )
            ] == [("supplement", 60, "2026-01"), ("recovery", -30, "2026-02")]
            with pytest.raises(asyncpg.UniqueViolationError):
                await connection.execute(LINE, "2026-01", -10, "recovery", 0, "2026-02")
        finally:
            await connection.close()
    finally:
        await drop_database(url)


def test_settlement_migration_goes_up_and_down_on_sqlite(tmp_path: Path):
    path = tmp_path / "utilities.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade("utilities", url, "0003")
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("INSERT INTO supplement_accounts (household_id, owed, created_at) VALUES ('h1', 0, '2026-02-01')")
        db.execute(
            "INSERT INTO heating_supplements (household_id, division_code, period, allowance, rate, season_days, "
            "days_in_month, amount, kind, withheld, run_period, created_at) VALUES "
            "('h1', '230102', '2026-01', 300, '0.20', 31, 31, 60, 'supplement', 0, '2026-01', '2026-02-01')"
        )
    upgrade("utilities", url)
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT settlement FROM supplement_accounts").fetchall() == [(1,)]
        assert db.execute("SELECT settlement FROM heating_supplements").fetchall() == [(1,)]
    downgrade("utilities", url, "0003")
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT period, run_period FROM heating_supplements").fetchall() == [("2026-01", "2026-01")]
        assert "settlement" not in {row[1] for row in db.execute("PRAGMA table_info(supplement_accounts)")}
