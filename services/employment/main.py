"""Employment assistance service (就业救助: Labour and Social Security).

Run: ``uvicorn --factory services.employment.main:create_app --port 8005``
"""

from fastapi import FastAPI

from services.employment import api, consumers, service
from services.employment.parameters import SPECS
from shared.app import Platform, create_service_app, every
from shared.grants import reset_event_state
from shared.settings import ServiceSettings, load_settings


async def _issue_due(platform: Platform) -> None:
    await service.issue_due_certificates(platform.units)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or load_settings("employment"),
        title="Employment assistance (就业救助)",
        description="Re-employment Preferential Certificates (再就业优惠证) for dibao members unemployed over a "
        "year, verifiable by any agency; job referrals, public-welfare posts, and the employment that "
        "lets a household keep dibao three more months.",
        routers=[api.router],
        parameter_specs=SPECS,
        handlers=consumers.HANDLERS,
        topics=consumers.TOPICS,
        replay_reset=reset_event_state,
        prefetch=service.prefetch,
        background=[every(3600, _issue_due)],
    )
