"""Events the registry reacts to: a member found work (the 3-month extension), and every bureau's grants
(the leading-group office's one-stop view and assessment)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import office, service
from shared.consumer import BatchHandler, Handler
from shared.events import EMPLOYMENT_TOPIC, GRANTS_TOPIC, ReceivedEvent


async def on_member_employed(session: AsyncSession, event: ReceivedEvent) -> None:
    await service.record_employment(session, event.payload)


TOPICS = [EMPLOYMENT_TOPIC, GRANTS_TOPIC]
HANDLERS: dict[str, Handler] = {
    "MemberEmployed": on_member_employed,
    "AssistanceGranted": BatchHandler(office.on_granted),
    "AssistanceRevoked": BatchHandler(office.on_revoked),
    "AssistancePaid": BatchHandler(office.on_paid),
}
