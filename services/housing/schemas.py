"""Request and response bodies of the housing assistance API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from shared.money import MoneyStr
from shared.validators import AreaIn, DivisionCodeIn, MonthIn, PlanDay, Text, WholeNumber


class TenancyOut(BaseModel):
    unit_id: str
    address: str
    allocated_on: date


class HousingHouseholdOut(BaseModel):
    household_id: str
    division_code: str
    in_dibao: bool
    members: int
    area_m2: Decimal
    area_per_person: Decimal
    eligible: bool = Field(description="住房困难, qualifies for low-rent housing")
    eligible_since: date | None
    monthly_rent_subsidy: MoneyStr = Field(description="租金补贴 this month (0.00 once housed or not eligible)")
    tenancy: TenancyOut | None
    waitlist_position: int | None
    tenancy_review: bool = Field(description="left dibao while a tenant: to be reviewed by the bureau")
    review_reason: str | None


class SubsidyRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: MonthIn


class SubsidyRunOut(BaseModel):
    period: str
    households_paid: int
    total_amount: MoneyStr
    already_paid: int


class UnitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: Text = Field(min_length=1, max_length=300)
    division_code: DivisionCodeIn
    area_m2: AreaIn
    rooms: WholeNumber = Field(default=1, ge=1, le=10)


class UnitOut(BaseModel):
    id: str
    address: str
    division_code: str
    area_m2: Decimal
    rooms: int
    status: str
    household_id: str | None


class AllocationRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    household_id: Text = Field(min_length=1, max_length=36)


class WaitlistItem(BaseModel):
    position: int
    household_id: str
    division_code: str
    members: int
    area_per_person: Decimal
    enrolled_on: date
    requested_at: datetime


class AllocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    household_id: Text = Field(min_length=1, max_length=36)
    unit_id: str = Field(pattern=r"^[0-9]{1,12}$")
    on: PlanDay | None = Field(default=None, description="tenancy start (default today); subsidy stops the month after")


class AllocationOut(BaseModel):
    household_id: str
    unit_id: str
    allocated_on: date
    rent_subsidy_ends_after: str = Field(description="the last month paid a rent subsidy, YYYY-MM")


class DivisionReport(BaseModel):
    division_code: str
    division_name: str
    eligible_households: int
    subsidies_paid: int
    subsidy_amount: MoneyStr
    flats_allocated: int
    waitlist_length: int


class Report(BaseModel):
    period: str
    divisions: list[DivisionReport]
