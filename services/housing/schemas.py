"""Request and response bodies of the housing assistance API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.money import MoneyStr
from shared.runs import RunReport
from shared.validators import AreaIn, DivisionCodeIn, Flag, MonthIn, PlanDay, Text, WholeNumber

LineKind = Literal["rent_subsidy", "recovery"]  # of a line of the rent-subsidy ledger


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
    monthly_rent_subsidy: MoneyStr = Field(
        description="租金补贴 due for this month, from this month's members, area "
        "and parameters (0.00 once housed or not eligible)"
    )
    tenancy: TenancyOut | None
    waitlist_position: int | None
    tenancy_review: bool = Field(description="left dibao while a tenant: to be reviewed by the bureau")
    review_reason: str | None
    balance_owed: MoneyStr = Field(
        description="overpaid subsidy the household still owes, withheld from its next payments"
    )


class SubsidyRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"period": "2026-05"}]})

    period: MonthIn
    dry_run: Flag = Field(default=False, description="write nothing: answer what a run would pay now")


class SubsidyRunOut(RunReport):
    period: str
    households_paid: int = Field(description="households that received a transfer from this run")
    total_amount: MoneyStr = Field(description="what this run transferred (its payments less what was withheld)")
    already_paid: int = Field(description="households whose month was settled by an earlier run")
    lines: int = Field(description="ledger lines this run added: payments, arrears and recoveries")
    overpaid: MoneyStr = Field(description="overpayments this run found and recorded as owed (kind recovery)")
    withheld: MoneyStr = Field(description="what this run withheld from its payments to recover what was owed")


class PaymentOut(BaseModel):
    period: str = Field(description="the month the line is for, YYYY-MM")
    amount: MoneyStr = Field(description="positive for a payment, negative for an overpayment recorded (recovery)")
    kind: LineKind
    run_period: str = Field(description="the period of the run that added the line")
    paid_at: datetime
    withheld: MoneyStr = Field(
        description="part of a payment kept to recover what the household owed; it received amount − withheld"
    )


class UnitIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"address": "哈尔滨市道外区廉租房小区2栋101", "division_code": "230104", "area_m2": "38.00", "rooms": 2}
            ]
        },
    )

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
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"household_id": "5f0c3b1e-8d7a-4e0b-9a51-2f1d3c4b5a69"}]}
    )

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
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"household_id": "5f0c3b1e-8d7a-4e0b-9a51-2f1d3c4b5a69", "unit_id": "1", "on": "2026-06-01"}]
        },
    )

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
