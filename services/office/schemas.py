"""Request and response bodies of the leading-group office's API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.office.work_cycle.schemas import OpenFinding, PartnerActivityOut, ScoresOut, WorkCycleAssessment
from shared.money import MoneyStr
from shared.validators import Day, DivisionCodeIn, MoneyIn, PastPlanDay, PeriodIn, Text, WholeNumber

# ---- one-stop view, social mutual aid, assessment -------------------------------------------------

DonorKind = Literal["unit", "person"]
GrantStatus = Literal["active", "revoked"]


class DonationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "division_code": "230102",
                    "donor_name": "哈尔滨某商贸公司",
                    "donor_kind": "unit",
                    "amount": "2000.00",
                    "given_on": "2026-05-01",
                    "household_id": "5f0c3b1e-8d7a-4e0b-9a51-2f1d3c4b5a69",
                    "purpose": "春节慰问",
                }
            ]
        },
    )

    division_code: DivisionCodeIn
    donor_name: Text = Field(min_length=1, max_length=200, description="捐赠单位或个人")
    donor_kind: DonorKind
    amount: MoneyIn = Field(description="money given (0.00 for a gift in kind)")
    in_kind: Text | None = Field(default=None, max_length=300, description="实物: what was given in kind")
    given_on: PastPlanDay
    household_id: Text | None = Field(default=None, max_length=36, description="the household helped, if one")
    purpose: Text | None = Field(default=None, max_length=300)


class DonationOut(BaseModel):
    id: str
    division_code: str
    donor_name: str
    donor_kind: DonorKind
    amount: MoneyStr
    in_kind: str | None
    given_on: date
    household_id: str | None
    purpose: str | None


class PairingIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "household_id": "5f0c3b1e-8d7a-4e0b-9a51-2f1d3c4b5a69",
                    "donor_name": "道里区某机关党支部",
                    "donor_kind": "unit",
                    "started_on": "2026-03-01",
                }
            ]
        },
    )

    household_id: Text = Field(min_length=1, max_length=36)
    donor_name: Text = Field(min_length=1, max_length=200, description="结对帮扶的单位或个人")
    donor_kind: DonorKind
    started_on: PastPlanDay
    note: Text | None = Field(default=None, max_length=300)


class PairingPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"ended_on": "2026-12-31"}]})

    ended_on: Day


class PairingOut(BaseModel):
    id: str
    household_id: str
    division_code: str
    donor_name: str
    donor_kind: DonorKind
    started_on: date
    ended_on: date | None
    note: str | None


class ProgrammeOut(BaseModel):
    bureau: str
    bureau_name: str
    programme: str
    programme_name: str
    resident_id: str | None = Field(description="the member served, or null when the household is")
    member_name: str | None
    status: GrantStatus
    granted_on: date
    revoked_on: date | None
    monthly_amount: MoneyStr | None
    detail: str | None
    payments: int
    amount_paid: MoneyStr


class DibaoOut(BaseModel):
    monthly_allowance: MoneyStr
    payments: int
    amount_paid: MoneyStr
    last_period: str | None


class OneStopOut(BaseModel):
    """一站式: everything every bureau granted this household."""

    household_id: str
    status: Literal["active", "exited"]
    division_code: str
    division_name: str
    enrolled_on: date
    exited_on: date | None
    dibao: DibaoOut
    programmes: list[ProgrammeOut]
    donations: list[DonationOut]
    pairings: list[PairingOut]
    partner_activities: list[PartnerActivityOut] = Field(description="工会, 共青团, 妇联, 残联 for it or its members")
    amount_paid: MoneyStr = Field(description="everything paid to the household: dibao, bureaus, donations")


class BureauAssessment(BaseModel):
    bureau: str
    bureau_name: str
    households_eligible: int
    households_granted: int
    persons_eligible: int
    persons_granted: int
    coverage: float | None = Field(description="households granted ÷ households eligible")
    timeliness_median_hours: float | None = Field(
        description="hours from the registry's enrolment to the bureau's first grant, median"
    )
    timeliness_p90_hours: float | None = Field(description="the same, 90th percentile")
    granted_within_day: float | None = Field(description="share of grants made within 24 hours of the enrolment")
    timeliness_median_days: float | None = Field(description="timeliness_median_hours ÷ 24")
    timeliness_p90_days: float | None = Field(description="timeliness_p90_hours ÷ 24")
    households_paid: int = Field(default=0, description="households the bureau paid something in the period")
    amount_paid: MoneyStr = Field(description="yuan the bureau paid in the period (by payment date)")


class MutualAidSummary(BaseModel):
    donations: int
    donation_amount: MoneyStr
    active_pairings: int


class ProcedureCounts(BaseModel):
    """The dibao procedure in a district (or the city), as the registry announced it on ``registry.procedure``:
    counts in the period, what stood open at its end (or today), and what is overdue today."""

    applications_submitted: int = Field(default=0, description="applied in the period")
    applications_approved: int = Field(default=0, description="approved in the period")
    applications_refused: int = Field(default=0, description="refused in the period")
    applications_pending: int = Field(default=0, description="applied, not decided at the period's end (or today)")
    applications_overdue: int = Field(default=0, description="open now, past the awaited step's time limit")
    reviews_due: int = Field(default=0, description="households in dibao whose review fell due by the period's end")
    reviews_overdue: int = Field(default=0, description="of those, due before today")
    appeals_lodged: int = Field(default=0, description="lodged in the period")
    appeals_open: int = Field(default=0, description="lodged, not decided at the period's end (or today)")
    appeals_decided: int = Field(default=0, description="decided in the period")
    appeals_upheld: int = Field(default=0, description="of those, upheld")
    appeals_overdue: int = Field(default=0, description="undecided now, past the day they had to be decided by")

    def __add__(self, other: ProcedureCounts) -> ProcedureCounts:
        return ProcedureCounts.model_validate(
            {name: getattr(self, name) + getattr(other, name) for name in ProcedureCounts.model_fields}
        )


class DivisionAssessment(BaseModel):
    division_code: str
    division_name: str
    households: int
    persons: int
    dibao_paid: MoneyStr
    bureaus: list[BureauAssessment]
    mutual_aid: MutualAidSummary
    procedure: ProcedureCounts = Field(default_factory=ProcedureCounts, description="applications, reviews, appeals")


class MissingProgramme(BaseModel):
    bureau: str
    programme: str
    resident_id: str | None


class UnservedHousehold(BaseModel):
    household_id: str
    division_code: str
    division_name: str
    street: str = Field(description="the address's street (街路), without the house number")
    head_name: str = Field(description="户主, masked: the surname and one * per further character")
    enrolled_on: date
    days_waiting: int
    missing: list[MissingProgramme]


class ProgrammeMoney(BaseModel):
    """What one programme paid in the period, city-wide (by payment date)."""

    bureau: str
    bureau_name: str
    programme: str
    programme_name: str
    households_paid: int
    payments: int
    amount_paid: MoneyStr


class AssessmentLinkIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"period": "2026-H1", "ttl_minutes": 60}]}
    )

    period: PeriodIn
    ttl_minutes: WholeNumber = Field(default=60, ge=1, le=1440)


class AssessmentLinkOut(BaseModel):
    url: str = Field(description="open it in a browser; it shows this period's page only, until it expires")
    expires_at: datetime


class AssessmentOut(BaseModel):
    """考核: for the joint meeting of the member units."""

    period: str
    period_name: str = Field(description="the period in Chinese, e.g. 2026年下半年")
    period_complete: bool = Field(description="false while the period is still running (its figures will change)")
    as_of: date
    unserved_after_days: int
    households: int
    persons: int
    dibao_paid: MoneyStr
    bureaus: list[BureauAssessment] = Field(description="city-wide, per bureau")
    programmes: list[ProgrammeMoney] = Field(description="money paid in the period, per bureau and programme")
    divisions: list[DivisionAssessment]
    unserved: list[UnservedHousehold]
    work_cycle: WorkCycleAssessment = Field(description="findings followed up and overdue, partner organisations")
    procedure: ProcedureCounts = Field(
        default_factory=ProcedureCounts, description="applications, reviews and appeals, city-wide"
    )


class MeetingPackOut(BaseModel):
    """联席会议材料: what the joint meeting reviewing a period reads — its assessment, every unit's and district's
    score, and the inspections' findings still open (the overdue flagged)."""

    period: str
    prepared_on: date
    assessment: AssessmentOut
    scores: ScoresOut
    open_findings: list[OpenFinding] = Field(description="open now, the longest overdue first")


class DivisionReport(BaseModel):
    division_code: str
    division_name: str
    donations: int
    donation_amount: MoneyStr
    active_pairings: int


class Report(BaseModel):
    """社会互助: what the districts recorded with the office in the period."""

    period: str
    divisions: list[DivisionReport]
    donation_amount: MoneyStr
