"""Education assistance rules (就学救助), pure functions of data and dates.

* Compulsory-education pupils (primary, junior) of dibao households: miscellaneous and textbook fees
  waived for a term when the pupil is in dibao on the day the term begins; boarders also get a living
  subsidy for each month of the term they spend in dibao (a month counts when they qualify on any day
  of it, as dibao itself counts a month).
* Children of a dibao household with a disabled member in secondary or higher education or training
  (中高等教育、培训: the stages senior, vocational and college): a grant once per school year (the school
  year starts with the autumn term), when they qualify on the day one of its terms begins.
* A minor with no parent in the household — the head themself, or recorded as "other" to the head —
  is flagged for the orphans' and children-in-hardship programme.

A term run settles a term against the ledger (:func:`settle_household`): it adds what is due under the
facts now known minus what the ledger already holds for the pupil, period and programme — a payment when
short, a recovery line (negative) when paid over, nothing when they agree — and withholds what the
household owes from its payments.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from shared.entitlements import (
    BEYOND_COMPULSORY,
    BOARDING,
    COMPULSORY,
    DISABILITY,
    FEE_WAIVER,
    NO_PARENT,
    education_programmes,
)
from shared.ledger import LedgerLine, settle
from shared.money import ZERO, to_fen
from shared.periods import Period, add_months, month_period

__all__ = [
    "BEYOND_COMPULSORY",
    "BOARDING",
    "COMPULSORY",
    "DISABILITY",
    "DISABILITY_GRANT_STAGES",
    "FEE_WAIVER",
    "NO_PARENT",
    "programmes_for",
]

_TERM = re.compile(r"^([0-9]{4})-(spring|autumn)$")

# The predicates are shared with the office's assessment (shared.entitlements).
programmes_for = education_programmes

# The stages of the disabled-family grant (中高等教育、培训): secondary (senior), vocational training and
# higher education (college) — the stages of BEYOND_COMPULSORY, which programmes_for reads.
DISABILITY_GRANT_STAGES = BEYOND_COMPULSORY


def registers_as_pupil(programmes: set[str]) -> bool:
    return bool(programmes)


class InvalidTerm(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Term:
    """A school term: it begins on ``start`` (1 March for spring, 1 September for autumn, parameters) and
    runs for ``months`` calendar months from the month it begins in — with the default of five months,
    spring is March–July and autumn September–January. This is the one definition of a term's months:
    the boarding subsidy is counted on them, and the term ends with the last of them."""

    label: str
    season: str  # spring | autumn
    start: date
    months: tuple[Period, ...]

    @property
    def end(self) -> date:
        return self.months[-1].end

    @property
    def period(self) -> Period:
        return Period(self.start, self.end, self.label)

    @property
    def school_year(self) -> str:
        """The autumn term opens a school year: 2026-autumn and 2027-spring are "2026-2027"."""

        first = self.start.year if self.season == "autumn" else self.start.year - 1
        return f"{first}-{first + 1}"


def parse_term(label: str) -> tuple[int, str]:
    match = _TERM.match(label or "")
    if not match:
        raise InvalidTerm(f"{label!r} is not a term: write YYYY-spring or YYYY-autumn")
    if not 1900 <= int(match[1]) <= 2100:
        raise InvalidTerm(f"{label!r}: the year must be between 1900 and 2100")
    return int(match[1]), match[2]


def term(label: str, spring_start: tuple[int, int], autumn_start: tuple[int, int], months: int) -> Term:
    year, season = parse_term(label)
    month, day = spring_start if season == "spring" else autumn_start
    start = date(year, month, day)
    first = month_period(year, month)
    return Term(label, season, start, tuple(add_months(first, i) for i in range(months)))


def school_year_terms(label: str) -> tuple[str, str]:
    """The autumn and spring terms of the school year ``label`` belongs to (2026-autumn → 2026-autumn, 2027-spring)."""

    year, season = parse_term(label)
    first = year if season == "autumn" else year - 1
    return f"{first}-autumn", f"{first + 1}-spring"


# ---- what a pupil is due for a term ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spell:
    """A pupil's time in dibao in one household: from ``start`` until ``end`` (exclusive; open when None)."""

    household_id: str
    start: date
    end: date | None = None

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)


