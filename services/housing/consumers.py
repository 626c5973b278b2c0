"""The registry's household events decide (and re-decide) housing difficulty and the rent subsidy."""

from services.housing import service
from services.housing.models import CASELOAD_FIELDS
from shared.events import HOUSEHOLDS_TOPIC
from shared.projection import household_handlers

TOPICS = [HOUSEHOLDS_TOPIC]
HANDLERS = household_handlers(service.apply_delta, CASELOAD_FIELDS)
