"""docs/asyncapi.json: the event catalogue an agency reads, always the one the code would generate."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema_rs

from shared.asyncapi import render
from shared.events import CATALOG

CATALOGUE = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"


def test_the_committed_catalogue_is_what_the_event_models_generate():
    # After changing an event: python -m shared.asyncapi > docs/asyncapi.json
    assert CATALOGUE.read_text(encoding="utf-8") == render()


def test_every_event_is_a_message_of_its_topic_with_its_payload_schema():
    document = json.loads(render())
    assert document["asyncapi"] == "3.0.0"
    for (event_type, version), model in CATALOG.items():
        name = f"{event_type}.v{version}"
        channel = next(c for c in document["channels"].values() if c["address"] == model.TOPIC)
        assert channel["messages"][name] == {"$ref": f"#/components/messages/{name}"}
        payload = document["components"]["messages"][name]["payload"]["allOf"][1]["properties"]
        assert payload["payload"] == {"$ref": f"#/components/schemas/{model.__name__}"}
        schema = document["components"]["schemas"][model.__name__]
        assert "household_id" in schema["properties"]


def test_the_catalogue_is_a_valid_asyncapi_3_document():
    schema = json.loads((Path(__file__).resolve().parents[1] / "data" / "asyncapi-3.0.0.json").read_text("utf-8"))
    validator = jsonschema_rs.validator_for(schema)
    assert [error.message[:200] for error in validator.iter_errors(json.loads(render()))] == []
    broken = json.loads(render()) | {"channels": {"registry": {"address": 2004}}}
    assert not validator.is_valid(broken)  # the schema does refuse what is not AsyncAPI
