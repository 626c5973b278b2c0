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


def test_an_event_encoded_in_one_pass_is_the_envelope_it_always_was():
    import json
    import uuid
    from datetime import UTC, date, datetime
    from decimal import Decimal

    from shared.events import (
        AllowanceStep,
        AssistanceGrantedLines,
        EventEnvelope,
        GrantedLine,
        HouseholdEnrolled,
        MemberSnapshot,
        decode_envelope,
        encode,
        encode_event,
        parse_payload,
    )

    enrolled = HouseholdEnrolled(
        household_id="h-1",
        division_code="230102",
        address="哈尔滨市道里区测试街1号",
        heating="central",
        housing_area_m2=Decimal("40.50"),
        monthly_income=Decimal("100.00"),
        monthly_allowance=Decimal("212.00"),
        enrolled_on=date(2026, 1, 5),
        allowance_schedule=[AllowanceStep(effective_from=date(2026, 1, 5), amount=Decimal("212.00"))],
        members=[
            MemberSnapshot(
                resident_id="230102197503151234",
                name="张三",
                sex="male",
                birth_date=date(1975, 3, 15),
                relation="head",
                able_to_work=True,
                employment_status="none",
            )
        ],
    )
    granted = AssistanceGrantedLines(
        household_id="h-1",
        division_code="230102",
        bureau="medical",
        lines=[
            GrantedLine(programme="medical_assistance", resident_id="230102197503151234", granted_on=date(2026, 1, 5))
        ],
    )
    at = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    for event in (enrolled, granted):
        event_id = uuid.uuid4()
        text = encode_event(event, "registry", event_id, at)
        envelope = EventEnvelope.model_construct(
            event_id=event_id,
            type=event.TYPE,
            version=event.VERSION,
            occurred_at=at,
            producer="registry",
            key=event.key,
            payload=event.model_dump(mode="json"),
        )
        assert json.loads(text) == json.loads(encode(envelope))
        assert parse_payload(decode_envelope(text.encode())) == event
