"""Water and heating relief tables: heating type history, water bills, supplement runs and payments."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.utilities.schemas import LineKind
from shared.db import Area, Money, UtcDateTime, new_metadata
from shared.platform_models import BigId
from shared.projection import CaseloadFields
from shared.runs import RunRecord


class Base(DeclarativeBase):
    metadata = new_metadata()


class HeatingHistory(Base):
    """A household's heating type from a date on (central 集中供热 or not)."""

    __tablename__ = "heating_history"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(String(36), index=True)
    effective_from: Mapped[date] = mapped_column(Date)
    heating: Mapped[str] = mapped_column(String(20))

    __table_args__ = (UniqueConstraint("household_id", "effective_from"),)


class WaterBill(Base):
    __tablename__ = "water_bills"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(String(36))
    division_code: Mapped[str] = mapped_column(String(6))
    period: Mapped[str] = mapped_column(String(7))
    members: Mapped[int] = mapped_column(Integer)
    usage_m3: Mapped[Decimal] = mapped_column(Area())
    discounted_m3: Mapped[Decimal] = mapped_column(Area())
    discount: Mapped[Decimal] = mapped_column(Money())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("household_id", "period"), Index("ix_water_bills_period", "period"))


class SupplementRun(RunRecord, Base):
    """A month's heating supplement run (shared.runs)."""

    __tablename__ = "supplement_runs"


class HeatingSupplement(Base):
    """A line of the supplement ledger: what one run did to one household's month.

    ``kind`` "supplement" (a positive amount paid, less ``withheld`` to recover an earlier overpayment)
    or "recovery" (a negative amount: paid over, now owed). A month's lines sum to what is due for it.
    ``settlement`` numbers the household's settlements (its account's counter): one line per household,
    month and kind in each settlement, so two runs that both settled a household at once would collide
    on the key rather than pay twice. ``run_period`` says which run wrote the line.
    """

    __tablename__ = "heating_supplements"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(String(36))
    division_code: Mapped[str] = mapped_column(String(6))
    period: Mapped[str] = mapped_column(String(7))
    allowance: Mapped[Decimal] = mapped_column(Money())
    rate: Mapped[str] = mapped_column(String(10))
    season_days: Mapped[int] = mapped_column(Integer)
    days_in_month: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Money())
    kind: Mapped[LineKind] = mapped_column(String(10), default="supplement")
    withheld: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    run_period: Mapped[str] = mapped_column(String(7))
    settlement: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("supplement_runs.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("household_id", "period", "kind", "settlement"),
        Index("ix_heating_supplements_period", "period"),
        Index("ix_heating_supplements_household_id", "household_id"),
    )


class SupplementAccount(Base):
    """One row per household the supplement runs have settled: the row a run locks (FOR UPDATE) while it
    reads the household's ledger and adds to it, so two runs — even of different periods — never both
    pay the same difference.

    It also says how far the ledger is settled: every month through ``settled_through`` was settled
    under ``stamp`` (the household's snapshot version and the supplement parameters). While the stamp
    holds, a run settles only the months after it; ``owed`` is the balance its lines leave owed.
    ``settlement`` counts the settlements that wrote lines; the next one's lines carry it plus one.
    """

    __tablename__ = "supplement_accounts"

    household_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owed: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    settled_through: Mapped[str | None] = mapped_column(String(7))
    stamp: Mapped[str | None] = mapped_column(String(80))
    settlement: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class HeatingBill(Base):
    """A heating company's bill for a centrally heated dibao household's season, and the reduction."""

    __tablename__ = "heating_bills"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(String(36))
    division_code: Mapped[str] = mapped_column(String(6))
    season: Mapped[str] = mapped_column(String(9))
    period: Mapped[str] = mapped_column(String(7))  # the month the season begins in (for reports)
    fee: Mapped[Decimal] = mapped_column(Money())
    rate: Mapped[str] = mapped_column(String(10))
    reduction: Mapped[Decimal] = mapped_column(Money())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("household_id", "season"), Index("ix_heating_bills_period", "period"))


# What this bureau keeps of the registry's household snapshots (docs/architecture.md, "What each service keeps").
# Heating relief follows the heating type; the +20% supplement is a share of the dibao paid each month
# (the allowance schedule and any extension) until the exit, one set ahead included. Members are counted, not named.
CASELOAD_FIELDS = CaseloadFields(
    household=frozenset(("heating", "allowance_schedule", "extensions", "exit_on")), member=frozenset(())
)
