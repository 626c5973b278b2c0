"""Civil Affairs' policy parameters (defaults: POLICY.md, programme 1 and 5)."""

from shared.divisions import DIVISIONS
from shared.parameters import ParameterSpec

DIBAO_STANDARD = ParameterSpec(
    name="dibao_standard",
    kind="money",
    label="低保标准 dibao standard per person per month",
    unit="yuan/person/month",
    scoped=True,
    defaults=tuple((code, "200.00" if division.is_urban_district else "150.00") for code, division in DIVISIONS.items()),
)
EXTENSION_MONTHS = ParameterSpec(
    name="employment_extension_months",
    kind="integer",
    label="就业后延发低保月数 months dibao continues after a member finds work",
    unit="months",
    defaults=(("*", "3"),),
)
UNSERVED_AFTER_DAYS = ParameterSpec(
    name="unserved_after_days",
    kind="integer",
    label="未落实救助的认定天数 days after enrolment after which an unserved household is listed",
    unit="days",
    defaults=(("*", "30"),),
)

SPECS = [DIBAO_STANDARD, EXTENSION_MONTHS, UNSERVED_AFTER_DAYS]
