"""The assessment for the joint meeting (联席会议考核): coverage, timeliness and money, per division and bureau,
and the households some bureau should have served and has not."""

from __future__ import annotations

import csv
import io
import re
from array import array
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.office import procedure, rules
from services.office.models import AssistancePayment, AssistanceRecord, Donation, Enrolment, Pairing
from services.office.parameters import (
    ASSESS_HOUSING_AREA,
    ASSESS_UNEMPLOYED_YEARS,
    ASSESS_WORKING_AGE_END_FEMALE,
    ASSESS_WORKING_AGE_END_MALE,
    ASSESS_WORKING_AGE_MIN,
    ASSESSMENT_SPECS,
    UNSERVED_AFTER_DAYS,
)
from services.office.schemas import (
    AssessmentOut,
    BureauAssessment,
    DivisionAssessment,
    DivisionReport,
    MissingProgramme,
    MutualAidSummary,
    ProcedureCounts,
    ProgrammeMoney,
    Report,
    UnservedHousehold,
)
from services.office.service import CIVIL_AFFAIRS, last_members, members_of, status_on
from services.office.work_cycle.figures import work_cycle_assessment
from shared.divisions import DIVISIONS, division_name
from shared.entitlements import WorkingAge
from shared.events import MemberSnapshot
from shared.money import ZERO, to_fen
from shared.parameters import ParameterBook
from shared.periods import CITY_TIMEZONE, Period, city_today
from shared.programmes import programme_name
from shared.projection import DibaoHousehold, DibaoMember
from shared.resident_id import mask_resident_id
from shared.services import ASSESSED_BUREAUS, BUREAU_NAMES

ASSESSMENT_PAGE = 2000
DAY_HOURS = 24.0


def period_name(period: Period) -> str:
    """The period as the joint meeting says it: 2026年下半年, 2026年上半年, 2026年, 2026年5月."""

    year = period.start.year
    if period.label.endswith("-H1"):
        return f"{year}年上半年"
    if period.label.endswith("-H2"):
        return f"{year}年下半年"
    if period.start.month == 1 and period.end.month == 12:
        return f"{year}年"
    return f"{year}年{period.start.month}月"


def mask_name(name: str) -> str:
    """The surname kept, every further character hidden (张伟 → 张*): enough to recognise, not to publish."""

    name = name.strip()
    return name[:1] + "*" * (len(name) - 1) if name else ""


_HOUSE_NUMBER = re.compile(r"[0-9０-９]")
_DISTRICT_NAMES = sorted({d.name for d in DIVISIONS.values()}, key=len, reverse=True)


def street_of(address: str, division: str) -> str:
    """The street of an address (道里区中央大街123号 → 中央大街): the city and district left out, and
    everything from the house number on."""

    rest = address.strip().removeprefix("黑龙江省").removeprefix("哈尔滨市").removeprefix(division)
    # An address may name another district than the household's division code does: any district goes.
    rest = next((rest[len(name) :] for name in _DISTRICT_NAMES if rest.startswith(name)), rest)
    match = _HOUSE_NUMBER.search(rest)
    return (rest[: match.start()] if match else rest).strip() or rest.strip()


class DistinctPersons:
    """Counts distinct people without holding a city's worth of resident IDs.

    A person is in one household at a time, so only those in more than one household during the period
    (``repeated``, found by one query) can be met twice: only their IDs are kept; the rest are counted.
    Callers add each person at most once per household.
    """

    __slots__ = ("counted", "repeated", "seen")

    def __init__(self, repeated: frozenset[str] = frozenset()) -> None:
        self.repeated = repeated
        self.counted = 0
        self.seen: set[str] = set()

    def add(self, resident_id: str) -> None:
        if resident_id in self.repeated:
            self.seen.add(resident_id)
        else:
            self.counted += 1

    def update(self, resident_ids: set[str]) -> None:
        for resident_id in resident_ids:
            self.add(resident_id)

    def merge(self, other: DistinctPersons) -> None:
        self.counted += other.counted
        self.seen |= other.seen

    def __len__(self) -> int:
        return self.counted + len(self.seen)


