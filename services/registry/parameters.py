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
    defaults=tuple((code, "200.00" if division.is_urban_district else "150.00") for code, division in DIVISIONS.items()),
)
EXTENSION_MONTHS = ParameterSpec(
    name="employment_extension_months",
    kind="integer",
    label="就业后延发低保月数 months dibao continues after a member finds work",
    unit="months",
    bounds=("1", "12"),
    defaults=(("*", "3"),),
)
UNSERVED_AFTER_DAYS = ParameterSpec(
    name="unserved_after_days",
    kind="integer",
    label="未落实救助的认定天数 days after enrolment after which an unserved household is listed",
    unit="days",
    bounds=("0", "365"),
    defaults=(("*", "30"),),
)

SPECS = [DIBAO_STANDARD, EXTENSION_MONTHS, UNSERVED_AFTER_DAYS]

# The office's criteria for the assessment: who a bureau should have served. They mirror the bureaus'
# own parameters (same defaults); the office sets them when a bureau changes its rule.
ASSESS_HOUSING_AREA = ParameterSpec(
    name="assessment_housing_area_per_person", kind="decimal",
    label="考核口径: 住房困难标准 m² per person", unit="m²/person", defaults=(("*", "8"),))
ASSESS_WORKING_AGE_MIN = ParameterSpec(name="assessment_working_age_min", kind="integer",
                                       label="考核口径: 劳动年龄下限", unit="years", defaults=(("*", "16"),))
ASSESS_WORKING_AGE_END_MALE = ParameterSpec(name="assessment_working_age_end_male", kind="integer",
                                            label="考核口径: 男性劳动年龄上限", unit="years", defaults=(("*", "60"),))
ASSESS_WORKING_AGE_END_FEMALE = ParameterSpec(name="assessment_working_age_end_female", kind="integer",
                                              label="考核口径: 女性劳动年龄上限", unit="years", defaults=(("*", "55"),))
ASSESS_UNEMPLOYED_YEARS = ParameterSpec(name="assessment_unemployed_years", kind="integer",
                                        label="考核口径: 失业满年限 (再就业优惠证)", unit="years", defaults=(("*", "1"),))

ASSESSMENT_SPECS = [ASSESS_HOUSING_AREA, ASSESS_WORKING_AGE_MIN, ASSESS_WORKING_AGE_END_MALE,
                    ASSESS_WORKING_AGE_END_FEMALE, ASSESS_UNEMPLOYED_YEARS]
SPECS = [*SPECS, *ASSESSMENT_SPECS]
