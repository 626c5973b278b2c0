"""The work cycle's parameters: the scoring criteria's weights and targets, and the commendation threshold
(docs/policy.md, "The work cycle"). The plan names the criteria's subjects (及时、足额, 应保尽保, 发现问题及时
研究解决) but no number: every figure here is an illustrative default the leading group sets."""

from shared.parameters import ParameterSpec

SCORE_WEIGHT_COVERAGE = ParameterSpec(
    name="score_weight_coverage",
    kind="rate",
    label="考核权重: 覆盖率 (应保尽保) weight of coverage",
    defaults=(("*", "0.30"),),
)
SCORE_WEIGHT_TIMELINESS = ParameterSpec(
    name="score_weight_timeliness",
    kind="rate",
    label="考核权重: 及时性 weight of timeliness (enrolment → grant)",
    defaults=(("*", "0.15"),),
)
SCORE_WEIGHT_UNSERVED = ParameterSpec(
    name="score_weight_unserved",
    kind="rate",
    label="考核权重: 未落实救助户 weight of households left unserved",
    defaults=(("*", "0.15"),),
)
SCORE_WEIGHT_FINDINGS = ParameterSpec(
    name="score_weight_findings",
    kind="rate",
    label="考核权重: 督导检查问题按期整改 weight of inspection findings resolved on time",
    defaults=(("*", "0.20"),),
)
SCORE_WEIGHT_PAYMENTS = ParameterSpec(
    name="score_weight_payments",
    kind="rate",
    label="考核权重: 及时、足额发放 weight of payments on time and in full",
    defaults=(("*", "0.20"),),
)
SCORE_GRANT_WITHIN_DAYS = ParameterSpec(
    name="score_grant_within_days",
    kind="integer",
    label="考核: 90% 的救助应在登记后多少天内落实 days from enrolment within which 90 % of grants are due",
    unit="days",
    bounds=("1", "365"),
    defaults=(("*", "15"),),
)
SCORE_PAYMENT_GRACE_DAYS = ParameterSpec(
    name="score_payment_grace_days",
    kind="integer",
    label="考核: 按月发放的宽限天数 days after a month's end within which its payment is on time",
    unit="days",
    bounds=("0", "90"),
    defaults=(("*", "0"),),
)
COMMENDATION_MIN_SCORE = ParameterSpec(
    name="commendation_min_score",
    kind="decimal",
    label="表彰: 最低考核得分 the lowest score a unit or district can be commended with",
    unit="points of 100",
    bounds=("0", "100"),
    defaults=(("*", "90"),),
)

WEIGHT_SPECS = {
    "coverage": SCORE_WEIGHT_COVERAGE,
    "timeliness": SCORE_WEIGHT_TIMELINESS,
    "unserved": SCORE_WEIGHT_UNSERVED,
    "findings": SCORE_WEIGHT_FINDINGS,
    "payments": SCORE_WEIGHT_PAYMENTS,
}
SCORE_SPECS = [*WEIGHT_SPECS.values(), SCORE_GRANT_WITHIN_DAYS, SCORE_PAYMENT_GRACE_DAYS, COMMENDATION_MIN_SCORE]
# Seeded by migration 0003 (not by 0001, which seeds services.office.parameters.SPECS as they were then).
WORK_CYCLE_SPECS = SCORE_SPECS
