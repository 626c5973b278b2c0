"""Legal aid tables: lawyers and legal-aid offices, cases and their transitions."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.legal.rules import CaseKind, CaseStatus
from shared.db import Money, UtcDateTime, new_metadata
from shared.platform_models import BigId
from shared.projection import CaseloadFields


class Base(DeclarativeBase):
    metadata = new_metadata()


class Lawyer(Base):
    __tablename__ = "lawyers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    firm: Mapped[str] = mapped_column(String(200))
    division_code: Mapped[str] = mapped_column(String(6))
    kind: Mapped[str] = mapped_column(String(20))  # lawyer | legal_aid_office
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(String(18))
    household_id: Mapped[str] = mapped_column(String(36))
    division_code: Mapped[str] = mapped_column(String(6))
    kind: Mapped[CaseKind] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text)
    status: Mapped[CaseStatus] = mapped_column(String(12))
    lawyer_id: Mapped[int | None] = mapped_column(ForeignKey("lawyers.id"))
    outcome: Mapped[str | None] = mapped_column(Text)
    fee: Mapped[Decimal] = mapped_column(Money())
    intake_on: Mapped[date] = mapped_column(Date)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_cases_resident_id", "resident_id"), Index("ix_cases_intake_on", "intake_on"))


class CaseTransition(Base):
    """Every change of a case's status, timestamped (the case file's history)."""

    __tablename__ = "case_transitions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    lawyer_id: Mapped[int | None] = mapped_column(BigId)
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime())


# What this bureau keeps of the registry's household snapshots (docs/architecture.md, "What each service keeps").
# Every member may have legal aid from enrolment until exit: who and when is all this bureau keeps.
CASELOAD_FIELDS = CaseloadFields(household=frozenset(()), member=frozenset(()))
