"""Water and heating relief tables: heating type history, water bills, supplement runs and payments."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Area, Money, UtcDateTime, new_base
from shared.platform_models import BigId
from shared.runs import RunRecord

Base = new_base()


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
    """One month's +20% for one household without central heating (unique: paid once per month)."""

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
    run_id: Mapped[int | None] = mapped_column(ForeignKey("supplement_runs.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("household_id", "period"), Index("ix_heating_supplements_period", "period"))
