"""Medical assistance parameters (defaults: docs/policy.md, programme 2)."""

from shared.parameters import ParameterSpec

SHARE = ParameterSpec(
    name="medical_share",
    kind="rate",
    label="医疗救助比例 share of the out-of-pocket cost paid",
    defaults=(("*", "0.50"),),
)
YEARLY_CAP = ParameterSpec(
    name="medical_yearly_cap",
    kind="money",
    label="年度救助封顶线 yearly cap per person",
    unit="yuan/person/year",
    defaults=(("*", "3000.00"),),
)
NEAR_CAP_SHARE = ParameterSpec(
    name="audit_near_cap_share",
    kind="rate",
    label="审计: 接近封顶线比例 share of the cap that flags a person for audit",
    defaults=(("*", "0.90"),),
)
CLAIMS_PER_MONTH = ParameterSpec(
    name="audit_claims_per_month",
    kind="integer",
    label="审计: 每人每月就诊次数 claims per person in a month that flag for audit",
    unit="claims",
    defaults=(("*", "4"),),
)

SPECS = [SHARE, YEARLY_CAP, NEAR_CAP_SHARE, CLAIMS_PER_MONTH]
