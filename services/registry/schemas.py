"""Request and response bodies of the registry (Civil Affairs) API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, model_validator

from shared.events import (
    AllowanceStep,
    EmploymentStatus,
    Heating,
    NoticeKind,
    Relation,
    SchoolStage,
    Sex,
)
from shared.money import MoneyStr
from shared.runs import RunReport
from shared.validators import (
    AreaIn,
    Day,
    DivisionCodeIn,
    Flag,
    MoneyIn,
    MonthIn,
    PastDay,
    PastPlanDay,
    PlanDay,
    ResidentIdIn,
    Text,
    fail,
)

MAX_MEMBERS = 20
BOARDING_STAGES = {"primary", "junior", "senior", "vocational", "college"}


class MemberIn(BaseModel):
    """A household member (家庭成员). Sex and birth date are read from the resident ID."""

    model_config = ConfigDict(extra="forbid")

    resident_id: ResidentIdIn
    name: Text = Field(min_length=1, max_length=100, description="姓名")
    relation: Relation = Field(description="与户主关系: head, spouse, child, parent, other")
    able_to_work: Flag = Field(default=False, description="有劳动能力")
    employment_status: EmploymentStatus = Field(default="none", description="就业状况")
    unemployed_since: PastDay | None = Field(default=None, description="失业起始日期")
    disabled: Flag = Field(default=False, description="残疾")
    school_stage: SchoolStage = Field(default="none", description="就学阶段")
    boarding: Flag = Field(default=False, description="寄宿")

    @model_validator(mode="after")
    def _consistent(self) -> MemberIn:
        if self.unemployed_since is not None and self.employment_status != "unemployed":
            raise fail("inconsistent_member", "unemployed_since is given only for an unemployed member")
        if self.boarding and self.school_stage not in BOARDING_STAGES:
            raise fail("inconsistent_member", "only a pupil or student in school can be boarding")
        return self


def _check_members(members: list[MemberIn]) -> None:
    heads = sum(1 for member in members if member.relation == "head")
    if heads != 1:
        raise fail(
            "invalid_household_head", "a household has exactly one head (户主); this one has {heads}", heads=heads
        )
    seen: set[str] = set()
    for member in members:
        if member.resident_id in seen:
            raise fail("duplicate_member", "the same resident ID appears twice in the household")
        seen.add(member.resident_id)


# What a household looks like to Civil Affairs: the example every household body shows.
HOUSEHOLD_EXAMPLE: dict[str, Any] = {
    "division_code": "230102",
    "address": "哈尔滨市道里区安静街12号3单元401",
    "heating": "central",
    "housing_area_m2": "42.50",
    "monthly_income": "300.00",
    "members": [
        {
            "resident_id": "230102198001010110",
            "name": "王建国",
            "relation": "head",
            "able_to_work": True,
            "employment_status": "unemployed",
            "unemployed_since": "2025-11-01",
        },
        {"resident_id": "230102198206150125", "name": "李秀兰", "relation": "spouse", "disabled": True},
        {
            "resident_id": "230102201209010229",
            "name": "王小明",
            "relation": "child",
            "school_stage": "junior",
            "boarding": True,
        },
    ],
}


class HouseholdFacts(BaseModel):
    """A household as Civil Affairs records it, enrolled or applying."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [HOUSEHOLD_EXAMPLE]})

    division_code: DivisionCodeIn
    address: Text = Field(min_length=1, max_length=300, description="住址")
    heating: Heating = Field(description="供暖方式: central (集中供热) or non_central")
    housing_area_m2: AreaIn = Field(description="住房建筑面积 m²")
    monthly_income: MoneyIn = Field(description="家庭月收入, yuan")
    members: list[MemberIn] = Field(min_length=1, max_length=MAX_MEMBERS)

    @model_validator(mode="after")
    def _one_head(self) -> Self:
        _check_members(self.members)
        return self


