"""Housing tables: each dibao household's housing case, low-rent flats, waitlist, subsidy runs."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.housing.schemas import LineKind
from shared.db import Area, Money, UtcDateTime, new_metadata
from shared.platform_models import BigId
from shared.projection import CaseloadFields
from shared.runs import RunRecord


class Base(DeclarativeBase):
    metadata = new_metadata()


class HousingCase(Base):
    """What the Housing Bureau knows and decided about one dibao household."""

    __tablename__ = "housing_cases"

    household_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    members: Mapped[int] = mapped_column(Integer)
    area_m2: Mapped[Decimal] = mapped_column(Area())
    enrolled_on: Mapped[date] = mapped_column(Date)
    in_dibao: Mapped[bool] = mapped_column(Boolean, default=True)
    exited_on: Mapped[date | None] = mapped_column(Date)
    eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    eligible_since: Mapped[date | None] = mapped_column(Date)
    eligible_until: Mapped[date | None] = mapped_column(Date)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    allocated_on: Mapped[date | None] = mapped_column(Date)
    tenancy_review: Mapped[bool] = mapped_column(Boolean, default=False)
    review_reason: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Unit(Base):
    """A low-rent flat (廉租房) registered by the bureau."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(300))
    division_code: Mapped[str] = mapped_column(String(6))
    area_m2: Mapped[Decimal] = mapped_column(Area())
    rooms: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="vacant")  # vacant | let
    household_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class WaitlistEntry(Base):
    __tablename__ = "waitlist"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(String(36))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(10), default="waiting")  # waiting | allocated | withdrawn
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index(
            "uq_waitlist_waiting_household",
            "household_id",
            unique=True,
            postgresql_where=status == "waiting",
            sqlite_where=status == "waiting",
        ),
    )


class SubsidyRun(RunRecord, Base):
    """A month's rent subsidy run (shared.runs)."""

    __tablename__ = "subsidy_runs"


class RentSubsidy(Base):
    """The subsidy ledger: what each run added for a household and month.

    The lines of a month sum to what is due for it under the facts now known. A run adds the difference:
    a payment (kind ``rent_subsidy``), or an overpayment the household owes (kind ``recovery``, a negative
    amount), which is withheld from its later payments (``withheld``) — never a negative transfer. What
    the household received for a line is ``amount − withheld``.
    """

    __tablename__ = "rent_subsidies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(String(36))
    division_code: Mapped[str] = mapped_column(String(6))
    period: Mapped[str] = mapped_column(String(7))
    kind: Mapped[LineKind] = mapped_column(String(20))
    members: Mapped[int] = mapped_column(Integer)
    area_m2: Mapped[Decimal] = mapped_column(Area())
    amount: Mapped[Decimal] = mapped_column(Money())
    withheld: Mapped[Decimal] = mapped_column(Money())
    run_id: Mapped[int] = mapped_column(ForeignKey("subsidy_runs.id"))
    run_period: Mapped[str] = mapped_column(String(7))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("household_id", "period", "kind", "run_id"),
        Index("ix_rent_subsidies_period", "period"),
    )


# What this bureau keeps of the registry's household snapshots (docs/architecture.md, "What each service keeps").
# The rent subsidy is decided from the floor area and the number of members (counted, not named).
CASELOAD_FIELDS = CaseloadFields(household=frozenset(("housing_area_m2",)), member=frozenset(()))
