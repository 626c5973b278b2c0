"""The education ledger migrations: 0003 (old grants become payment lines, and back) on the real PostgreSQL;
0004 (lines withhold what a household owes) on PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
import sqlite3

import asyncpg
import pytest

from shared.migrations import downgrade, upgrade
from tests.support import PG_HOST, PG_PORT, PG_USER, create_database, drop_database

pytestmark = pytest.mark.integration

LINE = (
    "INSERT INTO term_grants (resident_id, household_id, division_code, programme, period, term, amount, detail, "
    "run_id, created_at{kind_column}) VALUES ('230102201409010011', 'h1', '230102', 'boarding_subsidy', "
    "'2026-spring', '2026-spring', $1, 'd', $2, now(){kind_value})"
)


async def test_grants_become_payment_lines_and_a_downgrade_keeps_each_periods_net_amount(postgres):
    url = await create_database("education_ledger")
    try:
        await asyncio.to_thread(upgrade, "education", url, "0002")
        connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=url.rsplit("/", 1)[1])
        try:
            await connection.execute(LINE.format(kind_column="", kind_value=""), 300, 1)

            await asyncio.to_thread(upgrade, "education", url)
            assert [tuple(r) for r in await connection.fetch("SELECT kind, amount FROM term_grants")] == [
                ("payment", 300)
            ]
            recovery = LINE.format(kind_column=", kind", kind_value=", 'recovery'")
            await connection.execute(recovery, -180, 2)
            with pytest.raises(asyncpg.UniqueViolationError):
                await connection.execute(recovery, -180, 2)  # one line per pupil, programme, period, kind and run

            await asyncio.to_thread(downgrade, "education", url, "0002")
            assert [tuple(r) for r in await connection.fetch("SELECT programme, amount FROM term_grants")] == [
                ("boarding_subsidy", 120)
            ]
        finally:
            await connection.close()
    finally:
        await drop_database(url)


WITHHELD_LINE = (
    "INSERT INTO term_grants (resident_id, household_id, division_code, programme, period, term, kind, "
    "amount, detail, run_id, created_at{withheld_column}) VALUES ('230102201606060028', 'h1', '230102', "
    "'fee_waiver', '2026-autumn', '2026-autumn', 'payment', 200, 'd', {run}, {now}{withheld_value})"
)


async def test_lines_written_before_withholding_transferred_in_full_and_a_downgrade_forgets_what_was_withheld(postgres):
    url = await create_database("education_withheld")
    try:
        await asyncio.to_thread(upgrade, "education", url, "0003")
        connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=url.rsplit("/", 1)[1])
        try:
            await connection.execute(WITHHELD_LINE.format(withheld_column="", withheld_value="", run=1, now="now()"))

            await asyncio.to_thread(upgrade, "education", url, "0004")
            assert [tuple(r) for r in await connection.fetch("SELECT amount, withheld FROM term_grants")] == [(200, 0)]
            await connection.execute(
                WITHHELD_LINE.format(withheld_column=", withheld", withheld_value=", 180", run=2, now="now()")
            )

            await asyncio.to_thread(downgrade, "education", url, "0003")
            columns = {
                r["column_name"]
                for r in await connection.fetch(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = 'term_grants'"
                )
            }
            assert "withheld" not in columns and "kind" in columns
            assert [r["amount"] for r in await connection.fetch("SELECT amount FROM term_grants ORDER BY id")] == [
                200,
                200,
            ]
        finally:
            await connection.close()
    finally:
        await drop_database(url)


async def test_the_withheld_column_goes_up_and_down_on_sqlite(tmp_path):
    path = tmp_path / "education.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade, "education", url, "0003")
    with sqlite3.connect(path) as connection:
        connection.execute(WITHHELD_LINE.format(withheld_column="", withheld_value="", run=1, now="'2026-12-01'"))

    await asyncio.to_thread(upgrade, "education", url)
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT amount, withheld FROM term_grants").fetchall() == [(200, 0)]
        connection.execute(
            WITHHELD_LINE.format(withheld_column=", withheld", withheld_value=", 180", run=2, now="'2026-12-01'")
        )

    await asyncio.to_thread(downgrade, "education", url, "0003")
    with sqlite3.connect(path) as connection:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(term_grants)")}
        assert "withheld" not in columns and "kind" in columns
        assert connection.execute("SELECT amount FROM term_grants ORDER BY id").fetchall() == [(200,), (200,)]
