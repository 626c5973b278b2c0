"""One enrolment, one trace: W3C ``traceparent`` from the HTTP request into the outbox row and the Kafka
header, and from the consumed event into the handler's span and whatever it publishes in turn.

The context always travels; spans are exported only when a service is given an OTLP endpoint
(``<SERVICE>_OTLP_ENDPOINT``, e.g. http://collector:4318/v1/traces), and only then are SQL statements
traced too. A consumer makes a span per event only when spans go somewhere: otherwise it passes the
publisher's context on as it came (the same trace id in its logs, its outbox rows and its Kafka
headers), which costs a tenth of making a span it would throw away, on every event of a fan-out.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine

HEADER = "traceparent"
Headers = Sequence[tuple[str, bytes]] | None

_provider: TracerProvider | None = None
_exporting_to: set[str] = set()
_recording = False  # whether any span processor receives the spans made here


def provider() -> TracerProvider:
    """The process's tracer provider, made once (a process runs one service; tests run several in one)."""

    global _provider
    if _provider is None:
        _provider = TracerProvider(resource=Resource.create({"service.namespace": "harbin-assistance"}))
        trace.set_tracer_provider(_provider)
    return _provider


def trace_requests(app: FastAPI, otlp_endpoint: str) -> None:
    """A server span per request, continuing the caller's ``traceparent``; exported when an endpoint is set."""

    tracer_provider = provider()
    if otlp_endpoint and otlp_endpoint not in _exporting_to:
        _exporting_to.add(otlp_endpoint)
        record_spans(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    FastAPIInstrumentor.instrument_app(app, tracer_provider=tracer_provider, excluded_urls="health,ready,metrics")


def record_spans(processor: SpanProcessor) -> None:
    """Send the process's spans to ``processor`` (an exporter's, or a test's in-memory one)."""

    global _recording
    provider().add_span_processor(processor)
    _recording = True


def trace_statements(engine: AsyncEngine, otlp_endpoint: str) -> None:
    """A span per SQL statement, only when traces are exported (they cost a little on every query)."""

    if otlp_endpoint:
        SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, tracer_provider=provider())


@functools.cache
def _tracer() -> trace.Tracer:
    # Made once: every consumed event starts a span, and the provider makes a new tracer on each call.
    return provider().get_tracer("harbin-assistance")


def current_traceparent() -> str | None:
    """The running span's context as a ``traceparent`` header value (None outside any span)."""

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(HEADER)


def _context_of(headers: Headers) -> Any:
    carrier = {name: value.decode("latin-1") for name, value in headers or () if name == HEADER}
    return propagate.extract(carrier)


@contextlib.contextmanager
def consuming(service: str, event_type: str, headers: Headers) -> Iterator[None]:
    """The span of one event's handling, a child of the span that published it; or, when no span is
    recorded, the publisher's context itself, so that what the handler writes carries its trace on."""

    if not _recording:
        token = otel_context.attach(_context_of(headers))
        try:
            yield
        finally:
            otel_context.detach(token)
        return
    with _tracer().start_as_current_span(
        f"{service} handles {event_type}",
        context=_context_of(headers),
        kind=SpanKind.CONSUMER,
        attributes={"harbin.service": service, "messaging.system": "kafka"},
    ):
        yield


@contextlib.contextmanager
def consuming_batch(service: str, event_type: str, every_headers: Sequence[Headers]) -> Iterator[None]:
    """The span of a batch handled at once, linked to each event's publishing span (none when no span
    is recorded: a batch mixes traces, so there is no one context to pass on)."""

    if not _recording:
        yield
        return
    links = [
        Link(span_context)
        for headers in every_headers
        if (span_context := trace.get_current_span(_context_of(headers)).get_span_context()).is_valid
    ]
    with _tracer().start_as_current_span(
        f"{service} handles {len(every_headers)} × {event_type}",
        kind=SpanKind.CONSUMER,
        links=links,
        attributes={"harbin.service": service, "messaging.system": "kafka"},
    ):
        yield
