"""The education ledger migration (0003) on the real PostgreSQL: old grants become payment lines, and back."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared.migrations import downgrade, upgrade
from tests.support import PG_HOST, PG_PORT, PG_USER, create_database, drop_database

pytestmark = pytest.mark.integration

LINE = ("INSERT INTO term_grants (resident_id, household_id, division_code, programme, period, term, amount, detail, "
        "run_id, created_at{kind_column}) VALUES ('230102201409010011', 'h1', '230102', 'boarding_subsidy', "
        "'2026-spring', '2026-spring', $1, 'd', $2, now(){kind_value})")


async def test_grants_become_payment_lines_and_a_downgrade_keeps_each_periods_net_amount(postgres):
    url = await create_database("education_ledger")
    try:
        await asyncio.to_thread(upgrade, "education", url, "0002")
        connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=url.rsplit("/", 1)[1])
        try:
            await connection.execute(LINE.format(kind_column="", kind_value=""), 300, 1)

            await asyncio.to_thread(upgrade, "education", url)
            assert [tuple(r) for r in await connection.fetch("SELECT kind, amount FROM term_grants")] == [("payment", 300)]
            recovery = LINE.format(kind_column=", kind", kind_value=", 'recovery'")
            await connection.execute(recovery, -180, 2)
            with pytest.raises(asyncpg.UniqueViolationError):
                await connection.execute(recovery, -180, 2)  # one line per pupil, programme, period, kind and run

            await asyncio.to_thread(downgrade, "education", url, "0002")
            assert [tuple(r) for r in await connection.fetch("SELECT programme, amount FROM term_grants")] == [
                ("boarding_subsidy", 120)]
        finally:
            await connection.close()
    finally:
        await drop_database(url)
