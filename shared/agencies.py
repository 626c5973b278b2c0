"""Which scopes each calling agency may hold: the one place they are configured.

A token names its agency (``agency``) and its scopes (``scope``). The issuer decides what it signs, but a
service does not take the issuer's word for everything: a token whose agency may not hold one of the
scopes it claims (a school with ``medical:read``), that names an agency nobody knows, or whose hospital or
school is not the one in the agency's name, is refused (shared.auth). Adding an agency, or a scope to
one, is a change to this table, reviewed like any other.

Agencies are named exactly (``civil_affairs``) or numbered (``hospital_12``, ``school_7``,
``district_230102``); a numbered agency's token carries its number in an identity claim
(``hospital_id``, ``school_id``) that must be the same number, and no other agency's token carries one.
``local`` holds every scope, for development and tests only: a service in production refuses it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shared.services import NAMES

IDENTITY_CLAIMS = ("hospital_id", "school_id")


@dataclass(frozen=True, slots=True)
class Agency:
    title: str
    scopes: frozenset[str]
    # The claim that names which hospital or school a numbered agency is (None: the agency names no unit).
    identity_claim: str | None = None
    # Development and tests only: refused by a service in production.
    local_only: bool = False


def _service(name: str, *actions: str) -> set[str]:
    return {f"{name}:{action}" for action in actions}


_READ_EVERYTHING = {f"{name}:read" for name in NAMES}

EXACT: dict[str, Agency] = {
    "civil_affairs": Agency(
        "民政局 Civil Affairs: the caseload, dibao and its payments, the one-stop view",
        frozenset(
            _service("registry", "read", "write", "admin") | {"office:read", "office:mutual_aid", "office:work_cycle"}
        ),
    ),
    "leading_group_office": Agency(
        "领导小组办公室 the leading-group office: meetings, inspections, assessment, mutual aid",
        frozenset(_service("office", "read", "write", "admin") | {"office:mutual_aid", "office:work_cycle"}),
    ),
    "health_bureau": Agency(
        "卫生局 Health: designated hospitals, claims' audit", frozenset(_service("medical", "read", "write", "admin"))
    ),
    "education_bureau": Agency(
        "教育局 Education: pupils, their schools, term runs", frozenset(_service("education", "read", "write", "admin"))
    ),
    "housing_bureau": Agency(
        "房产局 Housing: rent subsidy, low-rent flats", frozenset(_service("housing", "read", "write", "admin"))
    ),
    "labour_bureau": Agency(
        "劳动和社会保障局 Labour and Social Security: certificates, referrals, posts",
        frozenset(_service("employment", "read", "write", "admin")),
    ),
    "price_bureau": Agency(
        "物价局 Price Bureau: water and heating relief", frozenset(_service("utilities", "read", "write", "admin"))
    ),
    "heating_office": Agency(
        "供热办 Heating Office: heating relief", frozenset(_service("utilities", "read", "write"))
    ),
    "water_group": Agency("供排水集团 Water Group: monthly usage", frozenset({"utilities:water"})),
    "justice_bureau": Agency("司法局 Justice: legal aid", frozenset(_service("legal", "read", "write", "admin"))),
    "audit_bureau": Agency(
        "审计局 Audit: audit trails and every bureau's records", frozenset({"audit:read", *_READ_EVERYTHING})
    ),
    "supervision_bureau": Agency(
        "监察局 Supervision: audit trails and every bureau's records", frozenset({"audit:read", *_READ_EVERYTHING})
    ),
    # Partner organisations: their aid to pupils (社会助学) and their own activities for dibao households.
    "trade_union": Agency("总工会 trade union", frozenset({"education:partners", "office:partners"})),
    "youth_league": Agency("共青团 youth league (希望工程)", frozenset({"education:partners", "office:partners"})),
    "womens_federation": Agency("妇联 women's federation", frozenset({"education:partners", "office:partners"})),
    "disabled_persons_federation": Agency(
        "残联 disabled persons' federation", frozenset({"education:partners", "office:partners"})
    ),
    # Agencies that only verify a re-employment certificate (any authenticated agency may).
    "tax_bureau": Agency("税务局 Tax: verifies re-employment certificates", frozenset()),
    "industry_commerce_bureau": Agency("工商局 Industry and Commerce: verifies certificates", frozenset()),
    "monitoring": Agency("the city's monitoring: scrapes /metrics", frozenset({"ops:metrics"})),
    "ops": Agency(
        "运维 operations: consumer state, replay, metrics",
        frozenset({f"{name}:admin" for name in NAMES} | {"ops:metrics"}),
    ),
}

# Numbered agencies: the pattern of the name (its number in group 1), and what each such agency may hold.
NUMBERED: tuple[tuple[re.Pattern[str], Agency], ...] = (
    (
        re.compile(r"hospital_([0-9]{1,12})", re.ASCII),
        Agency("定点医院 a designated hospital: its own claims", frozenset({"medical:claims"}), "hospital_id"),
    ),
    (
        re.compile(r"school_([0-9]{1,12})", re.ASCII),
        Agency(
            "学校 a school: its own pupils' stage, boarding, leaving", frozenset({"education:schools"}), "school_id"
        ),
    ),
    (
        re.compile(r"district_([0-9]{6})", re.ASCII),
        Agency("区 a district: donations and pairings (社会互助)", frozenset({"office:mutual_aid"})),
    ),
)

LOCAL = "local"


def local_agency(all_scopes: Iterable[str]) -> Agency:
    return Agency("development and tests: every scope (refused in production)", frozenset(all_scopes), local_only=True)


def find(agency: str) -> tuple[Agency, str | None] | None:
    """The agency's policy and its number (for a numbered agency), or None when it is not known."""

    known = EXACT.get(agency)
    if known is not None:
        return known, None
    for pattern, policy in NUMBERED:
        match = pattern.fullmatch(agency)
        if match:
            return policy, match.group(1)
    return None


def refusal(
    agency: str, scopes: Iterable[str], claims: Mapping[str, object], *, production: bool, all_scopes: Iterable[str]
) -> str | None:
    """Why a token for ``agency`` with ``scopes`` and ``claims`` may not be accepted, or None when it may."""

    found = (local_agency(all_scopes), None) if agency == LOCAL else find(agency)
    if found is None:
        return f"agency {agency[:60]!r} is not a known agency"
    policy, number = found
    if policy.local_only:
        return "agency local is for development and tests only" if production else None
    beyond = sorted(set(scopes) - policy.scopes)
    if beyond:
        return f"agency {agency} may not hold {' '.join(beyond)[:200]}"
    for claim in IDENTITY_CLAIMS:
        value = claims.get(claim)
        if claim == policy.identity_claim:
            if value is None or str(value) != number:
                return f"agency {agency}'s token must name it in {claim} ({number})"
        elif value is not None:
            return f"agency {agency}'s token may not carry {claim}"
    return None
