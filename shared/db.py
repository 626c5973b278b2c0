"""Async database access: engines, sessions, the Money type, dialect-neutral upserts.

Every service owns its own database. Services flush and never commit; the boundary that owns the
transaction (a request, a consumer batch, a run's batch) commits its unit of work once (shared.unit_of_work).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import BigInteger, ColumnElement, DateTime, MetaData, Numeric, Table, any_, bindparam, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.elements import KeyedColumnElement
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import await_only

from shared.money import to_fen

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class _Hundredths(TypeDecorator[Decimal]):
    """A decimal to two places, exact on both dialects: ``NUMERIC(p, 2)`` on PostgreSQL,
    integer hundredths on SQLite.

    SQLite has no decimal type and would store NUMERIC as a float; storing whole hundredths
    keeps values and their SUMs exact there too.
    """

    impl = Numeric(12, 2)
    cache_ok = True
    precision = 12

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, 2, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = to_fen(Decimal(value))
        if dialect.name == "sqlite":
            return int(amount * 100)
        return amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return to_fen(Decimal(int(value)) / 100)
        return to_fen(Decimal(value))


class Money(_Hundredths):
    """Yuan to the fen (``Numeric(12, 2)``)."""

    impl = Numeric(12, 2)
    cache_ok = True
    precision = 12


class Area(_Hundredths):
    """Floor area in square metres, to the hundredth."""

    impl = Numeric(10, 2)
    cache_ok = True
    precision = 10


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back timezone-aware in UTC (SQLite would drop the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def new_metadata() -> MetaData:
    """Metadata with the shared naming convention. Each declarative base (``class Base(DeclarativeBase):
    metadata = new_metadata()``) gets its own, so each service keeps its own tables apart; a class
    statement rather than a factory returning a class, so that the type checker sees a real base."""

    return MetaData(naming_convention=NAMING_CONVENTION)


def create_engine(
    url: str, pool_size: int = 10, *, pool_timeout: float = 30.0, busy_timeout: float = 30.0
) -> AsyncEngine:
    """An engine for ``url``. ``pool_timeout``: how long a request waits for a pooled connection before it
    is refused (503 ``service_busy``); ``busy_timeout``: how long a SQLite writer waits for the file's lock."""

    # hide_parameters: a database error's text (and so a logged traceback) shows the statement, never the
    # values bound to it: addresses, incomes and names stay out of the logs.
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url, connect_args={"timeout": busy_timeout}, pool_timeout=pool_timeout, hide_parameters=True
        )
        _sqlite_transactions(engine, busy_timeout)
        return engine
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        pool_timeout=pool_timeout,
        hide_parameters=True,
    )
    _ping_connections_idle_for(engine, IDLE_PING_SECONDS)
    return engine


# Execution option naming the BEGIN a SQLite transaction starts with (default IMMEDIATE).
SQLITE_BEGIN = "sqlite_begin"


