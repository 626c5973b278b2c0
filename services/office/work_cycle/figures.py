"""The figures of the work cycle: what it adds to the assessment (findings followed up and overdue, the partner
organisations' activities), the gauge of overdue findings on ``/metrics``, and the counts the scores use
(findings and payments by outcome, disabled members served)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import cast

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.office.models import AssistancePayment, Enrolment
from services.office.service import CIVIL_AFFAIRS as _CIVIL_AFFAIRS
from services.office.service import schedule_of
from services.office.work_cycle import rules
from services.office.work_cycle.models import Finding, Inspection, PartnerActivity
from services.office.work_cycle.schemas import OverdueFinding, PartnerCount, WorkCycleAssessment, WorkCycleDivision
from services.office.work_cycle.units import DISABLED_PERSONS_FEDERATION, MEMBER_UNITS, PARTNERS
from shared.allowance import dibao_due
from shared.divisions import division_name
from shared.events import ExtensionSpell
from shared.metrics import FINDINGS_OVERDUE
from shared.periods import Period, city_today, parse_month
from shared.projection import DibaoMember, households_during

# Paid month by month by a run (what 及时 is measured on). Civil Affairs' dibao is also checked in full, against
# what the month is due under the shared rule (shared.allowance); what the bureaus' monthly payments are due is
# their own rule, so theirs are checked for time only.
DIBAO_PROGRAMMES = frozenset({"dibao", "extension"})
MONTHLY_PROGRAMMES: dict[str, frozenset[str]] = {
    "housing": frozenset({"rent_subsidy"}),
    "utilities": frozenset({"heating_supplement"}),
}
PAGE = 2000
# The bureau Civil Affairs announces its dibao payments as (shared.services: the registry announces one).
CIVIL_AFFAIRS: str = cast(str, _CIVIL_AFFAIRS)


@dataclass
class Tally:
    met: int = 0
    missed: int = 0

    def add(self, outcome: rules.Outcome) -> None:
        self.met += outcome == "met"
        self.missed += outcome == "missed"

    def merge(self, other: Tally) -> None:
        self.met += other.met
        self.missed += other.missed

    def measure(self, criterion: rules.Criterion) -> rules.Measure:
        return rules.outcomes(criterion, self.met, self.missed)


# ---- findings ---------------------------------------------------------------------------------------


def finding_outcome(finding: Finding, today: date) -> rules.Outcome:
    return rules.resolution(finding.due_on, finding.resolved_on if finding.status == "resolved" else None, today)


async def findings_due(session: AsyncSession, period: Period) -> list[Finding]:
    """Findings due in the period: whether each was resolved by its due day counts for the period."""

    return list(
        (
            await session.scalars(
                select(Finding).where(Finding.due_on >= period.start, Finding.due_on <= period.end).order_by(Finding.id)
            )
        ).all()
    )


async def overdue_findings(session: AsyncSession, today: date) -> list[Finding]:
    return list(
        (
            await session.scalars(
                select(Finding)
                .where(Finding.status == "open", Finding.due_on < today)
                .order_by(Finding.due_on, Finding.inspection_id, Finding.n)
            )
        ).all()
    )


async def open_findings(session: AsyncSession) -> list[tuple[Finding, date]]:
    """Every finding still open, with its inspection's day, the earliest due first."""

    return list(
        (
            await session.execute(
                select(Finding, Inspection.inspected_on)
                .join(Inspection, Inspection.id == Finding.inspection_id)
                .where(Finding.status == "open")
                .order_by(Finding.due_on, Finding.inspection_id, Finding.n)
            )
        )
        .tuples()
        .all()
    )


async def read_metrics(session: AsyncSession, service: str) -> None:
    """``harbin_findings_overdue`` per unit, read when scraped (0 for a unit with none, so the series exist)."""

    counts = dict(
        (
            await session.execute(
                select(Finding.unit, func.count())
                .where(Finding.status == "open", Finding.due_on < city_today())
                .group_by(Finding.unit)
            )
        )
        .tuples()
        .all()
    )
    for unit in MEMBER_UNITS:
        FINDINGS_OVERDUE.labels(service, unit).set(counts.get(unit, 0))


# ---- partner organisations and disabled members ---------------------------------------------------------


