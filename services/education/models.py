"""Education tables: pupils, term grants, term runs, partner organisations' aid."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Index, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.education.schemas import LineKind, Organisation
from shared.db import Money, UtcDateTime, new_metadata
from shared.events import SchoolStage
from shared.platform_models import BigId
from shared.projection import CaseloadFields
from shared.runs import RunRecord


class Base(DeclarativeBase):
    metadata = new_metadata()


class Pupil(Base):
    """A child or student of a dibao household that some education programme concerns."""

    __tablename__ = "pupils"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(String(18))
    household_id: Mapped[str] = mapped_column(String(36))
    division_code: Mapped[str] = mapped_column(String(6))
    name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
    relation: Mapped[str] = mapped_column(String(10))
    school_stage: Mapped[SchoolStage] = mapped_column(String(12))
    boarding: Mapped[bool] = mapped_column(Boolean)
    household_has_disabled: Mapped[bool] = mapped_column(Boolean)
    no_parent_in_household: Mapped[bool] = mapped_column(Boolean)
    # The pupil's time in dibao: from enrolment (or joining the household) to exit (or leaving it).
    enrolled_on: Mapped[date] = mapped_column(Date)
    exited_on: Mapped[date | None] = mapped_column(Date)
    left_school_on: Mapped[date | None] = mapped_column(Date)
    # Set when a school reported stage or boarding: the school's word then beats the registry's.
    school_reported_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Stage, boarding and a disabled member in the household by date (rules.SchoolFacts), so a term is paid
    # with the facts in force in it; None for a pupil registered before 2026-12 (its current facts then).
    facts: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("household_id", "resident_id"), Index("ix_pupils_resident_id", "resident_id"))


class PupilSchool(Base):
    """The school a pupil is registered to, set by the Education Bureau (services.education.schools)."""

    __tablename__ = "pupil_schools"

    resident_id: Mapped[str] = mapped_column(String(18), primary_key=True)
    school_id: Mapped[str] = mapped_column(String(12), index=True)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TermRun(RunRecord, Base):
    """A school term's run (shared.runs)."""

    __tablename__ = "term_runs"


class TermGrant(Base):
    """A line of the education ledger: what one run paid (or recovered) a pupil for one programme and period.

    ``period`` is the term for waivers and subsidies and the school year for the disability grant. The
    lines of a pupil, programme and period sum to what was due when the last run settled them: ``kind``
    is ``payment`` (positive) or ``recovery`` (negative: paid over, owed back by the household — never a
    negative transfer). A payment to a household that owes keeps part of its amount back (``withheld``),
    oldest period first, until what it owes is recovered: the line's transfer is ``amount - withheld``.
    One line per pupil, programme, period, kind and run (the unique key).
    """

    __tablename__ = "term_grants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(String(18))
    household_id: Mapped[str] = mapped_column(String(36), index=True)
    division_code: Mapped[str] = mapped_column(String(6))
    programme: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(12))
    kind: Mapped[LineKind] = mapped_column(String(10), default="payment")
    term: Mapped[str] = mapped_column(String(12))
    amount: Mapped[Decimal] = mapped_column(Money())
    withheld: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    detail: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("resident_id", "programme", "period", "kind", "run_id"),
        Index("ix_term_grants_term", "term"),
    )


class PartnerAid(Base):
    """Aid to a pupil by a partner organisation (Trade Union, Youth League, Women's Federation, Disabled Persons' Federation)."""

    __tablename__ = "partner_aid"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(String(18), index=True)
    household_id: Mapped[str] = mapped_column(String(36))
    division_code: Mapped[str] = mapped_column(String(6))
    organisation: Mapped[Organisation] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(60))
    amount: Mapped[Decimal] = mapped_column(Money())
    given_on: Mapped[date] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


# What this bureau keeps of the registry's household snapshots (docs/architecture.md, "What each service keeps").
# Pupils and their programmes: stage, boarding, age and relation (the no-parent flag), a disabled member in
# the household; the name is the pupil record's. An exit set ahead ends a pupil's time in dibao for the term runs.
CASELOAD_FIELDS = CaseloadFields(
    household=frozenset(("exit_on",)),
    member=frozenset(("name", "birth_date", "relation", "disabled", "school_stage", "boarding")),
)
