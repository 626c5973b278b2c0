"""Request and response bodies of the legal aid API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.legal.rules import CaseKind, CaseStatus
from shared.money import MoneyStr
from shared.validators import DivisionCodeIn, Flag, ResidentIdIn, Text


class LawyerIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "张律师", "firm": "黑龙江某律师事务所", "division_code": "230102", "kind": "lawyer"}]
        },
    )

    name: Text = Field(min_length=1, max_length=100, description="律师或法律援助机构名称")
    firm: Text = Field(min_length=1, max_length=200, description="律师事务所")
    division_code: DivisionCodeIn
    kind: Literal["lawyer", "legal_aid_office"] = "lawyer"
    active: Flag = True


class LawyerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})

    active: Flag


class LawyerOut(BaseModel):
    id: str
    name: str
    firm: str
    division_code: str
    kind: str
    active: bool


class CaseIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "resident_id": "230102198001010110",
                    "kind": "civil_representation",
                    "summary": "拖欠工资纠纷，需代理起诉",
                }
            ]
        },
    )

    resident_id: ResidentIdIn
    kind: CaseKind = Field(
        description="consultation 法律咨询, document_drafting 代写文书, criminal_defence 刑事辩护, "
        "civil_representation 民事代理, administrative_representation 行政代理"
    )
    summary: Text = Field(min_length=1, max_length=4000, description="案情摘要")


class CasePatch(BaseModel):
    """Move a case on: assign (with lawyer_id), start, or close (with outcome)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"status": "assigned", "lawyer_id": "1"}]}
    )

    status: CaseStatus
    lawyer_id: str | None = Field(default=None, pattern=r"^[0-9]{1,12}$")
    outcome: Text | None = Field(default=None, min_length=1, max_length=4000)
    note: Text | None = Field(default=None, max_length=2000)


class TransitionOut(BaseModel):
    from_status: str | None
    to_status: str
    lawyer_id: str | None
    note: str | None
    at: datetime


class CaseOut(BaseModel):
    id: str
    resident_id: str
    household_id: str
    division_code: str
    kind: CaseKind
    summary: str
    status: CaseStatus
    lawyer_id: str | None
    outcome: str | None
    fee: MoneyStr = Field(description="always 0.00: free for dibao members")
    intake_on: date
    received_at: datetime
    assigned_at: datetime | None
    started_at: datetime | None
    closed_at: datetime | None
    next_statuses: list[str]
    history: list[TransitionOut]


class EligibilityOut(BaseModel):
    resident_id: str
    on: date
    eligible: bool
    reason: str | None = None
    household_id: str | None = None
    since: date | None = None
    until: date | None = None


class DivisionReport(BaseModel):
    division_code: str
    division_name: str
    cases: int
    by_kind: dict[str, int]
    by_status: dict[str, int]
    average_days_to_assignment: float | None = Field(
        description="mean days from intake to assignment, of assigned cases"
    )


class Report(BaseModel):
    period: str
    divisions: list[DivisionReport]
