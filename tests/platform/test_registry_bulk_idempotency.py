"""Bulk enrolment with an idempotency key per household, on PostgreSQL and on SQLite: a file sent again finds
what it enrolled (the ops CLI's resume), a key reused for other data is refused, a clash names the household
the person is in, and two requests sending the same keys at once enrol each household once."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from shared.migrations import upgrade
from tests.support import drop_database, household_body, member, migrated_database, new_prefix, running, service_app

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def registry_on(database: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    if database == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}"
        await asyncio.to_thread(upgrade, "registry", url)
    else:
        url = await migrated_database("registry")
    try:
        async with running(service_app("registry", url, new_prefix())) as registry:
            yield registry
    finally:
        if database == "postgres":
            await drop_database(url)


def keyed(body: dict, label: str) -> dict:
    return {**body, "idempotency_key": hashlib.sha256(label.encode()).hexdigest()}


async def bulk(registry: httpx.AsyncClient, households: list[dict]) -> dict:
    response = await registry.post("/households/bulk", json={"households": households})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
async def test_a_file_sent_again_is_answered_already_enrolled_not_as_a_clash(kafka, postgres, database, tmp_path):
    async with registry_on(database, tmp_path) as registry:
        first, second = keyed(household_body(), "H1"), keyed(household_body(), "H2")
        sent = await bulk(registry, [first, second])
        assert (sent["enrolled"], sent["already_enrolled"], sent["rejected"]) == (2, 0, 0), sent

        again = await bulk(registry, [first, second, keyed(household_body(), "H3")])
        assert (again["enrolled"], again["already_enrolled"], again["rejected"]) == (1, 2, 0), again
        assert [r["id"] for r in again["results"][:2]] == [r["id"] for r in sent["results"]]
        assert [r["already_enrolled"] for r in again["results"]] == [True, True, False]
        assert (await registry.get("/households")).json()["total"] == 3

        # The same key for other data is not taken for a repeat: it is refused, and nothing is enrolled.
        changed = {**first, "address": "哈尔滨市道里区另一街2号"}
        reused = await bulk(registry, [changed])
        assert reused["results"][0]["error"]["code"] == "idempotency_key_reused", reused
        assert sent["results"][0]["id"] in reused["results"][0]["error"]["detail"]

        # Without the key, the same people clash, and the answer says with which household.
        clash = await bulk(registry, [{name: value for name, value in first.items() if name != "idempotency_key"}])
        error = clash["results"][0]["error"]
        assert error["code"] == "person_in_active_household"
        assert error["clashes"] == [{"member": 0, "household_id": sent["results"][0]["id"]}]
        assert (await registry.get("/households")).json()["total"] == 3


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
async def test_two_requests_with_the_same_keys_at_once_enrol_each_household_once(kafka, postgres, database, tmp_path):
    async with registry_on(database, tmp_path) as registry:
        households = [
            keyed(household_body(members=[member("head"), member("spouse", male=False)]), f"H{n}") for n in range(20)
        ]
        answers = await asyncio.gather(*(bulk(registry, households) for _ in range(4)))
        assert sum(a["enrolled"] for a in answers) == 20, answers
        assert all(a["rejected"] == 0 for a in answers), answers
        ids = {tuple(r["id"] for r in a["results"]) for a in answers}
        assert len(ids) == 1  # every request names the same 20 households
        assert (await registry.get("/households")).json()["total"] == 20
