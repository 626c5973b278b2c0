"""Medical assistance service (医疗救助: Health, Civil Affairs, Finance, Audit).

Run: ``uvicorn --factory services.medical.main:create_app --port 8002``
"""

from fastapi import FastAPI

from services.medical import api, consumers
from services.medical.parameters import SPECS
from shared.app import create_service_app
from shared.grants import prefetch_caseload, reset_event_state
from shared.settings import ServiceSettings, load_settings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or load_settings("medical"),
        title="Medical assistance (医疗救助)",
        description="Dibao members' medical assistance: designated hospitals (定点医院), claims paid as a share of "
        "the out-of-pocket cost up to a yearly cap, and what the audit and supervision bureaus review.",
        routers=[api.router],
        parameter_specs=SPECS,
        handlers=consumers.HANDLERS,
        topics=consumers.TOPICS,
        replay_reset=reset_event_state,
        prefetch=prefetch_caseload,
    )
