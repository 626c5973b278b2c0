"""What an agency and its client generator read in each service's OpenAPI document: valid OpenAPI 3.1, names
that read well, the bearer scheme, a description and an example for every operation, the problem model
for every error, and the media types the service really answers."""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from typing import Any

import pytest
from openapi_spec_validator import validate
from pydantic import TypeAdapter

from shared.auth import api_routes
from shared.openapi import PUBLIC_PATHS
from shared.services import NAMES
from tests.support import new_prefix, service_app

LOWER_CAMEL = re.compile(r"^[a-z][a-z0-9]*([A-Z][a-z0-9]+)*$")
CJK = re.compile(r"[\u4e00-\u9fff]")
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


@cache
def app_of(service: str) -> Any:
    return service_app(service, "sqlite+aiosqlite:///:memory:", new_prefix())


def document(service: str) -> dict[str, Any]:
    return app_of(service).openapi()


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


@pytest.mark.parametrize("service", NAMES)
def test_the_document_is_valid_openapi_3_1(service):
    schema = document(service)
    assert schema["openapi"].startswith("3.1.")
    validate(schema)  # raises on the first departure from the OpenAPI 3.1 schema


@pytest.mark.parametrize("service", NAMES)
def test_operation_ids_are_the_endpoints_names_in_lower_camel_case_and_unique(service):
    schema = document(service)
    ids = [operation["operationId"] for _, _, operation in operations(schema)]
    assert not [name for name, count in Counter(ids).items() if count > 1]
    assert [name for name in ids if not LOWER_CAMEL.match(name)] == []
    # Not FastAPI's default (enrol_household_households_post): the endpoint's own name.
    names = {context.original_route.name for context in api_routes(app_of(service)) if context.path in schema["paths"]}
    assert set(ids) == {re.sub(r"_([a-z0-9])", lambda m: m[1].upper(), name) for name in names}
    if service == "registry":
        assert {"enrolHousehold", "enrolHouseholdsBulk", "paymentRun"} <= set(ids)


@pytest.mark.parametrize("service", NAMES)
def test_tags_are_ascii_with_the_chinese_in_their_description(service):
    schema = document(service)
    used = {tag for _, _, operation in operations(schema) for tag in operation["tags"]}
    declared = {tag["name"]: tag["description"] for tag in schema["tags"]}
    assert used == set(declared)
    for name, description in declared.items():
        assert re.fullmatch(r"[a-z][a-z ]*[a-z]", name), name
        assert CJK.search(description), (name, description)


@pytest.mark.parametrize("service", NAMES)
def test_info_names_the_servers_a_contact_and_the_licence(service):
    schema = document(service)
    assert schema["info"]["contact"]["email"] and schema["info"]["license"]["name"]
    assert schema["servers"][0]["url"] == "/"
    assert any(server["url"].endswith(f":{8000 + NAMES.index(service) + 1}") for server in schema["servers"])


@pytest.mark.parametrize("service", NAMES)
def test_every_operation_but_health_and_readiness_declares_the_bearer_scheme(service):
    schema = document(service)
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "a token naming the calling agency, its scopes and this service (aud)",
    }  # fmt: skip
    for path, method, operation in operations(schema):
        expected: list[dict[str, list[str]]] | None = None if path in PUBLIC_PATHS else [{"bearer": []}]
        assert operation.get("security") == expected, (method, path)


@pytest.mark.parametrize("service", NAMES)
def test_every_error_an_operation_can_answer_is_documented_with_the_problem_model(service):
    schema = document(service)
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        expected = {"500"}
        if path not in PUBLIC_PATHS:
            expected |= {"400", "401", "403", "503"}
            if "requestBody" in operation:
                expected |= {"413", "415", "422"}
            if operation.get("parameters"):
                expected.add("422")
            if "{" in path:
                expected.add("404")
        assert expected <= set(responses), (method, path, sorted(responses))
        for status, response in responses.items():
            if int(status) >= 400 and path != "/ready":
                assert response["content"] == PROBLEM, (method, path, status)
                assert response["description"], (method, path, status)
    problem = schema["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code", "errors", "request_id"} <= set(problem["properties"])
    assert "HTTPValidationError" not in schema["components"]["schemas"]


@pytest.mark.parametrize("service", NAMES)
def test_every_operation_has_a_description_and_an_example_of_what_it_is_sent(service):
    schema = document(service)
    for path, method, operation in operations(schema):
        assert len(operation.get("description", "")) >= 20, (method, path)
        if "requestBody" in operation:
            content = operation["requestBody"]["content"]["application/json"]
            body = resolve(schema, content["schema"])
            assert content.get("example") or body.get("examples"), (method, path)
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" or parameter.get("required"):
                described = parameter.get("example") or parameter["schema"].get("examples")
                assert described, (method, path, parameter["name"])


@pytest.mark.parametrize("service", NAMES)
def test_every_request_example_is_accepted_by_the_operations_own_model(service):
    app = app_of(service)
    checked = 0
    for context in api_routes(app):
        body = context.original_route.body_field
        if body is None:
            continue
        examples = TypeAdapter(body.field_info.annotation).json_schema().get("examples", [])
        assert examples, context.path
        for example in examples:
            TypeAdapter(body.field_info.annotation).validate_python(example)  # raises when the example is refused
            checked += 1
    assert checked


@pytest.mark.parametrize(
    ("service", "path", "media_types"),
    [
        ("medical", "/claims", {"application/json", "text/csv"}),
        ("office", "/reports/assessment", {"application/json", "text/csv", "text/html"}),
        ("office", "/reports/assessment/view/{link}", {"text/html"}),
        ("registry", "/metrics", {"text/plain"}),
    ],
)
def test_csv_and_html_answers_are_declared_as_such(service, path, media_types):
    content = document(service)["paths"][path]["get"]["responses"]["200"]["content"]
    assert set(content) == media_types
    for media_type in media_types - {"application/json"}:
        assert content[media_type]["schema"] == {"type": "string"}, media_type


@pytest.mark.parametrize("service", NAMES)
def test_every_answer_declares_the_schema_of_each_of_its_media_types(service):
    for path, method, operation in operations(document(service)):
        for status, response in operation["responses"].items():
            for media_type, content in response.get("content", {}).items():
                assert "schema" in content, (method, path, status, media_type)


def test_bulk_enrolment_rows_are_typed_as_the_enrolment_body_with_its_idempotency_key():
    schema = document("registry")
    rows = resolve(
        schema, schema["paths"]["/households/bulk"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    )["properties"]["households"]
    assert rows["items"] == {"$ref": "#/components/schemas/BulkRowIn"}
    row = schema["components"]["schemas"]["BulkRowIn"]["properties"]
    assert {"members", "monthly_income", "enrolled_on", "idempotency_key"} <= set(row)
    assert rows["maxItems"] == 1000
