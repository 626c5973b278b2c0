"""The member units (成员单位) the work cycle names: the bureaus the services announce grants as
(:mod:`shared.services`) and the partner organisations of 三、(二) 3–4 (群团组织), who are member units too (五、).

Decisions, findings and scores name a unit by this vocabulary. The plan's other member units (Finance,
Audit, Supervision, Industry and Commerce, Local Taxation) run no service whose data the office receives;
they are not in it.
"""

from __future__ import annotations

from typing import Literal, get_args

from shared.services import BUREAU_NAMES, BUREAUS

# Written out for the type checker and the OpenAPI document; a unit test keeps it equal to BUREAUS + PARTNERS.
MemberUnit = Literal[
    "civil_affairs",
    "medical",
    "education",
    "housing",
    "employment",
    "utilities",
    "legal",
    "trade_union",
    "youth_league",
    "womens_federation",
    "disabled_persons_federation",
]
PartnerOrganisation = Literal["trade_union", "youth_league", "womens_federation", "disabled_persons_federation"]

PARTNERS: tuple[str, ...] = get_args(PartnerOrganisation)
PARTNER_NAMES: dict[str, str] = {
    "trade_union": "市总工会",
    "youth_league": "团市委",
    "womens_federation": "市妇联",
    "disabled_persons_federation": "市残联",
}
DISABLED_PERSONS_FEDERATION = "disabled_persons_federation"
MEMBER_UNITS: tuple[str, ...] = (*BUREAUS, *PARTNERS)
UNIT_NAMES: dict[str, str] = {**BUREAU_NAMES, **PARTNER_NAMES}


def unit_name(unit: str) -> str:
    return UNIT_NAMES.get(unit, unit)
