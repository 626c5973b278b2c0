"""Housing assistance parameters (defaults: docs/policy.md, programme 4)."""

from shared.parameters import ParameterSpec

DIFFICULTY_AREA = ParameterSpec(
    name="housing_difficulty_area_per_person",
    kind="decimal",
    label="住房困难标准 floor area per person at or below which a household qualifies",
    unit="m²/person",
    scoped=True,
    defaults=(("*", "8"),),
)
STANDARD_AREA = ParameterSpec(
    name="housing_standard_area_per_person",
    kind="decimal",
    label="保障面积标准 standard floor area per person",
    unit="m²/person",
    scoped=True,
    defaults=(("*", "15"),),
)
SUBSIDY_PER_M2 = ParameterSpec(
    name="rent_subsidy_per_m2",
    kind="money",
    label="租金补贴标准 subsidy per m² short of the standard, per month",
    unit="yuan/m²/month",
    scoped=True,
    defaults=(("*", "10.00"),),
)

SPECS = [DIFFICULTY_AREA, STANDARD_AREA, SUBSIDY_PER_M2]
