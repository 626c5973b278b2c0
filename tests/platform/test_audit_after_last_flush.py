"""Every committed change is in the audit trail, and only committed changes are (shared.unit_of_work).

SQLAlchemy runs ``before_commit`` before the commit's own flush: when the audit rows were written from a
``before_commit`` hook, a change left for the commit to flush was committed with no audit row. The unit of
work writes them after its last flush. Run on SQLite and PostgreSQL, through a request as a service serves it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from services.legal.models import Lawyer
from shared.auth import requires
from shared.migrations import upgrade
from shared.unit_of_work import DbSession
from tests.support import drop_database, migrated_database, new_prefix, running, service_app

pytestmark = pytest.mark.integration


class _Abandoned(Exception):
    pass


def _lawyer(name: str) -> Lawyer:
    return Lawyer(
        name=name, firm="某律师事务所", division_code="230102", kind="lawyer", active=True, created_at=datetime.now(UTC)
    )


def _probe_routes() -> APIRouter:
    """Use cases written the way the issue describes: no explicit flush; a savepoint given up."""

    router = APIRouter(dependencies=[requires("legal:write")])

    @router.post("/probe/lawyers/{lawyer_id}/retire")
    async def retire(lawyer_id: int, session: DbSession) -> dict[str, bool]:
        lawyer = await session.get(Lawyer, lawyer_id)
        assert lawyer is not None
        lawyer.active = False  # left for the commit to flush
        return {"retired": True}

    @router.post("/probe/lawyers/one-kept-one-abandoned")
    async def one_kept_one_abandoned(session: DbSession) -> dict[str, bool]:
        session.add(_lawyer("留下的律师"))
        await session.flush()
        try:
            async with session.begin_nested():
                session.add(_lawyer("撤回的律师"))
                await session.flush()
                raise _Abandoned
        except _Abandoned:
            pass
        return {"done": True}

    return router


@pytest.fixture(params=["sqlite", "postgresql"])
async def legal(request: pytest.FixtureRequest, tmp_path: Path, postgres: str) -> AsyncIterator[httpx.AsyncClient]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'legal.db'}"
        await asyncio.to_thread(upgrade, "legal", url)
    else:
        url = await migrated_database("legal")
    app: FastAPI = service_app("legal", url, new_prefix(), outbox_relay_enabled=False, consumer_enabled=False)
    app.include_router(_probe_routes())
    try:
        async with running(app) as client:
            yield client
    finally:
        if request.param == "postgresql":
            await drop_database(url)


async def _audit_of_lawyers(client: httpx.AsyncClient) -> list[dict]:
    response = await client.get("/audit", params={"resource_type": "lawyers"})
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_a_change_left_for_the_commit_to_flush_is_audited(legal):
    created = await legal.post(
        "/lawyers", json={"name": "张律师", "firm": "黑龙江某律师事务所", "division_code": "230102"}
    )
    assert created.status_code == 201, created.text
    lawyer_id = created.json()["id"]

    retired = await legal.post(f"/probe/lawyers/{lawyer_id}/retire")
    assert retired.status_code == 200, retired.text

    lawyers = (await legal.get("/lawyers")).json()
    assert [lawyer["active"] for lawyer in lawyers if lawyer["id"] == lawyer_id] == [False], "the change is committed"
    entries = await _audit_of_lawyers(legal)
    assert [
        (entry["action"], entry["before"], entry["after"] if entry["before"] else entry["after"]["active"])
        for entry in entries
    ] == [
        ("POST /lawyers", None, True),
        ("POST /probe/lawyers/{lawyer_id}/retire", {"active": True}, {"active": False}),
    ], entries
    assert {(entry["agency"], entry["resource_id"]) for entry in entries} == {("local", lawyer_id)}


async def test_a_savepoint_rolled_back_takes_its_own_audit_entries_and_no_others(legal):
    response = await legal.post("/probe/lawyers/one-kept-one-abandoned")
    assert response.status_code == 200, response.text

    assert [lawyer["name"] for lawyer in (await legal.get("/lawyers")).json()] == ["留下的律师"]
    assert [entry["after"]["name"] for entry in await _audit_of_lawyers(legal)] == ["留下的律师"]
