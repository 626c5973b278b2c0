"""The registry's household events register pupils and keep their programmes in step."""

from services.education import service
from services.education.models import CASELOAD_FIELDS
from shared.events import HOUSEHOLDS_TOPIC
from shared.projection import household_handlers

TOPICS = [HOUSEHOLDS_TOPIC]
HANDLERS = household_handlers(service.apply_delta, CASELOAD_FIELDS)
