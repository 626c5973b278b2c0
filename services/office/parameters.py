"""The office's policy parameters (defaults: docs/policy.md, "the assessment")."""

from shared.parameters import ParameterSpec

UNSERVED_AFTER_DAYS = ParameterSpec(
    name="unserved_after_days",
    kind="integer",
    label="未落实救助的认定天数 days after enrolment after which an unserved household is listed",
    unit="days",
    bounds=("0", "365"),
    defaults=(("*", "30"),),
)

# The office's criteria for the assessment: who a bureau should have served. They mirror the bureaus'
# own parameters (same defaults); the office sets them when a bureau changes its rule.
ASSESS_HOUSING_AREA = ParameterSpec(
    name="assessment_housing_area_per_person",
    kind="decimal",
    label="考核口径: 住房困难标准 m² per person",
    unit="m²/person",
    defaults=(("*", "8"),),
)
ASSESS_WORKING_AGE_MIN = ParameterSpec(
    name="assessment_working_age_min",
    kind="integer",
    label="考核口径: 劳动年龄下限",
    unit="years",
    defaults=(("*", "16"),),
)
ASSESS_WORKING_AGE_END_MALE = ParameterSpec(
    name="assessment_working_age_end_male",
    kind="integer",
    label="考核口径: 男性劳动年龄上限",
    unit="years",
    defaults=(("*", "60"),),
)
ASSESS_WORKING_AGE_END_FEMALE = ParameterSpec(
    name="assessment_working_age_end_female",
    kind="integer",
    label="考核口径: 女性劳动年龄上限",
    unit="years",
    defaults=(("*", "55"),),
)
ASSESS_UNEMPLOYED_YEARS = ParameterSpec(
    name="assessment_unemployed_years",
    kind="integer",
    label="考核口径: 失业满年限 (再就业优惠证)",
    unit="years",
    defaults=(("*", "1"),),
)

ASSESSMENT_SPECS = [
    ASSESS_HOUSING_AREA,
    ASSESS_WORKING_AGE_MIN,
    ASSESS_WORKING_AGE_END_MALE,
    ASSESS_WORKING_AGE_END_FEMALE,
    ASSESS_UNEMPLOYED_YEARS,
]
SPECS = [UNSERVED_AFTER_DAYS, *ASSESSMENT_SPECS]
