"""Civil Affairs' tables: households, members, allowance revisions, payments, extensions; the procedure's
applications, objections, reviews, appeals and written notices."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.registry.rules import ApplicationStatus, ObjectionStatus
from shared.db import Area, Money, UtcDateTime, new_metadata
from shared.events import Heating, HouseholdStatus, NoticeKind
from shared.periods import city_today
from shared.platform_models import BigId
from shared.runs import RunRecord


class Base(DeclarativeBase):
    metadata = new_metadata()


class Household(Base):
    __tablename__ = "households"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    address: Mapped[str] = mapped_column(String(300))
    heating: Mapped[Heating] = mapped_column(String(20))
    housing_area_m2: Mapped[Decimal] = mapped_column(Area())
    monthly_income: Mapped[Decimal] = mapped_column(Money())
    enrolled_on: Mapped[date] = mapped_column(Date)
    # The first day out of dibao, once an exit is decided; it may lie ahead (the household stays in until then).
    exited_on: Mapped[date | None] = mapped_column(Date)
    exit_reason: Mapped[str | None] = mapped_column(String(300))
    # Every change of the allowance from enrolment on: [{"effective_from", "amount"}] (see rules.py).
    allowance_schedule: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    review_from: Mapped[date | None] = mapped_column(Date)
    review_reason: Mapped[str | None] = mapped_column(String(200))
    # The ledger's bookkeeping (service.settle): ``revision`` grows with every change of what the household is
    # due; a run settles a household whose ``settled_revision`` lags or whose months up to the run's are not
    # all settled yet; ``settlement`` numbers its settlements, and is part of the ledger's unique key, so two
    # runs settling the same household at once cannot both write.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    settled_revision: Mapped[int] = mapped_column(Integer, default=0)
    settled_through: Mapped[str | None] = mapped_column(String(7))
    settlement: Mapped[int] = mapped_column(Integer, default=0)
    # A bulk enrolment's key for this household (the ops CLI sends one per household of its file): the same key
    # again finds this household instead of enrolling it twice, so a file can be sent again after a failure.
    # ``request_digest`` is the request's fingerprint, telling a repeat from a key reused for other data.
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    request_digest: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now(), onupdate=func.now())

    __table_args__ = (Index("uq_households_idempotency_key", "idempotency_key", unique=True),)

    members: Mapped[list[Member]] = relationship(
        primaryjoin="and_(Household.id == Member.household_id, Member.removed.is_(False))",
        order_by="Member.position",
        lazy="selectin",
        viewonly=True,
    )

    def status_on(self, day: date) -> HouseholdStatus:
        """In dibao (``active``) until the exit takes effect, not before."""

        return "exited" if self.exited_on is not None and self.exited_on <= day else "active"

    @property
    def status(self) -> HouseholdStatus:
        return self.status_on(city_today())


def in_dibao_on(day: date) -> Any:
    """SQL: the household is in dibao on ``day``."""

    return (Household.enrolled_on <= day) & (Household.exited_on.is_(None) | (Household.exited_on > day))


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    resident_id: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(String(100))
    sex: Mapped[str] = mapped_column(String(6))
    birth_date: Mapped[date] = mapped_column(Date)
    relation: Mapped[str] = mapped_column(String(10))
    able_to_work: Mapped[bool] = mapped_column(Boolean, default=False)
    employment_status: Mapped[str] = mapped_column(String(12))
    unemployed_since: Mapped[date | None] = mapped_column(Date)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    school_stage: Mapped[str] = mapped_column(String(12), default="none")
    boarding: Mapped[bool] = mapped_column(Boolean, default=False)
    # The person's time in this household: from ``joined_on`` until ``left_on`` (the first day out; None while
    # open). A change that removes the person, or the household's exit, sets ``left_on``.
    joined_on: Mapped[date] = mapped_column(Date)
    left_on: Mapped[date | None] = mapped_column(Date)
    # Removed from the household by a change (kept for history).
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Holds the person's place: at most one row per person holds it (the partial unique index below), so no
    # one is ever in two households at once. It is given up only when the person joins another household on
    # or after ``left_on`` (service.claim_people), in the transaction that inserts the new holding row.
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        Index("ix_members_resident_id", "resident_id"),
        Index(
            "uq_members_active_resident_id",
            "resident_id",
            unique=True,
            postgresql_where=active.is_(True),
            sqlite_where=active.is_(True),
        ),
    )


class HouseholdRevision(Base):
    """What the allowance depends on (members, income) from a date on."""

    __tablename__ = "household_revisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), index=True)
    effective_on: Mapped[date] = mapped_column(Date)
    member_count: Mapped[int] = mapped_column(Integer)
    monthly_income: Mapped[Decimal] = mapped_column(Money())

    __table_args__ = (UniqueConstraint("household_id", "effective_on"),)


class PaymentRun(RunRecord, Base):
    """A month's dibao payment run (shared.runs)."""

    __tablename__ = "payment_runs"