@dataclass(frozen=True, slots=True)
class SchoolFacts:
    """What the school and the registry say about a pupil from ``effective_on`` on (until the next entry)."""

    effective_on: date
    school_stage: str
    boarding: bool
    household_has_disabled: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "effective_on": self.effective_on.isoformat(),
            "school_stage": self.school_stage,
            "boarding": self.boarding,
            "household_has_disabled": self.household_has_disabled,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SchoolFacts:
        return cls(
            date.fromisoformat(data["effective_on"]),
            str(data["school_stage"]),
            bool(data["boarding"]),
            bool(data["household_has_disabled"]),
        )


def record_facts(history: Sequence[SchoolFacts], facts: SchoolFacts) -> list[SchoolFacts]:
    """The history with ``facts`` in force from their day on: what was known from that day is superseded
    (a back-dated report replaces the later entries it now covers); an entry that changes nothing is not kept."""

    kept = [entry for entry in history if entry.effective_on < facts.effective_on]
    if kept and (kept[-1].school_stage, kept[-1].boarding, kept[-1].household_has_disabled) == (
        facts.school_stage,
        facts.boarding,
        facts.household_has_disabled,
    ):
        return kept
    return [*kept, facts]


def facts_on(history: Sequence[SchoolFacts], day: date) -> SchoolFacts | None:
    """The entry in force on ``day``; None before the first. A pupil is registered (and the history begins)
    on the day they first qualify for something in dibao: before it they qualified for nothing — not in
    dibao yet, or not yet at a stage that counts (a child who starts primary school in September)."""

    in_force = [entry for entry in history if entry.effective_on <= day]
    return in_force[-1] if in_force else None


@dataclass(frozen=True, slots=True)
class PupilRecord:
    """The pupil as registered in one household."""

    household_id: str
    division_code: str
    relation: str
    birth_date: date
    history: tuple[SchoolFacts, ...]
    left_school_on: date | None = None


def programmes_on(
    spells: Iterable[Spell], records: Mapping[str, PupilRecord], day: date
) -> tuple[set[str], PupilRecord | None]:
    """The programmes the pupil qualifies for on ``day`` (none out of dibao), and the household record they
    qualify in."""

    spell = next((s for s in spells if s.covers(day)), None)
    record = records.get(spell.household_id) if spell else None
    facts = facts_on(record.history, day) if record else None
    if record is None or facts is None:
        return set(), None
    in_school = record.left_school_on is None or day < record.left_school_on
    return programmes_for(
        facts.school_stage,
        facts.boarding,
        facts.household_has_disabled,
        record.relation,
        record.birth_date,
        day,
        in_school=in_school,
    ), record


def _turning_days(spells: Iterable[Spell], records: Mapping[str, PupilRecord], month: Period) -> list[date]:
    """The days of ``month`` on which what the pupil qualifies for may change: its first day, and every day a
    spell begins or ends, a fact changes or the pupil leaves school within it."""

    days = {month.start}
    for spell in spells:
        days.update(d for d in (spell.start, spell.end) if d is not None)
    for record in records.values():
        days.update(entry.effective_on for entry in record.history)
        if record.left_school_on is not None:
            days.add(record.left_school_on)
    return sorted(d for d in days if month.contains(d))


class Rates(Protocol):
    """The parameters in force on a day, for a division."""

    def fees(self, day: date, division_code: str) -> tuple[Decimal, Decimal]: ...  # misc, textbook

    def boarding(self, day: date, division_code: str) -> Decimal: ...

    def disability(self, day: date, division_code: str) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class Due:
    """What the facts now known give a pupil for one programme and period (a term, or a school year)."""

    programme: str
    period: str
    amount: Decimal
    household_id: str | None
    division_code: str | None
    detail: str


