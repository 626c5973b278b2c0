"""The dibao procedure as the office hears it (registry.procedure): each application's, appeal's and household's
review schedule's latest state, and the assessment's counts of them per district.

The registry announces where each stands after every step; the office keeps the latest (by the announcement's
time, so a replay or a redelivery of an older one changes nothing) and never asks the registry."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from services.office.models import ProcedureAppeal, ProcedureApplication, ProcedureReview
from services.office.schemas import ProcedureCounts
from shared.consumer import BatchHandler
from shared.db import Excluded, rows_matched, upsert
from shared.events import AppealProgressed, ApplicationProgressed, ReceivedEvent, ReviewScheduled
from shared.periods import Period
from shared.projection import DibaoHousehold
from shared.unit_of_work import UnitOfWork

OPEN_APPLICATIONS = ("submitted", "investigated", "noticed")


def _keeps_latest(model: Any, key: str, case_column: str | None = None) -> BatchHandler:
    """A handler that upserts each event's row by ``key``, the latest announcement winning. The row is the event's
    fields (its ``household_id`` under ``case_column`` when the table names it so)."""

    def row_of(event: ReceivedEvent) -> dict[str, Any]:
        row: dict[str, Any] = event.payload.model_dump()
        if case_column is not None:
            row[case_column] = row.pop("household_id")
        row["as_of"] = event.occurred_at
        # Only the table's columns: a field the event gains later is not one of them until a migration adds it.
        return {column.name: row[column.name] for column in model.__table__.columns}

    async def handle(uow: UnitOfWork, events: list[ReceivedEvent]) -> None:
        rows: dict[str, dict[str, Any]] = {}
        for event in events:
            row = row_of(event)
            earlier = rows.get(row[key])
            if earlier is None or earlier["as_of"] <= row["as_of"]:
                rows[row[key]] = row
        columns = [column for column in next(iter(rows.values())) if column != key]

        def updates(excluded: Excluded, dialect: str) -> dict[str, Any]:
            table = model.__table__.c
            newer = table.as_of <= excluded.as_of
            return {column: case((newer, excluded[column]), else_=table[column]) for column in columns}

        await upsert(uow.session, model, list(rows.values()), [key], updates)

    return BatchHandler(handle, idempotent=True)


HANDLERS = {
    ApplicationProgressed.TYPE: _keeps_latest(ProcedureApplication, "application_id", case_column="application_id"),
    AppealProgressed.TYPE: _keeps_latest(ProcedureAppeal, "appeal_id", case_column="case_id"),
    ReviewScheduled.TYPE: _keeps_latest(ProcedureReview, "household_id"),
}


async def reset(session: AsyncSession) -> dict[str, int]:
    """Before a replay: forget the procedure's states (the topic announces them all again)."""

    return {
        model.__tablename__: await rows_matched(session, delete(model))
        for model in (ProcedureApplication, ProcedureAppeal, ProcedureReview)
    }


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def counts(session: AsyncSession, period: Period, today: date) -> dict[str, ProcedureCounts]:
    """Per district: applications, reviews and appeals in ``period`` (what stood open at its end, or today while
    it runs), and what is overdue today."""

    start, end, as_of = period.start, period.end, min(period.end, today)
    found: dict[str, dict[str, int]] = {}

    a = ProcedureApplication
    undecided = a.decided_on.is_(None) | (a.decided_on > as_of)
    for code, *values in (
        await session.execute(
            select(
                a.division_code,
                _count(a.applied_on.between(start, end)),
                _count((a.status == "approved") & a.decided_on.between(start, end)),
                _count((a.status == "refused") & a.decided_on.between(start, end)),
                _count((a.applied_on <= as_of) & undecided),
                _count(a.status.in_(OPEN_APPLICATIONS) & (a.due_on < today)),
            ).group_by(a.division_code)
        )
    ).all():
        names = ("submitted", "approved", "refused", "pending", "overdue")
        found.setdefault(code, {}).update({f"applications_{n}": int(v) for n, v in zip(names, values, strict=True)})

    r = ProcedureReview
    in_dibao = DibaoHousehold.exited_on.is_(None) | (DibaoHousehold.exited_on > today)
    for code, due, overdue in (
        await session.execute(
            select(r.division_code, _count(r.due_on <= end), _count(r.due_on < today))
            .join(DibaoHousehold, DibaoHousehold.household_id == r.household_id)
            .where(in_dibao)
            .group_by(r.division_code)
        )
    ).all():
        found.setdefault(code, {}).update({"reviews_due": int(due), "reviews_overdue": int(overdue)})

    p = ProcedureAppeal
    decided_in = p.decided_on.between(start, end)
    for code, *values in (
        await session.execute(
            select(
                p.division_code,
                _count(p.lodged_on.between(start, end)),
                _count((p.lodged_on <= as_of) & (p.decided_on.is_(None) | (p.decided_on > as_of))),
                _count(decided_in),
                _count(decided_in & (p.status == "upheld")),
                _count((p.status == "lodged") & (p.decide_by < today)),
            ).group_by(p.division_code)
        )
    ).all():
        names = ("lodged", "open", "decided", "upheld", "overdue")
        found.setdefault(code, {}).update({f"appeals_{n}": int(v) for n, v in zip(names, values, strict=True)})
    return {code: ProcedureCounts.model_validate(values) for code, values in found.items()}
