"""The utilities supplement-ledger migration (0003) on the real PostgreSQL: lines paid before it keep
their month and become lines of that month's run; a second line of a month then fits."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared.migrations import downgrade, upgrade
from tests.support import PG_HOST, PG_PORT, PG_USER, create_database, drop_database

pytestmark = pytest.mark.integration

INSERT_LINE = ("INSERT INTO heating_supplements (household_id, division_code, period, allowance, rate, season_days, "
               "days_in_month, amount, created_at{extra}) VALUES ('h1', '230102', $1, 300, '0.20', 31, 31, $2, now(){values})")


async def test_supplement_ledger_migration_keeps_paid_months_and_then_allows_a_recovery_line(postgres):
    url = await create_database("utilities_ledger_migration")
    try:
        await asyncio.to_thread(upgrade, "utilities", url, "0002")
        connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=url.rsplit("/", 1)[1])
        try:
            await connection.execute(INSERT_LINE.format(extra="", values=""), "2026-01", 60)

            await asyncio.to_thread(upgrade, "utilities", url)
            assert [tuple(row) for row in await connection.fetch(
                "SELECT period, kind, amount, withheld, run_period FROM heating_supplements")] == [
                ("2026-01", "supplement", 60, 0, "2026-01")]
            # A later run records January's overpayment as a line of its own; the same line twice is refused.
            recovery = INSERT_LINE.format(extra=", kind, run_period", values=", 'recovery', '2026-02'")
            await connection.execute(recovery, "2026-01", -20)
            with pytest.raises(asyncpg.UniqueViolationError):
                await connection.execute(recovery, "2026-01", -20)
            assert await connection.fetchval("SELECT count(*) FROM heating_bills") == 0

            await asyncio.to_thread(downgrade, "utilities", url, "0002")
            assert [tuple(row) for row in await connection.fetch("SELECT period, amount FROM heating_supplements")] == [
                ("2026-01", 60)]
            with pytest.raises(asyncpg.UniqueViolationError):
                await connection.execute(INSERT_LINE.format(extra="", values=""), "2026-01", 10)
        finally:
            await connection.close()
    finally:
        await drop_database(url)