def term_dues(
    term: Term,
    spells: Sequence[Spell],
    records: Mapping[str, PupilRecord],
    rates: Rates,
    school_year_starts: Sequence[date],
) -> list[Due]:
    """Fee waiver and boarding subsidy for ``term``; the disability grant for its school year.

    * fee waiver: qualifying (in dibao, compulsory stage, in school) on the day the term begins;
    * boarding subsidy: the per-month rate in force on each month's first day, for each month of the term
      on any day of which the pupil qualifies;
    * disability grant: the yearly rate, when the pupil qualifies on the first day of one of the school
      year's terms that has begun (``school_year_starts``), at the rate of the first such day.
    Every programme is listed, with 0 when nothing is due, so a settlement can recover what was paid over.
    """

    dues: list[Due] = []
    on_start, record = programmes_on(spells, records, term.start)
    if FEE_WAIVER in on_start and record is not None:
        misc, textbook = rates.fees(term.start, record.division_code)
        dues.append(
            Due(
                FEE_WAIVER,
                term.label,
                to_fen(misc + textbook),
                record.household_id,
                record.division_code,
                f"杂费 {misc} + 书本费 {textbook}",
            )
        )
    else:
        dues.append(Due(FEE_WAIVER, term.label, ZERO, None, None, "not in dibao in compulsory school on the first day"))

    months: list[str] = []
    boarding_total, boarding_record = ZERO, None
    for month in term.months:
        for day in _turning_days(spells, records, month):
            qualifies, where = programmes_on(spells, records, day)
            if BOARDING in qualifies and where is not None:
                boarding_record = boarding_record or where
                boarding_total += rates.boarding(month.start, where.division_code)
                months.append(month.label)
                break
    dues.append(
        Due(
            BOARDING,
            term.label,
            to_fen(boarding_total),
            boarding_record.household_id if boarding_record else None,
            boarding_record.division_code if boarding_record else None,
            f"{len(months)} months boarding in dibao: {', '.join(months)}" if months else "no month boarding in dibao",
        )
    )

    year = term.school_year
    for day in sorted(school_year_starts):
        qualifies, where = programmes_on(spells, records, day)
        if DISABILITY in qualifies and where is not None:
            dues.append(
                Due(
                    DISABILITY,
                    year,
                    to_fen(rates.disability(day, where.division_code)),
                    where.household_id,
                    where.division_code,
                    f"school year {year}",
                )
            )
            break
    else:
        dues.append(
            Due(DISABILITY, year, ZERO, None, None, f"school year {year}: not qualifying on a term's first day")
        )
    return dues


PAYMENT = "payment"


@dataclass(frozen=True, slots=True)
class Entry:
    """One pupil's programme and period in the household a line for it goes to: what is due under the facts
    now known, and what the ledger's lines for that pupil, programme and period sum to."""

    resident_id: str
    due: Due
    booked: Decimal


def settle_household(entries: Sequence[Entry], owed: Decimal) -> list[tuple[Entry, LedgerLine]]:
    """The lines that bring a household's entries to what is due (shared.ledger.settle): a payment when short,
    a recovery (negative) when paid over, nothing when they agree.

    What the household owes — ``owed`` from earlier recoveries, and the recoveries written now — is withheld
    from the payments, oldest period first (a school year before its terms), up to what it owes: no
    transfer is ever negative, and each line keeps its full amount, so a period's lines sum to what is due.
    """

    # A period label leads the key, so the ledger's period order is the entries' (a school year "2026-2027"
    # sorts before its first term "2026-autumn"); the pupil and programme make it unique.
    by_key = {f"{entry.due.period} {entry.resident_id} {entry.due.programme}": entry for entry in entries}
    lines = settle(
        {key: (entry.due.amount, PAYMENT) for key, entry in by_key.items()},
        {key: entry.booked for key, entry in by_key.items()},
        owed,
    )
    return [(by_key[line.period], line) for line in lines]
