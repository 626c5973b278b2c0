"""Utilities service (生活用水、家庭供暖救助: the Price Bureau, the Water Group, the Heating Office).

Run: ``uvicorn --factory services.utilities.main:create_app --port 8006``
"""

from fastapi import FastAPI

from services.utilities import api, consumers, service
from services.utilities.parameters import SPECS
from shared.app import create_service_app
from shared.grants import reset_event_state
from shared.settings import ServiceSettings, load_settings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or load_settings("utilities"),
        title="Water and heating relief (生活用水、家庭供暖救助)",
        description="Preferential water price for dibao households; heating-fee reduction for centrally heated "
        "ones and, for those without central heating, +20% of their dibao every month of the season.",
        routers=[api.router],
        parameter_specs=SPECS,
        handlers=consumers.HANDLERS,
        topics=consumers.TOPICS,
        replay_reset=reset_event_state,
        prefetch=service.prefetch,
    )