class HouseholdIn(HouseholdFacts):
    """A dibao household to enrol (低保家庭)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [HOUSEHOLD_EXAMPLE | {"enrolled_on": "2026-05-01"}]}
    )

    enrolled_on: PastPlanDay | None = Field(default=None, description="纳入低保日期 (default today)")


class HouseholdPatch(BaseModel):
    """A change reported to Civil Affairs; the allowance is recomputed from ``effective_on``."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"monthly_income": "450.00", "effective_on": "2026-06-01"}]}
    )

    address: Text | None = Field(default=None, min_length=1, max_length=300)
    heating: Heating | None = None
    housing_area_m2: AreaIn | None = None
    monthly_income: MoneyIn | None = None
    members: list[MemberIn] | None = Field(
        default=None, min_length=1, max_length=MAX_MEMBERS, description="the complete new list of members"
    )
    effective_on: PastPlanDay | None = Field(default=None, description="the change holds from this day (default today)")

    @model_validator(mode="after")
    def _valid(self) -> HouseholdPatch:
        if not self.changed_fields():
            raise fail(
                "empty_change", "name at least one of address, heating, housing_area_m2, monthly_income, members"
            )
        if self.members is not None:
            _check_members(self.members)
        return self

    def changed_fields(self) -> list[str]:
        return [
            name
            for name in ("address", "heating", "housing_area_m2", "monthly_income", "members")
            if getattr(self, name) is not None
        ]


class ExitIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"on": "2026-07-01", "reason": "家庭收入超过低保标准"}]}
    )

    on: Day = Field(description="退出低保日期: the first day the household is no longer in dibao")
    reason: Text = Field(min_length=1, max_length=300, description="退出原因")


class MemberOut(BaseModel):
    resident_id: str
    name: str
    sex: Sex
    birth_date: date
    relation: Relation
    able_to_work: bool
    employment_status: EmploymentStatus
    unemployed_since: date | None
    disabled: bool
    school_stage: SchoolStage
    boarding: bool


class HouseholdOut(BaseModel):
    id: str
    status: Literal["active", "exited"]
    division_code: str
    division_name: str
    address: str
    heating: Heating
    housing_area_m2: Decimal
    monthly_income: MoneyStr
    monthly_allowance: MoneyStr = Field(description="低保金: the top-up (补差) in force today")
    allowance_schedule: list[AllowanceStep]
    enrolled_on: date
    exited_on: date | None = Field(description="the first day out of dibao, once the exit has taken effect")
    exit_on: date | None = Field(
        default=None,
        description="退出日期: the first day out of dibao, also when set ahead (the household stays active until then)",
    )
    exit_reason: str | None
    balance_owed: MoneyStr = Field(
        default=Decimal("0.00"),
        description="多领待扣: overpaid dibao the household owes, recovered from its next payments",
    )
    review_due: bool = Field(description="flagged for Civil Affairs' review (e.g. the employment extension ended)")
    review_reason: str | None
    members: list[MemberOut]
    created_at: datetime
    updated_at: datetime


class HouseholdPage(BaseModel):
    items: list[HouseholdOut]
    total: int
    page: int
    size: int


IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9._:-]{8,64}$"


