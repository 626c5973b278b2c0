"""Alembic, one chain per service: ``python -m shared.migrations <service> [upgrade|downgrade|current]``.

Each service keeps its revisions in ``services/<service>/migrations/versions``; its ``env.py`` calls
:func:`run_env`. The platform tables (outbox, inbox, positions, parameters) are created by
:func:`create_platform_tables`, called from every service's first revision, so they are defined once.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db import Money
from shared.parameters import ParameterSpec, default_rows
from shared.services import NAMES
from shared.settings import load_settings

SERVICES = NAMES
ROOT = Path(__file__).resolve().parent.parent


def alembic_config(service: str, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "services" / service / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["service"] = service
    return config


def upgrade(service: str, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service, url), revision)


def downgrade(service: str, url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(service, url), revision)


def run_env(target_metadata: Any) -> None:
    """The body of every service's ``env.py``: run the revisions on its (async) database."""

    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("the Alembic configuration names no sqlalchemy.url (see alembic_config)")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    def _run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def _online() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(_run)
                await connection.commit()
        finally:
            await engine.dispose()

    asyncio.run(_online())


def create_platform_tables(op: Any, parameter_specs: list[ParameterSpec]) -> None:
    """Revision-1 tables every service has, with the service's parameter defaults seeded."""

    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "outbox_messages",
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_messages"),
        sa.UniqueConstraint("event_id", name="uq_outbox_messages_event_id"),
    )
    _create_unpublished_index(op)
    op.create_table(
        "inbox_events",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_inbox_events"),
    )
    op.create_table(
        "consumer_positions",
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("topic", "partition", name="pk_consumer_positions"),
    )
    parameters = op.create_table(
        "policy_parameters",
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_policy_parameters"),
        sa.UniqueConstraint("name", "scope", "effective_from", name="uq_policy_parameters_name_scope_effective_from"),
    )
    rows = default_rows(parameter_specs)
    if rows:
        op.bulk_insert(parameters, rows)
    create_audit_log(op)


