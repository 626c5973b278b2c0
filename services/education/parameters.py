"""Education assistance parameters (defaults: docs/policy.md, programme 3)."""

from shared.parameters import ParameterSpec

MISC_FEE = ParameterSpec(
    name="school_misc_fee_per_term",
    kind="money",
    label="杂费 miscellaneous fee waived per term",
    unit="yuan/term",
    defaults=(("*", "120.00"),),
)
TEXTBOOK_FEE = ParameterSpec(
    name="school_textbook_fee_per_term",
    kind="money",
    label="书本费 textbook fee waived per term",
    unit="yuan/term",
    defaults=(("*", "80.00"),),
)
BOARDING_PER_MONTH = ParameterSpec(
    name="boarding_subsidy_per_month",
    kind="money",
    label="寄宿生生活补助 boarding pupils' living subsidy per month",
    unit="yuan/month",
    defaults=(("*", "60.00"),),
)
DISABILITY_GRANT = ParameterSpec(
    name="disability_grant_per_year",
    kind="money",
    label="残疾人家庭子女助学金 grant per school year",
    unit="yuan/year",
    defaults=(("*", "1000.00"),),
)
SPRING_START = ParameterSpec(
    name="spring_term_start", kind="month_day", label="春季学期开始 (MM-DD)", defaults=(("*", "03-01"),)
)
AUTUMN_START = ParameterSpec(
    name="autumn_term_start", kind="month_day", label="秋季学期开始 (MM-DD)", defaults=(("*", "09-01"),)
)
TERM_MONTHS = ParameterSpec(
    name="term_months", kind="integer", label="每学期月数 months of a term", unit="months", defaults=(("*", "5"),)
)

SPECS = [MISC_FEE, TEXTBOOK_FEE, BOARDING_PER_MONTH, DISABILITY_GRANT, SPRING_START, AUTUMN_START, TERM_MONTHS]
