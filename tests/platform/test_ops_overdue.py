"""`harbin-ops overdue` as the ops team runs it: a real process against the registry on a real port."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta

import httpx
import pytest

from shared.periods import city_today
from tests.support import (
    bearer,
    drop_database,
    household_body,
    migrated_database,
    new_prefix,
    service_app,
    serving,
    token,
)

pytestmark = pytest.mark.integration


async def _overdue(registry: str, *arguments: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ops",
        "overdue",
        *arguments,
        env={**os.environ, "NO_COLOR": "1", "HARBIN_REGISTRY_URL": registry, "HARBIN_TOKEN": token("registry:read")},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_overdue_lists_late_applications_per_division_and_fails_a_daily_check(kafka, postgres):
    url = await migrated_database("registry")
    try:
        async with serving(service_app("registry", url, new_prefix())) as registry:
            code, output = await _overdue(registry)
            assert (code, output.splitlines()[-1]) == (0, "nothing is overdue"), output

            async with httpx.AsyncClient(base_url=registry, headers=bearer()) as http:
                late = household_body(division="230103")
                late["applied_on"] = (city_today() - timedelta(days=40)).isoformat()
                submitted = await http.post("/applications", json=late)
                assert submitted.status_code == 201, submitted.text
                fresh = household_body(division="230102")
                fresh["applied_on"] = city_today().isoformat()
                assert (await http.post("/applications", json=fresh)).status_code == 201

            code, output = await _overdue(registry)
            assert code == 3, output
            lines = output.splitlines()
            assert lines[1].split() == ["230103", "1", "0", "0"], output
            assert lines[2].split() == ["total", "1", "0", "0"], output
            assert f"{submitted.json()['id']}  awaiting investigation" in output

            code, output = await _overdue(registry, "--division", "230102")
            assert code == 0 and "nothing is overdue" in output, output
    finally:
        await drop_database(url)
