"""The event catalogue as an AsyncAPI 3.0 document, generated from the event models themselves.

    python -m shared.asyncapi > docs/asyncapi.json

A test keeps ``docs/asyncapi.json`` equal to what this prints, so the catalogue cannot drift from the code.
"""

from __future__ import annotations

import json
from importlib import import_module
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.events import CATALOG, EventEnvelope, IntegrationEvent
from shared.services import (
    BY_NAME,
    EMPLOYMENT_TOPIC,
    GRANTS_TOPIC,
    HOUSEHOLDS_TOPIC,
    NAMES,
    NOTICES_TOPIC,
    PROCEDURE_TOPIC,
)

REF = "#/components/schemas/{model}"

CHANNELS: dict[str, tuple[str, str]] = {
    # topic: (who publishes, what it carries)
    HOUSEHOLDS_TOPIC: (
        "registry",
        "The dibao caseload: a household enrolled, changed (its full state after the change) or exited. "
        "Every bureau and the office keep their copy from it. Kept forever: a replay rebuilds from it.",
    ),
    EMPLOYMENT_TOPIC: (
        "employment",
        "A member found work (the registry starts the three-month extension) or received a re-employment certificate.",
    ),
    GRANTS_TOPIC: (
        ", ".join(name for name in NAMES if name != "office"),
        "What each bureau granted, revoked and paid, Civil Affairs' dibao payments included. The office's "
        "one-stop view and assessment are built from it.",
    ),
    PROCEDURE_TOPIC: (
        "registry",
        "The dibao procedure's progress: where each application and appeal stands after every step, and when each "
        "household's next periodic review falls due (an application's key is its id, which an approved household "
        "keeps). The office counts them per district in its assessment; the bureaus do not read it.",
    ),
    NOTICES_TOPIC: (
        "registry",
        "The written notices (书面通知) issued to households, keyed by the household: for a postal or SMS service to "
        "deliver (the PDF is the registry's GET /notices/{notice_id}). No service of this system reads it, so the "
        "addressee's name, resident ID and address reach no bureau.",
    ),
}


def caseload_kept() -> dict[str, dict[str, list[str]]]:
    """What each consumer of registry.households keeps of it (its models.CASELOAD_FIELDS), by service."""

    kept = {}
    for name in NAMES:
        if HOUSEHOLDS_TOPIC in getattr(import_module(f"services.{name}.consumers"), "TOPICS", ()):
            fields = import_module(f"services.{name}.models").CASELOAD_FIELDS
            kept[name] = {"household": sorted(fields.household), "member": sorted(fields.member)}
    return kept


def _channel_id(topic: str) -> str:
    return topic.replace(".", "_")


def document() -> dict[str, Any]:
    events: list[type[IntegrationEvent]] = list(CATALOG.values())
    models: list[type[BaseModel]] = [EventEnvelope, *events]
    _, definitions = models_json_schema([(model, "serialization") for model in models], ref_template=REF)
    schemas: dict[str, Any] = definitions.get("$defs", {})
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    for topic, (producers, description) in CHANNELS.items():
        channels[_channel_id(topic)] = {
            "address": topic,
            "description": f"{description} Published by: {producers}. Key: the household's id (per-household order).",
            "messages": {},
        }
    channels[_channel_id(HOUSEHOLDS_TOPIC)]["description"] += (
        " Version 2 publishes no income and no day's allowance (no consumer reads them) and seals the address for "
        "the office, its only reader (payload.sealed). Each consumer keeps only the fields it reads: "
        "x-kept-by-consumer (why: docs/architecture.md, 'What each service keeps of the caseload')."
    )
    channels[_channel_id(HOUSEHOLDS_TOPIC)]["x-kept-by-consumer"] = caseload_kept()
    for event in events:
        name = f"{event.TYPE}.v{event.VERSION}"
        messages[name] = {
            "name": event.TYPE,
            "title": f"{event.TYPE} (version {event.VERSION})",
            "summary": (event.__doc__ or event.TYPE).strip().splitlines()[0],
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {
                    "event_id": {"type": "string", "format": "uuid", "description": "the envelope's event_id"},
                    "type": {"type": "string", "const": event.TYPE},
                },
            },
            "payload": {
                "allOf": [
                    {"$ref": REF.format(model="EventEnvelope")},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": event.TYPE},
                            "version": {"const": event.VERSION},
                            "payload": {"$ref": REF.format(model=event.__name__)},
                        },
                    },
                ]
            },
            "bindings": {"kafka": {"key": {"type": "string", "description": "household_id"}}},
        }
        channel = channels[_channel_id(event.TOPIC)]
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    operations = {
        f"send_{_channel_id(topic)}": {
            "action": "send",
            "channel": {"$ref": f"#/channels/{_channel_id(topic)}"},
            "summary": f"published through each producer's transactional outbox ({producers})",
        }
        for topic, (producers, _) in CHANNELS.items()
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Harbin urban social assistance: integration events",
            "version": "1.0.0",
            "description": "Events between the services, on Kafka. Every message is an envelope (event_id, type, "
            "version, occurred_at, producer, key, payload); a consumer handles each event_id once. Unknown "
            "payload fields are ignored, so adding one is not a breaking change; a breaking change is a new "
            "version. The events carry personal data and are internal to the city's systems: agencies use "
            "the HTTP APIs.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "kafka:9092",
                "protocol": "kafka",
                "description": f"the city's broker; topics are prefixed per deployment when a prefix is set "
                f"(services: {', '.join(f'{n}:{BY_NAME[n].port}' for n in NAMES)})",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