class BulkRowIn(HouseholdIn):
    """A row of a bulk enrolment: the enrolment body, and the key that makes sending it again safe."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [HOUSEHOLD_EXAMPLE | {"idempotency_key": "caseload-2026-05-0001"}]},
    )

    idempotency_key: str | None = Field(
        default=None,
        description="8–64 of A–Z a–z 0–9 . _ : -: the same key with the same data again is answered with the "
        "household enrolled the first time; with other data it is refused (idempotency_key_reused)",
        json_schema_extra={"pattern": IDEMPOTENCY_KEY_PATTERN},
    )


# Documented as BulkRowIn, validated row by row by the service, so that one bad row is refused alone (its index
# and reason in the answer) and the good rows land.
def _row(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise fail("invalid_row", "each row of households is a household object, as for POST /households")
    return value


BulkRow = Annotated[dict[str, Any], PlainValidator(_row, json_schema_input_type=BulkRowIn)]


class BulkIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"households": BulkRowIn.model_json_schema()["examples"]}]}
    )

    households: list[BulkRow] = Field(
        max_length=1000,
        description="up to 1,000 household bodies, as for POST /households, each with an optional "
        '"idempotency_key" (8–64 of A–Z a–z 0–9 . _ : -): a household sent again with the same key and the same '
        "data is not enrolled twice but answered with the household enrolled the first time "
        '("already_enrolled": true); the same key with other data is refused (idempotency_key_reused)',
    )


class Clash(BaseModel):
    member: int = Field(description="the member's index in the household sent")
    household_id: str | None = Field(
        description="the household the person is already in (null: another of this request)"
    )


class BulkError(BaseModel):
    code: str
    detail: str
    errors: list[dict[str, Any]] | None = None
    clashes: list[Clash] | None = Field(default=None, description="person_in_active_household: who, and where")


class BulkResult(BaseModel):
    index: int
    id: str | None
    error: BulkError | None
    already_enrolled: bool = Field(default=False, description="enrolled earlier under the same idempotency key")


class BulkOut(BaseModel):
    enrolled: int = Field(description="households enrolled by this request")
    already_enrolled: int = Field(default=0, description="households found enrolled under their idempotency key")
    rejected: int
    results: list[BulkResult]


class PersonOut(BaseModel):
    resident_id: str
    name: str
    sex: Sex
    birth_date: date
    relation: Relation
    household_id: str
    household_status: Literal["active", "exited"]
    division_code: str
    in_dibao: bool = Field(description="the person's household is active in dibao")


class PaymentRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"period": "2026-05"}]})

    period: MonthIn
    dry_run: Flag = Field(default=False, description="write nothing: answer what a run would pay now")


class PaymentRunOut(RunReport):
    period: str
    households_paid: int = Field(description="households this run paid something (arrears included)")
    total_amount: MoneyStr = Field(description="money this run transferred (after withholding what is owed)")
    recovered: MoneyStr = Field(default=Decimal("0.00"), description="withheld from payments against overpayments")
    overpaid: MoneyStr = Field(
        default=Decimal("0.00"), description="overpayments this run found (recorded as recovery lines, owed)"
    )
    already_paid: int = Field(description="households with lines for the period from earlier runs")


class PaymentOut(BaseModel):
    period: str = Field(description="the month the line is for")
    amount: MoneyStr = Field(description="positive: paid for the month; negative (recovery): paid over, owed")
    kind: Literal["dibao", "extension", "recovery"]
    withheld: MoneyStr = Field(description="of a payment, kept back against what the household owed")
    run_period: str = Field(description="the run that wrote the line")
    paid_at: datetime


class DivisionReport(BaseModel):
    division_code: str
    division_name: str
    households_active: int = Field(description="in dibao at some time in the period")
    persons_active: int
    enrolled: int = Field(description="households enrolled in the period")
    exited: int = Field(description="households that left dibao in the period")
    payments: int
    amount_paid: MoneyStr = Field(description="dibao and extension payments for the period's months")


class Report(BaseModel):
    period: str
    divisions: list[DivisionReport]
    total_amount_paid: MoneyStr


# ---- the procedure: applications, reviews, appeals, notices (docs/procedure.md) ---------------------------------

ApplicationStatus = Literal["submitted", "investigated", "noticed", "approved", "refused"]


class ApplicationIn(HouseholdFacts):
    """A household applying for dibao (低保申请): the household as for enrolment, and the day it applied."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [HOUSEHOLD_EXAMPLE | {"applied_on": "2026-05-04"}]}
    )

    applied_on: PastPlanDay = Field(description="申请日期: an approved household is in dibao from this day")


class InvestigationIn(BaseModel):
    """The street office's home visit (入户调查) and what it verified."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "visited_on": "2026-05-06",
                    "verified_income": "300.00",
                    "verified_area_m2": "42.50",
                    "notes": "入户核实：夫妻二人无固定收入，子女在读",
                }
            ]
        },
    )

    visited_on: PastPlanDay = Field(description="入户调查日期")
    verified_income: MoneyIn = Field(description="核实的家庭月收入, yuan")
    verified_area_m2: AreaIn = Field(description="核实的住房建筑面积 m²")
    notes: Text | None = Field(default=None, max_length=2000, description="调查记录")


class NoticeIn(BaseModel):
    """The public notice (张榜公示): the list is posted from ``from`` for the days the parameter
    ``public_notice_days`` gives (7 by default)."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=False, json_schema_extra={"examples": [{"from": "2026-05-08"}]}
    )

    start: PlanDay = Field(alias="from", description="公示开始日期")


