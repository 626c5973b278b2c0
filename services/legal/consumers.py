"""The registry's household events open and close dibao members' access to free legal aid."""

from services.legal import service
from services.legal.models import CASELOAD_FIELDS
from shared.events import HOUSEHOLDS_TOPIC
from shared.projection import household_handlers

TOPICS = [HOUSEHOLDS_TOPIC]
HANDLERS = household_handlers(service.apply_delta, CASELOAD_FIELDS)
