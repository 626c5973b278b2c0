"""The application factory every service uses: lifespan, health, readiness, errors, logging.

A service supplies its routers, its event handlers and its topics; the factory wires the database,
the outbox relay and the idempotent consumer, and starts and stops them with the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import sealing
from shared.api import text_answers
from shared.audit_api import audit_router
from shared.auth import AuthConfig, check_every_route_is_guarded, requires
from shared.consumer import EventConsumer, Handler, Prefetch, lock_positions
from shared.db import create_engine, database_is_reachable, rows_matched, session_factory
from shared.errors import (
    Conflict,
    Unprocessable,
    install_error_handlers,
    problem_response,
    problem_responses,
)
from shared.kafka import ProducerHolder, TopicLayout, kafka_is_reachable
from shared.logging import configure_logging
from shared.methods import AllowedMethods
from shared.metrics import HttpMetrics, MetricsReader, exposition
from shared.openapi import operation_id, publish
from shared.outbox import OutboxRelay
from shared.parameters import ParameterChanged, ParameterSpec, parameters_router
from shared.platform_models import ConsumerPosition, InboxEvent
from shared.read_audit import audit_key
from shared.request_id import RequestId
from shared.settings import ServiceSettings
from shared.tracing import trace_requests, trace_statements
from shared.unit_of_work import UnitsOfWork

log = logging.getLogger("shared.app")


@dataclass
class Platform:
    """What a running service holds: database, producer, outbox relay, consumer and their tasks."""

    settings: ServiceSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    # Units of work on ``sessions``: a commit that wrote events wakes the relay.
    units: UnitsOfWork
    producers: ProducerHolder
    relay: OutboxRelay
    consumer: EventConsumer | None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    jobs: list[asyncio.Task[Any]] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        settings: ServiceSettings,
        topics: Sequence[str],
        handlers: Mapping[str, Handler],
        prefetch: Prefetch | None = None,
    ) -> Platform:
        engine = create_engine(
            settings.resolved_database_url(),
            settings.database_pool_size,
            pool_timeout=settings.database_pool_timeout_seconds,
            busy_timeout=settings.database_busy_timeout_seconds,
        )
        trace_statements(engine, settings.otlp_endpoint)
        sessions = session_factory(engine)
        producers = ProducerHolder(
            settings.kafka(),
            client_id=settings.service_name,
            layout=TopicLayout(settings.kafka_partitions, settings.kafka_replication_factor),
        )
        relay = OutboxRelay(
            sessions,
            producers,
            settings.topic_prefix,
            settings.outbox_batch_size,
            settings.outbox_poll_seconds,
            settings.outbox_linger_seconds,
        )
        units = UnitsOfWork(sessions, on_commit=relay.notify)
        consumer = None
        if handlers and topics and settings.consumer_enabled:
            consumer = EventConsumer(
                service=settings.service_name,
                units=units,
                kafka=settings.kafka(),
                topics=list(topics),
                handlers=handlers,
                producers=producers,
                topic_prefix=settings.topic_prefix,
                batch_size=settings.consumer_batch_size,
                max_attempts=settings.consumer_max_attempts,
                prefetch=prefetch,
            )
        return cls(settings, engine, sessions, units, producers, relay, consumer)

    async def replay(self, reset: ReplayReset) -> dict[str, int]:
        """Stop consuming, forget what was derived from events, and read the topics again from the start."""

        if self.consumer is None:
            return {}
        # Other replicas in the group would keep their partitions' positions in memory and re-read nothing, while
        # what they had derived is deleted here: only a replica that holds every partition may replay.
        held = self.consumer.partitions_held()
        if held is not None and held[0] < held[1]:
            name = self.settings.service_name
            raise Conflict(
                "replay_needs_one_replica",
                f"this replica of {name} consumes {held[0]} of the {held[1]} partitions of its topics (other replicas "
                "hold the rest, or it is still joining its group); they would not re-read theirs. Scale "
                f"{name} to one replica (docker compose up -d --scale {name}=1), replay, then scale it back",
            )
        consumer_task = next((t for t in self.tasks if t.get_name().endswith("-consumer")), None)
        self.consumer.stop()
        if consumer_task is not None:
            await asyncio.wait_for(consumer_task, timeout=60)
            self.tasks.remove(consumer_task)
        async with self.sessions() as session:
            # A replica that joined after the check above (an autoscaler answering this replay's lag, a
            # rollout): this waits for its batch under way and holds its next one until the reset has
            # committed; it then finds the positions gone and seeks to the beginning (shared/consumer.py).
            await lock_positions(session, "EXCLUSIVE")
            counts = await reset(session)
            counts["inbox_events"] = await rows_matched(session, delete(InboxEvent))
            counts["consumer_positions"] = await rows_matched(session, delete(ConsumerPosition))
            await session.commit()
        # A fresh consumer: with no stored positions it seeks to the beginning of every partition.
        self.consumer = self.consumer.fresh()
        self.tasks.append(asyncio.create_task(self.consumer.run(), name=f"{self.settings.service_name}-consumer"))
        log.warning("replay started", extra={"ctx_deleted": counts})
        return counts

    def task_state(self, role: str) -> str:
        """``running``, ``disabled`` (never started here) or ``stopped`` (its task ended, by failure or not)."""

        task = next((t for t in self.tasks if t.get_name() == f"{self.settings.service_name}-{role}"), None)
        if task is None:
            return "disabled" if role != "consumer" or self.consumer is None else "stopped"
        return "stopped" if task.done() else "running"

    async def start(self) -> None:
        if self.settings.outbox_relay_enabled:
            self.tasks.append(asyncio.create_task(self.relay.run(), name=f"{self.settings.service_name}-outbox-relay"))
        if self.consumer is not None:
            self.tasks.append(asyncio.create_task(self.consumer.run(), name=f"{self.settings.service_name}-consumer"))

    async def stop(self) -> None:
        for job in self.jobs:
            job.cancel()
        for job in self.jobs:
            with contextlib.suppress(BaseException):
                await job
        self.jobs.clear()
        self.relay.stop()
        if self.consumer is not None:
            self.consumer.stop()
        for task in self.tasks:
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=15)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            except Exception:
                log.exception("background task failed while stopping")
        self.tasks.clear()
        await self.producers.stop()
        await self.engine.dispose()


BackgroundJob = Callable[[Platform], Coroutine[Any, Any, None]]  # a coroutine: it runs as a task
ReplayReset = Callable[[AsyncSession], Awaitable[dict[str, int]]]


class ReplayOut(BaseModel):
    status: str
    deleted: dict[str, int]


class ConsumerOut(BaseModel):
    running: bool
    handled: int
    dead_lettered: int
    positions: dict[str, int]


def admin_router(reset: ReplayReset | None, dependencies: Sequence[Any]) -> APIRouter:
    """Operations on the service itself: consumer state, and replay from the topics."""

    router = APIRouter(prefix="/admin", tags=["operations 运维"], dependencies=list(dependencies))

    @router.get("/consumer", response_model=ConsumerOut, summary="Consumer state: handled, dead-lettered, positions")
    async def consumer_state(request: Request) -> ConsumerOut:
        """How far this service has read its topics: whether its consumer runs, the events it has handled and
        dead-lettered since it started, and its committed position per topic and partition. Scope
        `<service>:admin`."""

        platform: Platform = request.app.state.platform
        consumer = platform.consumer
        if consumer is None:
            return ConsumerOut(running=False, handled=0, dead_lettered=0, positions={})
        positions = await consumer.stored_positions()
        return ConsumerOut(
            running=consumer.running,
            handled=consumer.handled_total,
            dead_lettered=consumer.dead_lettered_total,
            positions={f"{topic}/{partition}": offset for (topic, partition), offset in positions.items()},
        )

    @router.post(
        "/replay",
        response_model=ReplayOut,
        responses=problem_responses(409, 422),
        summary="Rebuild what was derived from events by replaying the topics (one replica only: 409 otherwise)",
    )
    async def replay(request: Request) -> ReplayOut:
        """Forget everything this service derived from events (its copy of the caseload, the inbox, the positions)
        and read its topics again from the beginning. Safe while no run is in progress; state rebuilt this way is
        the same, since every handler is idempotent. 422 `replay_not_supported` where the service derives nothing
        from events."""

        if reset is None:
            raise Unprocessable("replay_not_supported", "this service derives nothing from events")
        deleted = await request.app.state.platform.replay(reset)
        return ReplayOut(status="replaying", deleted=deleted)

    return router


def every(seconds: float, job: BackgroundJob) -> BackgroundJob:
    """Run ``job`` now and then every ``seconds`` while the service runs; a failure is logged, not fatal."""

    async def loop(platform: Platform) -> None:
        while True:
            try:
                await job(platform)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background job %s failed; will run again", getattr(job, "__name__", "job"))
            await asyncio.sleep(seconds)

    return loop


# ---- limits checked before anything is parsed ------------------------------------------------------

MAX_BODY_BYTES = 1024 * 1024
# A bearer token is a few hundred bytes; one of megabytes is refused before it is decoded.
MAX_AUTHORIZATION_BYTES = 8 * 1024


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"the body is over {limit} bytes (1 MB); send less per request")


class RequestLimits:
    """Refuse what would cost the service more than it is worth, before routing, authentication or
    parsing: an Authorization header over 8 KB (401), a body over 1 MB (413 ``body_too_large``) —
    by its Content-Length at once, or counted as it streams in when it is sent chunked."""

    def __init__(
        self, app: ASGIApp, max_body: int = MAX_BODY_BYTES, max_authorization: int = MAX_AUTHORIZATION_BYTES
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.max_authorization = max_authorization

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: int | None = None
        for name, value in scope["headers"]:
            if name == b"authorization" and len(value) > self.max_authorization:
                await problem_response(
                    401,
                    "invalid_token",
                    f"the Authorization header is over {self.max_authorization} bytes; no bearer token is that long",
                )(scope, receive, send)
                return
            if name == b"content-length":
                declared = int(value) if value.isdigit() and len(value) < 19 else -1
        if declared == -1:
            await problem_response(400, "invalid_content_length", "Content-Length is not a number of bytes")(
                scope, receive, send
            )
            return
        if declared is not None and declared > self.max_body:
            await self._too_large(scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge(self.max_body)
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, sending)
        except BodyTooLarge:
            # Read outside a route (the exception handlers answer it there): answer here if nothing was sent.
            if started:
                raise
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await problem_response(
            413,
            "body_too_large",
            f"the body is over {self.max_body} bytes (1 MB); send less per request",
            headers={"Connection": "close"},
        )(scope, receive, send)


class Health(BaseModel):
    status: str
    service: str


class Readiness(BaseModel):
    status: str
    database: str
    kafka: str
    consumer: str  # running | starting | disabled | stopped (its task ended: nothing is consumed)
    relay: str  # running | disabled | stopped (its task ended: nothing is published)


def tune_garbage_collector() -> None:
    """Fewer, cheaper runs of Python's cycle collector in a service's process (once per process).

    A consumer batch allocates hundreds of thousands of short-lived objects (envelopes, models, rows)
    and keeps few. With the default thresholds (a young collection every 700 allocations) py-spy
    found 9-14 % of a bureau's and the office's CPU in the collections triggered by making ORM rows
    during a fan-out. What is alive once the service has started (modules, mappers, models) is frozen
    out of every collection, and a young collection runs every 20,000 allocations; cycles are still
    collected, a little later, at a cost of a few MB.
    """

    global _gc_tuned
    if _gc_tuned:
        return
    _gc_tuned = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


_gc_tuned = False


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    handlers: Mapping[str, Handler] | None = None,
    topics: Sequence[str] = (),
    openapi_tags: list[dict[str, str]] | None = None,
    background: Sequence[BackgroundJob] = (),
    replay_reset: ReplayReset | None = None,
    parameter_specs: Sequence[ParameterSpec] = (),
    on_parameter_change: ParameterChanged | None = None,
    prefetch: Prefetch | None = None,
    metrics_readers: Sequence[MetricsReader] = (),
) -> FastAPI:
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    name = settings.service_name
    # Fails fast in production with a default or empty secret: before anything else starts.
    auth = AuthConfig(
        algorithm=settings.jwt_algorithm,
        secret=settings.jwt_secret,
        jwks=settings.jwt_jwks,
        jwks_refresh_seconds=settings.jwt_jwks_refresh_seconds,
        environment=settings.environment,
        audience=settings.jwt_audience or settings.service_name,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tune_garbage_collector()
        platform = Platform.build(settings, topics, handlers or {}, prefetch)
        app.state.platform = platform
        await platform.start()
        for job in background:
            platform.jobs.append(asyncio.create_task(job(platform), name=f"{settings.service_name}-job"))
        if auth.issuer_keys is not None:  # the issuer's keys reread in the background (a rotation)
            platform.jobs.append(asyncio.create_task(auth.issuer_keys.keep_fresh(), name=f"{name}-issuer-keys"))
        log.info("service started", extra={"ctx_database": settings.resolved_database_url().split("@")[-1]})
        try:
            yield
        finally:
            await platform.stop()

    # Swagger UI (/docs) and ReDoc (/redoc) from the files fastapi-offline ships, never a CDN: the city's
    # network has no internet.
    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        # No online validator badge: it would call out of the city's network.
        swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
        title=title,
        description=description + AUTH_NOTE,
        version="1.0.0",
        lifespan=lifespan,
        openapi_tags=openapi_tags,
        # operationId = the endpoint's own name in lowerCamelCase (enrolHousehold), not FastAPI's
        # name+path+method default, so that generated clients read well; tests/unit keep them unique.
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.auth = auth
    app.state.audit_key = audit_key(settings.audit_key, settings.environment)
    sealing.configure(settings.service_name, settings.seal_keys, settings.environment)
    if settings.environment == "production" and not settings.kafka().authenticated:
        log.warning(
            "KAFKA WITHOUT AUTHENTICATION IN PRODUCTION: anyone who reaches the broker reads every household's "
            "events and can forge them. Set <SERVICE>_KAFKA_SECURITY_PROTOCOL=SASL_SSL with the service's own "
            "principal (docs/security.md)"
        )
    trace_requests(app, settings.otlp_endpoint)
    app.add_middleware(AllowedMethods)
    app.add_middleware(RequestLimits)
    app.add_middleware(HttpMetrics, service=settings.service_name)
    app.add_middleware(RequestId)  # added last: outermost, so even RequestLimits' refusals carry the ID
    install_error_handlers(app)

    @app.get("/health", response_model=Health, tags=["operations 运维"], summary="Alive")
    async def health() -> Health:
        """The process is alive (answers without touching the database or Kafka). No token needed: for a load
        balancer's liveness probe."""

        return Health(status="ok", service=settings.service_name)

    @app.get(
        "/ready",
        response_model=Readiness,
        tags=["operations 运维"],
        summary="Database and Kafka reachable",
        responses={503: {"model": Readiness}},
    )
    async def ready() -> Any:
        """200 when the database and Kafka answer and the consumer and outbox relay are running; 503 with the same
        body otherwise (a task that has ended shows as `stopped`). No token needed: for a load balancer's
        readiness probe."""

        platform: Platform = app.state.platform
        database_ok, kafka_ok = await asyncio.gather(
            database_is_reachable(platform.engine), kafka_is_reachable(settings.kafka())
        )
        consumer = platform.task_state("consumer")
        if consumer == "running" and platform.consumer is not None and not platform.consumer.running:
            consumer = "starting"
        relay = platform.task_state("outbox-relay")
        body = Readiness(
            status="ready" if database_ok and kafka_ok and "stopped" not in (consumer, relay) else "not_ready",
            database="ok" if database_ok else "unreachable",
            kafka="ok" if kafka_ok else "unreachable",
            consumer=consumer,
            relay=relay,
        )
        return JSONResponse(body.model_dump(), status_code=200 if body.status == "ready" else 503)

    @app.get(
        "/metrics",
        tags=["operations 运维"],
        summary="Prometheus metrics: requests, outbox backlog, consumer lag, dead letters, runs",
        dependencies=[requires("ops:metrics")],
        response_class=Response,
        responses=text_answers("text/plain"),
    )
    async def metrics() -> Response:
        """Prometheus text: requests and latency by route, outbox backlog and age, consumer lag per partition, dead
        letters, run durations and amounts, CPU and memory. Scope `ops:metrics`."""

        body, content_type = await exposition(app.state.platform, metrics_readers)
        return Response(body, media_type=content_type)

    for router in routers:
        app.include_router(router)
    if parameter_specs:
        app.include_router(
            parameters_router(
                parameter_specs,
                on_change=on_parameter_change,
                dependencies=[requires()],
                write_dependencies=[requires(f"{name}:write")],
            )
        )
    app.include_router(audit_router([requires("audit:read")]))
    app.include_router(admin_router(replay_reset, [requires(f"{name}:admin")]))
    check_every_route_is_guarded(app)
    publish(app, name)
    return app


DOCS_ASSETS = "/docs/assets"
AUTH_NOTE = """

**Authentication.** Every call but `/health`, `/ready` and the docs needs `Authorization: Bearer <jwt>`
naming the calling agency and its scopes; a missing or bad token is 401, a missing scope 403 (problem+json).
Errors are `application/problem+json` with a stable `code`. Personal data: prefer the POST search forms to
putting a resident ID in a URL."""
