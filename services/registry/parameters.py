"""Civil Affairs' policy parameters (defaults: docs/policy.md, programme 1 and 5)."""

from shared.divisions import DIVISIONS
from shared.parameters import ParameterSpec

DIBAO_STANDARD = ParameterSpec(
    name="dibao_standard",
    kind="money",
    label="低保标准 dibao standard per person per month",
    unit="yuan/person/month",
    scoped=True,
    bounds=("1.00", "5000.00"),
    defaults=tuple(
        (code, "200.00" if division.is_urban_district else "150.00") for code, division in DIVISIONS.items()
    ),
)
EXTENSION_MONTHS = ParameterSpec(
    name="employment_extension_months",
    kind="integer",
    label="就业后延发低保月数 months dibao continues after a member finds work",
    unit="months",
    bounds=("1", "12"),
    defaults=(("*", "3"),),
)

# The procedure (docs/procedure.md): time limits of each step of an application, the public notice, the review
# cycle and appeals. City-wide; a limit is the value in force on the day its wait began.
PUBLIC_NOTICE_DAYS = ParameterSpec(
    name="public_notice_days",
    kind="integer",
    label="张榜公示天数 days an application's list stays posted",
    unit="days",
    bounds=("3", "30"),
    defaults=(("*", "7"),),
)
INVESTIGATION_DAYS = ParameterSpec(
    name="application_investigation_days",
    kind="integer",
    label="受理后入户调查时限 days from application to the home visit",
    unit="days",
    bounds=("1", "60"),
    defaults=(("*", "10"),),
)
NOTICE_START_DAYS = ParameterSpec(
    name="application_notice_start_days",
    kind="integer",
    label="调查后张榜公示时限 days from the home visit to posting the list",
    unit="days",
    bounds=("1", "30"),
    defaults=(("*", "5"),),
)
DECISION_DAYS = ParameterSpec(
    name="application_decision_days",
    kind="integer",
    label="公示期满后审批时限 days from the end of the notice to the decision",
    unit="days",
    bounds=("1", "60"),
    defaults=(("*", "10"),),
)
REVIEW_INTERVAL_MONTHS = ParameterSpec(
    name="review_interval_months",
    kind="integer",
    label="定期复核间隔 months between a household's periodic reviews",
    unit="months",
    bounds=("1", "36"),
    defaults=(("*", "12"),),
)
APPEAL_FILING_DAYS = ParameterSpec(
    name="appeal_filing_days",
    kind="integer",
    label="申诉期限 days after a written notice within which it can be contested",
    unit="days",
    bounds=("15", "180"),
    defaults=(("*", "60"),),
)
APPEAL_DECISION_DAYS = ParameterSpec(
    name="appeal_decision_days",
    kind="integer",
    label="申诉处理时限 days within which an appeal is decided",
    unit="days",
    bounds=("1", "90"),
    defaults=(("*", "30"),),
)
PROCEDURE_SPECS = [
    PUBLIC_NOTICE_DAYS,
    INVESTIGATION_DAYS,
    NOTICE_START_DAYS,
    DECISION_DAYS,
    REVIEW_INTERVAL_MONTHS,
    APPEAL_FILING_DAYS,
    APPEAL_DECISION_DAYS,
]
SPECS = [DIBAO_STANDARD, EXTENSION_MONTHS, *PROCEDURE_SPECS]
