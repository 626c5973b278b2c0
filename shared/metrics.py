"""What the ops team watches, in Prometheus' text format on ``GET /metrics`` (scope ``ops:metrics``).

Counted as things happen: HTTP requests by route and status, and their latency; messages dead-lettered;
runs, with their duration and the money they paid. Read when scraped: the outbox's backlog and the age of
its oldest event, and each consumed partition's lag (the end of the partition less the position the
service has stored). The process's own CPU and memory come with prometheus-client's default collectors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.platform_models import ConsumerPosition, OutboxMessage

if TYPE_CHECKING:
    from shared.app import Platform

access_log = logging.getLogger("access")

HTTP_REQUESTS = Counter("harbin_http_requests", "HTTP requests answered", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram(
    "harbin_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
DEAD_LETTERED = Counter("harbin_dead_lettered", "Messages sent to a dead-letter topic", ["service", "topic"])
RUN_SECONDS = Histogram(
    "harbin_run_duration_seconds",
    "How long a payment run took",
    ["service", "run"],
    buckets=(1, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
)
RUN_PAID = Counter("harbin_run_paid_yuan", "Money transferred by payment runs, in yuan", ["service", "run"])
OUTBOX_BACKLOG = Gauge("harbin_outbox_backlog", "Events written and not yet published", ["service"])
OUTBOX_OLDEST = Gauge("harbin_outbox_oldest_age_seconds", "Age of the oldest unpublished event", ["service"])
CONSUMER_LAG = Gauge("harbin_consumer_lag", "Events on a partition not yet consumed", ["service", "topic", "partition"])
# The office's: inspection findings (督导检查) still open after their due day, per unit (services.office.work_cycle).
FINDINGS_OVERDUE = Gauge(
    "harbin_findings_overdue", "Inspection findings still open after their due day", ["service", "unit"]
)


class HttpMetrics:
    """Counts every request by the route that served it (its template, never the raw path: no IDs in labels),
    and writes its access line: one JSON line per request with method, route, path and query (IDs masked, after
    percent-decoding), status, duration, the caller (agency and subject) and (from the logging context) the
    request ID."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unrouted"
            method = scope["method"]
            HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
            HTTP_LATENCY.labels(self.service, method, route).observe(seconds)
            principal = scope.get("state", {}).get("principal")
            access_log.info(
                "%s %s %s",
                method,
                scope["path"],
                status,
                extra={
                    "ctx_method": method,
                    "ctx_route": route,
                    "ctx_path": scope["path"],
                    "ctx_query": scope.get("query_string", b"").decode("latin-1")[:500] or None,
                    "ctx_status": status,
                    "ctx_duration_ms": round(seconds * 1000, 1),
                    "ctx_agency": getattr(principal, "agency", None),
                    "ctx_subject": getattr(principal, "subject", None),
                },
            )


def run_finished(service: str, run: str, started_at: datetime, paid: Decimal) -> None:
    RUN_SECONDS.labels(service, run).observe((datetime.now(UTC) - started_at).total_seconds())
    RUN_PAID.labels(service, run).inc(float(paid))


# A service's own gauges, read when scraped (the office's overdue findings): set on the session given.
MetricsReader = Callable[[AsyncSession, str], Awaitable[None]]


async def exposition(platform: Platform, readers: Sequence[MetricsReader] = ()) -> tuple[bytes, str]:
    """The metrics, with the outbox, the consumer's partitions and the service's own ``readers`` read now."""

    service = platform.settings.service_name
    async with platform.sessions() as session:
        backlog, oldest = (await session.execute(select(func.count(), func.min(OutboxMessage.created_at)))).one()
        positions = {
            (row.topic, row.partition): row.next_offset
            for row in (await session.execute(select(ConsumerPosition))).scalars()
        }
        for reader in readers:
            await reader(session, service)
    OUTBOX_BACKLOG.labels(service).set(backlog)
    OUTBOX_OLDEST.labels(service).set((datetime.now(UTC) - oldest).total_seconds() if oldest else 0)
    # Only the partitions held now: one given up in a rebalance is another replica's to report.
    CONSUMER_LAG.clear()
    if platform.consumer is not None:
        for (topic, partition), end in (await platform.consumer.end_offsets()).items():
            CONSUMER_LAG.labels(service, topic, str(partition)).set(max(0, end - positions.get((topic, partition), 0)))
    return generate_latest(), CONTENT_TYPE_LATEST
