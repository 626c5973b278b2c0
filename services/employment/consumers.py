"""The registry's household events: members who qualify get their certificate, leavers lose its benefits."""

from services.employment import service
from services.employment.models import CASELOAD_FIELDS
from shared.events import HOUSEHOLDS_TOPIC
from shared.projection import household_handlers

TOPICS = [HOUSEHOLDS_TOPIC]
HANDLERS = household_handlers(service.apply_delta, CASELOAD_FIELDS)
