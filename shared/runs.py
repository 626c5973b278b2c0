"""Periodic runs (monthly dibao, heating supplements, rent subsidies, school terms): the run's own record.

Every run settles each period up to its own against the service's ledger (shared.ledger): households are read
in batches ordered by key, each batch's rows locked, settled and **committed** in a unit of work of its own, so
a run interrupted half-way keeps what it paid and the next run settles only the rest; a second run adds
nothing. The run's record is finished in the request's unit of work, with the run's audit entry.

A **dry run** (``"dry_run": true``) goes through the same batches and rules and writes nothing — no run record,
no ledger line, no event, no audit entry: its answer is what a run would pay now, to whom, and who it would
leave out. Every run's answer says, per division, who was paid how much, and which households something was
due to receive nothing, and why (:class:`RunReport`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import Integer, String, update
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Money, UtcDateTime
from shared.divisions import division_name
from shared.metrics import run_finished
from shared.money import ZERO, MoneyStr, to_fen
from shared.platform_models import BigId
from shared.unit_of_work import UnitOfWork, UnitsOfWork

T = TypeVar("T")

# A batch of a run holds its ledger lines, their events and their outbox rows until it commits. A monthly run
# settles a month or two per household; the first run after a caseload is migrated settles years per household
# (2,000 households of it held the registry at 277 MB), so a batch also ends at this many household-months
# (docs/performance.md: 6,000 kept the registry's history run at 146 MB for 10,000 households, and was faster).
MONTHS_PER_BATCH = 6_000


def months_from(first: date, through: date, *, inclusive: bool) -> int:
    """Months from ``first``'s month to ``through``'s: counting ``first``'s own when ``inclusive`` (an enrolment),
    not when it was settled already."""

    return max(0, through.year * 12 + through.month - (first.year * 12 + first.month) + (1 if inclusive else 0))


def within_budget(items: Sequence[T], months: Callable[[T], int], budget: int = MONTHS_PER_BATCH) -> list[T]:
    """The first of ``items`` whose months to settle fit in ``budget``; at least one, so a run always moves on."""

    taken: list[T] = []
    spent = 0
    for item in items:
        cost = months(item)
        if taken and spent + cost > budget:
            break
        taken.append(item)
        spent += cost
    return taken


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


# ---- what a run paid, to whom, and whom it left out ------------------------------------------------------

LEFT_OUT_LISTED = 1000


class DivisionPaid(BaseModel):
    division_code: str
    division_name: str
    households: int = Field(description="households the run transferred money to")
    amount: MoneyStr = Field(description="what it transferred to them")


class LeftOut(BaseModel):
    household_id: str
    division_code: str
    reason: str = Field(description="withheld: all that was due went against what the household owed")
    due: MoneyStr = Field(description="what the run found due to the household")
    withheld: MoneyStr = Field(description="what it kept back of that")


class Payee(BaseModel):
    household_id: str
    division_code: str
    amount: MoneyStr


class RunReport(BaseModel):
    """What every run's answer adds: dry or not, who was paid per division, who was left out and why."""

    dry_run: bool = Field(default=False, description="true: nothing was written; this is what a run would do now")
    by_division: list[DivisionPaid] = Field(default_factory=list)
    left_out: list[LeftOut] = Field(
        default_factory=list,
        description=f"households something was due to that receive nothing, and why (the first {LEFT_OUT_LISTED})",
    )
    left_out_count: int = Field(default=0, description="all of them")
    payees: list[Payee] | None = Field(
        default=None, description="a dry run's answer only: every household it would transfer money to, and how much"
    )


class SettledLine(Protocol):
    @property
    def amount(self) -> Decimal: ...

    @property
    def withheld(self) -> Decimal: ...


@dataclass
class RunTally:
    """Collects, household by household, what a run transfers and to whom, for its :class:`RunReport`."""

    dry_run: bool = False
    divisions: dict[str, tuple[set[str], Decimal]] = field(default_factory=dict)
    left_out: list[LeftOut] = field(default_factory=list)
    left_out_count: int = 0
    payees: dict[str, Payee] = field(default_factory=dict)

    def settled(self, household_id: str, division_code: str, lines: Iterable[SettledLine]) -> None:
        """A household's new lines: a transfer, or (payments all withheld) a household left out."""

        payments = [line for line in lines if line.amount > ZERO]
        due = sum((line.amount for line in payments), ZERO)
        transferred = sum((line.amount - line.withheld for line in payments), ZERO)
        if transferred > ZERO:
            households, amount = self.divisions.get(division_code, (set(), ZERO))
            households.add(household_id)
            self.divisions[division_code] = (households, amount + transferred)
            if self.dry_run:
                earlier = self.payees.get(household_id)
                self.payees[household_id] = Payee(
                    household_id=household_id,
                    division_code=division_code,
                    amount=transferred + (earlier.amount if earlier else ZERO),
                )
        elif payments:
            self.left_out_count += 1
            if len(self.left_out) < LEFT_OUT_LISTED:
                self.left_out.append(
                    LeftOut(
                        household_id=household_id,
                        division_code=division_code,
                        reason="withheld",
                        due=due,
                        withheld=due - transferred,
                    )
                )

    def report(self) -> dict[str, Any]:
        """The :class:`RunReport` fields, for the run's answer."""

        return {
            "dry_run": self.dry_run,
            "by_division": [
                DivisionPaid(
                    division_code=code,
                    division_name=division_name(code),
                    households=len(households),
                    amount=to_fen(amount),
                )
                for code, (households, amount) in sorted(self.divisions.items())
            ],
            "left_out": self.left_out,
            "left_out_count": self.left_out_count,
            "payees": sorted(self.payees.values(), key=lambda p: p.household_id) if self.dry_run else None,
        }
