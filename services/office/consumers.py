"""What the office reads: the caseload (registry.households, into the shared projection), everything every
bureau granted, revoked and paid (assistance.grants), and the dibao procedure's progress (registry.procedure:
applications, appeals, review schedules). It publishes nothing: events end here."""

from __future__ import annotations

from services.office import procedure, service
from shared.consumer import BatchHandler, Handler
from shared.events import GRANTS_TOPIC, HOUSEHOLDS_TOPIC, PROCEDURE_TOPIC
from shared.projection import HOUSEHOLD_EVENTS

TOPICS = [HOUSEHOLDS_TOPIC, GRANTS_TOPIC, PROCEDURE_TOPIC]
HANDLERS: dict[str, Handler] = {
    **{event_type: service.on_household_event for event_type in HOUSEHOLD_EVENTS},
    # Upserts by the grant's content and inserts-or-ignores by the payment's reference: a duplicate
    # changes nothing, so these need no inbox row (the office's largest table in a fan-out).
    "AssistanceGranted": BatchHandler(service.on_granted, idempotent=True),
    "AssistanceRevoked": BatchHandler(service.on_revoked, idempotent=True),
    "AssistancePaid": BatchHandler(service.on_paid, idempotent=True),
    # The latest state of each application, appeal and review schedule, upserted: a duplicate changes nothing.
    **procedure.HANDLERS,
}
