"""Request and response bodies of the education assistance API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.events import SchoolStage
from shared.money import MoneyStr
from shared.runs import RunReport
from shared.validators import (
    Flag,
    MoneyIn,
    PastPlanDay,
    ResidentIdIn,
    TermIn,
    Text,
    fail,
)

LineKind = Literal["payment", "recovery"]  # of a grant's ledger line
Organisation = Literal["trade_union", "youth_league_hope_project", "womens_federation", "disabled_persons_federation"]


class PupilPatch(BaseModel):
    """A school reports a change; the next term run uses it."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"school_stage": "senior", "boarding": False}]}
    )

    school_stage: SchoolStage | None = None
    boarding: Flag | None = None
    left_school_on: PastPlanDay | None = Field(default=None, description="离校日期: the pupil left school")

    @model_validator(mode="after")
    def _something(self) -> PupilPatch:
        if self.school_stage is None and self.boarding is None and self.left_school_on is None:
            raise fail("empty_change", "report at least one of school_stage, boarding, left_school_on")
        return self


class PupilChangeIn(PupilPatch):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"resident_id": "230102201209010229", "school_stage": "senior", "boarding": False}]
        },
    )

    resident_id: ResidentIdIn


SchoolId = Annotated[str, Field(pattern=r"^[0-9]{1,12}$", description="the school's number (its token's school_id)")]


class SchoolRegistrationIn(BaseModel):
    """The Education Bureau registers a pupil to a school: that school then reads and reports the pupil."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"resident_id": "230102201209010229", "school_id": "3"}]}
    )

    resident_id: ResidentIdIn
    school_id: SchoolId


class TermGrantOut(BaseModel):
    resident_id: str
    household_id: str
    programme: str
    term: str
    period: str = Field(description="the term, or the school year for the yearly disability grant")
    kind: LineKind = Field(
        description="payment, or recovery: paid over for the period, owed back (negative; never a negative transfer)"
    )
    amount: MoneyStr
    withheld: MoneyStr = Field(description="of a payment, what was kept back against what the household owes")
    transferred: MoneyStr = Field(
        description="what the household received for the line: amount - withheld "
        "for a payment, 0.00 for a recovery — never negative"
    )
    detail: str
    paid_at: datetime = Field(description="when the run that wrote the line settled it")


class PartnerAidIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "resident_id": "230102201209010229",
                    "organisation": "youth_league_hope_project",
                    "kind": "助学金",
                    "amount": "500.00",
                    "given_on": "2026-09-01",
                    "description": "希望工程秋季助学",
                }
            ]
        },
    )

    resident_id: ResidentIdIn
    organisation: Organisation = Field(
        description="工会 trade_union, 共青团希望工程 youth_league_hope_project, "
        "妇联 womens_federation, 残联 disabled_persons_federation"
    )
    kind: Text = Field(min_length=1, max_length=60, description="e.g. 助学金, 结对帮扶, 学习用品")
    amount: MoneyIn = Field(default=Decimal("0.00"), description="money value of the aid (0.00 for aid in kind)")
    given_on: PastPlanDay
    description: Text | None = Field(default=None, max_length=500)


class PartnerAidOut(BaseModel):
    id: str
    resident_id: str
    household_id: str
    organisation: Organisation
    kind: str
    amount: MoneyStr
    given_on: date
    description: str | None


class PupilOut(BaseModel):
    resident_id: str
    household_id: str
    division_code: str
    name: str
    birth_date: date
    school_stage: SchoolStage
    boarding: bool
    in_school: bool
    household_has_disabled: bool
    no_parent_in_household: bool
    in_dibao: bool
    programmes: list[str] = Field(description="programmes granted now")
    grants: list[TermGrantOut]
    partner_aid: list[PartnerAidOut]
    school_reported_at: datetime | None
    school_id: str | None = Field(default=None, description="the school the bureau registered the pupil to")


class TermRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"term": "2026-autumn"}]})

    term: TermIn = Field(description="YYYY-spring or YYYY-autumn")
    dry_run: Flag = Field(default=False, description="write nothing: answer what a run would pay now")


class TermRunOut(RunReport):
    term: str
    grants_made: int = Field(description="payments this run made: waivers, subsidies, grants and arrears")
    total_amount: MoneyStr = Field(description="what this run's payment lines settled (withheld included)")
    already_made: int = Field(description="payments for this term made by earlier runs")
    recoveries: int = Field(
        default=0, description="overpayments this run recorded (paid over under the facts now known)"
    )
    recovered_amount: MoneyStr = Field(
        default=Decimal("0.00"),
        description="their sum (negative): owed back by the households, never a negative transfer",
    )
    withheld_amount: MoneyStr = Field(
        default=Decimal("0.00"), description="what this run kept back from its payments against what households owed"
    )
    transferred_amount: MoneyStr = Field(
        default=Decimal("0.00"), description="what this run's payments transferred: total_amount - withheld_amount"
    )


class GrantsOut(BaseModel):
    household_id: str
    balance_owed: MoneyStr = Field(
        description="what the household owes in education: its recoveries less what "
        "was withheld from its payments since"
    )
    grants: list[TermGrantOut]
    partner_aid: list[PartnerAidOut]


class DivisionReport(BaseModel):
    division_code: str
    division_name: str
    pupils: int
    fee_waivers: int
    fee_waiver_amount: MoneyStr
    boarding_subsidies: int
    boarding_amount: MoneyStr
    disability_grants: int
    disability_amount: MoneyStr
    partner_aid: int
    partner_aid_amount: MoneyStr


class Report(BaseModel):
    period: str
    divisions: list[DivisionReport]
