"""One JSON access line per request, with what ops need to find it again, and no resident ID in clear."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest

from shared.logging import JsonFormatter, MaskingFilter
from tests.support import bearer, drop_database, migrated_database, new_prefix, person_id, running, service_app

pytestmark = pytest.mark.integration


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the service's handler writes, captured: the same formatter and masking, into a buffer."""

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(MaskingFilter())
    handler.setFormatter(JsonFormatter("medical"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)


def _entries(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


async def test_each_request_writes_one_access_line_with_route_status_duration_agency_request_and_trace_id(
    kafka, postgres, log_lines
):
    url = await migrated_database("medical")
    resident_id = person_id()
    try:
        async with running(service_app("medical", url, new_prefix())) as client:
            trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
            headers = {"X-Request-ID": "ops-find-me", "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
            response = await client.get(f"/eligibility/{resident_id}", headers=headers)
            assert response.status_code == 404

            lines = [entry for entry in _entries(log_lines) if entry["logger"] == "access"]
            line = next(entry for entry in lines if entry.get("request_id") == "ops-find-me")
            assert sum(entry.get("request_id") == "ops-find-me" for entry in lines) == 1
            assert (line["method"], line["route"], line["status"]) == ("GET", "/eligibility/{resident_id}", 404)
            assert line["agency"] == "local" and line["duration_ms"] >= 0 and line["service"] == "medical"
            assert line["trace_id"] == trace_id  # the caller's trace, to find the request's spans
            assert resident_id not in log_lines.getvalue()
    finally:
        await drop_database(url)


def test_a_library_warning_is_a_json_log_line_not_a_bare_line_on_stderr():
    script = (
        "from shared.logging import configure_logging; configure_logging('legal'); import warnings; "
        "warnings.warn('a library says 230102198001010012 is deprecated', UserWarning)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert len(lines) == 1, result.stderr
    assert (lines[0]["logger"], lines[0]["level"], lines[0]["service"]) == ("py.warnings", "WARNING", "legal")
    assert "is deprecated" in lines[0]["msg"] and "230102198001010012" not in result.stderr


async def test_the_access_line_names_the_caller_and_masks_a_percent_encoded_id_in_the_query(kafka, postgres, log_lines):
    url = await migrated_database("medical")
    resident_id = person_id()
    # The ID with its digits percent-encoded (as a browser or a careless client may send it), and one twice.
    encoded = "".join(f"%{ord(c):02X}" for c in resident_id[:9]) + resident_id[9:]
    twice = resident_id[:4] + "%2531" + resident_id[5:] if resident_id[4] == "1" else encoded.replace("%", "%25", 1)
    try:
        async with running(service_app("medical", url, new_prefix())) as client:
            headers = {"X-Request-ID": "query-id", **bearer("medical:read", agency="health_bureau")}
            response = await client.get(f"/eligibility/{resident_id}?who={encoded}&again={twice}", headers=headers)
            assert response.status_code == 404
    finally:
        await drop_database(url)
    logged = log_lines.getvalue()
    line = next(e for e in _entries(log_lines) if e["logger"] == "access" and e.get("request_id") == "query-id")
    assert (line["agency"], line["subject"]) == ("health_bureau", "pytest")
    masked = resident_id[:6] + "********" + resident_id[-4:]
    assert line["query"] == f"who={masked}&again={masked}"
    assert resident_id not in logged and encoded not in logged and twice not in logged
