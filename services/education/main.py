"""Education assistance service (就学救助: the Education Bureau and its partner organisations).

Run: ``uvicorn --factory services.education.main:create_app --port 8003``
"""

from fastapi import FastAPI

from services.education import api, consumers, service
from services.education.parameters import SPECS
from shared.app import create_service_app
from shared.grants import reset_event_state
from shared.settings import ServiceSettings, load_settings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or load_settings("education"),
        title="Education assistance (就学救助)",
        description="Fee waivers and boarding subsidies for compulsory-education pupils of dibao households, "
        "grants for children of disabled members beyond compulsory school, and partner organisations' aid.",
        routers=[api.router],
        parameter_specs=SPECS,
        handlers=consumers.HANDLERS,
        topics=consumers.TOPICS,
        replay_reset=reset_event_state,
        prefetch=service.prefetch,
    )
