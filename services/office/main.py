"""The leading-group office (领导小组办公室, in Civil Affairs): the one-stop view, the joint meeting's
assessment and social mutual aid, from the caseload and every bureau's grants as announced on Kafka.

Run: ``uvicorn --factory services.office.main:create_app --port 8008``
"""

from __future__ import annotations

from fastapi import FastAPI

from services.office import api, consumers, service
from services.office.parameters import SPECS
from services.office.work_cycle import api as work_cycle_api
from services.office.work_cycle.figures import read_metrics
from services.office.work_cycle.parameters import WORK_CYCLE_SPECS
from shared.app import create_service_app
from shared.projection import prefetch_households
from shared.settings import ServiceSettings, load_settings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or load_settings("office"),
        title="The leading-group office (领导小组办公室)",
        description="The one-stop view of everything every bureau granted a dibao household, the joint "
        "meeting's assessment (coverage, timeliness, the households not yet served) and social "
        "mutual aid (donations, pairings), and the leading group's work cycle: joint meetings, inspections, "
        "scores, commendations and the partner organisations' activities. Built from registry.households and "
        "assistance.grants.",
        routers=[api.router, work_cycle_api.router],
        parameter_specs=[*SPECS, *WORK_CYCLE_SPECS],
        metrics_readers=[read_metrics],
        handlers=consumers.HANDLERS,
        topics=consumers.TOPICS,
        replay_reset=service.reset_event_state,
        prefetch=prefetch_households,
    )
