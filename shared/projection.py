"""Each bureau's own copy of the dibao caseload, kept from the registry's events.

A bureau never reads the registry's tables. It keeps, in its own database, the latest state of every
household it has heard of and of every member's time in dibao (from enrolment, or from joining the
household, until exit or leaving it). :func:`apply_household_event` updates that copy and returns what
changed, so the bureau's handler only decides what the change means for its own programmes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Optional

from pydantic import create_model
from sqlalchemy import JSON, ColumnElement, Date, Index, String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.consumer import Handler, Prefetch
from shared.db import UtcDateTime, new_metadata, new_row, one_of, rows_matched
from shared.events import (
    HouseholdChanged,
    HouseholdChangedFacts,
    HouseholdEnrolled,
    HouseholdEnrolledFacts,
    HouseholdExited,
    HouseholdFacts,
    MemberSnapshot,
    ReceivedEvent,
)
from shared.periods import Period
from shared.platform_models import BigId
from shared.sealing import open_sealed
from shared.unit_of_work import Cache, UnitOfWork


class BureauBase(DeclarativeBase):
    metadata = new_metadata()


@dataclass(frozen=True, slots=True)
class CaseloadFields:
    """What one service keeps of the registry's household snapshots: it declares the fields it reads, and its
    copy holds only those (and what the copy itself needs: ids, division, enrolment, the members' resident IDs).

    ``household`` names keys of the snapshot kept in ``DibaoHousehold.snapshot`` (the history keeps those of
    :data:`HISTORY_FIELDS` among them); ``member`` names fields of :class:`MemberSnapshot` kept in
    ``DibaoMember.data``. Reading a member field not kept raises ``AttributeError`` (see ``DibaoMember.member``).
    """

    household: frozenset[str]
    member: frozenset[str]
    # The service whose sealed facts (shared.sealing) this copy opens: its own name, when it has any.
    sealed_for: str | None = None

    def __post_init__(self) -> None:
        known = (set(HouseholdChanged.model_fields) | set(HouseholdChangedFacts.model_fields)) - {"members", "sealed"}
        unknown = (self.household - known) | (self.member - set(MemberSnapshot.model_fields))
        if unknown:
            raise ValueError(f"not fields of the household snapshot: {sorted(unknown)}")
        object.__setattr__(self, "household", self.household | ALWAYS_KEPT)
        object.__setattr__(self, "member", self.member | {"resident_id"})


# What every copy keeps of a household: its id and the facts the copy's own columns and history are made of.
ALWAYS_KEPT = frozenset({"household_id", "division_code", "enrolled_on"})


class DibaoHousehold(BureauBase):
    __tablename__ = "dibao_households"

    household_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    status: Mapped[str] = mapped_column(String(10))
    enrolled_on: Mapped[date] = mapped_column(Date)
    exited_on: Mapped[date | None] = mapped_column(Date)
    # The household's last snapshot without its members (address, heating, area, income, allowance schedule).
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DibaoMember(BureauBase):
    """One person's time in one dibao household: ``eligible_from`` until ``eligible_until`` (exclusive)."""

    __tablename__ = "dibao_members"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(String(36), index=True)
    resident_id: Mapped[str] = mapped_column(String(18))
    division_code: Mapped[str] = mapped_column(String(6))
    eligible_from: Mapped[date] = mapped_column(Date)
    eligible_until: Mapped[date | None] = mapped_column(Date)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_dibao_members_resident_id", "resident_id"),)

    @property
    def member(self) -> MemberSnapshot:
        """The member as this service keeps them (its :class:`CaseloadFields`): a field it does not keep is not
        set, and reading it raises ``AttributeError`` rather than answering a default."""

        return member_view(self.data)

    def eligible_on(self, day: date) -> bool:
        return self.eligible_from <= day and (self.eligible_until is None or day < self.eligible_until)


def in_dibao_during(period: Period) -> ColumnElement[bool]:
    """The households in dibao on some day of ``period`` (an exit takes effect on its date)."""

    return (DibaoHousehold.enrolled_on <= period.end) & (
        DibaoHousehold.exited_on.is_(None) | (DibaoHousehold.exited_on > period.start)
    )


async def households_during(
    session: AsyncSession, period: Period, page: int = 2000
) -> AsyncIterator[Sequence[DibaoHousehold]]:
    """The households in dibao during ``period``, a page at a time in id order; each page is let go of once
    the caller has used it, so memory stays flat with the caseload (a report over 100,000 households)."""

    last_id = ""
    while True:
        households = (
            await session.scalars(
                select(DibaoHousehold)
                .where(DibaoHousehold.household_id > last_id, in_dibao_during(period))
                .order_by(DibaoHousehold.household_id)
                .limit(page)
            )
        ).all()
        if not households:
            return
        last_id = households[-1].household_id
        yield households
        session.expunge_all()


@dataclass
class HouseholdDelta:
    """What an event changed in the caseload copy."""

    kind: str  # enrolled | changed | exited | ignored
    household: DibaoHousehold | None
    effective_on: date
    added: list[DibaoMember] = field(default_factory=list)
    removed: list[DibaoMember] = field(default_factory=list)
    kept: list[DibaoMember] = field(default_factory=list)
    previous: dict[str, Any] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)

    @property
    def current_members(self) -> list[DibaoMember]:
        return [*self.kept, *self.added]


