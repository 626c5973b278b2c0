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
SPECS = [DIBAO_STANDARD, EXTENSION_MONTHS]
