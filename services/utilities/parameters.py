"""Water and heating relief parameters (defaults: docs/policy.md, programmes 6 and 7)."""

from shared.parameters import ParameterSpec

WATER_DISCOUNT_PER_M3 = ParameterSpec(
    name="water_discount_per_m3",
    kind="money",
    label="水价优惠 discount per m³",
    unit="yuan/m³",
    defaults=(("*", "0.50"),),
)
WATER_CAP_PER_PERSON = ParameterSpec(
    name="water_cap_m3_per_person",
    kind="decimal",
    label="优惠用水量上限 discounted m³ per person per month",
    unit="m³/person/month",
    defaults=(("*", "5"),),
)
HEATING_SEASON_START = ParameterSpec(
    name="heating_season_start", kind="month_day", label="采暖期开始 first day (MM-DD)", defaults=(("*", "10-20"),)
)
HEATING_SEASON_END = ParameterSpec(
    name="heating_season_end", kind="month_day", label="采暖期结束 last day (MM-DD)", defaults=(("*", "04-20"),)
)
CENTRAL_REDUCTION = ParameterSpec(
    name="central_heating_reduction",
    kind="rate",
    label="集中供热费减免比例 central-heating fee reduction",
    defaults=(("*", "0.30"),),
)
SUPPLEMENT_RATE = ParameterSpec(
    name="heating_supplement_rate",
    kind="rate",
    label="非集中供热家庭采暖补贴: share of the dibao allowance (the plan's 20%)",
    defaults=(("*", "0.20"),),
)

SPECS = [
    WATER_DISCOUNT_PER_M3,
    WATER_CAP_PER_PERSON,
    HEATING_SEASON_START,
    HEATING_SEASON_END,
    CENTRAL_REDUCTION,
    SUPPLEMENT_RATE,
]
