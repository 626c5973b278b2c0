"""Employment tables: workers, certificates, vacancies, referrals, public-welfare posts, employment found."""

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

from shared.db import Money, UtcDateTime, new_metadata
from shared.events import EmploymentKind
from shared.platform_models import BigId
from shared.projection import CaseloadFields


class Base(DeclarativeBase):
    metadata = new_metadata()


class Worker(Base):
    """A working-age-relevant dibao member as Labour and Social Security sees them."""

    __tablename__ = "workers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(String(18))
    household_id: Mapped[str] = mapped_column(String(36))
    division_code: Mapped[str] = mapped_column(String(6))
    name: Mapped[str] = mapped_column(String(100))
    sex: Mapped[str] = mapped_column(String(6))
    birth_date: Mapped[date] = mapped_column(Date)
    able_to_work: Mapped[bool] = mapped_column(Boolean)
    employment_status: Mapped[str] = mapped_column(String(12))
    unemployed_since: Mapped[date | None] = mapped_column(Date)
    in_dibao_from: Mapped[date] = mapped_column(Date)
    in_dibao_until: Mapped[date | None] = mapped_column(Date)
    certificate_due_on: Mapped[date | None] = mapped_column(Date, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("household_id", "resident_id"), Index("ix_workers_resident_id", "resident_id"))


class Certificate(Base):
    """再就业优惠证: free, verifiable by any agency until it expires."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[str | None] = mapped_column(String(30), unique=True)
    resident_id: Mapped[str] = mapped_column(String(18), index=True)
    household_id: Mapped[str] = mapped_column(String(36))
    division_code: Mapped[str] = mapped_column(String(6))
    holder_name: Mapped[str] = mapped_column(String(100))
    issued_on: Mapped[date] = mapped_column(Date)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    # Leaving dibao ends the benefits (fee waivers, priority); the certificate stays verifiable.
    benefits_end_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Vacancy(Base):
    __tablename__ = "vacancies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    employer: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200))
    division_code: Mapped[str] = mapped_column(String(6))
    positions: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Referral(Base):
    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    vacancy_id: Mapped[int] = mapped_column(ForeignKey("vacancies.id"))
    resident_id: Mapped[str] = mapped_column(String(18), index=True)
    household_id: Mapped[str] = mapped_column(String(36))
    division_code: Mapped[str] = mapped_column(String(6))
    certificate_number: Mapped[str | None] = mapped_column(String(30))
    fee_waived: Mapped[bool] = mapped_column(Boolean)
    referred_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("vacancy_id", "resident_id"),)


class Post(Base):
    """A public-welfare post (公益性岗位) with its capacity."""

    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    employer: Mapped[str] = mapped_column(String(200))
    division_code: Mapped[str] = mapped_column(String(6))
    capacity: Mapped[int] = mapped_column(Integer)
    monthly_wage: Mapped[Decimal] = mapped_column(Money())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PostAssignment(Base):
    __tablename__ = "post_assignments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    resident_id: Mapped[str] = mapped_column(String(18), index=True)
    household_id: Mapped[str] = mapped_column(String(36))
    division_code: Mapped[str] = mapped_column(String(6))
    assigned_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("post_id", "resident_id"),)


class EmploymentRecord(Base):
    """A member found work: a job, self-employment, or a public-welfare post."""

    __tablename__ = "employment_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(String(18), index=True)
    household_id: Mapped[str] = mapped_column(String(36))
    division_code: Mapped[str] = mapped_column(String(6))
    employed_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[EmploymentKind] = mapped_column(String(30))
    employer: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


# What this bureau keeps of the registry's household snapshots (docs/architecture.md, "What each service keeps").
# The re-employment certificate: working age (birth date, sex), able to work, unemployed and since when;
# the name is the certificate holder's.
CASELOAD_FIELDS = CaseloadFields(
    household=frozenset(()),
    member=frozenset(("name", "sex", "birth_date", "able_to_work", "employment_status", "unemployed_since")),
)