def _sqlite_transactions(engine: AsyncEngine, busy_timeout: float) -> None:
    """Real transactions on SQLite: SQLAlchemy's recipe for pysqlite/aiosqlite ("Serializable isolation /
    Savepoints / Transactional DDL"), with the wait for the write lock moved out of SQLite.

    The driver's legacy mode begins a transaction only at the first INSERT/UPDATE/DELETE and never for
    a SAVEPOINT: a ``begin_nested()`` taken first ran as a transaction of its own and its RELEASE
    committed for real, so a later failure (a "database is locked" on the outbox insert) left the
    household written and its event lost. Here the driver emits no BEGIN at all and every transaction
    starts with ``BEGIN IMMEDIATE``: the write lock is taken up front, so writers queue for it instead
    of failing when a read transaction tries to become a write one, and a savepoint is part of the
    transaction it is in.

    Writers wait for the lock here, in the event loop, not in SQLite's busy handler: a connection
    waiting there holds its mutex in its worker thread, and the garbage collector finalising one of its
    cursors on the event loop's thread (aiosqlite leaves the cursor of a failed statement to it) then
    blocked the whole service until the wait ended.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
        # No BEGIN from the driver: the "begin" hook below emits it. COMMIT and ROLLBACK stay the driver's.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets the API read while the consumer writes; foreign keys are off by default.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Set up (with the connect timeout as busy timeout); from now on a statement never waits in SQLite.
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _sqlite_begin(connection: Any) -> None:
        if connection.get_execution_options().get(SQLITE_BEGIN) == "DEFERRED":
            connection.exec_driver_sql("BEGIN")
            return
        deadline = time.monotonic() + busy_timeout
        pause = 0.002
        while True:
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if not is_busy(exc) or time.monotonic() + pause > deadline:
                    raise
            await_only(asyncio.sleep(pause * (0.5 + random.random())))
            pause = min(pause * 2, 0.05)


# A connection back from the pool after this long is tested first (a restart or a dropped socket while it
# sat idle). One in steady use is not: the ping is three round trips (BEGIN, a query, ROLLBACK), which
# under load cost about as much as the request; a server restart under load shows as a disconnect on
# first use instead, which invalidates the whole pool, and the caller gets a 503 to retry.
IDLE_PING_SECONDS = 5.0


def _ping_connections_idle_for(engine: AsyncEngine, seconds: float) -> None:
    @event.listens_for(engine.sync_engine.pool, "connect")
    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("checked_in_at", float("-inf")) <= seconds:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise DisconnectionError(f"pooled connection is dead: {type(exc).__name__}") from exc


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def is_transient(exc: BaseException) -> bool:
    """True for failures of the database itself (down, restarting, connection lost, locked, no connection
    free in the pool).

    Those are retried for as long as it takes; they say nothing about the event being handled.
    """

    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeout)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, (ConnectionError, OSError, TimeoutError)):
        return True
    # asyncpg raises its own errors when the server goes away mid-query.
    name = type(exc).__name__
    return name in {
        "ConnectionDoesNotExistError",
        "CannotConnectNowError",
        "AdminShutdownError",
        "ConnectionFailureError",
        "InterfaceError",
        "InternalClientError",
    }


def is_busy(exc: BaseException) -> bool:
    """True when the database is there but too busy to take this work now: no pooled connection free
    within the pool timeout, or SQLite's write lock not had within the busy timeout."""

    if isinstance(exc, PoolTimeout):
        return True
    if isinstance(exc, OperationalError):
        message = str(exc.orig).lower()
        return "database is locked" in message or "database table is locked" in message or "database is busy" in message
    return False


async def database_is_reachable(engine: AsyncEngine, timeout: float = 2.0) -> bool:
    try:
        async with asyncio.timeout(timeout):
            async with engine.connect() as connection:
                # A plain BEGIN on SQLite: asking whether the database answers need not queue for the write lock.
                await connection.execution_options(**{SQLITE_BEGIN: "DEFERRED"})
                await connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


# Below this many rows an INSERT's round trips cost less than setting up a COPY.
COPY_FROM = 200


def one_of(session: AsyncSession, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN (values)``. On PostgreSQL, ``column = ANY($1)`` with one array parameter: the same
    statement whatever the count, so it is prepared once — an expanding IN is a new statement (rendered,
    and prepared by the server) for every batch size a consumer happens to see."""

    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(column.type)))  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]


async def insert_many(session: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT plain rows (dicts with the same keys) in the session's transaction: PostgreSQL's COPY when there
    are many (several times faster than a prepared INSERT per row), an executemany INSERT otherwise.

    The values go through the columns' types as an INSERT's would; a column left out must have no Python-side
    default (the database's own defaults apply), else the INSERT is used. A key violated raises
    ``IntegrityError`` either way."""

    if not rows:
        return
    table = _table(model)
    connection = await session.connection()
    dialect = connection.dialect
    keys = list(rows[0])
    python_defaults = any(column.default is not None for column in table.columns if column.key not in rows[0])
    if dialect.name != "postgresql" or len(rows) < COPY_FROM or python_defaults:
        await session.execute(table.insert(), rows)
        return
    columns = [table.c[key] for key in keys]
    processors = [column.type._cached_bind_processor(dialect) for column in columns]
    records = [
        tuple(
            value if process is None else process(value)
            for process, value in zip(processors, (row[key] for key in keys), strict=True)
        )
        for row in rows
    ]
    raw = await connection.get_raw_connection()
    try:
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]  # asyncpg's connection
            table.name, records=records, columns=[column.name for column in columns], schema_name=table.schema
        )
    except asyncpg.exceptions.IntegrityConstraintViolationError as exc:
        raise IntegrityError(f"COPY {table.name}", None, exc) from exc


