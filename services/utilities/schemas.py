"""Request and response bodies of the utilities (water and heating relief) API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from shared.events import Heating
from shared.money import MoneyStr
from shared.validators import AreaIn, MonthIn, Text


class WaterBillIn(BaseModel):
    """The Water Group's monthly usage for a household."""

    model_config = ConfigDict(extra="forbid")

    household_id: Text = Field(min_length=1, max_length=36)
    period: MonthIn
    usage_m3: AreaIn = Field(description="用水量 m³")


class WaterBillOut(BaseModel):
    household_id: str
    period: str
    members: int
    usage_m3: Decimal
    discounted_m3: Decimal = Field(description="m³ at the preferential price")
    discount: MoneyStr = Field(description="水价优惠金额")
    created_at: datetime


class SupplementRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: MonthIn


class SupplementRunOut(BaseModel):
    period: str
    households_paid: int = Field(description="households this run paid")
    total_amount: MoneyStr
    already_paid: int = Field(description="households earlier runs had paid for this month")


class SupplementOut(BaseModel):
    household_id: str
    period: str
    allowance: MoneyStr = Field(description="that month's dibao allowance")
    rate: str
    season_days: int
    days_in_month: int
    amount: MoneyStr


class HeatingReliefOut(BaseModel):
    heating: Heating
    programme: str
    reduction_rate: str | None = Field(default=None, description="central heating: share of the fee waived")
    supplement_rate: str | None = Field(default=None, description="no central heating: share of dibao added")
    in_season_today: bool
    season: str = Field(description="MM-DD – MM-DD")


class WaterReliefOut(BaseModel):
    discount_per_m3: MoneyStr
    cap_m3_per_person: Decimal
    monthly_cap_m3: Decimal


class HouseholdOut(BaseModel):
    household_id: str
    division_code: str
    status: str
    enrolled_on: date
    exited_on: date | None
    members: int
    water: WaterReliefOut
    heating: HeatingReliefOut
    supplements_paid: list[SupplementOut]


class DivisionReport(BaseModel):
    division_code: str
    division_name: str
    households_with_water_relief: int
    water_bills: int
    water_discount: MoneyStr
    central_households_with_reduction: int
    non_central_households: int
    supplements_paid: int
    supplement_amount: MoneyStr


class Report(BaseModel):
    period: str
    divisions: list[DivisionReport]