class ObjectionIn(BaseModel):
    """An objection to the posted list (公示异议), as received."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"received_on": "2026-05-10", "grounds": "申请人家中有经营性收入未申报", "objector": "邻居张某"}
            ]
        },
    )

    received_on: PastPlanDay = Field(description="受理日期, within the notice")
    grounds: Text = Field(min_length=1, max_length=2000, description="异议内容")
    objector: Text | None = Field(default=None, min_length=1, max_length=100, description="异议人 (may be left out)")


class ObjectionDecisionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"outcome": "dismissed", "reason": "经核实，该经营已于2025年停业", "decided_on": "2026-05-12"}]
        },
    )

    outcome: Literal["upheld", "dismissed"] = Field(description="upheld (异议成立) or dismissed (不成立)")
    reason: Text = Field(min_length=1, max_length=500)
    decided_on: PastPlanDay | None = Field(default=None, description="default today")


class DecisionIn(BaseModel):
    """Approve or refuse (审批): approval only after the notice ended with no objection pending or upheld."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "decision": "approve",
                    "reason": "家庭人均收入低于本市低保标准，公示无异议",
                    "decided_on": "2026-05-16",
                }
            ]
        },
    )

    decision: Literal["approve", "refuse"]
    reason: Text = Field(
        min_length=1, max_length=500, description="审批意见 / 不予批准的理由 (written into the notice)"
    )
    decided_on: PastPlanDay | None = Field(default=None, description="default today")


class InvestigationOut(BaseModel):
    visited_on: date
    verified_income: MoneyStr
    verified_area_m2: Decimal
    notes: str | None


class NoticePeriodOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: date = Field(serialization_alias="from", description="公示开始日期")
    last_day: date = Field(description="公示最后一天")
    round: int = Field(description="1 for the first posting; more after a new investigation")


class ObjectionOut(BaseModel):
    number: int
    notice_round: int
    received_on: date
    objector: str | None
    grounds: str
    status: Literal["pending", "upheld", "dismissed"]
    decided_on: date | None
    decision_reason: str | None


class ApplicationOut(BaseModel):
    id: str = Field(description="also the household's id once approved")
    status: ApplicationStatus
    division_code: str
    division_name: str
    address: str
    heating: Heating
    housing_area_m2: Decimal
    monthly_income: MoneyStr = Field(description="as declared")
    members: list[MemberOut]
    applied_on: date
    investigation: InvestigationOut | None
    notice: NoticePeriodOut | None
    objections: list[ObjectionOut]
    decided_on: date | None
    decision_reason: str | None
    household_id: str | None = Field(description="the enrolled household, once approved")
    awaiting: Literal["investigation", "public_notice", "decision"] | None = Field(
        description="the step the application waits for"
    )
    due_on: date | None = Field(description="the day the awaited step is due by (its time limit)")
    overdue: bool
    created_at: datetime
    updated_at: datetime


class ApplicationPage(BaseModel):
    items: list[ApplicationOut]
    total: int
    overdue: int = Field(description="open applications past a step's time limit (in the division asked about)")
    page: int
    size: int


