"""What a bureau granted, revoked and paid — recorded once, announced on ``assistance.grants``.

Every bureau grants programmes to households or persons because they are in dibao, stops them when
they leave, and pays some of them. :class:`GrantLedger` records that in the bureau's ``grants`` table
and stages the matching ``AssistanceGranted`` / ``AssistanceRevoked`` / ``AssistancePaid`` events in
the same transaction, so the leading-group office sees exactly what the bureau did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Date, Index, String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Money, UtcDateTime, new_row, one_of, rows_matched
from shared.events import (
    AssistanceGrantedLines,
    AssistancePaid,
    AssistanceRevokedLines,
    Bureau,
    GrantedLine,
    RevokedLine,
)
from shared.outbox import Outbox
from shared.periods import city_today
from shared.platform_models import BigId
from shared.projection import BureauBase, HouseholdDelta, prefetch_all, prefetch_households, reset_caseload
from shared.unit_of_work import Cache, OutboxRow, UnitOfWork

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
        Index(
            "uq_grants_active",
            "household_id",
            "resident_id",
            "programme",
            unique=True,
            postgresql_where=status == "active",
            sqlite_where=status == "active",
        ),
    )


@dataclass
class _Announcement:
    """A grant event staged in this unit of work that may still take more lines: the household's last one."""

    row: OutboxRow
    event: AssistanceGrantedLines | AssistanceRevokedLines


# Per unit of work: each household's last grant announcement.
_ANNOUNCED: Cache[dict[str, _Announcement]] = Cache("grant announcements", dict)

# Per unit of work: each household's active grants by (resident, programme).
_ACTIVE: Cache[dict[str, dict[tuple[str, str], Grant]]] = Cache("active grants", dict)


async def prefetch_grants(uow: UnitOfWork, household_ids: list[str]) -> None:
    """Read the active grants of a consumer batch's households in one query."""

    cache = uow.cached(_ACTIVE)
    wanted = [household_id for household_id in household_ids if household_id not in cache]
    if not wanted:
        return
    grants: dict[str, dict[tuple[str, str], Grant]] = {household_id: {} for household_id in wanted}
    for grant in (
        await uow.session.scalars(
            select(Grant)
            .where(one_of(uow.session, Grant.household_id, wanted), Grant.status == "active")
            .order_by(Grant.id)
        )
    ).all():
        grants[grant.household_id][(grant.resident_id, grant.programme)] = grant
    cache.update(grants)


# What a bureau's consumer reads for a batch of household events: the caseload copy and the active grants.
prefetch_caseload = prefetch_all(prefetch_households, prefetch_grants)


async def reset_event_state(session: AsyncSession) -> dict[str, int]:
    """Forget what this bureau derived from events, before replaying its topics from the beginning.

    Records entered through the API (claims, flats, cases, a school's report…) stay; grants made by a
    person's action stay; the caseload copy and the grants made in reaction to events are rebuilt.
    """

    counts = {"grants": await rows_matched(session, delete(Grant).where(Grant.source == "event"))}
    return {**counts, **await reset_caseload(session)}


