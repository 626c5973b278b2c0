"""Medical assistance tables: designated hospitals, claims, refused claims (for audit), the yearly cap used."""

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

from services.medical.schemas import ClaimKind
from shared.db import Money, UtcDateTime, new_metadata
from shared.platform_models import BigId
from shared.projection import CaseloadFields


class Base(DeclarativeBase):
    metadata = new_metadata()


class Hospital(Base):
    """A city-level designated hospital (定点医院) and its designation period."""

    __tablename__ = "hospitals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(40))
    division_code: Mapped[str | None] = mapped_column(String(6))
    designated_from: Mapped[date] = mapped_column(Date)
    designated_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Claim(Base):
    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    invoice_no: Mapped[str] = mapped_column(String(60))
    resident_id: Mapped[str] = mapped_column(String(18), index=True)
    household_id: Mapped[str] = mapped_column(String(36))
    division_code: Mapped[str] = mapped_column(String(6))
    visit_date: Mapped[date] = mapped_column(Date)
    year: Mapped[int] = mapped_column(Integer)
    kind: Mapped[ClaimKind] = mapped_column(String(12))
    total_cost: Mapped[Decimal] = mapped_column(Money())
    insurance_paid: Mapped[Decimal] = mapped_column(Money())
    out_of_pocket: Mapped[Decimal] = mapped_column(Money())
    assistance_amount: Mapped[Decimal] = mapped_column(Money())
    capped: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("hospital_id", "invoice_no"),
        Index("ix_claims_resident_id_year", "resident_id", "year"),
    )


class RefusedClaim(Base):
    """A claim refused because the person was not in dibao on the visit day; kept for the auditors."""

    __tablename__ = "refused_claims"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    invoice_no: Mapped[str] = mapped_column(String(60))
    resident_id: Mapped[str] = mapped_column(String(18))
    visit_date: Mapped[date] = mapped_column(Date)
    total_cost: Mapped[Decimal] = mapped_column(Money())
    code: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class YearlyCapUse(Base):
    """What a person has been paid in one calendar year: the row a claim locks (SELECT … FOR UPDATE on
    PostgreSQL, the write lock on SQLite) before it reads what is left of the cap, and updates in the same
    transaction. Concurrent claims for one person therefore queue here and never pay past the cap."""

    __tablename__ = "yearly_cap_use"

    resident_id: Mapped[str] = mapped_column(String(18), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    used: Mapped[Decimal] = mapped_column(Money())


# What this bureau keeps of the registry's household snapshots (docs/architecture.md, "What each service keeps").
# Every member is covered from enrolment until exit: who and when is all this bureau keeps.
CASELOAD_FIELDS = CaseloadFields(household=frozenset(()), member=frozenset(()))
