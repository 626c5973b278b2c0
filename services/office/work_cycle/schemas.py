"""Request and response bodies of the work cycle (the office's API: meetings, inspections, scores,
commendations, partner organisations' activities), and what it adds to the assessment."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.office.work_cycle.rules import Criterion, MeetingKind
from services.office.work_cycle.units import MemberUnit, PartnerOrganisation
from shared.money import MoneyStr
from shared.validators import Day, DivisionCodeIn, PastPlanDay, PeriodIn, ResidentIdIn, Text

DecisionStatus = Literal["open", "done"]
FindingStatus = Literal["open", "resolved"]
ActivityKind = Literal["consultation", "service", "visit", "relief", "training", "job_help", "other"]

Units = list[MemberUnit]

# ---- joint meetings (联席会议) ----------------------------------------------------------------------


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: Text = Field(min_length=1, max_length=500, description="the decision (研究部署的工作)")
    unit: MemberUnit = Field(description="the member unit that carries it out")
    due_on: Day = Field(description="by this day")


class MeetingIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "date": "2026-07-10",
                    "kind": "half_year",
                    "period": "2026-H1",
                    "units": ["civil_affairs", "medical", "housing", "disabled_persons_federation"],
                    "decisions": [
                        {
                            "description": "为道外区未落实住房救助的低保户办理租金补贴",
                            "unit": "housing",
                            "due_on": "2026-08-31",
                        }
                    ],
                }
            ]
        },
    )

    date: PastPlanDay = Field(description="the day it was held")
    kind: MeetingKind = Field(description="half_year (每半年), year_end (年终) or ad_hoc (临时召开)")
    period: PeriodIn | None = Field(
        default=None,
        description="the period it reviews: a half-year for a half-yearly meeting, a year for a year-end one "
        "(default: the half-year or year just ended, or the one it is held in when held in its last month; "
        "an ad hoc meeting: the half-year it is held in)",
    )
    units: Units = Field(min_length=1, max_length=20, description="the member units present (成员单位)")
    decisions: list[DecisionIn] = Field(default_factory=list, max_length=100)
    summary: Text | None = Field(default=None, max_length=2000, description="会议纪要")


class DecisionPatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"status": "done", "done_on": "2026-08-20"}]}
    )

    status: DecisionStatus | None = None
    done_on: PastPlanDay | None = Field(default=None, description="with status done (default today)")
    due_on: Day | None = Field(default=None, description="a new due day")
    note: Text | None = Field(default=None, max_length=500)


class DecisionOut(BaseModel):
    n: int = Field(description="its number in the meeting, from 1")
    description: str
    unit: MemberUnit
    unit_name: str
    due_on: dt.date
    status: DecisionStatus
    done_on: dt.date | None
    note: str | None
    overdue: bool = Field(description="still open after its due day (today in Harbin)")


class MeetingOut(BaseModel):
    id: str
    date: dt.date
    kind: MeetingKind
    period: str
    units: Units
    summary: str | None
    decisions: list[DecisionOut]


# ---- the scores (考核) ------------------------------------------------------------------------------


class CriterionOut(BaseModel):
    criterion: Criterion
    weight: str = Field(description="its weight (a parameter in force on the day assessed)")
    ratio: float | None = Field(description="0–1; null when it does not apply (and its weight does not count)")
    numerator: int | None = Field(description="what met the criterion (households granted, findings on time, …)")
    denominator: int | None = Field(description="what was counted")
    value: float | None = Field(default=None, description="timeliness: the 90th percentile of days to grant")
    target: float | None = Field(default=None, description="timeliness: the target in days")


class ScoreOut(BaseModel):
    score: float | None = Field(description="0–100: the weighted mean of the criteria that apply; null when none does")
    commendable: bool = Field(description="scored at or above commendation_min_score")
    criteria: list[CriterionOut]


class UnitScore(ScoreOut):
    unit: MemberUnit
    unit_name: str


class DivisionScore(ScoreOut):
    division_code: str
    division_name: str


class ScoresOut(BaseModel):
    """考核: every member unit and every district, on the published criteria, with the figures behind each score."""

    period: str
    as_of: dt.date
    weights: dict[str, str]
    grant_within_days: int
    payment_grace_days: int
    commendation_min_score: str
    units: list[UnitScore]
    divisions: list[DivisionScore]


class MeetingFigures(BaseModel):
    """The assessment for the meeting's period, beside its decisions."""

    period: str
    as_of: dt.date
    households: int
    persons: int
    dibao_paid: MoneyStr
    unserved_households: int
    findings_open: int
    findings_overdue: int
    units: list[UnitScore]


class MeetingDetailOut(MeetingOut):
    figures: MeetingFigures


# ---- inspections (督导检查) -------------------------------------------------------------------------


class FindingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: Text = Field(min_length=1, max_length=500, description="the problem found")
    unit: MemberUnit = Field(description="the unit that is to solve it")
    due_on: Day = Field(description="to be solved by this day")


class InspectionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "division_code": "230104",
                    "date": "2026-09-15",
                    "units": ["civil_affairs", "utilities"],
                    "findings": [
                        {"description": "3户非集中供暖低保户未发采暖补贴", "unit": "utilities", "due_on": "2026-10-15"}
                    ],
                }
            ]
        },
    )

    division_code: DivisionCodeIn
    date: PastPlanDay = Field(description="the day of the inspection")
    units: Units = Field(default_factory=list, max_length=20, description="the departments that inspected")
    summary: Text | None = Field(default=None, max_length=2000)
    findings: list[FindingIn] = Field(default_factory=list, max_length=200)


class FindingPatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "resolved", "resolved_on": "2026-10-10", "resolution": "已补发"}]},
    )

    status: FindingStatus | None = None
    resolved_on: PastPlanDay | None = Field(default=None, description="with status resolved (default today)")
    due_on: Day | None = Field(default=None, description="a new due day")
    resolution: Text | None = Field(default=None, max_length=500, description="how it was solved")


class FindingOut(BaseModel):
    n: int
    description: str
    unit: MemberUnit
    unit_name: str
    due_on: dt.date
    status: FindingStatus
    resolved_on: dt.date | None
    resolution: str | None
    overdue: bool = Field(description="still open after its due day (today in Harbin)")


class InspectionOut(BaseModel):
    id: str
    division_code: str
    division_name: str
    date: dt.date
    units: Units
    summary: str | None
    findings: list[FindingOut]


# ---- commendations (表彰) ---------------------------------------------------------------------------


class CommendationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"period": "2026-H1", "unit": "medical", "citation": "医疗救助工作成绩突出"}]},
    )

    period: PeriodIn = Field(description="the half-year or year assessed (YYYY-H1, YYYY-H2, YYYY)")
    unit: MemberUnit | None = Field(default=None, description="the member unit commended (or division_code)")
    division_code: DivisionCodeIn | None = Field(default=None, description="the district commended (or unit)")
    citation: Text = Field(min_length=1, max_length=500, description="表彰事由")
    commended_on: PastPlanDay | None = Field(default=None, description="default today")


class CommendationOut(BaseModel):
    id: str
    period: str
    unit: MemberUnit | None
    division_code: str | None
    name: str = Field(description="the unit's or the district's name")
    score: float = Field(description="the score it was commended with")
    threshold: float = Field(description="commendation_min_score in force then")
    citation: str
    commended_on: dt.date
    criteria: list[CriterionOut]


# ---- partner organisations (群团组织) ---------------------------------------------------------------


class PartnerActivityIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "organisation": "disabled_persons_federation",
                    "kind": "consultation",
                    "date": "2026-05-12",
                    "resident_id": "230102197503150119",
                    "description": "残疾人优惠政策咨询",
                }
            ]
        },
    )

    organisation: PartnerOrganisation = Field(
        description="工会 trade_union, 共青团 youth_league, 妇联 womens_federation, 残联 disabled_persons_federation"
    )
    kind: ActivityKind = Field(
        description="consultation 咨询, service 服务, visit 走访慰问, relief 救助, training 培训, job_help 就业帮扶, other"
    )
    date: PastPlanDay
    household_id: Text | None = Field(default=None, min_length=1, max_length=36, description="the household served")
    resident_id: ResidentIdIn | None = Field(
        default=None, description="the member served (the disabled persons' federation serves a disabled member)"
    )
    description: Text = Field(min_length=1, max_length=500)


class PartnerActivityOut(BaseModel):
    id: str
    organisation: PartnerOrganisation
    organisation_name: str
    kind: ActivityKind
    date: dt.date
    household_id: str
    resident_id: str | None
    division_code: str
    description: str


# ---- what the assessment adds ---------------------------------------------------------------------


class OverdueFinding(BaseModel):
    inspection_id: str
    n: int
    division_code: str
    unit: MemberUnit
    description: str
    due_on: dt.date
    days_overdue: int


class OpenFinding(BaseModel):
    """A finding not yet resolved, as the joint meeting's pack lists it."""

    inspection_id: str
    inspected_on: dt.date
    n: int
    division_code: str
    division_name: str
    unit: MemberUnit
    unit_name: str
    description: str
    due_on: dt.date
    overdue: bool = Field(description="past its due day (today in Harbin)")
    days_overdue: int = Field(description="0 when not overdue")


class PartnerCount(BaseModel):
    organisation: PartnerOrganisation
    activities: int
    households: int


class WorkCycleDivision(BaseModel):
    division_code: str
    division_name: str
    findings_due: int = Field(description="findings due in the period (up to the day assessed)")
    findings_resolved_on_time: int
    findings_open: int = Field(description="open now")
    findings_overdue: int = Field(description="open now and past their due day")
    partner_activities: list[PartnerCount]
    disabled_members: int = Field(description="disabled dibao members in the period")
    disabled_members_served: int = Field(description="of them, served by the disabled persons' federation in it")


class WorkCycleAssessment(BaseModel):
    """The work cycle in the assessment: findings followed up, overdue ones flagged, partner organisations."""

    findings_due: int
    findings_resolved_on_time: int
    findings_open: int
    findings_overdue: int
    overdue_findings: list[OverdueFinding] = Field(description="open past their due day, the longest overdue first")
    partner_activities: list[PartnerCount]
    disabled_members: int
    disabled_members_served: int
    divisions: list[WorkCycleDivision]