async def partner_counts(session: AsyncSession, period: Period) -> dict[tuple[str, str], tuple[int, int]]:
    """(division, organisation) → (activities, households reached) in the period."""

    rows = await session.execute(
        select(
            PartnerActivity.division_code,
            PartnerActivity.organisation,
            func.count(),
            func.count(func.distinct(PartnerActivity.household_id)),
        )
        .where(PartnerActivity.held_on >= period.start, PartnerActivity.held_on <= period.end)
        .group_by(PartnerActivity.division_code, PartnerActivity.organisation)
    )
    return {(division, organisation): (count, households) for division, organisation, count, households in rows}


async def disabled_members(session: AsyncSession, period: Period) -> dict[str, tuple[int, int]]:
    """division → (disabled dibao members in the period, of them served by the disabled persons' federation)."""

    in_period = (DibaoMember.eligible_from <= period.end) & (
        DibaoMember.eligible_until.is_(None) | (DibaoMember.eligible_until > period.start)
    )
    disabled = dict(
        (
            await session.execute(
                select(DibaoMember.division_code, func.count(func.distinct(DibaoMember.resident_id)))
                .where(in_period, DibaoMember.data["disabled"].as_boolean())
                .group_by(DibaoMember.division_code)
            )
        )
        .tuples()
        .all()
    )
    served = dict(
        (
            await session.execute(
                select(PartnerActivity.division_code, func.count(func.distinct(PartnerActivity.resident_id)))
                .where(
                    PartnerActivity.organisation == DISABLED_PERSONS_FEDERATION,
                    PartnerActivity.resident_id.is_not(None),
                    PartnerActivity.held_on >= period.start,
                    PartnerActivity.held_on <= period.end,
                )
                .group_by(PartnerActivity.division_code)
            )
        )
        .tuples()
        .all()
    )
    return {
        division: (disabled.get(division, 0), min(served.get(division, 0), disabled.get(division, 0)))
        for division in set(disabled) | set(served)
    }


# ---- payments: 及时、足额 -------------------------------------------------------------------------------


async def payment_outcomes(
    session: AsyncSession, period: Period, grace_days: int, today: date
) -> dict[tuple[str, str], Tally]:
    """(division, bureau) → household-months paid on time (and, for dibao, in full) or not, for the months of
    the period that have begun. A month whose deadline has not passed counts only once it is met."""

    months = [month for month in period.months() if month.start <= today]
    tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)
    if not months:
        return tallies
    labels = [month.label for month in months]
    async for households in households_during(session, period, PAGE):
        ids = [h.household_id for h in households]
        recorded = await _recorded_on(session, ids)
        paid: dict[tuple[str, str], list[tuple[date, Decimal]]] = defaultdict(list)
        for household_id, label, paid_on, amount in await session.execute(
            select(
                AssistancePayment.household_id,
                AssistancePayment.period,
                AssistancePayment.paid_on,
                AssistancePayment.amount,
            ).where(
                AssistancePayment.household_id.in_(ids),
                AssistancePayment.bureau == CIVIL_AFFAIRS,
                AssistancePayment.programme.in_(DIBAO_PROGRAMMES),
                AssistancePayment.period.in_(labels),
            )
        ):
            paid[(household_id, label)].append((paid_on, amount))
        for household in households:
            schedule = schedule_of(household)
            extensions = [ExtensionSpell.model_validate(s) for s in household.snapshot.get("extensions", ())]
            tally = tallies[(household.division_code, CIVIL_AFFAIRS)]
            for month in months:
                due = dibao_due(
                    schedule=schedule,
                    enrolled_on=household.enrolled_on,
                    exited_on=household.exited_on,
                    extensions=extensions,
                    month=month,
                )
                if due is None:
                    continue
                deadline = rules.payment_deadline(
                    month.end, recorded.get(household.household_id, household.enrolled_on), grace_days
                )
                payments = paid.get((household.household_id, month.label), [])
                tally.add(rules.month_payment(due.amount, payments, deadline, today))

    for bureau, programmes in MONTHLY_PROGRAMMES.items():
        rows = (
            await session.execute(
                select(
                    AssistancePayment.household_id,
                    AssistancePayment.division_code,
                    AssistancePayment.period,
                    func.min(AssistancePayment.paid_on),
                )
                .where(
                    AssistancePayment.bureau == bureau,
                    AssistancePayment.programme.in_(programmes),
                    AssistancePayment.period.in_(labels),
                )
                .group_by(
                    AssistancePayment.household_id,
                    AssistancePayment.division_code,
                    AssistancePayment.programme,
                    AssistancePayment.period,
                )
            )
        ).all()
        recorded = await _recorded_on(session, sorted({row[0] for row in rows}))
        for household_id, division, label, first_paid_on in rows:
            deadline = rules.payment_deadline(
                parse_month(label).end, recorded.get(household_id, parse_month(label).start), grace_days
            )
            tallies[(division, bureau)].add(rules.paid_on_time(first_paid_on, deadline))
    return tallies