@dataclass
class _Tally:
    repeated: frozenset[str] = frozenset()
    households_eligible: int = 0
    households_granted: int = 0
    persons_eligible: DistinctPersons = field(init=False)
    persons_granted: DistinctPersons = field(init=False)
    # Hours from enrolment to grant, as C doubles: a list of floats costs four times the memory at Harbin's scale.
    hours: array[float] = field(default_factory=lambda: array("d"))
    households_paid: int = 0
    paid: Decimal = ZERO

    def __post_init__(self) -> None:
        self.persons_eligible = DistinctPersons(self.repeated)
        self.persons_granted = DistinctPersons(self.repeated)

    def merge(self, other: _Tally) -> None:
        self.households_eligible += other.households_eligible
        self.households_granted += other.households_granted
        self.persons_eligible.merge(other.persons_eligible)
        self.persons_granted.merge(other.persons_granted)
        self.hours.extend(other.hours)
        self.households_paid += other.households_paid
        self.paid += other.paid

    def out(self, bureau: str) -> BureauAssessment:
        coverage = round(self.households_granted / self.households_eligible, 4) if self.households_eligible else None
        median, p90 = rules.percentile(self.hours, 0.5), rules.percentile(self.hours, 0.9)
        within_day = (
            round(sum(1 for hours in self.hours if hours <= DAY_HOURS) / len(self.hours), 4) if self.hours else None
        )
        return BureauAssessment(
            bureau=bureau,
            bureau_name=BUREAU_NAMES[bureau],
            households_eligible=self.households_eligible,
            households_granted=self.households_granted,
            persons_eligible=len(self.persons_eligible),
            persons_granted=len(self.persons_granted),
            coverage=coverage,
            timeliness_median_hours=_rounded(median),
            timeliness_p90_hours=_rounded(p90),
            granted_within_day=within_day,
            timeliness_median_days=_rounded(median, DAY_HOURS),
            timeliness_p90_days=_rounded(p90, DAY_HOURS),
            households_paid=self.households_paid,
            amount_paid=to_fen(self.paid),
        )


def _rounded(hours: float | None, per: float = 1.0) -> float | None:
    # Four decimals: a grant seconds after the enrolment is 0.0008 h, not a flat 0.
    return None if hours is None else round(hours / per, 4)