class ReviewIn(BaseModel):
    """A periodic review (定期复核): what was found. Facts that changed are applied from ``effective_on`` as any
    change is (the allowance recomputed, the next run settling the difference); ``exit`` ends dibao."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reviewed_on": "2026-06-01",
                    "findings": "家庭情况无变化，收入略有增加",
                    "monthly_income": "350.00",
                    "effective_on": "2026-06-01",
                }
            ]
        },
    )

    reviewed_on: PastPlanDay = Field(description="复核日期")
    findings: Text = Field(min_length=1, max_length=2000, description="复核情况")
    monthly_income: MoneyIn | None = None
    housing_area_m2: AreaIn | None = None
    address: Text | None = Field(default=None, min_length=1, max_length=300)
    heating: Heating | None = None
    members: list[MemberIn] | None = Field(default=None, min_length=1, max_length=MAX_MEMBERS)
    effective_on: PastPlanDay | None = Field(
        default=None, description="the facts hold from this day (default reviewed_on)"
    )
    exit: ExitIn | None = Field(default=None, description="the review ends dibao (退出低保)")

    @model_validator(mode="after")
    def _valid(self) -> ReviewIn:
        if self.members is not None:
            _check_members(self.members)
        if self.exit is not None and self.changed_facts():
            raise fail("review_change_and_exit", "a review either changes facts or ends dibao; record two reviews")
        return self

    def changed_facts(self) -> dict[str, Any]:
        names = ("monthly_income", "housing_area_m2", "address", "heating", "members")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


class ReviewOut(BaseModel):
    id: int
    household_id: str
    reviewed_on: date
    outcome: Literal["confirmed", "changed", "exited"]
    findings: str
    facts: dict[str, Any]
    effective_on: date | None
    notices: list[str] = Field(default_factory=list, description="the written notices the review issued")


class ReviewDue(BaseModel):
    household_id: str
    division_code: str
    enrolled_on: date
    last_reviewed_on: date | None
    due_on: date
    overdue: bool = Field(description="due before today")
    reason: str


class ReviewDuePage(BaseModel):
    items: list[ReviewDue]
    total: int
    overdue: int
    page: int
    size: int


class AppealIn(BaseModel):
    """A household contests a refusal, its amount or its exit (申诉)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "subject": "amount",
                    "household_id": "5f0c3b1e-8d7a-4e0b-9a51-2f1d3c4b5a69",
                    "lodged_on": "2026-06-05",
                    "grounds": "低保金按错误的家庭人口计算",
                }
            ]
        },
    )

    subject: Literal["refusal", "amount", "exit"]
    application_id: Text | None = Field(default=None, max_length=36, description="the refused application")
    household_id: Text | None = Field(default=None, max_length=36, description="the household (amount, exit)")
    lodged_on: PastPlanDay = Field(description="申诉日期")
    grounds: Text = Field(min_length=1, max_length=2000, description="申诉理由")

    @model_validator(mode="after")
    def _names_its_subject(self) -> AppealIn:
        if self.subject == "refusal" and (self.application_id is None or self.household_id is not None):
            raise fail("appeal_subject", "an appeal against a refusal names the application_id (only)")
        if self.subject != "refusal" and (self.household_id is None or self.application_id is not None):
            raise fail("appeal_subject", "an appeal against an amount or an exit names the household_id (only)")
        return self


class AppealDecisionIn(BaseModel):
    """The decision on an appeal. Upheld: against a refusal, the application is approved and enrolled from its
    date; against an amount, the corrected facts apply from ``effective_on`` (the next run settles the difference);
    against an exit, the household is enrolled again from the day it left."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "outcome": "upheld",
                    "reason": "复核确认家庭人口为三人",
                    "decided_on": "2026-06-20",
                    "monthly_income": "300.00",
                    "effective_on": "2026-05-01",
                }
            ]
        },
    )

    outcome: Literal["upheld", "dismissed"]
    reason: Text = Field(min_length=1, max_length=500, description="复核理由 (written into the notice)")
    decided_on: PastPlanDay | None = Field(default=None, description="default today")
    monthly_income: MoneyIn | None = Field(default=None, description="the corrected income (amount, exit)")
    members: list[MemberIn] | None = Field(default=None, min_length=1, max_length=MAX_MEMBERS)
    effective_on: PastPlanDay | None = Field(default=None, description="an upheld amount: the facts hold from this day")

    @model_validator(mode="after")
    def _valid(self) -> AppealDecisionIn:
        if self.members is not None:
            _check_members(self.members)
        if self.outcome == "dismissed" and (self.monthly_income is not None or self.members is not None):
            raise fail("appeal_remedy", "a dismissed appeal changes nothing: send no facts")
        return self


class AppealOut(BaseModel):
    id: str
    subject: Literal["refusal", "amount", "exit"]
    application_id: str | None
    household_id: str | None
    division_code: str
    lodged_on: date
    grounds: str
    decide_by: date = Field(description="the day it must be decided by")
    status: Literal["lodged", "upheld", "dismissed"]
    overdue: bool
    decided_on: date | None
    decision_reason: str | None
    remedy: dict[str, Any] | None = Field(description="what the upheld appeal applied")
    created_at: datetime
    updated_at: datetime


class AppealPage(BaseModel):
    items: list[AppealOut]
    total: int
    page: int
    size: int


class NoticeOut(BaseModel):
    id: str
    kind: NoticeKind
    household_id: str
    application_id: str | None
    appeal_id: str | None
    issued_on: date
    addressee: str
    title: str
    url: str = Field(description="the PDF")
