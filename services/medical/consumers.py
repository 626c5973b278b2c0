"""The registry's household events make dibao members eligible here, and end it."""

from services.medical import service
from services.medical.models import CASELOAD_FIELDS
from shared.events import HOUSEHOLDS_TOPIC
from shared.projection import household_handlers

TOPICS = [HOUSEHOLDS_TOPIC]
HANDLERS = household_handlers(service.apply_delta, CASELOAD_FIELDS)
