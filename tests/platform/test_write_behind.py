"""New rows of a consumer batch are written at commit, one executemany per table (a unit of work with
``write_behind``, shared.unit_of_work).

They must land with the values they have at commit, be visible to a query once flushed, keep later
changes after such a flush, go with a rollback, and be written after the batch's updates so a grant
revoked and granted again in one batch keeps the one-active-grant index satisfied.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from shared.db import create_engine, new_row, session_factory
from shared.grants import Grant, GrantLedger
from shared.outbox import Outbox
from shared.unit_of_work import UnitOfWork, UnitsOfWork
from tests.support import drop_database, migrated_database

pytestmark = pytest.mark.integration

ledger = GrantLedger("medical", Outbox(producer="medical"))


@contextlib.asynccontextmanager
async def medical_sessions() -> AsyncIterator:
    url = await migrated_database("medical")
    engine = create_engine(url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()
        await drop_database(url)


def batch(sessions) -> contextlib.AbstractAsyncContextManager[UnitOfWork]:
    """A unit of work as the consumer opens one for a batch of events."""

    return UnitsOfWork(sessions).begin(source="event", write_behind=True)


async def grants_of(sessions, household_id: str) -> list[Grant]:
    async with sessions() as session:
        return list(
            (await session.scalars(select(Grant).where(Grant.household_id == household_id).order_by(Grant.id))).all()
        )


def new_grant(household_id: str, resident_id: str = "") -> Grant:
    # status and source left out: the columns' defaults must be written for them.
    return Grant(
        household_id=household_id,
        resident_id=resident_id,
        division_code="230102",
        programme="medical_assistance",
        granted_on=date(2026, 3, 1),
        created_at=datetime.now(UTC),
    )


async def test_rows_staged_in_a_batch_land_at_commit_with_their_last_values_and_defaults(postgres):
    household = str(uuid.uuid4())
    async with medical_sessions() as sessions:
        async with batch(sessions) as uow:
            await ledger.grant(
                uow,
                household_id=household,
                division_code="230102",
                programme="medical_assistance",
                resident_id="230102198001010011",
                on=date(2026, 3, 1),
            )
            await ledger.revoke(uow, household_id=household, on=date(2026, 4, 1), reason="household left dibao")
            uow.add(new_grant(household))
            assert not uow.session.new, "staged rows stay out of the ORM's unit of work until commit"
            await uow.commit()
        revoked, plain = await grants_of(sessions, household)
    assert (revoked.status, revoked.revoked_on, revoked.revoke_reason) == (
        "revoked",
        date(2026, 4, 1),
        "household left dibao",
    )
    assert (plain.status, plain.source, plain.revoked_on) == ("active", "event", None)


async def test_a_flush_writes_staged_rows_and_changes_after_it_still_land(postgres):
    household = str(uuid.uuid4())
    async with medical_sessions() as sessions:
        async with batch(sessions) as uow:
            grant = new_grant(household, "230102198001010011")
            uow.add(grant)
            await uow.flush()
            seen = (await uow.session.scalars(select(Grant).where(Grant.household_id == household))).all()
            assert [row.id for row in seen] == [grant.id]
            grant.detail = "changed after the flush"
            await uow.commit()
        (stored,) = await grants_of(sessions, household)
    assert stored.detail == "changed after the flush"


async def test_staged_rows_go_with_a_rollback(postgres):
    household = str(uuid.uuid4())
    async with medical_sessions() as sessions:
        async with batch(sessions) as uow:
            uow.add(new_grant(household))
            await uow.rollback()
            await uow.commit()
        assert await grants_of(sessions, household) == []


async def test_grant_revoked_and_granted_again_in_one_batch_leaves_one_active(postgres):
    household, person = str(uuid.uuid4()), "230102198001010011"
    async with medical_sessions() as sessions:
        async with sessions() as session:
            session.add(new_grant(household, person))
            await session.commit()
        async with batch(sessions) as uow:
            await ledger.revoke(
                uow, household_id=household, resident_id=person, on=date(2026, 5, 1), reason="member left the household"
            )
            await ledger.grant(
                uow,
                household_id=household,
                division_code="230102",
                programme="medical_assistance",
                resident_id=person,
                on=date(2026, 6, 1),
            )
            await uow.commit()
        grants = await grants_of(sessions, household)
    assert [(g.status, g.granted_on) for g in grants] == [("revoked", date(2026, 3, 1)), ("active", date(2026, 6, 1))]


async def test_row_built_with_new_row_is_saved_and_tracked_like_a_constructed_one(postgres):
    household = str(uuid.uuid4())
    async with medical_sessions() as sessions:
        async with sessions() as session:
            grant = new_row(
                Grant,
                household_id=household,
                resident_id="",
                division_code="230102",
                programme="medical_assistance",
                granted_on=date(2026, 3, 1),
                created_at=datetime.now(UTC),
            )
            assert grant.revoked_on is None
            session.add(grant)
            await session.flush()
            grant.status, grant.revoked_on = "revoked", date(2026, 4, 1)
            await session.commit()
        (stored,) = await grants_of(sessions, household)
    assert (stored.status, stored.revoked_on, stored.source) == ("revoked", date(2026, 4, 1), "event")
