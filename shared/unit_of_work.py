"""One unit of work per transaction: what it carries is typed, and it commits explicitly.

A request (the :data:`Uow` dependency), a consumer batch and each batch of a run open a
:class:`UnitOfWork` on a session of their own. Everything the transaction carries besides the ORM's
own bookkeeping lives on it, typed: who is making the change (for the audit trail) and whether it
comes from an API call or an event, the audit entries, the events to publish, the new rows written
behind in a consumer batch, and per-transaction caches (parameter books, the caseload copy, active
grants, a bureau's own rows) declared by the modules that keep them (:class:`Cache`).

:meth:`UnitOfWork.commit` flushes, then writes the audit rows for everything that was flushed — the
last flush included, so no change escapes the audit trail —, then the events to publish, commits,
and only then tells the outbox relay. Nothing is done by hooks on every ``Session``: the unit of work
listens to its own session only (its flushes, for the audit trail; its savepoints, so that what a
rolled-back savepoint staged goes with it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Depends, Request
from sqlalchemy import event, insert, inspect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction

from shared.audit import Actor, AuditEntry, Change, audit_rows, changes_in_flush
from shared.db import SQLITE_BEGIN, insert_many, table_of
from shared.platform_models import OutboxMessage

__all__ = ["Actor", "Cache", "DbSession", "Source", "UnitOfWork", "Units", "UnitsOfWork", "Uow", "request_actor"]

T = TypeVar("T")

# Where a change comes from: a person's call to the API, or an event the consumer handled (rebuilt by a replay).
Source = Literal["api", "event"]
OutboxRow = dict[str, Any]


class Cache(Generic[T]):
    """A per-transaction cache of one kind, declared once by the module that keeps it::

        _BOOKS: Cache[dict[frozenset[str], ParameterBook]] = Cache("parameter books", dict)
        books = uow.cached(_BOOKS)

    The unit of work holds the values; the key's type says what they are, so no string key is shared
    between modules and the unit of work needs to import none of them.
    """

    __slots__ = ("factory", "name")

    def __init__(self, name: str, factory: Callable[[], T]) -> None:
        self.name = name
        self.factory = factory

    def __repr__(self) -> str:
        return f"Cache({self.name!r})"


@dataclass(slots=True)
class _Mark:
    """How much was pending when a savepoint began."""

    changes: int
    outbox: int
    staged: int


class UnitOfWork:
    """One transaction and what it carries. Open one with :meth:`UnitsOfWork.begin`; commit it with
    :meth:`commit` (leaving without committing rolls back)."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        actor: Actor | None = None,
        source: Source = "api",
        write_behind: bool = False,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.session = session
        # Changes are audited when someone makes them; a consumer's (actor None) are traceable to their event.
        self.actor = actor
        self.source: Source = source
        # New rows added with :meth:`add` are written at commit, one executemany per table (a consumer batch).
        self.write_behind = write_behind
        self.on_commit = on_commit
        self._changes: list[Change] = []
        self._outbox: list[OutboxRow] = []
        self._staged: list[Any] = []
        self._caches: dict[Cache[Any], Any] = {}
        self._marks: dict[SessionTransaction, _Mark] = {}
        sync = session.sync_session
        if actor is not None:
            event.listen(sync, "after_flush", self._collect_flushed)
        if write_behind:
            event.listen(sync, "before_flush", self._stage_into_flush)
        event.listen(sync, "after_transaction_create", self._savepoint_began)
        event.listen(sync, "after_soft_rollback", self._savepoint_rolled_back)

    # ---- what the transaction carries ------------------------------------------------------------

    def cached(self, cache: Cache[T]) -> T:
        """This transaction's value of ``cache``, made by its factory on first use."""

        try:
            value: T = self._caches[cache]
        except KeyError:
            value = self._caches[cache] = cache.factory()
        return value

    def forget(self, cache: Cache[Any]) -> None:
        """Drop a cache whose values are now stale (the next :meth:`cached` makes it anew)."""

        self._caches.pop(cache, None)

    def add(self, row: Any) -> None:
        """Add a new mapped object: staged for the commit under write-behind, else ``session.add``.

        A consumer batch creates a few rows per event for hundreds of events; the ORM's per-object
        bookkeeping (identity map, state, RETURNING of every id) cost more than the events. Staged rows
        are still mapped objects, so code reads and changes them the same way until they are written.
        """

        if self.write_behind:
            self._staged.append(row)
        else:
            self.session.add(row)

    def stage_outbox(self, rows: list[OutboxRow]) -> None:
        """Events to publish: written to the outbox, in order, when the unit of work commits."""

        self._outbox.extend(rows)

    def staged_last(self, row: OutboxRow) -> bool:
        """Whether ``row`` is the last event staged so far: only then may it be amended (made to carry
        more) without changing the order in which this transaction's events are published."""

        return bool(self._outbox) and self._outbox[-1] is row

    def audit(self, resource_type: str, resource_id: str, *, before: Any = None, after: Any = None) -> None:
        """Audit a change made without the ORM (a bulk insert, a run); ORM changes are audited by themselves."""

        self.audit_many(resource_type, [(resource_id, before, after)])

    def audit_many(self, resource_type: str, changes: list[tuple[str, Any, Any]]) -> None:
        """Audit several changes of one kind, each (resource id, before, after)."""

        if self.actor is None:
            return
        self._changes.extend(
            Change.record(resource_type, resource_id, before, after) for resource_id, before, after in changes
        )

    # ---- flushing and committing -----------------------------------------------------------------

    async def flush(self) -> None:
        """Flush, staged rows included (they join the ORM's unit of work), so the next query sees everything."""

        self.session.add_all(self._take_staged())
        await self.session.flush()

    async def commit(self) -> None:
        """Flush, audit everything flushed, write the events to publish, flush again (nothing is left), commit;
        then tell the relay."""

        session = self.session
        staged = self._take_staged()
        if self.actor is not None:
            # Audited like any other change: through the ORM's flush.
            session.add_all(staged)
            staged = []
        # Changes to loaded rows first, as the ORM orders updates before inserts (a grant revoked and
        # granted again in one batch must leave the partial unique index satisfied).
        await session.flush()
        if staged:
            await self._insert_staged(staged)
        if self._changes and self.actor is not None:
            await session.execute(insert(table_of(AuditEntry)), audit_rows(self.actor, self._changes))
            self._changes = []
        wrote = bool(self._outbox)
        if wrote:
            # One INSERT for everything the transaction staged, however many handlers or grants staged it.
            await insert_many(session, OutboxMessage, self._outbox)
            self._outbox = []
        # Nothing is left for the commit to flush (the audit and outbox rows are plain statements): a change
        # that would only be flushed by the commit itself is refused rather than committed unaudited.
        await session.flush()
        if self._changes or session.new or session.dirty or session.deleted:
            raise RuntimeError("a change was made while the unit of work was committing")
        await session.commit()
        self._caches.clear()
        self._marks.clear()
        if wrote and self.on_commit is not None:
            self.on_commit()

    async def rollback(self) -> None:
        await self.session.rollback()
        self._forget_pending()

    def _forget_pending(self) -> None:
        self._changes, self._outbox, self._staged = [], [], []
        self._caches.clear()
        self._marks.clear()

    def _take_staged(self) -> list[Any]:
        staged, self._staged = self._staged, []
        return staged

    async def _insert_staged(self, staged: list[Any]) -> None:
        by_model: dict[Any, list[Any]] = {}
        for row in staged:
            by_model.setdefault(type(row), []).append(row)
        for model, rows in by_model.items():
            await insert_many(self.session, model, _column_values(model, rows))

    # ---- listening to its own session ------------------------------------------------------------

    def _collect_flushed(self, session: Session, _context: Any) -> None:
        self._changes.extend(changes_in_flush(session))

    def _stage_into_flush(self, session: Session, _context: Any, _instances: Any) -> None:
        # A flush called on the session directly takes staged rows along: whatever flushes, they are written.
        session.add_all(self._take_staged())

    def _savepoint_began(self, _session: Session, transaction: SessionTransaction) -> None:
        if transaction.nested:
            # begin_nested() flushed before this: what is pending now belongs outside the savepoint.
            self._marks[transaction] = _Mark(len(self._changes), len(self._outbox), len(self._staged))
            # A cached value may be amended in place (an event gathering lines); what was staged before the
            # savepoint must not take a change that the savepoint's rollback would then leave behind.
            self._caches.clear()

    def _savepoint_rolled_back(self, _session: Session, previous: SessionTransaction) -> None:
        if not previous.nested:
            if previous.parent is None:
                self._forget_pending()
            return
        mark = self._marks.pop(previous, None)
        if mark is None:
            return
        # What the savepoint audited or staged was rolled back with it; cached rows may have been expired.
        del self._changes[mark.changes :]
        del self._outbox[mark.outbox :]
        del self._staged[mark.staged :]
        self._caches.clear()


