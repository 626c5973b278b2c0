"""Schemathesis against every service's OpenAPI, each service a real server process on PostgreSQL and Kafka:
no input it can generate gives a 5xx, every response matches the schema the service publishes, and no
request the schema calls valid is refused for its form (tests/fuzz/hooks.py)."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import httpx
import pytest

from shared.migrations import SERVICES
from tests.support import KAFKA, drop_database, migrated_database, new_prefix, token

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("service", SERVICES)
async def test_no_input_gives_a_server_error_and_responses_match_the_schema(kafka, postgres, service, tmp_path):
    url, port, prefix = await migrated_database(service), free_port(), new_prefix()
    env = {
        **os.environ,
        f"{service.upper()}_DATABASE_URL": url,
        f"{service.upper()}_TOPIC_PREFIX": prefix,
        f"{service.upper()}_KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        f"{service.upper()}_ENVIRONMENT": "test",
    }
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - the server writes to it while it runs
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        f"services.{service}.main:create_app",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log,
    )
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(100):
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.2)
        # One worker: hypothesis's strategy building in several threads trips a CPython 3.11 AST bug.
        fuzz = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"http://127.0.0.1:{port}/openapi.json",
            "--checks",
            "not_a_server_error,response_schema_conformance,schema_valid_input_accepted",
            "--header",
            f"Authorization: Bearer {token()}",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            "2004",
            "--generation-database",
            "none",
            "--workers",
            "1",
            "--no-color",
            "--request-timeout",
            "30",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=tmp_path,
            env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks", "PYTHONPATH": str(ROOT)},
        )
        output = (await asyncio.wait_for(fuzz.communicate(), 900))[0].decode(errors="replace")
    finally:
        server.terminate()
        await server.wait()
        await drop_database(url)
    summary = output[output.find("SUMMARY") :] if "SUMMARY" in output else output[-3000:]
    assert fuzz.returncode == 0, output[-6000:]
    assert "Tested:" in summary
