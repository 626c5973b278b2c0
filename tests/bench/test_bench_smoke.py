"""The benchmark, at a small size, as CI's smoke test: it runs end to end and reports every figure.

Speeds are measured, never asserted here; the full-size command is in the README.
"""

from __future__ import annotations

import asyncio
import json
import sys

import pytest

pytestmark = pytest.mark.integration


async def test_benchmark_runs_end_to_end_on_the_default_database(tmp_path):
    out = tmp_path / "results.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.run",
        "--households",
        "500",
        "--database",
        "sqlite",
        "--rate",
        "50",
        "--seconds",
        "4",
        "--workdir",
        str(tmp_path / "run"),
        "--out",
        str(out),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await asyncio.wait_for(process.communicate(), 900))[0].decode(errors="replace")
    assert process.returncode == 0, output[-4000:]
    results = json.loads(out.read_text())
    assert results["bulk_enrolment"]["households"] == 500
    assert results["fan_out"]["check"]["households_missing"] == 0, results["fan_out"]
    assert results["dibao_payment_run"]["households_paid"] > 0
    assert results["replay"]["events"] >= 500
    assert set(results["peak_rss_mb"]) == {
        "registry",
        "medical",
        "education",
        "housing",
        "employment",
        "utilities",
        "legal",
        "office",
    }
    assert "office" in results["fan_out"]["cpu_seconds"]
    assert results["latency"][0]["per_bureau"]["medical"]["granted"] == results["latency"][0]["households"]
    assert (
        results["baseline_kafka"]["events_per_second"] > 0 and results["baseline_insert"]["households_per_second"] > 0
    )
    assert "| end-to-end fan-out |" in output