async def assess(session: AsyncSession, period: Period, now: datetime | None = None) -> AssessmentOut:
    now = now or datetime.now(UTC)
    today = city_today(now)
    as_of = min(period.end, today)
    book = await ParameterBook.load(session, [UNSERVED_AFTER_DAYS, *ASSESSMENT_SPECS])
    criteria = rules.AssessmentCriteria(
        housing_area_per_person=book.get(ASSESS_HOUSING_AREA, as_of),
        working_age=WorkingAge(
            book.get(ASSESS_WORKING_AGE_MIN, as_of),
            book.get(ASSESS_WORKING_AGE_END_MALE, as_of),
            book.get(ASSESS_WORKING_AGE_END_FEMALE, as_of),
        ),
        unemployed_years=book.get(ASSESS_UNEMPLOYED_YEARS, as_of),
    )
    unserved_after = book.get(UNSERVED_AFTER_DAYS, as_of)

    in_period = (DibaoHousehold.enrolled_on <= period.end) & (
        DibaoHousehold.exited_on.is_(None) | (DibaoHousehold.exited_on > period.start)
    )
    repeated = frozenset(
        await session.scalars(
            select(DibaoMember.resident_id)
            .join(DibaoHousehold, DibaoMember.household_id == DibaoHousehold.household_id)
            .where(in_period)
            .group_by(DibaoMember.resident_id)
            .having(func.count(func.distinct(DibaoMember.household_id)) > 1)
        )
    )
    tallies: dict[tuple[str, str], _Tally] = defaultdict(lambda: _Tally(repeated))
    persons: dict[str, DistinctPersons] = defaultdict(lambda: DistinctPersons(repeated))
    household_count: dict[str, int] = defaultdict(int)
    unserved: list[UnservedHousehold] = []
    # A page of households at a time, with only their members and grant records: memory stays flat with the
    # caseload.
    last_id = ""
    while True:
        households = (
            await session.scalars(
                select(DibaoHousehold)
                .where(DibaoHousehold.household_id > last_id, in_period)
                .order_by(DibaoHousehold.household_id)
                .limit(ASSESSMENT_PAGE)
            )
        ).all()
        if not households:
            break
        last_id = households[-1].household_id
        ids = [h.household_id for h in households]
        members = await members_of(session, ids)
        recorded = dict(
            (
                await session.execute(
                    select(Enrolment.household_id, Enrolment.recorded_at).where(Enrolment.household_id.in_(ids))
                )
            )
            .tuples()
            .all()
        )
        first_grant: dict[tuple[str, str, str, str], datetime] = {}
        for household_id, bureau, programme, resident_id, granted_at in (
            await session.execute(
                select(
                    AssistanceRecord.household_id,
                    AssistanceRecord.bureau,
                    AssistanceRecord.programme,
                    AssistanceRecord.resident_id,
                    AssistanceRecord.first_granted_at,
                ).where(AssistanceRecord.household_id.in_(ids))
            )
        ).all():
            key = (household_id, bureau, programme, resident_id)
            first_grant[key] = min(granted_at, first_grant.get(key, granted_at))
        for household in households:
            # Households enrolled before the office recorded events: from the enrolment day's start in Harbin.
            enrolled_at = recorded.get(household.household_id) or datetime.combine(
                household.enrolled_on, datetime.min.time(), CITY_TIMEZONE
            )
            _assess_household(
                household,
                last_members(household, members[household.household_id]),
                enrolled_at,
                first_grant,
                criteria,
                as_of,
                now,
                unserved_after,
                tallies,
                persons,
                household_count,
                unserved,
            )
        session.expunge_all()

    paid_in_period = (AssistancePayment.paid_on >= period.start) & (AssistancePayment.paid_on <= period.end)
    for division, bureau, paid_households, amount in (
        await session.execute(
            select(
                AssistancePayment.division_code,
                AssistancePayment.bureau,
                func.count(func.distinct(AssistancePayment.household_id)),
                func.sum(AssistancePayment.amount),
            )
            .where(paid_in_period)
            .group_by(AssistancePayment.division_code, AssistancePayment.bureau)
        )
    ).all():
        if bureau in ASSESSED_BUREAUS:
            tallies[(division, bureau)].paid += amount or ZERO
            tallies[(division, bureau)].households_paid += paid_households
    programmes = [
        ProgrammeMoney(
            bureau=bureau,
            bureau_name=BUREAU_NAMES[bureau],
            programme=programme,
            programme_name=programme_name(programme),
            households_paid=paid_households,
            payments=payments,
            amount_paid=to_fen(amount or ZERO),
        )
        for bureau, programme, paid_households, payments, amount in (
            await session.execute(
                select(
                    AssistancePayment.bureau,
                    AssistancePayment.programme,
                    func.count(func.distinct(AssistancePayment.household_id)),
                    func.count(),
                    func.sum(AssistancePayment.amount),
                )
                .where(paid_in_period)
                .group_by(AssistancePayment.bureau, AssistancePayment.programme)
            )
        ).all()
        if bureau in ASSESSED_BUREAUS
    ]
    programmes.sort(key=lambda p: (ASSESSED_BUREAUS.index(p.bureau), p.programme))
    dibao = dict(
        (
            await session.execute(
                select(AssistancePayment.division_code, func.sum(AssistancePayment.amount))
                .where(
                    AssistancePayment.bureau == CIVIL_AFFAIRS,
                    AssistancePayment.period.in_([m.label for m in period.months()]),
                )
                .group_by(AssistancePayment.division_code)
            )
        )
        .tuples()
        .all()
    )
    aid = await _mutual_aid(session, period)
    steps = await procedure.counts(session, period, today)

    divisions = sorted(set(household_count) | {d for d, _ in tallies} | set(dibao) | set(aid) | set(steps))
    city: dict[str, _Tally] = defaultdict(lambda: _Tally(repeated))
    division_rows = []
    for code in divisions:
        bureaus = []
        for bureau in ASSESSED_BUREAUS:
            tally = tallies.get((code, bureau), _Tally(repeated))
            city[bureau].merge(tally)
            bureaus.append(tally.out(bureau))
        division_rows.append(
            DivisionAssessment(
                division_code=code,
                division_name=division_name(code),
                households=household_count.get(code, 0),
                persons=len(persons.get(code, ())),
                dibao_paid=to_fen(dibao.get(code) or ZERO),
                bureaus=bureaus,
                mutual_aid=aid.get(code, MutualAidSummary(donations=0, donation_amount=ZERO, active_pairings=0)),
                procedure=steps.get(code, ProcedureCounts()),
            )
        )
    unserved.sort(key=lambda u: (-u.days_waiting, u.division_code, u.household_id))
    return AssessmentOut(
        period=period.label,
        period_name=period_name(period),
        period_complete=today > period.end,
        as_of=as_of,
        unserved_after_days=unserved_after,
        households=sum(household_count.values()),
        persons=sum(len(p) for p in persons.values()),
        dibao_paid=to_fen(sum((dibao[d] or ZERO for d in dibao), ZERO)),
        bureaus=[city[bureau].out(bureau) for bureau in ASSESSED_BUREAUS],
        programmes=programmes,
        divisions=division_rows,
        unserved=unserved,
        work_cycle=await work_cycle_assessment(session, period),
        procedure=sum(steps.values(), ProcedureCounts()),
    )


