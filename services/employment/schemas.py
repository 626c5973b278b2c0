"""Request and response bodies of the employment assistance API."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from shared.events import EmploymentKind
from shared.money import MoneyStr
from shared.validators import DivisionCodeIn, MoneyIn, PastPlanDay, PlanDay, ResidentIdIn, Text, WholeNumber


class CertificateOut(BaseModel):
    number: str
    resident_id: str
    holder_name: str
    issued_on: date
    valid_from: date
    valid_until: date
    benefits_end_on: date | None


class VerificationOut(BaseModel):
    """What another agency (industry and commerce, tax) may learn from a certificate number."""

    number: str
    valid: bool = Field(description="within its validity period today")
    holder_name: str
    holder_resident_id: str = Field(description="masked: region code and last four digits")
    valid_from: date
    valid_until: date
    benefits_active: bool = Field(description="the holder is still in dibao: fee waivers apply")


class VacancyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"employer": "哈尔滨某超市", "title": "理货员", "division_code": "230102", "positions": 2}]
        },
    )

    employer: Text = Field(min_length=1, max_length=200)
    title: Text = Field(min_length=1, max_length=200)
    division_code: DivisionCodeIn
    positions: WholeNumber = Field(default=1, ge=1, le=10_000)


class VacancyOut(BaseModel):
    id: str
    employer: str
    title: str
    division_code: str
    positions: int
    referrals: int


class CandidateOut(BaseModel):
    resident_id: str
    name: str
    division_code: str
    certificate_number: str | None
    unemployed_since: date | None


class ReferralIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"vacancy_id": "1", "resident_id": "230102198001010110"}]}
    )

    vacancy_id: str = Field(pattern=r"^[0-9]{1,12}$")
    resident_id: ResidentIdIn


class ReferralOut(BaseModel):
    id: str
    vacancy_id: str
    resident_id: str
    certificate_number: str | None
    fee_waived: bool = Field(description="job-agency fee waived for a certificate holder")
    referred_on: date


class PostIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "社区保洁员",
                    "employer": "道里区安静街道办事处",
                    "division_code": "230102",
                    "capacity": 10,
                    "monthly_wage": "600.00",
                }
            ]
        },
    )

    name: Text = Field(min_length=1, max_length=200, description="公益性岗位名称")
    employer: Text = Field(min_length=1, max_length=200)
    division_code: DivisionCodeIn
    capacity: WholeNumber = Field(ge=1, le=10_000)
    monthly_wage: MoneyIn


class PostOut(BaseModel):
    id: str
    name: str
    employer: str
    division_code: str
    capacity: int
    filled: int
    monthly_wage: MoneyStr


class AssignmentIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"resident_id": "230102198001010110", "on": "2026-05-01"}]}
    )

    resident_id: ResidentIdIn
    on: PastPlanDay | None = Field(default=None, description="default today")


class AssignmentOut(BaseModel):
    post_id: str
    resident_id: str
    assigned_on: date


class EmploymentIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"on": "2026-05-01", "kind": "job", "employer": "哈尔滨某超市"}]},
    )

    on: PastPlanDay
    kind: EmploymentKind
    employer: Text | None = Field(default=None, max_length=200)


class EmploymentRecordIn(EmploymentIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"resident_id": "230102198001010110", "on": "2026-05-01", "kind": "job", "employer": "哈尔滨某超市"}
            ]
        },
    )

    resident_id: ResidentIdIn


class EmploymentOut(BaseModel):
    resident_id: str
    household_id: str
    employed_on: date
    kind: EmploymentKind
    employer: str | None


class CertificateRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"on": "2026-05-01"}]})

    on: PlanDay | None = Field(
        default=None,
        description="issue every certificate due on or before this day (default today "
        "in Harbin); a day not begun is refused (period_in_future)",
    )


class CertificateRunOut(BaseModel):
    on: date
    issued: int


class PersonOut(BaseModel):
    resident_id: str
    name: str
    household_id: str
    division_code: str
    in_dibao: bool
    able_to_work: bool
    employment_status: str
    unemployed_since: date | None
    certificate: CertificateOut | None
    certificate_due_on: date | None
    waivers: list[str] = Field(description="fees waived now: job agency, training")
    referrals: list[ReferralOut]
    posts: list[AssignmentOut]
    employment: list[EmploymentOut]


class DivisionReport(BaseModel):
    division_code: str
    division_name: str
    certificates_issued: int
    referrals: int
    posts_filled: int
    members_found_work: int


class Report(BaseModel):
    period: str
    divisions: list[DivisionReport]