def _column_values(model: Any, rows: list[Any]) -> list[dict[str, Any]]:
    """Every row with the same keys (executemany compiles once): given values, else the column default."""

    mapper = inspect(model)
    columns = []
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        given = any(prop.key in row.__dict__ and row.__dict__[prop.key] is not None for row in rows)
        if column.primary_key and column.autoincrement and not given:
            continue
        if column.server_default is not None and not given:
            continue
        default = column.default.arg if column.default is not None and column.default.is_scalar else None
        if column.default is not None and not column.default.is_scalar and not given:
            raise TypeError(f"{model.__name__}.{prop.key}: give a value (callable defaults are not written behind)")
        columns.append((prop.key, column.key, default))
    return [{column_key: row.__dict__.get(key, default) for key, column_key, default in columns} for row in rows]


class UnitsOfWork:
    """Opens units of work on one service's database; a commit that wrote events wakes ``on_commit``
    (the outbox relay)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], on_commit: Callable[[], None] | None = None) -> None:
        self.sessions = sessions
        self.on_commit = on_commit

    @asynccontextmanager
    async def begin(
        self, *, actor: Actor | None = None, source: Source = "api", write_behind: bool = False, read_only: bool = False
    ) -> AsyncIterator[UnitOfWork]:
        """A unit of work on a new session; not committed unless the caller commits it.

        ``read_only`` on SQLite: a plain BEGIN that does not queue for the write lock (WAL readers never
        wait for the writer)."""

        async with self.sessions() as session:
            uow = UnitOfWork(session, actor=actor, source=source, write_behind=write_behind, on_commit=self.on_commit)
            if read_only and session.bind.dialect.name == "sqlite":
                await session.connection(execution_options={SQLITE_BEGIN: "DEFERRED"})
            try:
                yield uow
            except BaseException:
                await uow.rollback()
                raise


# ---- the request's unit of work --------------------------------------------------------------------


def request_actor(request: Request) -> Actor:
    """The caller (set by the route's guard, which runs before the endpoint's own dependencies)."""

    principal = getattr(request.state, "principal", None)
    route = request.scope.get("route")
    action = f"{request.method} {getattr(route, 'path', request.url.path)}"
    if principal is None:
        return Actor("anonymous", "anonymous", action)
    return Actor(principal.agency, principal.subject, action)


def _units(request: Request) -> UnitsOfWork:
    units: UnitsOfWork = request.app.state.platform.units
    return units


Units = Annotated[UnitsOfWork, Depends(_units)]


async def _request_unit_of_work(request: Request, units: Units) -> AsyncIterator[UnitOfWork]:
    """One unit of work per request, committed before the response is sent (``scope="function"``)."""

    async with units.begin(
        actor=request_actor(request), source="api", read_only=request.method in ("GET", "HEAD")
    ) as uow:
        yield uow
        await uow.commit()


Uow = Annotated[UnitOfWork, Depends(_request_unit_of_work, scope="function")]


async def _request_session(uow: Uow) -> AsyncSession:
    return uow.session


# The request's session, for endpoints that only read or use nothing else of the unit of work.
DbSession = Annotated[AsyncSession, Depends(_request_session)]
