"""Request and response bodies of the medical assistance API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from services.medical import rules
from shared.money import MoneyStr
from shared.periods import city_today
from shared.validators import Day, DivisionCodeIn, MoneyIn, PlanDay, ResidentIdIn, Text, fail

ClaimKind = Literal["outpatient", "inpatient"]


def _invoice_no(value: str) -> str:
    try:
        return rules.normalise_invoice_no(value)
    except rules.InvalidInvoiceNo as exc:
        raise fail("invalid_invoice_no", "{why}", why=str(exc)) from None


def _not_after_city_today(value: date) -> date:
    # Today in Harbin, not the server's date: between midnight and 08:00 there, UTC is still on yesterday.
    today = city_today()
    if value > today:
        raise fail(
            "date_in_future",
            "{value} is after today ({today} in Harbin)",
            value=value.isoformat(),
            today=today.isoformat(),
        )
    return value


# Stored and compared as rules.normalise_invoice_no spells it; the length bound is checked after folding.
# Documented in its plain form (letters, digits and . _ / -); the service also folds full-width forms to it.
INVOICE_NO_PATTERN = f"^[0-9A-Za-z][0-9A-Za-z._/-]{{0,{rules.INVOICE_NO_MAX - 1}}}$"
InvoiceNoIn = Annotated[
    Text,
    Field(
        max_length=200,
        description="发票号 (compared trimmed, upper-case, NFKC)",
        json_schema_extra={"pattern": INVOICE_NO_PATTERN, "examples": ["HRB-2026-000123"]},
    ),
    AfterValidator(_invoice_no),
]
VisitDay = Annotated[PlanDay, AfterValidator(_not_after_city_today)]


class HospitalIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "哈尔滨市第一医院",
                    "level": "三级甲等",
                    "division_code": "230102",
                    "designated_from": "2026-01-01",
                }
            ]
        },
    )

    name: Text = Field(min_length=1, max_length=200, description="医院名称")
    level: Text = Field(default="city", max_length=40, description="医院等级, e.g. 三级甲等")
    division_code: DivisionCodeIn | None = None
    designated_from: Day = Field(description="定点起始日期")
    designated_until: Day | None = Field(default=None, description="定点终止日期 (inclusive); open when absent")

    @model_validator(mode="after")
    def _period(self) -> HospitalIn:
        if problem := rules.designation_period_problem(self.designated_from, self.designated_until):
            raise fail("invalid_period", "{why}", why=problem)
        return self


class HospitalPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"designated_until": "2026-12-31"}]})

    designated_until: Day | None = Field(
        description="end (or reopen, with null) the designation; not before designated_from (422 invalid_period)"
    )


class HospitalOut(BaseModel):
    id: str
    name: str
    level: str
    division_code: str | None
    designated_from: date
    designated_until: date | None
    designated_today: bool


class ClaimIn(BaseModel):
    """A designated hospital's bill for one visit of a dibao member."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "hospital_id": "12",
                    "resident_id": "230102198206150125",
                    "invoice_no": "HRB-2026-000123",
                    "visit_date": "2026-05-10",
                    "kind": "outpatient",
                    "total_cost": "1600.00",
                    "insurance_paid": "200.00",
                }
            ]
        },
    )

    hospital_id: str = Field(pattern=r"^[0-9]{1,12}$")
    resident_id: ResidentIdIn
    invoice_no: InvoiceNoIn
    visit_date: VisitDay = Field(description="not after today in Harbin, not before the hospital's designation")
    kind: ClaimKind
    total_cost: MoneyIn = Field(description="医疗总费用")
    insurance_paid: MoneyIn = Field(description="基本医疗保险已支付")

    @model_validator(mode="after")
    def _amounts(self) -> ClaimIn:
        if self.insurance_paid > self.total_cost:
            raise fail("insurance_exceeds_cost", "insurance_paid cannot exceed total_cost")
        return self


class ClaimOut(BaseModel):
    id: str
    hospital_id: str
    invoice_no: str
    resident_id: str
    household_id: str
    division_code: str
    visit_date: date
    kind: ClaimKind
    total_cost: MoneyStr
    insurance_paid: MoneyStr
    out_of_pocket: MoneyStr
    assistance_amount: MoneyStr = Field(description="医疗救助金额")
    capped: bool = Field(description="the yearly cap reduced the amount")
    created_at: datetime


class ClaimPage(BaseModel):
    items: list[ClaimOut]
    total: int
    page: int
    size: int


class EligibilityOut(BaseModel):
    resident_id: str
    on: date
    eligible: bool
    reason: str | None = None
    household_id: str | None = None
    since: date | None = None
    until: date | None = Field(default=None, description="first day no longer covered, when known")
    year: int
    yearly_cap: MoneyStr
    paid_this_year: MoneyStr
    remaining_cap: MoneyStr


class AuditFlag(BaseModel):
    kind: Literal["near_or_over_cap", "capped_claim", "frequent_claims", "refused_outside_dibao"]
    resident_id: str
    period: str
    claim_ids: list[str]
    amount: MoneyStr | None = None
    detail: str


class DivisionReport(BaseModel):
    division_code: str
    division_name: str
    eligible_persons: int
    claims_paid: int
    claims_refused: int
    amount_paid: MoneyStr


class Report(BaseModel):
    period: str
    divisions: list[DivisionReport]
    total_amount_paid: MoneyStr
