"""One enrolment is one trace: the caller's traceparent goes through the registry's outbox and Kafka header
into the medical bureau's handling, and on into the grant it announces."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.events import GRANTS_TOPIC, HOUSEHOLDS_TOPIC
from shared.tracing import record_spans
from tests.support import eventually, household_body, read_topic, system

pytestmark = pytest.mark.integration


def _trace_of(record: Any) -> str | None:
    value = dict(record.headers or ()).get("traceparent")
    return value.decode().split("-")[1] if value else None


async def test_the_trace_id_of_an_enrolment_reaches_the_bureau_that_handles_it_and_its_grant(kafka, postgres):
    spans = InMemorySpanExporter()
    record_spans(SimpleSpanProcessor(spans))
    try:
        await _follow_one_enrolment(spans)
    finally:
        spans.clear()
        spans.shutdown()  # the provider is the process's: the rest of the suite's spans are not kept


async def _follow_one_enrolment(spans: InMemorySpanExporter) -> None:
    trace_id = secrets.token_hex(16)
    caller = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}

    async with system("registry", "medical") as s:
        enrolled = await s["registry"].post("/households", json=household_body(), headers=caller)
        assert enrolled.status_code == 201, enrolled.text
        household_id = enrolled.json()["id"]

        def handled_by_medical() -> list[Any]:
            return [
                span for span in spans.get_finished_spans()
                if span.name == "medical handles HouseholdEnrolled" and f"{span.context.trace_id:032x}" == trace_id
            ]  # fmt: skip

        async def handled() -> list[Any]:
            return handled_by_medical()

        assert len(await eventually(handled)) == 1
        prefix = s["registry"].topic_prefix
        households = await read_topic(prefix + HOUSEHOLDS_TOPIC, until=lambda records: len(records) >= 1)
        grants = await read_topic(prefix + GRANTS_TOPIC, until=lambda records: len(records) >= 1)

    enrolment = [record for record in households if record.key.decode() == household_id]
    assert [_trace_of(record) for record in enrolment] == [trace_id]  # the Kafka header carries it
    assert {_trace_of(record) for record in grants if record.key.decode() == household_id} == {trace_id}