def _assess_household(
    household: DibaoHousehold,
    members: list[MemberSnapshot],
    enrolled_at: datetime,
    first_grant: dict[tuple[str, str, str, str], datetime],
    criteria: rules.AssessmentCriteria,
    as_of: date,
    now: datetime,
    unserved_after: int,
    tallies: dict[tuple[str, str], _Tally],
    persons: dict[str, DistinctPersons],
    household_count: dict[str, int],
    unserved: list[UnservedHousehold],
) -> None:
    division = household.division_code
    household_count[division] += 1
    persons[division].update({m.resident_id for m in members})
    expectations = rules.expected_assistance(
        heating=household.snapshot["heating"],
        housing_area_m2=Decimal(str(household.snapshot["housing_area_m2"])),
        enrolled_on=household.enrolled_on,
        members=members,
        on=max(as_of, household.enrolled_on),
        criteria=criteria,
    )
    missing: list[MissingProgramme] = []
    by_bureau: dict[str, list[bool]] = defaultdict(list)
    # Education may expect several programmes of one pupil: a person counts once per bureau.
    eligible_people: dict[str, set[str]] = defaultdict(set)
    granted_people: dict[str, set[str]] = defaultdict(set)
    for expectation in expectations:
        granted_at = [
            first_grant[key]
            for programme in expectation.programmes
            if (key := (household.household_id, expectation.bureau, programme, expectation.resident_id)) in first_grant
        ]
        tally = tallies[(division, expectation.bureau)]
        by_bureau[expectation.bureau].append(bool(granted_at))
        if expectation.resident_id:
            eligible_people[expectation.bureau].add(expectation.resident_id)
        if granted_at:
            if expectation.resident_id:
                granted_people[expectation.bureau].add(expectation.resident_id)
            tally.hours.append(max(0.0, (min(granted_at) - enrolled_at).total_seconds() / 3600))
        else:
            missing.append(
                MissingProgramme(
                    bureau=expectation.bureau,
                    programme=sorted(expectation.programmes)[0],
                    resident_id=expectation.resident_id or None,
                )
            )
    for bureau, people in eligible_people.items():
        tallies[(division, bureau)].persons_eligible.update(people)
        tallies[(division, bureau)].persons_granted.update(granted_people[bureau])
    for bureau, served in by_bureau.items():
        tallies[(division, bureau)].households_eligible += 1
        tallies[(division, bureau)].households_granted += all(served)
    waiting = now - enrolled_at
    if missing and status_on(household, city_today(now)) == "active" and waiting >= timedelta(days=unserved_after):
        head = next((m for m in members if m.relation == "head"), members[0] if members else None)
        name = division_name(division)
        unserved.append(
            UnservedHousehold(
                household_id=household.household_id,
                division_code=division,
                division_name=name,
                street=street_of(str(household.snapshot.get("address") or ""), name),
                head_name=mask_name(head.name) if head else "",
                enrolled_on=household.enrolled_on,
                days_waiting=waiting.days,
                missing=missing,
            )
        )