# A ledger line that can make a household owe: a recovery, or a payment part of which was withheld. Written as
# literal SQL so that the partial index on it serves the run's query on both databases (a bound parameter
# would not prove the index's condition to PostgreSQL's planner).
OWING = text("(kind = 'recovery' OR withheld > 0)")


class Payment(Base):
    """The dibao ledger: what each settlement found short (a payment) or over (a recovery) for each month.

    A month's lines always sum to what is due for it under the facts known at the last settlement. A
    ``recovery`` line (negative) is owed by the household and recovered first from later payments
    (``withheld``); the money transferred for a line is ``amount - withheld``, never negative.
    """

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"))
    period: Mapped[str] = mapped_column(String(7))
    amount: Mapped[Decimal] = mapped_column(Money())
    kind: Mapped[str] = mapped_column(String(10))  # dibao | extension | recovery
    withheld: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    division_code: Mapped[str] = mapped_column(String(6))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("payment_runs.id"))
    run_period: Mapped[str] = mapped_column(String(7))
    settlement: Mapped[int] = mapped_column(Integer)
    paid_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())

    __table_args__ = (
        # One line per household, month and kind in each settlement of the household.
        UniqueConstraint("household_id", "period", "kind", "settlement"),
        Index("ix_payments_owing", "household_id", postgresql_where=OWING, sqlite_where=OWING),
        Index("ix_payments_period_division_code", "period", "division_code"),
    )


class EmploymentExtension(Base):
    """延发三个月: dibao continued after a member found work (from the employment service's event)."""

    __tablename__ = "employment_extensions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), index=True)
    resident_id: Mapped[str] = mapped_column(String(18))
    employed_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(30))
    first_period: Mapped[str] = mapped_column(String(7))
    last_period: Mapped[str] = mapped_column(String(7))
    # As first computed; what is paid is read from the allowance schedule as now known (service.extension_spells).
    monthly_amount: Mapped[Decimal] = mapped_column(Money())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())

    __table_args__ = (UniqueConstraint("household_id", "resident_id", "employed_on"),)


# ---- the procedure: applications, reviews, appeals, notices (docs/procedure.md) ---------------------------------


