"""`harbin-ops replay` as the ops team runs it: it says what callers meet meanwhile and asks; a service with
another replica consuming part of its topics refuses (the other would re-read nothing); alone, it replays and the
CLI follows it until it has caught up."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx
import pytest
from fastapi import FastAPI

from tests.support import (
    bearer,
    drop_database,
    enrol,
    eventually,
    household_body,
    migrated_database,
    new_prefix,
    running,
    service_app,
    serving,
    system,
    token,
)

pytestmark = pytest.mark.integration


async def harbin_ops(env: dict[str, str], *arguments: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ops", *arguments,
        env={**os.environ, "NO_COLOR": "1", "HARBIN_TOKEN": token("legal:admin", "ops:metrics"), **env},
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_replay_refuses_beside_another_replica_and_alone_replays_until_caught_up(kafka, postgres):
    prefix = new_prefix()
    async with system("registry", prefix=prefix) as s:
        household = await enrol(s["registry"], household_body())
        resident_id = household["members"][0]["resident_id"]
        url = await migrated_database("legal")
        try:
            first = service_app("legal", url, prefix)
            async with serving(first) as base, httpx.AsyncClient(base_url=base, headers=bearer("legal:read")) as legal:
                await eventually(lambda: _eligible(legal, resident_id), timeout=60)
                env = {"HARBIN_LEGAL_URL": base}

                # Asked without a terminal: it says what callers will meet, and does nothing without --yes.
                code, output = await harbin_ops(env, "replay", "legal")
                assert code == 2 and "add --yes" in output, output
                assert "answers eligible: false, and legal aid is refused" in output and "scale legal to one" in output

                # A second replica joins the group and takes part of the partitions: the replay is refused.
                async with running(service_app("legal", url, prefix)) as second:
                    await eventually(lambda: _split(first, second.app), timeout=90)
                    code, output = await harbin_ops(env, "replay", "legal", "--yes")
                    assert code == 1, output
                    assert "409 replay_needs_one_replica" in output and "--scale legal=1" in output, output
                    assert "Traceback" not in output
                assert await _eligible(legal, resident_id)  # nothing was deleted

                # Alone again (once it holds every partition), it replays and the CLI follows it to the end.
                await eventually(lambda: _alone(first), timeout=90)
                code, output = await harbin_ops(env, "replay", "legal", "--yes")
                assert code == 0, output
                assert "legal: replaying from the beginning of its topics" in output
                assert "legal: caught up after" in output, output
                assert await _eligible(legal, resident_id)
        finally:
            await drop_database(url)


async def _eligible(legal: httpx.AsyncClient, resident_id: str) -> bool:
    response = await legal.get(f"/eligibility/{resident_id}")
    return response.status_code == 200 and response.json()["eligible"] is True


def held(app: FastAPI) -> tuple[int, int] | None:
    state: tuple[int, int] | None = app.state.platform.consumer.partitions_held()
    return state


async def _split(first: FastAPI, second: FastAPI) -> bool:
    a, b = held(first), held(second)
    return a is not None and b is not None and a[0] > 0 and b[0] > 0 and a[0] + b[0] == a[1]


async def _alone(app: FastAPI) -> bool:
    state = held(app)
    return state is not None and state[1] > 0 and state[0] == state[1]
