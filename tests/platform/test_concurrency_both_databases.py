"""The registry's invariants under concurrent clients, on PostgreSQL and on SQLite alike (what holds on one
holds on the other): one person in one household, one enrolment announced once and reaching the bureaus,
each household settled once by runs at the same time."""

from __future__ import annotations

import asyncio
import contextlib
import unicodedata
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from shared.migrations import upgrade
from tests.support import (
    drop_database,
    enrol,
    eventually,
    household_body,
    member,
    migrated_database,
    new_prefix,
    running,
    service_app,
)

pytestmark = pytest.mark.integration

CONCURRENT = 30


@contextlib.asynccontextmanager
async def registry_and_medical(
    database: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """The registry on ``database`` (``postgres`` or ``sqlite``) and the medical bureau (PostgreSQL), on one broker."""

    prefix = new_prefix()
    if database == "sqlite":
        registry_url = f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}"
        await asyncio.to_thread(upgrade, "registry", registry_url)
    else:
        registry_url = await migrated_database("registry")
    medical_url = await migrated_database("medical")
    try:
        async with (
            running(service_app("registry", registry_url, prefix)) as registry,
            running(service_app("medical", medical_url, prefix)) as medical,
        ):
            yield registry, medical
    finally:
        await drop_database(medical_url)
        if database == "postgres":
            await drop_database(registry_url)


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
async def test_concurrent_identical_enrolments_enrol_once_and_reach_the_bureau(kafka, postgres, tmp_path, database):
    head = member("head")
    body = household_body(members=[head, member("spouse", male=False)])
    async with registry_and_medical(database, tmp_path) as (registry, medical):
        responses = await asyncio.gather(*(registry.post("/households", json=body) for _ in range(CONCURRENT)))
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [201] + [409] * (CONCURRENT - 1), {s: statuses.count(s) for s in set(statuses)}
        assert (await registry.get("/households")).json()["total"] == 1

        async def eligible() -> bool:
            response = await medical.get(f"/eligibility/{head['resident_id']}")
            return response.status_code == 200 and response.json()["eligible"]

        await eventually(eligible)


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
async def test_one_person_written_two_ways_at_once_is_enrolled_once(kafka, postgres, tmp_path, database):
    person = member("head")
    full_width = unicodedata.normalize("NFKC", person["resident_id"]).translate(
        {ord(c): ord(c) + 0xFEE0 for c in "0123456789X"}
    )
    assert full_width != person["resident_id"]
    bodies = [
        household_body(members=[{**person, "resident_id": spelling}])
        for spelling in (person["resident_id"], full_width) * (CONCURRENT // 2)
    ]
    async with registry_and_medical(database, tmp_path) as (registry, _):
        responses = await asyncio.gather(*(registry.post("/households", json=body) for body in bodies))
        assert sorted(r.status_code for r in responses).count(201) == 1
        assert {r.json()["code"] for r in responses if r.status_code != 201} == {"person_in_active_household"}
        found = (await registry.get(f"/persons/{full_width}")).json()
        assert found["resident_id"] == person["resident_id"]


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
async def test_concurrent_payment_runs_settle_each_household_once(kafka, postgres, tmp_path, database):
    async with registry_and_medical(database, tmp_path) as (registry, _):
        households = [
            await enrol(registry, household_body(income="0.00", enrolled_on=date(2026, 1, 1))) for _ in range(6)
        ]
        runs = await asyncio.gather(*(registry.post("/payment-runs", json={"period": "2026-03"}) for _ in range(5)))
        assert all(run.status_code == 200 for run in runs), [run.text for run in runs]
        assert sum(run.json()["households_paid"] for run in runs) == len(households)
        for household in households:
            lines = (await registry.get(f"/households/{household['id']}/payments")).json()
            assert sorted((line["period"], line["amount"]) for line in lines) == [
                ("2026-01", "200.00"),
                ("2026-02", "200.00"),
                ("2026-03", "200.00"),
            ]
