"""考核: every member unit and every district scored on the published criteria (docs/policy.md, "The work
cycle"), from what the office already has — the assessment (coverage, timeliness, the unserved list), the
inspections' findings, the payments every bureau announced (Civil Affairs' dibao included) and the partner
organisations' activities — with the figures behind each score. The rules are in :mod:`.rules`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from services.office import assessment
from services.office.schemas import AssessmentOut, BureauAssessment
from services.office.work_cycle import figures, rules
from services.office.work_cycle.figures import Tally
from services.office.work_cycle.parameters import (
    COMMENDATION_MIN_SCORE,
    SCORE_GRANT_WITHIN_DAYS,
    SCORE_PAYMENT_GRACE_DAYS,
    SCORE_SPECS,
    WEIGHT_SPECS,
)
from services.office.work_cycle.schemas import CriterionOut, DivisionScore, ScoresOut, UnitScore
from services.office.work_cycle.units import DISABLED_PERSONS_FEDERATION, MEMBER_UNITS, unit_name
from shared.divisions import DIVISIONS, division_name
from shared.errors import Unprocessable
from shared.parameters import ParameterBook
from shared.periods import Period, city_today
from shared.services import ASSESSED_BUREAUS


@dataclass(frozen=True, slots=True)
class Criteria:
    """The published criteria in force on the day assessed."""

    weights: dict[str, Decimal]
    grant_within_days: int
    payment_grace_days: int
    commendation_min_score: Decimal


async def criteria_on(session: AsyncSession, day: date) -> Criteria:
    book = await ParameterBook.load(session, SCORE_SPECS)
    return Criteria(
        weights={criterion: book.get(spec, day) for criterion, spec in WEIGHT_SPECS.items()},
        grant_within_days=book.get(SCORE_GRANT_WITHIN_DAYS, day),
        payment_grace_days=book.get(SCORE_PAYMENT_GRACE_DAYS, day),
        commendation_min_score=book.get(COMMENDATION_MIN_SCORE, day),
    )


def _criterion_out(measure: rules.Measure, weights: dict[str, Decimal]) -> CriterionOut:
    return CriterionOut(
        criterion=measure.criterion,
        weight=str(weights[measure.criterion]),
        ratio=None if measure.ratio is None else round(float(measure.ratio), 4),
        numerator=measure.numerator,
        denominator=measure.denominator,
        value=measure.value,
        target=measure.target,
    )


def _scored(measures: list[rules.Measure], criteria: Criteria) -> tuple[float | None, bool, list[CriterionOut]]:
    points = rules.score(measures, criteria.weights)
    commendable = rules.commendation_refusal(points, criteria.commendation_min_score) is None
    return (
        None if points is None else float(points),
        commendable,
        [_criterion_out(m, criteria.weights) for m in measures],
    )


def _not_applicable(criterion: rules.Criterion) -> rules.Measure:
    return rules.Measure(criterion, None)


def _bureau_measures(row: BureauAssessment, unserved: int, within: int) -> list[rules.Measure]:
    return [
        rules.coverage(row.households_granted, row.households_eligible),
        rules.timeliness(row.timeliness_p90_days, within, row.households_granted),
        rules.unserved(unserved, row.households_eligible),
    ]


def _merged(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        total.merge(tally)
    return total


def refuse_future(period: Period, today: date) -> None:
    if period.start > today:
        raise Unprocessable("period_in_future", f"{period.label} has not begun (today is {today} in Harbin)")


async def compute(
    session: AsyncSession, period: Period, today: date | None = None, result: AssessmentOut | None = None
) -> ScoresOut:
    """The scores for ``period`` (from ``result``, the period's assessment, when the caller has it already)."""

    today = today or city_today()
    refuse_future(period, today)
    as_of = min(period.end, today)
    criteria = await criteria_on(session, as_of)
    if result is None:
        result = await assessment.assess(session, period)

    unserved_by_bureau: dict[str, int] = defaultdict(int)
    unserved_by_division: dict[str, int] = defaultdict(int)
    for household in result.unserved:
        unserved_by_division[household.division_code] += 1
        for bureau in {missing.bureau for missing in household.missing}:
            unserved_by_bureau[bureau] += 1

    finding_unit: dict[str, Tally] = defaultdict(Tally)
    finding_division: dict[str, Tally] = defaultdict(Tally)
    for finding in await figures.findings_due(session, period):
        outcome = figures.finding_outcome(finding, today)
        finding_unit[finding.unit].add(outcome)
        finding_division[finding.division_code].add(outcome)

    payments = await figures.payment_outcomes(session, period, criteria.payment_grace_days, today)
    disabled = await figures.disabled_members(session, period)
    city_bureaus = {row.bureau: row for row in result.bureaus}

    units = []
    for unit in MEMBER_UNITS:
        if unit in city_bureaus:
            measures = _bureau_measures(city_bureaus[unit], unserved_by_bureau[unit], criteria.grant_within_days)
        elif unit == DISABLED_PERSONS_FEDERATION:
            # 市残联对享受城市低保待遇的残疾人提供优惠政策咨询和服务: its coverage is of the disabled members.
            served = sum(s for _, s in disabled.values())
            measures = [
                rules.coverage(served, sum(d for d, _ in disabled.values())),
                _not_applicable("timeliness"),
                _not_applicable("unserved"),
            ]
        else:
            measures = [_not_applicable("coverage"), _not_applicable("timeliness"), _not_applicable("unserved")]
        measures.append(finding_unit[unit].measure("findings") if unit in finding_unit else _outcomes_none("findings"))
        paid = [tally for (_, bureau), tally in payments.items() if bureau == unit]
        measures.append(_merged(paid).measure("payments") if paid else _outcomes_none("payments"))
        score, commendable, out = _scored(measures, criteria)
        units.append(
            UnitScore(unit=unit, unit_name=unit_name(unit), score=score, commendable=commendable, criteria=out)  # type: ignore[arg-type]
        )

    division_rows = {row.division_code: row for row in result.divisions}
    divisions = []
    for code in sorted(DIVISIONS):
        row = division_rows.get(code)
        bureaus = [b for b in row.bureaus if b.bureau in ASSESSED_BUREAUS] if row else []
        eligible = sum(b.households_eligible for b in bureaus)
        measures = [
            rules.coverage(sum(b.households_granted for b in bureaus), eligible),
            rules.pooled(
                "timeliness",
                (
                    (rules.timeliness_ratio(b.timeliness_p90_days, criteria.grant_within_days), b.households_granted)
                    for b in bureaus
                ),
            ),
            rules.unserved(unserved_by_division[code], row.households if row else 0),
            finding_division[code].measure("findings") if code in finding_division else _outcomes_none("findings"),
            _merged(t for (division, _), t in payments.items() if division == code).measure("payments"),
        ]
        score, commendable, out = _scored(measures, criteria)
        divisions.append(
            DivisionScore(
                division_code=code,
                division_name=division_name(code),
                score=score,
                commendable=commendable,
                criteria=out,
            )
        )

    return ScoresOut(
        period=period.label,
        as_of=as_of,
        weights={criterion: str(weight) for criterion, weight in criteria.weights.items()},
        grant_within_days=criteria.grant_within_days,
        payment_grace_days=criteria.payment_grace_days,
        commendation_min_score=str(criteria.commendation_min_score),
        units=units,
        divisions=divisions,
    )


def _outcomes_none(criterion: rules.Criterion) -> rules.Measure:
    return rules.outcomes(criterion, 0, 0)
