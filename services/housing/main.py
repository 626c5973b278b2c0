"""Housing assistance service (住房救助: the Housing Bureau).

Run: ``uvicorn --factory services.housing.main:create_app --port 8004``
"""

from fastapi import FastAPI

from services.housing import api, consumers, service
from services.housing.parameters import SPECS
from shared.app import create_service_app
from shared.grants import reset_event_state
from shared.settings import ServiceSettings, load_settings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or load_settings("housing"),
        title="Housing assistance (住房救助)",
        description="Low-rent housing for dibao households in housing difficulty: rent subsidy first (租金补贴), "
        "in-kind allocation of a flat second (实物配租), with a waitlist ordered by need.",
        routers=[api.router],
        parameter_specs=SPECS,
        handlers=consumers.HANDLERS,
        topics=consumers.TOPICS,
        replay_reset=reset_event_state,
        prefetch=service.prefetch,
    )