async def _recorded_on(session: AsyncSession, household_ids: list[str]) -> dict[str, date]:
    """The day (in Harbin) the office heard of each household's enrolment."""

    found: dict[str, date] = {}
    for start in range(0, len(household_ids), PAGE):
        for household_id, recorded_at in await session.execute(
            select(Enrolment.household_id, Enrolment.recorded_at).where(
                Enrolment.household_id.in_(household_ids[start : start + PAGE])
            )
        ):
            found[household_id] = city_today(recorded_at)
    return found


# ---- the assessment's part ----------------------------------------------------------------------------


async def work_cycle_assessment(
    session: AsyncSession, period: Period, today: date | None = None
) -> WorkCycleAssessment:
    """What the assessment shows of the work cycle for ``period``: findings due in it and how they were
    resolved, findings overdue today (flagged), the partner organisations' activities and the disabled members
    the disabled persons' federation served."""

    today = today or city_today()
    due: dict[str, Tally] = defaultdict(Tally)
    due_count: dict[str, int] = defaultdict(int)
    for finding in await findings_due(session, period):
        due[finding.division_code].add(finding_outcome(finding, today))
        due_count[finding.division_code] += 1
    open_count = dict(
        (
            await session.execute(
                select(Finding.division_code, func.count())
                .where(Finding.status == "open")
                .group_by(Finding.division_code)
            )
        )
        .tuples()
        .all()
    )
    overdue = await overdue_findings(session, today)
    overdue_count: dict[str, int] = defaultdict(int)
    for finding in overdue:
        overdue_count[finding.division_code] += 1
    partners = await partner_counts(session, period)
    disabled = await disabled_members(session, period)

    divisions = sorted(set(due_count) | set(open_count) | {d for d, _ in partners} | set(disabled))
    rows = [
        WorkCycleDivision(
            division_code=code,
            division_name=division_name(code),
            findings_due=due_count.get(code, 0),
            findings_resolved_on_time=due[code].met if code in due else 0,
            findings_open=open_count.get(code, 0),
            findings_overdue=overdue_count.get(code, 0),
            partner_activities=[
                PartnerCount(organisation=org, activities=partners[(code, org)][0], households=partners[(code, org)][1])  # type: ignore[arg-type]
                for org in PARTNERS
                if (code, org) in partners
            ],
            disabled_members=disabled.get(code, (0, 0))[0],
            disabled_members_served=disabled.get(code, (0, 0))[1],
        )
        for code in divisions
    ]
    city = [
        PartnerCount(
            organisation=org,  # type: ignore[arg-type]  # PARTNERS are PartnerOrganisation's values
            activities=sum(c for (_, o), (c, _) in partners.items() if o == org),
            households=sum(h for (_, o), (_, h) in partners.items() if o == org),
        )
        for org in PARTNERS
    ]
    return WorkCycleAssessment(
        findings_due=sum(r.findings_due for r in rows),
        findings_resolved_on_time=sum(r.findings_resolved_on_time for r in rows),
        findings_open=sum(r.findings_open for r in rows),
        findings_overdue=len(overdue),
        overdue_findings=[
            OverdueFinding(
                inspection_id=str(f.inspection_id),
                n=f.n,
                division_code=f.division_code,
                unit=f.unit,  # type: ignore[arg-type]  # stored from MemberUnit
                description=f.description,
                due_on=f.due_on,
                days_overdue=(today - f.due_on).days,
            )
            for f in overdue
        ],
        partner_activities=city,
        disabled_members=sum(r.disabled_members for r in rows),
        disabled_members_served=sum(r.disabled_members_served for r in rows),
        divisions=rows,
    )
