"""Request and response bodies of the utilities (water and heating relief) API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from shared.events import Heating
from shared.money import MoneyStr, to_fen
from shared.runs import RunReport
from shared.validators import Flag, MoneyIn, MonthIn, Text, fail, quantity_text

MAX_USAGE_M3 = Decimal("10000")


USAGE_PATTERN = r"^(0|[1-9][0-9]{0,3})(\.[0-9]{1,2})?$"


def _usage(value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0:
        raise fail("invalid_usage", "usage is a non-negative number of m³")
    if value >= MAX_USAGE_M3 or value != to_fen(value):
        raise fail("invalid_usage", "usage is given to 0.01 m³ and is below 10000 m³ a month")
    return to_fen(value)


UsageIn = Annotated[
    Decimal,
    BeforeValidator(
        quantity_text("invalid_usage", 'usage is text such as "13.50": m³ to 0.01, below 10000', USAGE_PATTERN)
    ),
    AfterValidator(_usage),
    WithJsonSchema({"type": "string", "pattern": USAGE_PATTERN, "examples": ["13.50"]}, mode="validation"),
    Field(description="用水量 m³ in the month, 0 ≤ usage < 10000, to 0.01"),
]


def _season(value: str) -> str:
    first, second = value.split("-")
    if int(second) != int(first) + 1 or not 2004 <= int(first) < 2100:
        raise fail("invalid_season", "a heating season is two consecutive years, such as 2025-2026")
    return value


SeasonIn = Annotated[
    str,
    AfterValidator(_season),
    Field(
        pattern=r"^[0-9]{4}-[0-9]{4}$",
        description="采暖期 YYYY-YYYY, e.g. 2025-2026 (from 20 Oct of the first year to 20 Apr of the second)",
        examples=["2025-2026"],
        # Two consecutive years from 2004: the one pattern that says so names each season.
        json_schema_extra={"pattern": "^(" + "|".join(f"{y}-{y + 1}" for y in range(2004, 2100)) + ")$"},
    ),
]


LineKind = Literal["supplement", "recovery"]  # of a line of the supplement ledger


class WaterBillIn(BaseModel):
    """The Water Group's monthly usage for a household."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"household_id": "5f0c3b1e-8d7a-4e0b-9a51-2f1d3c4b5a69", "period": "2026-05", "usage_m3": "13.50"}
            ]
        },
    )

    household_id: Text = Field(min_length=1, max_length=36)
    period: MonthIn
    usage_m3: UsageIn


class WaterBillOut(BaseModel):
    household_id: str
    period: str
    members: int
    usage_m3: Decimal
    discounted_m3: Decimal = Field(description="m³ at the preferential price")
    discount: MoneyStr = Field(description="水价优惠金额")
    created_at: datetime


class SupplementRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"period": "2026-05"}]})

    period: MonthIn
    dry_run: Flag = Field(default=False, description="write nothing: answer what a run would pay now")


class SupplementRunOut(RunReport):
    period: str
    households_paid: int = Field(description="households this run paid a shortfall to (any month up to the period)")
    total_amount: MoneyStr = Field(description="the shortfalls this run settled, before withholding")
    withheld_amount: MoneyStr = Field(description="of that, withheld to recover earlier overpayments")
    recoveries: int = Field(description="overpaid months this run recorded as owed")
    recovered_amount: MoneyStr = Field(description="what those overpayments come to (owed by the households)")
    already_paid: int = Field(description="households earlier runs had paid for this month")


class SupplementOut(BaseModel):
    household_id: str
    period: str = Field(description="the month the line settles")
    kind: LineKind = Field(
        description="supplement: a shortfall paid; recovery: paid over, owed by the household (negative)"
    )
    amount: MoneyStr = Field(description="what the line adds to the month (negative for a recovery)")
    withheld: MoneyStr = Field(description="kept back from this payment to recover an earlier overpayment")
    transferred: MoneyStr = Field(description="what actually went to the household (never negative)")
    run_period: str = Field(description="the period of the run that wrote the line")
    paid_at: datetime
    allowance: MoneyStr = Field(description="what dibao pays for the month (extension included), as the run knew it")
    rate: str
    season_days: int
    days_in_month: int


class HeatingBillIn(BaseModel):
    """The heating company's bill for a centrally heated household's season."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"household_id": "5f0c3b1e-8d7a-4e0b-9a51-2f1d3c4b5a69", "season": "2025-2026", "fee": "2400.00"}
            ]
        },
    )

    household_id: str = Field(min_length=1, max_length=36)
    season: SeasonIn
    fee: MoneyIn = Field(description="采暖费: the season's bill, yuan", examples=["2400.00"])


class HeatingBillOut(BaseModel):
    household_id: str
    division_code: str
    season: str
    fee: MoneyStr
    rate: str = Field(description="the reduction rate in force when the season began")
    reduction: MoneyStr = Field(description="集中供热费减免: the amount waived")
    payable: MoneyStr = Field(description="what the household still pays the heating company")
    created_at: datetime


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
    supplement_balance_owed: MoneyStr = Field(description="overpaid supplements not yet withheld")


class DivisionReport(BaseModel):
    division_code: str
    division_name: str
    households_with_water_relief: int
    water_bills: int
    water_discount: MoneyStr
    central_households_with_reduction: int
    non_central_households: int
    supplements_paid: int = Field(description="supplement lines paid for the period's months")
    supplement_amount: MoneyStr = Field(description="net supplement for the period's months (recoveries deducted)")
    supplement_recovered: MoneyStr = Field(description="overpayments recorded for the period's months")
    heating_bills: int = Field(description="central-heating bills reduced, for seasons beginning in the period")
    heating_fee_reduction: MoneyStr


class Report(BaseModel):
    period: str
    divisions: list[DivisionReport]
