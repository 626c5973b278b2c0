"""Employment assistance parameters (defaults: docs/policy.md, programme 5)."""

from shared.parameters import ParameterSpec

WORKING_AGE_MIN = ParameterSpec(
    name="working_age_min",
    kind="integer",
    label="劳动年龄下限 first year of working age",
    unit="years",
    defaults=(("*", "16"),),
)
WORKING_AGE_END_MALE = ParameterSpec(
    name="working_age_end_male",
    kind="integer",
    label="男性劳动年龄上限 working age ends on this birthday (men)",
    unit="years",
    defaults=(("*", "60"),),
)
WORKING_AGE_END_FEMALE = ParameterSpec(
    name="working_age_end_female",
    kind="integer",
    label="女性劳动年龄上限 working age ends on this birthday (women)",
    unit="years",
    defaults=(("*", "55"),),
)
UNEMPLOYED_YEARS = ParameterSpec(
    name="certificate_unemployed_years",
    kind="integer",
    label="失业满年限 years of unemployment before the certificate",
    unit="years",
    defaults=(("*", "1"),),
)
CERTIFICATE_VALID_YEARS = ParameterSpec(
    name="certificate_valid_years",
    kind="integer",
    label="再就业优惠证有效年限 years a certificate is valid",
    unit="years",
    defaults=(("*", "3"),),
)

SPECS = [WORKING_AGE_MIN, WORKING_AGE_END_MALE, WORKING_AGE_END_FEMALE, UNEMPLOYED_YEARS, CERTIFICATE_VALID_YEARS]
