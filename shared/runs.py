"""Periodic payment runs (monthly dibao, heating supplements, rent subsidies, school terms).

A run pays, for one period, everyone due who has not been paid for it yet:

* candidates are read in batches ordered by key; each batch is paid and **committed** on its own, so
  a run interrupted half-way keeps what it paid and the next run pays only the rest;
* every payment row has a unique key that includes the period, inserted with ON CONFLICT DO NOTHING,
  so a second run — even one running at the same time — pays nobody twice;
* the payments' events are staged in the outbox in the same transaction as the rows.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, String, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Money, UtcDateTime, insert_ignore
from shared.money import ZERO, to_fen
from shared.platform_models import BigId

log = logging.getLogger("shared.runs")

class RunRecord:
    """Columns of a run's own record (mixed into each service's runs table)."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(12))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    households_paid: Mapped[int] = mapped_column(Integer, default=0)
    total_amount: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))


FetchBatch = Callable[[AsyncSession, Any, int], Awaitable[Sequence[Any]]]
BuildRows = Callable[[AsyncSession, Sequence[Any], int], Awaitable[list[dict[str, Any]]]]
Announce = Callable[[AsyncSession, Sequence[Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RunResult:
    period: str
    paid: int
    total: Decimal
    already_paid: int


async def run_in_batches(
    sessions: async_sessionmaker[AsyncSession],
    *,
    run_model: Any,
    payment_model: Any,
    period: str,
    fetch_batch: FetchBatch,
    key_of: Callable[[Any], Any],
    build_rows: BuildRows,
    conflict_columns: list[str],
    returning: list[Any],
    announce: Announce | None = None,
    batch_size: int = 2000,
    first_key: Any = "",
    period_column: Any = None,
) -> RunResult:
    """Run ``period``; ``returning`` must start with the payment's amount column.

    ``period_column`` is the payment column holding the run's period (default ``payment_model.period``).
    """

    async with sessions() as session:
        run = run_model(period=period, started_at=datetime.now(UTC), households_paid=0, total_amount=ZERO)
        session.add(run)
        await session.commit()
        run_id = run.id

    paid, total, last_key = 0, ZERO, first_key
    while True:
        async with sessions() as session:
            candidates = await fetch_batch(session, last_key, batch_size)
            if not candidates:
                break
            last_key = key_of(candidates[-1])
            rows = await build_rows(session, candidates, run_id)
            inserted = await insert_ignore(session, payment_model, rows, conflict_columns, returning=returning)
            if inserted and announce is not None:
                await announce(session, inserted)
            paid += len(inserted)
            total += sum((row[0] for row in inserted), ZERO)
            await session.commit()

    async with sessions() as session:
        await session.execute(update(run_model).where(run_model.id == run_id).values(
            finished_at=datetime.now(UTC), households_paid=paid, total_amount=to_fen(total)))
        column = payment_model.period if period_column is None else period_column
        already = await session.scalar(select(func.count()).select_from(payment_model).where(
            column == period, (payment_model.run_id != run_id) | payment_model.run_id.is_(None)))
        await session.commit()
    log.info("run finished", extra={"ctx_run": run_model.__tablename__, "ctx_period": period, "ctx_paid": paid,
                                    "ctx_total": str(total)})
    return RunResult(period, paid, to_fen(total), int(already or 0))
