"""Legal aid service (法律救助: the Justice Bureau).

Run: ``uvicorn --factory services.legal.main:create_app --port 8007``
"""

from fastapi import FastAPI

from services.legal import api, consumers
from shared.app import create_service_app
from shared.grants import prefetch_caseload, reset_event_state
from shared.settings import ServiceSettings, load_settings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or load_settings("legal"),
        title="Legal aid (法律救助)",
        description="Free legal consultation, document drafting, criminal defence, civil and administrative "
        "representation for dibao members, from intake to a closed case.",
        routers=[api.router],
        handlers=consumers.HANDLERS,
        topics=consumers.TOPICS,
        replay_reset=reset_event_state,
        prefetch=prefetch_caseload,
    )
