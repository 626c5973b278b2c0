"""Periodic runs (monthly dibao, heating supplements, rent subsidies, school terms): the run's own record.

Every run settles each period up to its own against the service's ledger (shared.ledger): households are read
in batches ordered by key, each batch's rows locked, settled and **committed** in a unit of work of its own, so
a run interrupted half-way keeps what it paid and the next run settles only the rest; a second run adds
nothing. The run's record is finished in the request's unit of work, with the run's audit entry.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, String, update
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Money, UtcDateTime
from shared.metrics import run_finished
from shared.money import to_fen
from shared.platform_models import BigId
from shared.unit_of_work import UnitOfWork, UnitsOfWork


class RunRecord:
    """Columns of a run's own record (mixed into each service's runs table)."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(12))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    households_paid: Mapped[int] = mapped_column(Integer, default=0)
    total_amount: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))


async def start_run(units: UnitsOfWork, model: Any, period: str) -> int:
    """Record that a run of ``period`` began (committed at once, so an interrupted run is visible); its id."""

    async with units.begin() as uow:
        run = model(period=period, started_at=datetime.now(UTC), households_paid=0, total_amount=Decimal("0"))
        uow.add(run)
        await uow.commit()
        return int(run.id)


async def finish_run(uow: UnitOfWork, model: Any, run_id: int, households_paid: int, total: Decimal) -> None:
    """Record what the run paid, in the unit of work that ends the run: the request's, which audits the run
    and commits both together."""

    started_at = (
        await uow.session.execute(
            update(model)
            .where(model.id == run_id)
            .values(finished_at=datetime.now(UTC), households_paid=households_paid, total_amount=to_fen(total))
            .returning(model.started_at)
        )
    ).scalar_one()
    # services.<name>.models: the service; the table names the run (payment_runs, supplement_runs, …).
    run_finished(model.__module__.split(".")[1], model.__tablename__, started_at, to_fen(total))