async def _mutual_aid(session: AsyncSession, period: Period) -> dict[str, MutualAidSummary]:
    donations = dict(
        (
            (d, (n, a))
            for d, n, a in (
                await session.execute(
                    select(Donation.division_code, func.count(), func.sum(Donation.amount))
                    .where(Donation.given_on >= period.start, Donation.given_on <= period.end)
                    .group_by(Donation.division_code)
                )
            ).all()
        )
    )
    pairings = dict(
        (
            await session.execute(
                select(Pairing.division_code, func.count())
                .where(
                    Pairing.started_on <= period.end, (Pairing.ended_on.is_(None)) | (Pairing.ended_on >= period.start)
                )
                .group_by(Pairing.division_code)
            )
        )
        .tuples()
        .all()
    )
    return {
        code: MutualAidSummary(
            donations=donations.get(code, (0, ZERO))[0],
            donation_amount=to_fen(donations.get(code, (0, ZERO))[1] or ZERO),
            active_pairings=pairings.get(code, 0),
        )
        for code in set(donations) | set(pairings)
    }


async def report(session: AsyncSession, period: Period) -> Report:
    """What the districts recorded with the office in the period: social mutual aid, per division."""

    aid = await _mutual_aid(session, period)
    divisions = [
        DivisionReport(
            division_code=code,
            division_name=division_name(code),
            donations=summary.donations,
            donation_amount=summary.donation_amount,
            active_pairings=summary.active_pairings,
        )
        for code, summary in sorted(aid.items())
    ]
    return Report(
        period=period.label,
        divisions=divisions,
        donation_amount=to_fen(sum((d.donation_amount for d in divisions), ZERO)),
    )


COVERAGE_COLUMNS = [
    "division_code",
    "division_name",
    "bureau",
    "households_eligible",
    "households_granted",
    "coverage",
    "persons_eligible",
    "persons_granted",
    "timeliness_median_hours",
    "timeliness_p90_hours",
    "granted_within_day",
    "timeliness_median_days",
    "timeliness_p90_days",
    "households_paid",
    "amount_paid",
]


def coverage_csv(result: AssessmentOut) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COVERAGE_COLUMNS)
    for division in result.divisions:
        for bureau in division.bureaus:
            row = bureau.model_dump(mode="json")
            writer.writerow(
                [
                    division.division_code,
                    division.division_name,
                    *(row[c] if row[c] is not None else "" for c in COVERAGE_COLUMNS[2:]),
                ]
            )
    return buffer.getvalue()


UNSERVED_COLUMNS = [
    "household_id",
    "division_code",
    "division_name",
    "street",
    "head_name",
    "enrolled_on",
    "days_waiting",
    "bureau",
    "bureau_name",
    "programme",
    "programme_name",
    "resident_id",
]


def unserved_csv(result: AssessmentOut, *, mask_ids: bool = False) -> str:
    """One row per programme a household still lacks. ``mask_ids``: resident IDs masked (前六后四), for the
    copy the page carries — the page is shown to a meeting; the API's CSV is for the caseworkers who act."""

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(UNSERVED_COLUMNS)
    for household in result.unserved:
        for missing in household.missing:
            resident_id = missing.resident_id or ""
            writer.writerow(
                [
                    household.household_id,
                    household.division_code,
                    household.division_name,
                    household.street,
                    household.head_name,
                    household.enrolled_on.isoformat(),
                    household.days_waiting,
                    missing.bureau,
                    BUREAU_NAMES.get(missing.bureau, missing.bureau),
                    missing.programme,
                    programme_name(missing.programme),
                    mask_resident_id(resident_id) if mask_ids and resident_id else resident_id,
                ]
            )
    return buffer.getvalue()
