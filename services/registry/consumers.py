"""Events the registry reacts to: a member found work (the 3-month extension), and every bureau's grants
(the leading-group office's one-stop view and assessment)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import office, service
from shared.consumer import BatchHandler, Handler
from shared.events import EMPLOYMENT_TOPIC, GRANTS_TOPIC, ReceivedEvent
from shared.unit_of_work import UnitOfWork


async def on_member_employed(uow: UnitOfWork, event: ReceivedEvent) -> None:
    await service.record_employment(uow, event.payload)


def _on_session(handle: Callable[[AsyncSession, list[ReceivedEvent]], Awaitable[None]]) -> BatchHandler:
    # The office's handlers work on the batch's session alone (they move to services/office/).
    async def on_batch(uow: UnitOfWork, events: list[ReceivedEvent]) -> None:
        await handle(uow.session, events)

    return BatchHandler(on_batch)


TOPICS = [EMPLOYMENT_TOPIC, GRANTS_TOPIC]
HANDLERS: dict[str, Handler] = {
    "MemberEmployed": on_member_employed,
    "AssistanceGranted": _on_session(office.on_granted),
    "AssistanceRevoked": _on_session(office.on_revoked),
    "AssistancePaid": _on_session(office.on_paid),
}
