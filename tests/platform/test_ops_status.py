"""`harbin-ops status` as the ops team runs it: a real process against real services on real ports."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from tests.support import drop_database, migrated_database, new_prefix, service_app, serving, token

pytestmark = pytest.mark.integration


async def _status(env: dict[str, str], *services: str) -> tuple[int, str]:
    arguments = [argument for service in services for argument in ("--service", service)]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ops",
        "status",
        *arguments,
        env={**os.environ, "NO_COLOR": "1", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_status_shows_lag_and_outbox_and_says_plainly_who_is_down_or_behind(kafka, postgres):
    url = await migrated_database("legal")
    try:
        async with serving(service_app("legal", url, new_prefix())) as legal:
            env = {
                "HARBIN_LEGAL_URL": legal,
                "HARBIN_MEDICAL_URL": "http://127.0.0.1:1",
                "HARBIN_TOKEN": token("ops:metrics"),
            }

            code, output = await _status(env, "legal", "medical")
            assert code == 1, output
            legal_line = next(line for line in output.splitlines() if line.startswith("legal "))
            assert legal_line.split()[1:7] == ["ready", "running", "running", "0", "0", "0.0"], output
            assert next(line for line in output.splitlines() if line.startswith("medical ")).split()[1] == "down"
            assert "not ready: medical" in output

            code, output = await _status(env, "legal")
            assert code == 0, output
            assert "every service is ready and has caught up" in output

            # Without the monitoring scope the figures are unknown, and status says why instead of guessing.
            code, output = await _status({**env, "HARBIN_TOKEN": token("legal:read")}, "legal")
            assert code == 0 and "metrics need HARBIN_TOKEN with the ops:metrics scope" in output, output
            assert "not caught up" in output
    finally:
        await drop_database(url)