class GrantLedger:
    def __init__(self, bureau: Bureau, outbox: Outbox) -> None:
        self.bureau = bureau
        self.outbox = outbox

    def _announce(
        self, uow: UnitOfWork, household_id: str, division_code: str, line: GrantedLine | RevokedLine
    ) -> None:
        """Stage the line in the household's grant event of this change (version 2: one event per bureau,
        household and change). Lines join the household's last event while it is the last one staged and of
        the same kind; a revocation after grants (or the other way round) starts a new event, so the office
        applies them in the order they were made."""

        announced = uow.cached(_ANNOUNCED)
        last = announced.get(household_id)
        kind = AssistanceGrantedLines if isinstance(line, GrantedLine) else AssistanceRevokedLines
        if (
            last is not None
            and type(last.event) is kind
            and last.event.division_code == division_code
            and uow.staged_last(last.row)
        ):
            last.event = last.event.model_copy(update={"lines": [*last.event.lines, line]})
            self.outbox.amend(last.row, last.event)
            return
        event: AssistanceGrantedLines | AssistanceRevokedLines
        if isinstance(line, GrantedLine):
            event = AssistanceGrantedLines.model_construct(
                household_id=household_id, division_code=division_code, bureau=self.bureau, lines=[line]
            )
        else:
            event = AssistanceRevokedLines.model_construct(
                household_id=household_id, division_code=division_code, bureau=self.bureau, lines=[line]
            )
        [row] = self.outbox.rows([event])
        uow.stage_outbox([row])
        announced[household_id] = _Announcement(row, event)

    async def _household_grants(self, uow: UnitOfWork, household_id: str) -> dict[tuple[str, str], Grant]:
        """The household's active grants by (resident, programme), read once per unit of work.

        A consumer batch or a request touches a household's grants several times; this keeps it to one
        query, and lets grants made earlier in the same transaction be seen before they are flushed.
        """

        cache = uow.cached(_ACTIVE)
        if household_id not in cache:
            rows = (
                await uow.session.scalars(
                    select(Grant).where(Grant.household_id == household_id, Grant.status == "active").order_by(Grant.id)
                )
            ).all()
            cache[household_id] = {(grant.resident_id, grant.programme): grant for grant in rows}
        return cache[household_id]

    async def active(
        self, uow: UnitOfWork, household_id: str, programme: str | None = None, resident_id: str | None = None
    ) -> list[Grant]:
        grants = await self._household_grants(uow, household_id)
        return [
            grant
            for (resident, granted), grant in grants.items()
            if (programme is None or granted == programme) and (resident_id is None or resident == resident_id)
        ]

    async def grant(
        self,
        uow: UnitOfWork,
        *,
        household_id: str,
        division_code: str,
        programme: str,
        on: date,
        resident_id: str | None = None,
        monthly_amount: Decimal | None = None,
        detail: str | None = None,
    ) -> Grant:
        """Grant a programme; granting what is already granted changes nothing (or updates its terms)."""

        person = resident_id or HOUSEHOLD_LEVEL
        grants = await self._household_grants(uow, household_id)
        grant = grants.get((person, programme))
        if grant is not None:
            if grant.monthly_amount == monthly_amount and grant.detail == detail:
                return grant
            grant.monthly_amount, grant.detail = monthly_amount, detail
        else:
            grant = new_row(
                Grant,
                household_id=household_id,
                resident_id=person,
                division_code=division_code,
                programme=programme,
                status="active",
                granted_on=on,
                monthly_amount=monthly_amount,
                detail=detail,
                source=uow.source,
                created_at=datetime.now(UTC),
            )
            uow.add(grant)
            grants[(person, programme)] = grant
        self._announce(
            uow,
            household_id,
            division_code,
            GrantedLine(
                programme=programme,
                resident_id=resident_id,
                granted_on=grant.granted_on,
                monthly_amount=monthly_amount,
                detail=detail,
            ),
        )
        return grant

    async def revoke(
        self,
        uow: UnitOfWork,
        *,
        household_id: str,
        on: date,
        reason: str,
        programme: str | None = None,
        resident_id: str | None = None,
    ) -> list[Grant]:
        grants = await self.active(uow, household_id, programme, resident_id)
        cache = await self._household_grants(uow, household_id)
        for grant in grants:
            revoked_on = max(on, grant.granted_on)
            grant.status, grant.revoked_on, grant.revoke_reason = "revoked", revoked_on, reason
            cache.pop((grant.resident_id, grant.programme), None)
            self._announce(
                uow,
                grant.household_id,
                grant.division_code,
                RevokedLine(
                    programme=grant.programme,
                    resident_id=grant.resident_id or None,
                    revoked_on=revoked_on,
                    reason=reason,
                ),
            )
        return grants

    async def paid(
        self,
        uow: UnitOfWork,
        *,
        household_id: str,
        division_code: str,
        programme: str,
        period: str,
        amount: Decimal,
        reference: str,
        paid_on: date | None = None,
        resident_id: str | None = None,
    ) -> None:
        await self.outbox.stage(
            uow,
            self.payment_event(
                household_id=household_id,
                division_code=division_code,
                programme=programme,
                period=period,
                amount=amount,
                reference=reference,
                paid_on=paid_on,
                resident_id=resident_id,
            ),
        )

    def payment_event(
        self,
        *,
        household_id: str,
        division_code: str,
        programme: str,
        period: str,
        amount: Decimal,
        reference: str,
        paid_on: date | None = None,
        resident_id: str | None = None,
    ) -> AssistancePaid:
        return AssistancePaid(
            household_id=household_id,
            division_code=division_code,
            bureau=self.bureau,
            programme=programme,
            resident_id=resident_id,
            period=period,
            amount=amount,
            paid_on=paid_on or city_today(),
            reference=reference,
        )


async def grant_to_every_member(
    uow: UnitOfWork, ledger: GrantLedger, delta: HouseholdDelta, programme: str, detail: str
) -> None:
    """A programme every member of a dibao household has, from enrolment (or joining) until exit (or leaving)."""

    if delta.household is None or delta.kind == "ignored":
        return
    for row in delta.added:
        await ledger.grant(
            uow,
            household_id=row.household_id,
            division_code=row.division_code,
            programme=programme,
            resident_id=row.resident_id,
            on=row.eligible_from,
            detail=detail,
        )
    reason = "household left dibao" if delta.kind == "exited" else "member left the household"
    for row in delta.removed:
        await ledger.revoke(
            uow,
            household_id=row.household_id,
            resident_id=row.resident_id,
            programme=programme,
            on=row.eligible_until or delta.effective_on,
            reason=reason,
        )
