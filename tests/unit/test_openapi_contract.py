"""What a client generator reads in each service's OpenAPI document: names that read well, the bearer scheme."""

from __future__ import annotations

from collections import Counter

import pytest

from shared.auth import api_routes
from shared.services import NAMES
from tests.support import new_prefix, service_app

PUBLIC = {"/health", "/ready"}


@pytest.mark.parametrize("service", NAMES)
def test_operation_ids_are_the_endpoints_own_names_and_unique(service):
    app = service_app(service, "sqlite+aiosqlite:///:memory:", new_prefix())
    schema = app.openapi()
    ids = [operation["operationId"] for item in schema["paths"].values() for operation in item.values()]
    assert not [name for name, count in Counter(ids).items() if count > 1]
    # Not FastAPI's default (enrol_household_households_post): the endpoint's name alone.
    assert set(ids) == {context.original_route.name for context in api_routes(app)} | {"health", "ready", "metrics"}
    if service == "registry":
        assert {"enrol_household", "payment_run"} <= set(ids)


@pytest.mark.parametrize("service", NAMES)
def test_every_operation_but_health_and_readiness_declares_the_bearer_scheme(service):
    schema = service_app(service, "sqlite+aiosqlite:///:memory:", new_prefix()).openapi()
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "a token naming the calling agency, its scopes and this service (aud)",
    }  # fmt: skip
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            expected: list[dict[str, list[str]]] | None = None if path in PUBLIC else [{"bearer": []}]
            assert operation.get("security") == expected, (method, path)
