"""Registry service (Civil Affairs, 民政局): the dibao caseload and its monthly payments.

Run: ``uvicorn --factory services.registry.main:create_app --port 8001``
"""

from __future__ import annotations

from fastapi import FastAPI

from services.registry import api, consumers, reviews, service
from services.registry.parameters import DIBAO_STANDARD, REVIEW_INTERVAL_MONTHS, SPECS
from shared.app import create_service_app
from shared.parameters import ParameterSpec
from shared.platform_models import PolicyParameter
from shared.settings import ServiceSettings, load_settings
from shared.unit_of_work import UnitOfWork


async def _parameter_changed(uow: UnitOfWork, spec: ParameterSpec, row: PolicyParameter) -> None:
    if spec is DIBAO_STANDARD:
        await service.standard_changed(uow, row)
    elif spec is REVIEW_INTERVAL_MONTHS:
        await reviews.interval_changed(uow)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or load_settings("registry")
    return create_service_app(
        settings,
        title="Registry — Civil Affairs (民政局)",
        description="Dibao households (低保家庭), the top-up (补差), monthly payments and the 3-month employment "
        "extension. The one-stop view and the assessment are the office's (services/office).",
        routers=api.ROUTERS,
        parameter_specs=SPECS,
        on_parameter_change=_parameter_changed,
        handlers=consumers.HANDLERS,
        topics=consumers.TOPICS,
        replay_reset=service.reset_event_state,
    )