async def insert_ignore(
    session: AsyncSession,
    model: Any,
    rows: list[dict[str, Any]],
    conflict_columns: list[str],
    returning: list[Any] | None = None,
) -> list[Any]:
    """INSERT … ON CONFLICT DO NOTHING: the unique key decides, so concurrent or repeated runs insert once.

    Returns the ``returning`` columns of the rows actually inserted (empty when not asked).
    """

    if not rows:
        return []
    # The rows go as executemany parameters, not as one multi-row VALUES: the statement then compiles
    # once and is cached, where a VALUES list compiled anew for every batch size.
    statement = _dialect_insert(session, model).on_conflict_do_nothing(index_elements=conflict_columns)
    if returning:
        return list((await session.execute(statement.returning(*returning), rows)).all())
    await session.execute(statement, rows)
    return []


# The row an upsert would have inserted (``excluded.column``), for the columns to set on a conflict.
Excluded = ReadOnlyColumnCollection[str, KeyedColumnElement[Any]]


async def upsert(
    session: AsyncSession,
    model: Any,
    rows: list[dict[str, Any]],
    conflict_columns: list[str],
    updates: Callable[[Excluded, str], dict[str, Any]],
) -> None:
    """INSERT … ON CONFLICT (key) DO UPDATE, on PostgreSQL and SQLite alike.

    ``updates(excluded, dialect_name)`` gives the columns to set when the key exists; rows must not
    repeat a key (a statement cannot update one row twice).
    """

    if not rows:
        return
    statement = _dialect_insert(session, model)
    statement = statement.on_conflict_do_update(
        index_elements=conflict_columns, set_=updates(statement.excluded, session.bind.dialect.name)
    )
    await session.execute(statement, rows)


def _dialect_insert(session: AsyncSession, model: Any) -> postgresql.Insert | sqlite.Insert:
    """The dialect's own INSERT, which knows ON CONFLICT."""

    if session.bind.dialect.name == "postgresql":
        return postgresql.insert(_table(model))
    return sqlite.insert(_table(model))


def _table(model: Any) -> Any:
    return getattr(model, "__table__", model)


async def rows_matched(session: AsyncSession, statement: Executable) -> int:
    """Runs an UPDATE or DELETE; how many rows it matched (typed: SQLAlchemy types the result as any
    Result, which has no ``rowcount``)."""

    result = await session.execute(statement)
    if not isinstance(result, CursorResult):
        raise TypeError(f"{type(result).__name__} has no row count")
    return result.rowcount


def table_of(model: type[DeclarativeBase]) -> Table:
    """The table a model maps, typed as one (SQLAlchemy types ``__table__`` as any FROM clause), for
    Core statements: ``insert(table_of(Model))`` takes plain column-keyed rows, without the ORM."""

    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} maps {table!r}, not a table")
    return table


# ---- new rows built fast -----------------------------------------------------------------------------

_M = TypeVar("_M")


def new_row(model: type[_M], **values: Any) -> _M:
    """A new mapped object with its columns set at once, not attribute by attribute through the ORM's
    events: a consumer batch creates rows by the thousand. It behaves as one built by ``model(**values)``."""

    row = manager_of_class(model).new_instance()
    row.__dict__.update(values)
    return row