# The facts a bureau's money depends on, kept as a history so that a month is paid with its own facts
# (each service's history keeps those of them it keeps).
HISTORY_FIELDS = ("heating", "housing_area_m2", "division_code")

# Every field of a member, each optional: a kept subset of them is validated (types, dates) with this.
_PARTIAL: dict[str, Any] = {
    name: (Optional[info.annotation], None)  # noqa: UP045 (the annotation is a value here, not a type)
    for name, info in MemberSnapshot.model_fields.items()
}
_PartialMember = create_model("_PartialMember", **_PARTIAL)


def member_view(data: dict[str, Any]) -> MemberSnapshot:
    """A member from the fields a service keeps: those set, the others absent (not defaulted)."""

    if data.keys() >= MemberSnapshot.model_fields.keys():
        return MemberSnapshot.model_validate(data)
    values = _PartialMember.model_validate(data)
    member = MemberSnapshot.model_construct(_fields_set=set(data), **{name: getattr(values, name) for name in data})
    for name in MemberSnapshot.model_fields.keys() - data.keys():
        member.__dict__.pop(name, None)  # a default would answer for a fact this service never received
    return member


def _household_data(
    payload: HouseholdFacts, effective_on: date, fields: CaseloadFields, previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The snapshot's kept fields (no members), with ``history``: the kept facts from each change's effective
    day on.

    The registry sends the whole current state; a change effective on a day replaces whatever was known
    from that day on (a retroactive change supersedes the later entries it now covers)."""

    data = payload.model_dump(mode="json", include=set(fields.household))
    if fields.sealed_for is not None and isinstance(payload, (HouseholdEnrolledFacts, HouseholdChangedFacts)):
        opened = open_sealed(payload.sealed, fields.sealed_for)
        data.update((name, value) for name, value in opened.items() if name in fields.household)
    history = [
        entry for entry in (previous or {}).get("history", ()) if entry["effective_on"] < effective_on.isoformat()
    ]
    kept = [name for name in HISTORY_FIELDS if name in data]
    history.append({"effective_on": effective_on.isoformat(), **{name: data[name] for name in kept}})
    data["history"] = history
    return data


def facts_on(household: DibaoHousehold, day: date) -> dict[str, Any]:
    """The household's facts (heating, area, income, division) in force on ``day``: from the history kept
    since 2026-12, else (a snapshot stored before it) the latest ones."""

    data = household.snapshot
    history = data.get("history") or [
        {"effective_on": household.enrolled_on.isoformat(), **{name: data.get(name) for name in HISTORY_FIELDS}}
    ]
    text = day.isoformat()
    in_force = [entry for entry in history if entry["effective_on"] <= text]
    return dict(in_force[-1] if in_force else history[0])


async def open_members(session: AsyncSession, household_id: str) -> list[DibaoMember]:
    return list(
        (
            await session.scalars(
                select(DibaoMember)
                .where(DibaoMember.household_id == household_id, DibaoMember.eligible_until.is_(None))
                .order_by(DibaoMember.id)
            )
        ).all()
    )


async def closed_members(session: AsyncSession, household_id: str, until: date) -> list[DibaoMember]:
    return list(
        (
            await session.scalars(
                select(DibaoMember).where(DibaoMember.household_id == household_id, DibaoMember.eligible_until == until)
            )
        ).all()
    )


# Per unit of work: each household read (None when unknown) with its members still in dibao by resident id.
_CASELOAD: Cache[dict[str, tuple[DibaoHousehold | None, dict[str, DibaoMember]]]] = Cache("caseload copy", dict)


async def _state(uow: UnitOfWork, household_id: str) -> tuple[DibaoHousehold | None, dict[str, DibaoMember]]:
    """The household and its members still in dibao, read once per unit of work and kept current in it.

    A consumer batch may carry several events of one household; they see each other's effects here
    without a flush after every change.
    """

    cache = uow.cached(_CASELOAD)
    if household_id not in cache:
        session = uow.session
        household = await session.get(DibaoHousehold, household_id)
        members = {row.resident_id: row for row in await open_members(session, household_id)} if household else {}
        cache[household_id] = (household, members)
    return cache[household_id]


async def prefetch_households(uow: UnitOfWork, household_ids: list[str]) -> None:
    """Read a consumer batch's households and their members in dibao in two queries."""

    cache = uow.cached(_CASELOAD)
    session = uow.session
    wanted = [household_id for household_id in household_ids if household_id not in cache]
    if not wanted:
        return
    households = {
        h.household_id: h
        for h in (
            await session.scalars(select(DibaoHousehold).where(one_of(session, DibaoHousehold.household_id, wanted)))
        ).all()
    }
    members: dict[str, dict[str, DibaoMember]] = {household_id: {} for household_id in wanted}
    for row in (
        await session.scalars(
            select(DibaoMember)
            .where(one_of(session, DibaoMember.household_id, wanted), DibaoMember.eligible_until.is_(None))
            .order_by(DibaoMember.id)
        )
    ).all():
        members[row.household_id][row.resident_id] = row
    for household_id in wanted:
        cache[household_id] = (households.get(household_id), members[household_id])


# Every version of each household event (shared.events): version 1 is still read (older events, a replay).
_ENROLLED = (HouseholdEnrolled, HouseholdEnrolledFacts)
_CHANGED = (HouseholdChanged, HouseholdChangedFacts)


async def apply_household_event(uow: UnitOfWork, event: ReceivedEvent, fields: CaseloadFields) -> HouseholdDelta:
    """Update the copy from a household event, keeping only ``fields`` (the service's own selection)."""

    payload = event.payload
    now = datetime.now(UTC)
    session = uow.session
    household, open_rows = await _state(uow, payload.household_id)

    if isinstance(payload, HouseholdExited):
        if household is None:
            return HouseholdDelta("ignored", household, payload.exited_on)
        if household.status == "exited":
            # An exit set ahead and then brought forward: the members' time ends on the earlier day.
            if household.exited_on is not None and payload.exited_on < household.exited_on:
                for row in await closed_members(session, household.household_id, household.exited_on):
                    row.eligible_until = max(payload.exited_on, row.eligible_from)
                household.exited_on, household.updated_at = payload.exited_on, now
            return HouseholdDelta("ignored", household, payload.exited_on)
        members = list(open_rows.values())
        for row in members:
            row.eligible_until = max(payload.exited_on, row.eligible_from)
        open_rows.clear()
        household.status, household.exited_on, household.updated_at = "exited", payload.exited_on, now
        return HouseholdDelta("exited", household, payload.exited_on, removed=members)

    assert isinstance(payload, (*_ENROLLED, *_CHANGED))
    effective_on = payload.effective_on if isinstance(payload, _CHANGED) else payload.enrolled_on
    kind = "enrolled" if isinstance(payload, _ENROLLED) else "changed"
    previous: dict[str, Any] = {}
    if household is None:
        household = new_row(
            DibaoHousehold,
            household_id=payload.household_id,
            division_code=payload.division_code,
            status="active",
            enrolled_on=payload.enrolled_on,
            exited_on=None,
            snapshot=_household_data(payload, effective_on, fields),
            updated_at=now,
        )
        uow.add(household)
        uow.cached(_CASELOAD)[payload.household_id] = (household, open_rows)
    else:
        if household.status == "exited":
            # Facts learnt after an exit was announced (a change before an exit set ahead, an extension that
            # outlives the exit) still count for the money of the months they touch; nothing is granted anew.
            household.snapshot = _household_data(payload, effective_on, fields, household.snapshot)
            household.updated_at = now
            return HouseholdDelta("ignored", household, effective_on)
        previous = dict(household.snapshot)
        household.snapshot = _household_data(payload, effective_on, fields, previous)
        household.division_code = payload.division_code
        household.updated_at = now

    incoming = {member.resident_id: member for member in payload.members}
    kept_fields = set(fields.member)
    delta = HouseholdDelta(
        kind, household, effective_on, previous=previous, changed=list(getattr(payload, "changed", []))
    )
    for resident_id, row in list(open_rows.items()):
        if resident_id in incoming:
            row.data = incoming[resident_id].model_dump(mode="json", include=kept_fields)
            row.division_code = payload.division_code
            delta.kept.append(row)
        else:
            row.eligible_until = max(effective_on, row.eligible_from)
            delta.removed.append(row)
            del open_rows[resident_id]
    for resident_id, member in incoming.items():
        if resident_id not in open_rows:
            row = new_row(
                DibaoMember,
                household_id=payload.household_id,
                resident_id=resident_id,
                division_code=payload.division_code,
                eligible_from=max(effective_on, payload.enrolled_on),
                eligible_until=None,
                data=member.model_dump(mode="json", include=kept_fields),
            )
            uow.add(row)
            open_rows[resident_id] = row
            delta.added.append(row)
    return delta


async def member_on(session: AsyncSession, resident_id: str, day: date) -> DibaoMember | None:
    """The person's dibao membership in force on ``day``, if any."""

    rows = (
        await session.scalars(
            select(DibaoMember).where(DibaoMember.resident_id == resident_id).order_by(DibaoMember.eligible_from.desc())
        )
    ).all()
    return next((row for row in rows if row.eligible_on(day)), None)


async def memberships(session: AsyncSession, resident_id: str) -> list[DibaoMember]:
    return list(
        (
            await session.scalars(
                select(DibaoMember)
                .where(DibaoMember.resident_id == resident_id)
                .order_by(DibaoMember.eligible_from.desc())
            )
        ).all()
    )


def ineligibility_reason(rows: list[DibaoMember], day: date) -> str:
    """Why a person is not covered on ``day`` (for a clear 422)."""

    if not rows:
        return "not a member of any dibao household"
    earliest = min(row.eligible_from for row in rows)
    if day < earliest:
        return f"enrolled in dibao only from {earliest.isoformat()}"
    ended = max((row.eligible_until for row in rows if row.eligible_until), default=None)
    if ended is not None and day >= ended:
        return f"left dibao on {ended.isoformat()}"
    return "not in dibao on that day"


HOUSEHOLD_EVENTS = ("HouseholdEnrolled", "HouseholdChanged", "HouseholdExited")


def household_handlers(
    react: Callable[[UnitOfWork, HouseholdDelta], Awaitable[None]], fields: CaseloadFields
) -> dict[str, Handler]:
    """Consumer handlers for the registry's household events: update the copy (keeping ``fields``), then let the
    bureau react."""

    async def handle(uow: UnitOfWork, event: ReceivedEvent) -> None:
        await react(uow, await apply_household_event(uow, event, fields))

    return {event_type: handle for event_type in HOUSEHOLD_EVENTS}


async def reset_caseload(session: AsyncSession) -> dict[str, int]:
    """Forget the caseload copy, before replaying the registry's topics from the beginning."""

    counts = {}
    counts["dibao_members"] = await rows_matched(session, delete(DibaoMember))
    counts["dibao_households"] = await rows_matched(session, delete(DibaoHousehold))
    return counts


class HouseholdRows:
    """A bureau's own rows of one kind per household, read for a whole consumer batch at once.

    ``prefetch`` fills the unit of work's cache for the batch's households in one query; ``get`` then
    answers from it (reading only what was not prefetched), and ``add`` keeps it current.
    """

    def __init__(self, model: Any, *conditions: Any) -> None:
        self.model = model
        self.conditions = conditions
        self._rows: Cache[dict[str, list[Any]]] = Cache(f"{model.__tablename__} rows", dict)

    async def prefetch(self, uow: UnitOfWork, household_ids: list[str]) -> None:
        cache = uow.cached(self._rows)
        wanted = [household_id for household_id in household_ids if household_id not in cache]
        if not wanted:
            return
        for household_id in wanted:
            cache[household_id] = []
        rows = (
            await uow.session.scalars(
                select(self.model)
                .where(one_of(uow.session, self.model.household_id, wanted), *self.conditions)
                .order_by(*self.model.__mapper__.primary_key)
            )
        ).all()
        for row in rows:
            cache[row.household_id].append(row)

    async def get(self, uow: UnitOfWork, household_id: str) -> list[Any]:
        cache = uow.cached(self._rows)
        if household_id not in cache:
            await self.prefetch(uow, [household_id])
        return cache[household_id]

    def add(self, uow: UnitOfWork, row: Any) -> None:
        uow.add(row)
        uow.cached(self._rows).setdefault(row.household_id, []).append(row)


def prefetch_all(*prefetchers: Prefetch) -> Prefetch:
    async def prefetch(uow: UnitOfWork, household_ids: list[str]) -> None:
        for prefetcher in prefetchers:
            await prefetcher(uow, household_ids)

    return prefetch
