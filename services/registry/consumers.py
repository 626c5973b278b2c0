"""The one topic the registry reads: a member found work (the 3-month extension). The registry publishes
the caseload and its own dibao payments; it reads no bureau's grants (events flow registry → bureaus → office)."""

from __future__ import annotations

from services.registry import service
from shared.consumer import Handler
from shared.events import EMPLOYMENT_TOPIC, ReceivedEvent
from shared.unit_of_work import UnitOfWork


async def on_member_employed(uow: UnitOfWork, event: ReceivedEvent) -> None:
    await service.record_employment(uow, event.payload)


TOPICS = [EMPLOYMENT_TOPIC]
HANDLERS: dict[str, Handler] = {"MemberEmployed": on_member_employed}
