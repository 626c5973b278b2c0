"""The revision that slims a consumer's caseload copy: what the copy held before (every field of the version-1
household events) is cut down to the service's declared fields, on PostgreSQL and on SQLite."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.migrations import upgrade
from tests.support import create_database, drop_database

pytestmark = pytest.mark.integration

# (service, the revision before the slimming one)
BEFORE = {"medical": "0005", "office": "0004", "employment": "0003"}

SNAPSHOT = {
    "household_id": "h1",
    "division_code": "230102",
    "address": "哈尔滨市道里区测试街1号",
    "heating": "central",
    "housing_area_m2": "40.00",
    "monthly_income": "100.00",
    "monthly_allowance": "200.00",
    "enrolled_on": "2025-09-01",
    "allowance_schedule": [{"effective_from": "2025-09-01", "amount": "200.00"}],
    "extensions": [],
    "exit_on": None,
    "history": [
        {
            "effective_on": "2025-09-01",
            "heating": "central",
            "housing_area_m2": "40.00",
            "monthly_income": "100.00",
            "division_code": "230102",
        }
    ],
}
MEMBER = {
    "resident_id": "230102197503151234",
    "name": "张三",
    "sex": "male",
    "birth_date": "1975-03-15",
    "relation": "head",
    "able_to_work": True,
    "employment_status": "unemployed",
    "unemployed_since": "2024-01-01",
    "disabled": False,
    "school_stage": "none",
    "boarding": False,
}


async def _copy_after_upgrade(service: str, url: str) -> tuple[dict, dict]:
    await asyncio.to_thread(upgrade, service, url, BEFORE[service])
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO dibao_households (household_id, division_code, status, enrolled_on, snapshot, "
                    "updated_at) VALUES ('h1', '230102', 'active', '2025-09-01', :snapshot, CURRENT_TIMESTAMP)"
                ),
                {"snapshot": json.dumps(SNAPSHOT)},
            )
            await connection.execute(
                text(
                    "INSERT INTO dibao_members (household_id, resident_id, division_code, eligible_from, data) "
                    "VALUES ('h1', :resident, '230102', '2025-09-01', :data)"
                ),
                {"resident": MEMBER["resident_id"], "data": json.dumps(MEMBER)},
            )
        await asyncio.to_thread(upgrade, service, url)
        async with engine.connect() as connection:
            snapshot = (await connection.execute(text("SELECT snapshot FROM dibao_households"))).scalar_one()
            data = (await connection.execute(text("SELECT data FROM dibao_members"))).scalar_one()
    finally:
        await engine.dispose()
    loads = lambda value: json.loads(value) if isinstance(value, str) else value  # noqa: E731
    return loads(snapshot), loads(data)


def _check(service: str, snapshot: dict, data: dict) -> None:
    if service == "medical":
        assert snapshot == {
            "household_id": "h1",
            "division_code": "230102",
            "enrolled_on": "2025-09-01",
            "history": [{"effective_on": "2025-09-01", "division_code": "230102"}],
        }
        assert data == {"resident_id": MEMBER["resident_id"]}
    elif service == "employment":
        assert set(snapshot) == {"household_id", "division_code", "enrolled_on", "history"}
        assert data == {
            k: v for k, v in MEMBER.items() if k not in {"relation", "disabled", "school_stage", "boarding"}
        }
    else:  # the office reads every member fact, the address, heating, area, schedule and extensions
        assert snapshot == {
            k: v for k, v in SNAPSHOT.items() if k not in {"monthly_income", "monthly_allowance", "exit_on", "history"}
        } | {
            "history": [
                {
                    "effective_on": "2025-09-01",
                    "heating": "central",
                    "housing_area_m2": "40.00",
                    "division_code": "230102",
                }
            ]
        }
        assert data == MEMBER


@pytest.mark.parametrize("service", sorted(BEFORE))
async def test_the_caseload_copy_keeps_only_the_declared_fields_after_the_upgrade_on_postgresql(postgres, service):
    url = await create_database(f"{service}_caseload_fields")
    try:
        _check(service, *await _copy_after_upgrade(service, url))
    finally:
        await drop_database(url)


@pytest.mark.parametrize("service", sorted(BEFORE))
async def test_the_caseload_copy_keeps_only_the_declared_fields_after_the_upgrade_on_sqlite(tmp_path: Path, service):
    url = f"sqlite+aiosqlite:///{tmp_path / f'{service}.db'}"
    _check(service, *await _copy_after_upgrade(service, url))
