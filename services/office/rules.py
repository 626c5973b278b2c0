"""The office's rules, pure functions of data (no I/O): who each bureau should have served (the assessment,
考核), and the percentiles its timeliness is measured with."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from shared.entitlements import (
    WorkingAge,
    certificate_due_on,
    education_programmes,
    heating_relief_programme,
    housing_difficulty,
)


@dataclass(frozen=True, slots=True)
class Expectation:
    """A bureau should have granted one of ``programmes`` to this person (or, with "", the household)."""

    bureau: str
    programmes: frozenset[str]
    resident_id: str = ""


@dataclass(frozen=True, slots=True)
class AssessmentCriteria:
    housing_area_per_person: Decimal
    working_age: WorkingAge
    unemployed_years: int


def expected_assistance(
    *,
    heating: str,
    housing_area_m2: Decimal,
    enrolled_on: date,
    members: Sequence[Any],
    on: date,
    criteria: AssessmentCriteria,
) -> list[Expectation]:
    """Everything the plan gives this household on ``on``, bureau by bureau.

    ``members`` are objects with the member fields of the registry (resident_id, sex, birth_date,
    relation, able_to_work, employment_status, unemployed_since, disabled, school_stage, boarding).
    """

    expected = [
        Expectation("utilities", frozenset({"water_discount"})),
        Expectation("utilities", frozenset({heating_relief_programme(heating)})),
    ]
    if housing_difficulty(housing_area_m2, len(members), criteria.housing_area_per_person):
        # Rent subsidy first, a flat second: either serves the household.
        expected.append(Expectation("housing", frozenset({"rent_subsidy", "low_rent_allocation"})))
    has_disabled = any(m.disabled for m in members)
    for m in members:
        expected.append(Expectation("medical", frozenset({"medical_assistance"}), m.resident_id))
        expected.append(Expectation("legal", frozenset({"legal_aid"}), m.resident_id))
        for programme in sorted(
            education_programmes(m.school_stage, m.boarding, has_disabled, m.relation, m.birth_date, on)
        ):
            expected.append(Expectation("education", frozenset({programme}), m.resident_id))
        due = certificate_due_on(
            birth_date=m.birth_date,
            sex=m.sex,
            able_to_work=m.able_to_work,
            employment_status=m.employment_status,
            unemployed_since=m.unemployed_since,
            in_dibao_from=enrolled_on,
            working_age=criteria.working_age,
            unemployed_years=criteria.unemployed_years,
        )
        if due is not None and due <= on:
            expected.append(Expectation("employment", frozenset({"reemployment_certificate"}), m.resident_id))
    return expected


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (the median is ``share=0.5``); None for no values."""

    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]