class Application(Base):
    """A household's application for dibao (低保申请), through investigation and public notice to a decision.

    Its id is the household's id once approved (the enrolment uses it), so an application is enrolled at most
    once: the households' primary key says so, and every step locks the application's row."""

    __tablename__ = "applications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[ApplicationStatus] = mapped_column(String(12), index=True)
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    applied_on: Mapped[date] = mapped_column(Date)
    # The household as it applied: the enrolment body's fields but the date (schemas.HouseholdFacts).
    household: Mapped[dict[str, Any]] = mapped_column(JSON)
    visited_on: Mapped[date | None] = mapped_column(Date)
    verified_income: Mapped[Decimal | None] = mapped_column(Money())
    verified_area_m2: Mapped[Decimal | None] = mapped_column(Area())
    investigation_notes: Mapped[str | None] = mapped_column(String(2000))
    notice_round: Mapped[int] = mapped_column(Integer, default=0)
    notice_from: Mapped[date | None] = mapped_column(Date)
    notice_until: Mapped[date | None] = mapped_column(Date)  # the first day after the notice
    decided_on: Mapped[date | None] = mapped_column(Date)
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    household_id: Mapped[str | None] = mapped_column(ForeignKey("households.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now(), onupdate=func.now())

    objections: Mapped[list[ApplicationObjection]] = relationship(
        order_by="ApplicationObjection.number", lazy="selectin", viewonly=True
    )

    __table_args__ = (
        CheckConstraint(
            "status IN ('submitted', 'investigated', 'noticed', 'approved', 'refused')", name="status_known"
        ),
        # Approved exactly when enrolled: a household for every approval, none for anything else.
        CheckConstraint("(status = 'approved') = (household_id IS NOT NULL)", name="approved_is_enrolled"),
    )


class ApplicationObjection(Base):
    """An objection to a posted list (公示异议), and what was decided about it."""

    __tablename__ = "application_objections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"))
    number: Mapped[int] = mapped_column(Integer)  # from 1 within the application
    notice_round: Mapped[int] = mapped_column(Integer)
    received_on: Mapped[date] = mapped_column(Date)
    objector: Mapped[str | None] = mapped_column(String(100))
    grounds: Mapped[str] = mapped_column(String(2000))
    status: Mapped[ObjectionStatus] = mapped_column(String(10), default="pending")
    decided_on: Mapped[date | None] = mapped_column(Date)
    decision_reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (UniqueConstraint("application_id", "number"),)


class Review(Base):
    """A periodic review (定期复核) of a household: what was found, and what it changed."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), index=True)
    reviewed_on: Mapped[date] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(10))  # confirmed | changed | exited
    findings: Mapped[str] = mapped_column(String(2000))
    # The facts found that changed (as sent), and the day they hold from.
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    effective_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())


class Appeal(Base):
    """A household contests a refusal, its amount or its exit (申诉), and the decision on it."""

    __tablename__ = "appeals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject: Mapped[str] = mapped_column(String(10))  # refusal | amount | exit
    application_id: Mapped[str | None] = mapped_column(ForeignKey("applications.id"), index=True)
    household_id: Mapped[str | None] = mapped_column(ForeignKey("households.id"), index=True)
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    lodged_on: Mapped[date] = mapped_column(Date)
    grounds: Mapped[str] = mapped_column(String(2000))
    decide_by: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), index=True, default="lodged")  # lodged | upheld | dismissed
    decided_on: Mapped[date | None] = mapped_column(Date)
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    # What an upheld appeal changed: the facts applied and from when, or the household it enrolled.
    remedy: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now(), onupdate=func.now())

    __table_args__ = (
        CheckConstraint(
            "(subject = 'refusal' AND application_id IS NOT NULL) "
            "OR (subject IN ('amount', 'exit') AND household_id IS NOT NULL)",
            name="subject_named",
        ),
        CheckConstraint("status IN ('lodged', 'upheld', 'dismissed')", name="status_known"),
    )


class Notice(Base):
    """A written notice (书面通知) to a household: its words as issued, rendered as PDF when read.

    ``household_id`` is the household's id, or for a refused application the id it would have had (the
    application's), so every notice of a case is found under one id."""

    __tablename__ = "notices"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[NoticeKind] = mapped_column(String(20))
    household_id: Mapped[str] = mapped_column(String(36), index=True)
    application_id: Mapped[str | None] = mapped_column(ForeignKey("applications.id"))
    appeal_id: Mapped[str | None] = mapped_column(ForeignKey("appeals.id"))
    division_code: Mapped[str] = mapped_column(String(6))
    issued_on: Mapped[date] = mapped_column(Date)
    addressee: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(300))
    # {"title", "paragraphs": [...], "appeal", "issuer"}: the text, fixed when issued.
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())
