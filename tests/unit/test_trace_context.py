"""A consumer that records no spans still passes the publisher's trace on to what it writes."""

from __future__ import annotations

import logging

import pytest

from shared import tracing
from shared.logging import JsonFormatter


def test_consumed_event_context_travels_on_when_no_span_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracing, "_recording", False)
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert tracing.current_traceparent() is None
    with tracing.consuming("medical", "HouseholdEnrolled", [("traceparent", incoming.encode())]):
        # what the handler stages in the outbox carries the publisher's trace
        assert tracing.current_traceparent() == incoming
        line = JsonFormatter("medical").format(logging.LogRecord("x", logging.INFO, __file__, 1, "granted", None, None))
        assert '"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"' in line
    assert tracing.current_traceparent() is None


def test_batch_of_mixed_traces_passes_no_context_on_when_no_span_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracing, "_recording", False)
    first = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    second = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with tracing.consuming_batch(
        "office", "AssistanceGranted", [[("traceparent", first.encode())], [("traceparent", second.encode())]]
    ):
        assert tracing.current_traceparent() is None
