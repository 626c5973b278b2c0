"""What the office reads: the caseload (registry.households, into the shared projection) and everything
every bureau granted, revoked and paid (assistance.grants). It publishes nothing: events end here."""

from __future__ import annotations

from services.office import service
from shared.consumer import BatchHandler, Handler
from shared.events import GRANTS_TOPIC, HOUSEHOLDS_TOPIC

TOPICS = [HOUSEHOLDS_TOPIC, GRANTS_TOPIC]
HANDLERS: dict[str, Handler] = {
    "HouseholdEnrolled": BatchHandler(service.on_enrolled),
    "HouseholdChanged": service.on_household_event,
    "HouseholdExited": service.on_household_event,
    "AssistanceGranted": BatchHandler(service.on_granted),
    "AssistanceRevoked": BatchHandler(service.on_revoked),
    "AssistancePaid": BatchHandler(service.on_paid),
}
