"""The work cycle's tables, on the office's declarative base (one metadata, one migration chain)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.office.models import Base
from shared.db import UtcDateTime
from shared.platform_models import BigId


class Meeting(Base):
    """A joint meeting of the member units (成员单位负责人联席会议, 四、(一))."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    held_on: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(10))
    period: Mapped[str] = mapped_column(String(7))  # the half-year or year it reviews
    units: Mapped[list[str]] = mapped_column(JSON)  # the member units present
    summary: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Decision(Base):
    """A meeting's decision: a task for one unit, due by a day (研究部署工作)."""

    __tablename__ = "meeting_decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    n: Mapped[int] = mapped_column(Integer)  # its number in the meeting, from 1
    description: Mapped[str] = mapped_column(String(500))
    unit: Mapped[str] = mapped_column(String(40))
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10))  # open | done
    done_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("meeting_id", "n"),)


class Inspection(Base):
    """督导检查 of a district or county (四、(二))."""

    __tablename__ = "inspections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    inspected_on: Mapped[date] = mapped_column(Date)
    units: Mapped[list[str]] = mapped_column(JSON)  # the departments the meeting sent
    summary: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Finding(Base):
    """A problem an inspection found, assigned to a unit to solve by a day (发现问题及时研究解决)."""

    __tablename__ = "inspection_findings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    n: Mapped[int] = mapped_column(Integer)
    division_code: Mapped[str] = mapped_column(String(6))  # the inspection's, for the scores by district
    description: Mapped[str] = mapped_column(String(500))
    unit: Mapped[str] = mapped_column(String(40))
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10))  # open | resolved
    resolved_on: Mapped[date | None] = mapped_column(Date)
    resolution: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("inspection_id", "n"),
        Index("ix_inspection_findings_status_due", "status", "due_on"),
    )


class Commendation(Base):
    """表彰 in the city government's name of a unit or a district, for a period, with the score it earned.

    One per period and unit or district: the database refuses a second (``uq_commendations_subject``)."""

    __tablename__ = "commendations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(7))
    subject_kind: Mapped[str] = mapped_column(String(10))  # unit | division
    subject: Mapped[str] = mapped_column(String(40))  # the unit, or the division code
    score: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    threshold: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    citation: Mapped[str] = mapped_column(String(500))
    commended_on: Mapped[date] = mapped_column(Date)
    # The criteria behind the score when it was commended: the score can move later (late facts); this stays.
    figures: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("period", "subject_kind", "subject", name="uq_commendations_subject"),)


class PartnerActivity(Base):
    """An activity of a partner organisation (工会, 共青团, 妇联, 残联; 三、(二) 3–4) for a dibao household or member."""

    __tablename__ = "partner_activities"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    organisation: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    held_on: Mapped[date] = mapped_column(Date, index=True)
    household_id: Mapped[str] = mapped_column(String(36), index=True)
    resident_id: Mapped[str | None] = mapped_column(String(18))
    division_code: Mapped[str] = mapped_column(String(6))
    description: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
