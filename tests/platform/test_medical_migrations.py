"""The medical service's migration to a locked yearly cap row and folded invoice numbers, on the real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import asyncpg
import pytest

from shared.migrations import downgrade, upgrade
from tests.support import PG_HOST, PG_PORT, PG_USER, create_database, drop_database

pytestmark = pytest.mark.integration

CLAIM = (
    "INSERT INTO claims (hospital_id, invoice_no, resident_id, household_id, division_code, visit_date, year, "
    "kind, total_cost, insurance_paid, out_of_pocket, assistance_amount, capped, created_at) "
    "VALUES (1, $1, $2, 'h1', '230102', $3, $4, 'outpatient', 100, 0, 100, $5, false, now()) RETURNING id"
)


async def test_the_cap_row_starts_from_stored_claims_and_stored_invoice_numbers_are_folded(postgres):
    url = await create_database("medical_cap_migration")
    try:
        await asyncio.to_thread(upgrade, "medical", url, "0002")
        connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=url.rsplit("/", 1)[1])
        try:
            await connection.execute(
                "INSERT INTO hospitals (id, name, level, designated_from, created_at) "
                "VALUES (1, 'h', 'city', '2020-01-01', now())"
            )
            claims = {}
            for invoice_no, person, day, amount in [
                ("inv-1 ", "A", date(2025, 5, 1), "300.00"),  # folds to INV-1
                ("ＩＮＶ－１", "A", date(2025, 6, 1), "250.50"),  # also folds to INV-1: an invoice paid twice
                ("INV-2", "A", date(2026, 1, 2), "100.00"),  # already folded
                ("inv-3", "B", date(2025, 7, 1), "40.00"),
                ("INV-4", "B", date(2025, 7, 1), "0.00"),
                ("inv-4", "B", date(2025, 7, 2), "10.00"),  # folds onto an invoice already spelled INV-4
            ]:
                claims[invoice_no] = await connection.fetchval(
                    CLAIM, invoice_no, person, day, day.year, Decimal(amount)
                )
            await connection.execute(
                "INSERT INTO refused_claims (hospital_id, invoice_no, resident_id, visit_date, "
                "total_cost, code, reason, created_at) "
                "VALUES (1, ' ｒｘ-9', 'C', '2025-01-01', 5, 'not_eligible', 'r', now())"
            )

            await asyncio.to_thread(upgrade, "medical", url)

            used = {
                (r["resident_id"], r["year"]): r["used"]
                for r in await connection.fetch("SELECT resident_id, year, used FROM yearly_cap_use")
            }
            assert used == {
                ("A", 2025): Decimal("550.50"),
                ("A", 2026): Decimal("100.00"),
                ("B", 2025): Decimal("50.00"),
            }
            invoices = {r["id"]: r["invoice_no"] for r in await connection.fetch("SELECT id, invoice_no FROM claims")}
            assert invoices == {
                claims["inv-1 "]: "INV-1",
                claims["ＩＮＶ－１"]: "ＩＮＶ－１",
                claims["INV-2"]: "INV-2",
                claims["inv-3"]: "INV-3",
                claims["INV-4"]: "INV-4",
                claims["inv-4"]: "inv-4",
            }
            assert await connection.fetchval("SELECT invoice_no FROM refused_claims") == "RX-9"

            await asyncio.to_thread(downgrade, "medical", url, "0002")
            assert await connection.fetchval("SELECT to_regclass('yearly_cap_use')") is None
            assert await connection.fetchval("SELECT invoice_no FROM claims WHERE id = $1", claims["inv-3"]) == "INV-3"
        finally:
            await connection.close()
    finally:
        await drop_database(url)