def create_audit_log(op: Any) -> None:
    """The audit trail, append-only: the database itself refuses to change or delete a row."""

    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "audit_log",
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("resource_type", sa.String(60), nullable=False),
        sa.Column("resource_id", sa.String(200), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_resource", "audit_log", ["resource_type", "resource_id"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )


def create_bureau_tables(op: Any) -> None:
    """A bureau's copy of the caseload and its grants ledger (shared.projection, shared.grants)."""

    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "dibao_households",
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("exited_on", sa.Date(), nullable=True),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("household_id", name="pk_dibao_households"),
    )
    op.create_index("ix_dibao_households_division_code", "dibao_households", ["division_code"])
    op.create_table(
        "dibao_members",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("resident_id", sa.String(18), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("eligible_from", sa.Date(), nullable=False),
        sa.Column("eligible_until", sa.Date(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dibao_members"),
    )
    op.create_index("ix_dibao_members_household_id", "dibao_members", ["household_id"])
    op.create_index("ix_dibao_members_resident_id", "dibao_members", ["resident_id"])
    op.create_table(
        "grants",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("resident_id", sa.String(18), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("programme", sa.String(60), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("granted_on", sa.Date(), nullable=False),
        sa.Column("revoked_on", sa.Date(), nullable=True),
        sa.Column("revoke_reason", sa.String(300), nullable=True),
        sa.Column("monthly_amount", Money(), nullable=True),
        sa.Column("detail", sa.String(300), nullable=True),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_grants"),
    )
    op.create_index("ix_grants_household_id", "grants", ["household_id"])
    op.create_index(
        "uq_grants_active",
        "grants",
        ["household_id", "resident_id", "programme"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
        sqlite_where=sa.text("status = 'active'"),
    )


def drop_bureau_tables(op: Any) -> None:
    for table in ("grants", "dibao_members", "dibao_households"):
        op.drop_table(table)


def drop_platform_tables(op: Any) -> None:
    op.drop_table("audit_log")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for table in ("policy_parameters", "consumer_positions", "inbox_events"):
        op.drop_table(table)
    op.drop_index("ix_outbox_messages_unpublished", table_name="outbox_messages")
    op.drop_table("outbox_messages")


def _create_unpublished_index(op: Any) -> None:
    op.create_index(
        "ix_outbox_messages_unpublished",
        "outbox_messages",
        ["id"],
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    )


def outbox_without_published_state() -> None:
    """Upgrade: the relay deletes a row once Kafka has it, so the outbox keeps no published state;
    the rows marked published before this revision are sent already and go."""

    op.execute("DELETE FROM outbox_messages WHERE published_at IS NOT NULL")
    op.drop_index("ix_outbox_messages_unpublished", table_name="outbox_messages")
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_column("published_at")


def outbox_with_trace_context() -> None:
    """Upgrade: an outbox row keeps the W3C trace context of the change that wrote it (shared.tracing)."""

    with op.batch_alter_table("outbox_messages") as batch:
        batch.add_column(sa.Column("traceparent", sa.String(55), nullable=True))


def outbox_without_trace_context() -> None:
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_column("traceparent")


def outbox_with_published_state() -> None:
    """Downgrade: back to marking rows published; every row left is unsent (NULL)."""

    with op.batch_alter_table("outbox_messages") as batch:
        batch.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
    _create_unpublished_index(op)


def caseload_keeps_only(household: frozenset[str], member: frozenset[str], page: int = 2000) -> None:
    """Upgrade: the caseload copy (``dibao_households.snapshot``, ``dibao_members.data`` and the snapshot's
    history) keeps only the fields named; the rest of what the registry's events carried is forgotten. The
    revision names its fields itself (a revision does not change with the code). Downgrade is a no-op: what
    is gone comes back only by replaying ``registry.households`` under the older code."""

    bind = op.get_bind()
    history_kept = {"effective_on", *household}
    for name, key, column, kept in (
        ("dibao_households", "household_id", "snapshot", household),
        ("dibao_members", "id", "data", member),
    ):
        table = sa.table(name, sa.column(key), sa.column(column, sa.JSON))
        last: Any = None
        while True:
            query = sa.select(table.c[key], table.c[column]).order_by(table.c[key]).limit(page)
            if last is not None:
                query = query.where(table.c[key] > last)
            rows = bind.execute(query).all()
            if not rows:
                break
            last = rows[-1][0]
            for row_key, data in rows:
                slim = {field: value for field, value in (data or {}).items() if field in kept}
                if "history" in (data or {}) and column == "snapshot":
                    slim["history"] = [
                        {field: value for field, value in entry.items() if field in history_kept}
                        for entry in data["history"]
                    ]
                if slim != data:
                    bind.execute(table.update().where(table.c[key] == row_key).values({column: slim}))


def caseload_unchanged() -> None:
    """Downgrade of :func:`caseload_keeps_only`: nothing to undo (a replay restores older copies)."""


async def wait_for_database(url: str, seconds: float) -> None:
    """Return once the database accepts a connection; give up after ``seconds`` with the last error."""

    deadline = time.monotonic() + seconds
    while True:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
            return
        except (OSError, sa.exc.DBAPIError) as exc:
            if time.monotonic() >= deadline:
                raise SystemExit(f"database not reachable after {seconds:.0f} s: {exc}") from exc
            print(f"waiting for the database: {exc.__class__.__name__}", file=sys.stderr, flush=True)
        finally:
            await engine.dispose()
        await asyncio.sleep(2)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run a service's database migrations")
    parser.add_argument("service", choices=[*SERVICES, "all"])
    parser.add_argument("action", nargs="?", default="upgrade", choices=["upgrade", "downgrade", "current"])
    parser.add_argument("--url", help="database URL (default: the service's settings)")
    parser.add_argument(
        "--wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="wait up to this long for each database to accept connections first",
    )
    args = parser.parse_args()
    for service in SERVICES if args.service == "all" else (args.service,):
        url = args.url or load_settings(service).resolved_database_url()
        if args.wait:
            asyncio.run(wait_for_database(url, args.wait))
        if args.action == "upgrade":
            upgrade(service, url)
        elif args.action == "downgrade":
            downgrade(service, url)
        else:
            command.current(alembic_config(service, url))


if __name__ == "__main__":
    main()
