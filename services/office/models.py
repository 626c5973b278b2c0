"""The office's tables: what every bureau granted and paid (from ``assistance.grants``), when each
household was first recorded (from ``registry.households``), and social mutual aid.

The caseload itself is the shared projection's copy (``dibao_households``, ``dibao_members``): the office
never reads the registry's tables.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, Index, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.office.schemas import DonorKind, GrantStatus
from shared.db import Money, UtcDateTime, new_metadata
from shared.platform_models import BigId
from shared.projection import CaseloadFields


class Base(DeclarativeBase):
    metadata = new_metadata()


class Enrolment(Base):
    """When the registry recorded the household's enrolment (its event's time): the start of the
    "enrolment → grant" timeliness measure."""

    __tablename__ = "enrolments"

    household_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AssistanceRecord(Base):
    """What a bureau granted this household (or one of its members), from ``assistance.grants``: the one-stop view."""

    __tablename__ = "assistance_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(String(36), index=True)
    division_code: Mapped[str] = mapped_column(String(6))
    bureau: Mapped[str] = mapped_column(String(20))
    programme: Mapped[str] = mapped_column(String(60))
    resident_id: Mapped[str] = mapped_column(String(18))  # "" when granted to the whole household
    status: Mapped[GrantStatus] = mapped_column(String(10))
    granted_on: Mapped[date] = mapped_column(Date)
    revoked_on: Mapped[date | None] = mapped_column(Date)
    revoke_reason: Mapped[str | None] = mapped_column(String(300))
    monthly_amount: Mapped[Decimal | None] = mapped_column(Money())
    detail: Mapped[str | None] = mapped_column(String(300))
    # When the bureau first granted it: the end of the "enrolment → grant" timeliness measure.
    first_granted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint(
            "household_id", "bureau", "programme", "resident_id", "granted_on", name="uq_assistance_records_grant"
        ),
    )


class AssistancePayment(Base):
    """What a bureau paid a household (Civil Affairs' dibao included), from ``assistance.grants``."""

    __tablename__ = "assistance_payments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(String(36), index=True)
    division_code: Mapped[str] = mapped_column(String(6))
    bureau: Mapped[str] = mapped_column(String(20))
    programme: Mapped[str] = mapped_column(String(60))
    resident_id: Mapped[str] = mapped_column(String(18))
    period: Mapped[str] = mapped_column(String(12))
    amount: Mapped[Decimal] = mapped_column(Money())
    paid_on: Mapped[date] = mapped_column(Date, index=True)
    # The paying bureau's own id for the payment (Civil Affairs: household/month/kind/settlement).
    reference: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        UniqueConstraint("bureau", "reference"),
        Index("ix_assistance_payments_bureau_period", "bureau", "period"),
    )


class Donation(Base):
    """Social mutual aid (社会互助): a donation recorded by a district, to a household or to the district."""

    __tablename__ = "donations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    donor_name: Mapped[str] = mapped_column(String(200))
    donor_kind: Mapped[DonorKind] = mapped_column(String(10))
    amount: Mapped[Decimal] = mapped_column(Money())
    in_kind: Mapped[str | None] = mapped_column(String(300))
    given_on: Mapped[date] = mapped_column(Date)
    household_id: Mapped[str | None] = mapped_column(String(36), index=True)
    purpose: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Pairing(Base):
    """一帮一结对子: a unit or a person pairs with a household."""

    __tablename__ = "pairings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(String(36), index=True)
    division_code: Mapped[str] = mapped_column(String(6))
    donor_name: Mapped[str] = mapped_column(String(200))
    donor_kind: Mapped[DonorKind] = mapped_column(String(10))
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


# ---- the dibao procedure, from registry.procedure: the latest state of each, for the assessment's counts ----------


class ProcedureApplication(Base):
    """An application (低保申请) as the registry last announced it."""

    __tablename__ = "procedure_applications"

    application_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    status: Mapped[str] = mapped_column(String(12))  # submitted | investigated | noticed | approved | refused
    applied_on: Mapped[date] = mapped_column(Date)
    decided_on: Mapped[date | None] = mapped_column(Date)
    awaiting: Mapped[str | None] = mapped_column(String(14))  # the next step while open
    due_on: Mapped[date | None] = mapped_column(Date)  # its time limit
    as_of: Mapped[datetime] = mapped_column(UtcDateTime())  # the announcement's time: a later one wins


class ProcedureAppeal(Base):
    """An appeal (申诉) as the registry last announced it."""

    __tablename__ = "procedure_appeals"

    appeal_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36))  # the household, or the refused application
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    subject: Mapped[str] = mapped_column(String(8))  # refusal | amount | exit
    status: Mapped[str] = mapped_column(String(10))  # lodged | upheld | dismissed
    lodged_on: Mapped[date] = mapped_column(Date)
    decide_by: Mapped[date] = mapped_column(Date)
    decided_on: Mapped[date | None] = mapped_column(Date)
    as_of: Mapped[datetime] = mapped_column(UtcDateTime())


class ProcedureReview(Base):
    """When a household's next periodic review (定期复核) falls due, as the registry last announced it."""

    __tablename__ = "procedure_reviews"

    household_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    last_reviewed_on: Mapped[date | None] = mapped_column(Date)
    as_of: Mapped[datetime] = mapped_column(UtcDateTime())


# What the office keeps of the registry's household snapshots (docs/architecture.md, "What each service keeps").
# The assessment checks every bureau's decision, so it reads every member fact the bureaus decide on, the heating
# and the floor area; the dibao column of the one-stop view and the payment-timeliness figures read the allowance
# schedule and the extensions; the unserved list names the head (masked) and the street of the address, which
# no bureau reads: the registry seals it for the office (shared.sealing).
CASELOAD_FIELDS = CaseloadFields(
    sealed_for="office",
    household=frozenset({"address", "heating", "housing_area_m2", "allowance_schedule", "extensions"}),
    member=frozenset(
        {
            "name",
            "sex",
            "birth_date",
            "relation",
            "able_to_work",
            "employment_status",
            "unemployed_since",
            "disabled",
            "school_stage",
            "boarding",
        }
    ),
)
