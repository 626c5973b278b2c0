"""Each service's OpenAPI document, as an agency and its client generator read it.

FastAPI writes the paths and schemas from the routes; this module finishes the document the same way for
every service, so that no route repeats it:

- ``operationId`` is the endpoint's own name in lowerCamelCase (``enrolHousehold``), one rule everywhere;
- tags are ASCII (``households``) and carry the Chinese in their description (``低保家庭``): a route writes
  ``tags=["households 低保家庭"]``, and the document splits it;
- ``info`` names the servers, a contact and the terms of use;
- every operation but ``/health`` and ``/ready`` declares the bearer scheme, and every error status it can
  answer (400, 401, 403, 404, 409, 413, 415, 422, 500, 503 as they apply) with the problem model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from shared.errors import PROBLEM_CONTENT, PROBLEM_DESCRIPTIONS, Problem
from shared.services import BY_NAME

# Public: no token, no audit, and nothing behind them can fail with a problem but /ready's own 503.
PUBLIC_PATHS = frozenset({"/health", "/ready"})
SITE = "https://harbin-assistance.example"
CONTACT = {
    "name": "哈尔滨市城市社会救助工作领导小组办公室 (the leading-group office): platform team",
    "url": f"{SITE}/support",
    "email": "platform@harbin-assistance.example",
}
# The city's software, not open source: agencies of the city integrate under its terms of use.
LICENSE = {"name": "City of Harbin: terms of use for member agencies (not open source)", "url": f"{SITE}/terms"}
_TAG = re.compile(r"^([a-z][a-z ]*[a-z])\s+(\S.*)$")


def operation_id(route: APIRoute) -> str:
    """``enrol_household`` → ``enrolHousehold``: readable method names in every generated client."""

    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def split_tag(tag: str) -> tuple[str, str | None]:
    """``"households 低保家庭"`` → ``("households", "低保家庭")``; an ASCII tag alone stays as it is."""

    match = _TAG.match(tag)
    return (match[1], match[2]) if match else (tag, None)


def _problem(status: int) -> dict[str, Any]:
    return {"description": PROBLEM_DESCRIPTIONS[status], "content": PROBLEM_CONTENT}


def _is_default_or_problem(response: dict[str, Any]) -> bool:
    """FastAPI's own 422 (HTTPValidationError) or none: ours to replace; a declared model (ready's 503) is kept."""

    content = response.get("content")
    if not content:
        return True
    reference: str = content.get("application/json", {}).get("schema", {}).get("$ref", "")
    return content == PROBLEM_CONTENT or reference.endswith("/HTTPValidationError")


def error_statuses(path: str, operation: dict[str, Any]) -> list[int]:
    """What an operation can answer besides what it declares: each status where it applies."""

    if path in PUBLIC_PATHS:
        return [500]
    statuses = [400, 401, 403, 500, 503]
    if "requestBody" in operation:
        statuses += [413, 415, 422]
    if operation.get("parameters"):
        statuses.append(422)
    if "{" in path:
        statuses.append(404)
    return sorted(set(statuses))


def finish(document: dict[str, Any], service: str) -> dict[str, Any]:
    """Complete FastAPI's document in place (see the module's docstring) and return it."""

    port = BY_NAME[service].port
    document["info"]["contact"] = CONTACT
    document["info"]["license"] = LICENSE
    document["servers"] = [
        {"url": "/", "description": "this service, where this document was served from"},
        {"url": f"http://127.0.0.1:{port}", "description": "local development (scripts/up.sh) and the compose gateway"},
    ]
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    # Swagger UI's Authorize button, and generated clients that send the token.
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "a token naming the calling agency, its scopes and this service (aud)",
        }
    }
    tags: dict[str, str | None] = {}
    for path, item in document.get("paths", {}).items():
        for operation in item.values():
            if path not in PUBLIC_PATHS:
                operation["security"] = [{"bearer": []}]
            names = []
            for tag in operation.get("tags", []):
                name, description = split_tag(tag)
                names.append(name)
                tags[name] = tags.get(name) or description
            operation["tags"] = names
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400 and _is_default_or_problem(response):
                    responses[status] = _problem(int(status))
            for status in error_statuses(path, operation):
                responses.setdefault(str(status), _problem(status))
            operation["responses"] = dict(sorted(responses.items()))
    declared = {tag["name"]: tag for tag in document.get("tags", [])}
    document["tags"] = [
        declared.get(name) or {"name": name, "description": text or name} for name, text in sorted(tags.items())
    ]
    return document


def publish(app: FastAPI, service: str) -> None:
    """Serve the finished document at ``/openapi.json`` (built once, on first request)."""

    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if not app.openapi_schema:
            app.openapi_schema = finish(generate(), service)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
