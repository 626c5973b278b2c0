"""What a bureau granted, revoked and paid — recorded once, announced on ``assistance.grants``.

Every bureau grants programmes to households or persons because they are in dibao, stops them when
they leave, and pays some of them. :class:`GrantLedger` records that in the bureau's ``grants`` table
and stages the matching ``AssistanceGranted`` / ``AssistanceRevoked`` / ``AssistancePaid`` events in
the same transaction, so the leading-group office sees exactly what the bureau did.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Date, Index, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.consumer import CONSUMING
from shared.db import Money, UtcDateTime, add_new, new_row
from shared.events import AssistanceGranted, AssistancePaid, AssistanceRevoked, Bureau
from shared.outbox import Outbox
from shared.periods import Period, city_today
from shared.platform_models import BigId
from shared.projection import BureauBase, HouseholdDelta

HOUSEHOLD_LEVEL = ""  # resident_id of a grant made to the whole household


class Grant(BureauBase):
    __tablename__ = "grants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(String(36))
    resident_id: Mapped[str] = mapped_column(String(18), default=HOUSEHOLD_LEVEL)
    division_code: Mapped[str] = mapped_column(String(6))
    programme: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(10), default="active")
    granted_on: Mapped[date] = mapped_column(Date)
    revoked_on: Mapped[date | None] = mapped_column(Date)
    revoke_reason: Mapped[str | None] = mapped_column(String(300))
    monthly_amount: Mapped[Decimal | None] = mapped_column(Money())
    detail: Mapped[str | None] = mapped_column(String(300))
    # "event" when granted in reaction to an event (rebuilt by a replay), "api" when by a person's action.
    source: Mapped[str] = mapped_column(String(10), default="event")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_grants_household_id", "household_id"),
        # One active grant of a programme per person (or household): granting twice is a no-op.
        Index("uq_grants_active", "household_id", "resident_id", "programme", unique=True,
              postgresql_where=status == "active", sqlite_where=status == "active"),
    )

    def active_during(self, period: Period) -> bool:
        return period.overlaps(self.granted_on, self.revoked_on)


class GrantLedger:
    def __init__(self, bureau: Bureau, outbox: Outbox) -> None:
        self.bureau = bureau
        self.outbox = outbox

    async def _household_grants(self, session: AsyncSession, household_id: str) -> dict[tuple[str, str], Grant]:
        """The household's active grants by (resident, programme), read once per session.

        A consumer batch or a request touches a household's grants several times; this keeps it to one
        query, and lets grants made earlier in the same transaction be seen before they are flushed.
        """

        cache: dict[str, dict[tuple[str, str], Grant]] = session.info.setdefault("active_grants", {})
        if household_id not in cache:
            rows = (await session.scalars(select(Grant).where(Grant.household_id == household_id,
                                                              Grant.status == "active").order_by(Grant.id))).all()
            cache[household_id] = {(grant.resident_id, grant.programme): grant for grant in rows}
        return cache[household_id]

    async def active(self, session: AsyncSession, household_id: str, programme: str | None = None,
                     resident_id: str | None = None) -> list[Grant]:
        grants = await self._household_grants(session, household_id)
        return [grant for (resident, granted), grant in grants.items()
                if (programme is None or granted == programme) and (resident_id is None or resident == resident_id)]

    async def grant(self, session: AsyncSession, *, household_id: str, division_code: str, programme: str, on: date,
                    resident_id: str | None = None, monthly_amount: Decimal | None = None,
                    detail: str | None = None) -> Grant:
        """Grant a programme; granting what is already granted changes nothing (or updates its terms)."""

        person = resident_id or HOUSEHOLD_LEVEL
        grants = await self._household_grants(session, household_id)
        grant = grants.get((person, programme))
        if grant is not None:
            if grant.monthly_amount == monthly_amount and grant.detail == detail:
                return grant
            grant.monthly_amount, grant.detail = monthly_amount, detail
        else:
            grant = new_row(Grant, household_id=household_id, resident_id=person, division_code=division_code,
                            programme=programme, status="active", granted_on=on, monthly_amount=monthly_amount,
                            detail=detail, source="event" if session.info.get(CONSUMING) else "api",
                            created_at=datetime.now(UTC))
            add_new(session, grant)
            grants[(person, programme)] = grant
        await self.outbox.stage(session, AssistanceGranted(
            household_id=household_id, division_code=division_code, bureau=self.bureau, programme=programme,
            resident_id=resident_id, granted_on=grant.granted_on, monthly_amount=monthly_amount, detail=detail))
        return grant

    async def revoke(self, session: AsyncSession, *, household_id: str, on: date, reason: str,
                     programme: str | None = None, resident_id: str | None = None) -> list[Grant]:
        grants = await self.active(session, household_id, programme, resident_id)
        cache = await self._household_grants(session, household_id)
        for grant in grants:
            grant.status, grant.revoked_on, grant.revoke_reason = "revoked", max(on, grant.granted_on), reason
            cache.pop((grant.resident_id, grant.programme), None)
        for grant in grants:
            await self.outbox.stage(session, AssistanceRevoked(
                household_id=grant.household_id, division_code=grant.division_code, bureau=self.bureau,
                programme=grant.programme, resident_id=grant.resident_id or None, revoked_on=grant.revoked_on,
                reason=reason))
        return grants

    async def paid(self, session: AsyncSession, *, household_id: str, division_code: str, programme: str,
                   period: str, amount: Decimal, reference: str, paid_on: date | None = None,
                   resident_id: str | None = None) -> None:
        await self.outbox.stage(session, self.payment_event(
            household_id=household_id, division_code=division_code, programme=programme, period=period,
            amount=amount, reference=reference, paid_on=paid_on, resident_id=resident_id))

    def payment_event(self, *, household_id: str, division_code: str, programme: str, period: str, amount: Decimal,
                      reference: str, paid_on: date | None = None, resident_id: str | None = None) -> AssistancePaid:
        return AssistancePaid(household_id=household_id, division_code=division_code, bureau=self.bureau,
                              programme=programme, resident_id=resident_id, period=period, amount=amount,
                              paid_on=paid_on or city_today(), reference=reference)


async def grant_to_every_member(session: AsyncSession, ledger: GrantLedger, delta: HouseholdDelta, programme: str,
                                detail: str) -> None:
    """A programme every member of a dibao household has, from enrolment (or joining) until exit (or leaving)."""

    if delta.household is None or delta.kind == "ignored":
        return
    for row in delta.added:
        await ledger.grant(session, household_id=row.household_id, division_code=row.division_code,
                           programme=programme, resident_id=row.resident_id, on=row.eligible_from, detail=detail)
    reason = "household left dibao" if delta.kind == "exited" else "member left the household"
    for row in delta.removed:
        await ledger.revoke(session, household_id=row.household_id, resident_id=row.resident_id,
                            programme=programme, on=row.eligible_until or delta.effective_on, reason=reason)


@dataclass
class GrantCounts:
    households: int = 0
    persons: int = 0
    granted_in_period: int = 0
    revoked_in_period: int = 0


async def grant_counts(session: AsyncSession, period: Period) -> dict[tuple[str, str], GrantCounts]:
    """Per (division, programme): households and persons with the programme during the period."""

    rows = (await session.scalars(select(Grant).where(Grant.granted_on <= period.end).where(
        (Grant.revoked_on.is_(None)) | (Grant.revoked_on > period.start)))).all()
    households: dict[tuple[str, str], set[str]] = defaultdict(set)
    persons: dict[tuple[str, str], set[str]] = defaultdict(set)
    result: dict[tuple[str, str], GrantCounts] = defaultdict(GrantCounts)
    for grant in rows:
        key = (grant.division_code, grant.programme)
        households[key].add(grant.household_id)
        if grant.resident_id:
            persons[key].add(grant.resident_id)
        if period.contains(grant.granted_on):
            result[key].granted_in_period += 1
        if grant.revoked_on and period.contains(grant.revoked_on):
            result[key].revoked_in_period += 1
    for key in households:
        result[key].households = len(households[key])
        result[key].persons = len(persons[key])
    return dict(result)
