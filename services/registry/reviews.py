"""Periodic reviews (定期复核): every household in dibao is reviewed on a cycle (the parameter
``review_interval_months``, from enrolment or the last review), and sooner when the register flagged it (an
employment extension ending). A review records what was found; facts that changed go through the register's one
change path from the day they hold, so the allowance is recomputed and the next run settles the difference.
Flush, never commit.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import notices, rules, service
from services.registry.models import Household, Notice, Review
from services.registry.parameters import REVIEW_INTERVAL_MONTHS
from services.registry.schemas import HouseholdPatch, ReviewDue, ReviewIn, ReviewOut
from shared.errors import NotFound, Unprocessable
from shared.parameters import ParameterBook
from shared.periods import city_today
from shared.unit_of_work import UnitOfWork

REVIEW_CAUSE = "经定期复核，你户家庭情况发生变化"


def _in_dibao_with_last_review(today: date, division_code: str | None) -> Select[Any]:
    """Each household in dibao today, with what its review date depends on and its last review."""

    query = (
        select(
            Household.id,
            Household.division_code,
            Household.enrolled_on,
            Household.review_from,
            Household.review_reason,
            func.max(Review.reviewed_on),
        )
        .outerjoin(Review, Review.household_id == Household.id)
        .where(Household.exited_on.is_(None) | (Household.exited_on > today))
        .group_by(Household.id)
    )
    return query.where(Household.division_code == division_code) if division_code else query


async def due(
    session: AsyncSession, before: date, division_code: str | None, today: date | None = None
) -> list[ReviewDue]:
    """Households in dibao today whose review falls due before ``before``, the longest due first."""

    today = today or city_today()
    book = await ParameterBook.load(session, [REVIEW_INTERVAL_MONTHS])
    query = _in_dibao_with_last_review(today, division_code)
    months = service.review_interval(book)
    items = []
    for household_id, division, enrolled_on, flagged_from, flagged_why, last in (await session.execute(query)).all():
        due_on = rules.review_due_on(enrolled_on, last, months, flagged_from)
        if due_on >= before:
            continue
        flagged = flagged_from is not None and due_on == flagged_from and (last is None or last < flagged_from)
        base = f"the last review on {last}" if last else f"enrolment on {enrolled_on}"
        items.append(
            ReviewDue(
                household_id=household_id,
                division_code=division,
                enrolled_on=enrolled_on,
                last_reviewed_on=last,
                due_on=due_on,
                overdue=due_on < today,
                reason=flagged_why
                if flagged and flagged_why
                else f"every {months(last or enrolled_on)} months from {base}",
            )
        )
    return sorted(items, key=lambda item: (item.due_on, item.household_id))


async def record(uow: UnitOfWork, household_id: str, body: ReviewIn, today: date | None = None) -> ReviewOut:
    """Record a review and apply what it found: a change of facts from ``effective_on`` (default the review's day),
    or an exit; the written notices follow from what changed."""

    session = uow.session
    today = today or city_today()
    household = await service.lock_household(session, household_id)
    if household is None:
        raise NotFound("household_not_found", f"no household with id {household_id}")
    service._require_in_dibao(household, today)
    if body.reviewed_on < household.enrolled_on:
        raise Unprocessable("review_before_enrolment", f"the household was enrolled on {household.enrolled_on}")
    facts = body.changed_facts()
    issued: list[Notice] = []
    outcome = "confirmed"
    effective_on = None
    if body.exit is not None:
        household, notice = await notices.exit_with_notice(uow, household_id, body.exit, today)
        issued.append(notice)
        outcome = "exited"
    elif facts:
        effective_on = body.effective_on or body.reviewed_on
        patch = HouseholdPatch.model_validate({**facts, "effective_on": effective_on})
        household, issued = await notices.change_with_notice(uow, household_id, patch, REVIEW_CAUSE, today)
        outcome = "exited" if any(notice.kind == "exit" for notice in issued) else "changed"
    if household.review_from is not None and body.reviewed_on >= household.review_from:
        household.review_from, household.review_reason = None, None
        household.updated_at = datetime.now(UTC)
    review = Review(
        household_id=household_id,
        reviewed_on=body.reviewed_on,
        outcome=outcome,
        findings=body.findings,
        facts=body.model_dump(mode="json", include=set(facts) | ({"exit"} if body.exit else set())),
        effective_on=effective_on,
        created_at=datetime.now(UTC),
    )
    session.add(review)
    await session.flush()
    if outcome != "exited":
        await service.announce_review(uow, household)
    return to_out(review, [notice.id for notice in issued])


def to_out(review: Review, notice_ids: list[str] | None = None) -> ReviewOut:
    return ReviewOut.model_validate(
        {
            "id": review.id,
            "household_id": review.household_id,
            "reviewed_on": review.reviewed_on,
            "outcome": review.outcome,
            "findings": review.findings,
            "facts": review.facts,
            "effective_on": review.effective_on,
            "notices": notice_ids or [],
        }
    )


async def reviews_of(session: AsyncSession, household_id: str) -> list[Review]:
    await service.get_household(session, household_id)
    return list(
        (
            await session.scalars(
                select(Review).where(Review.household_id == household_id).order_by(Review.reviewed_on, Review.id)
            )
        ).all()
    )


async def interval_changed(uow: UnitOfWork, today: date | None = None) -> int:
    """A new review interval moves every household's next review: each is announced again (registry.procedure),
    so the office's counts follow."""

    session = uow.session
    months = service.review_interval(await ParameterBook.load(session, [REVIEW_INTERVAL_MONTHS]))
    rows = (await session.execute(_in_dibao_with_last_review(today or city_today(), None))).all()
    return await service.outbox.stage_many(
        uow,
        (
            service.review_scheduled(household_id, division, enrolled_on, last, flagged_from, months)
            for household_id, division, enrolled_on, flagged_from, _, last in rows
        ),
    )
